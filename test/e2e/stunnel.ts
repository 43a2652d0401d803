// stunnel as amazon-efs-utils runs it in its stunnel mode (`-o tls,stunnel`,
// shared spec efs-utils.md §1.2 step 5, §1.7, §4.5): a TLS 1.2 client on a
// loopback port that the kernel mounts, presenting the efs-utils client
// certificate, verifying the server against a CA file and the file system's
// DNS name.  Only the `connect` target differs: the test server's loopback
// port instead of `fs-….efs.<region>.amazonaws.com:2049`, so the SNI that
// stunnel would derive from that DNS name is set explicitly.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const STUNNEL_PACKAGE = 'stunnel4';
export const STUNNEL_INSTALL_HINT = `apt-get install -y ${STUNNEL_PACKAGE}`;

/** The stunnel binary; throws (naming the package to install) when there is none. */
export function stunnelBinary(): string {
  for (const name of ['stunnel', 'stunnel4']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error(`stunnel is not installed (package ${STUNNEL_PACKAGE}); run: ${STUNNEL_INSTALL_HINT}`);
}

export interface StunnelOptions {
  /** The NFS server's port on 127.0.0.1 (efs-utils: the mount target's 2049). */
  serverPort: number;
  /** Where stunnel accepts the kernel's connections (efs-utils: the tlsport, 20049..21048). */
  acceptPort: number;
  /** PEM file of the CA the server certificate must chain to (efs-utils: stunnel_cafile). */
  caFile: string;
  /** Client certificate and key, PEM texts (test/helpers/efs-client-cert.ts). */
  cert: string;
  key: string;
  /** efs-utils: `checkHost = fs-….efs.<region>.<suffix>`; also used as SNI unless `sni` is given. */
  checkHost: string;
  /** SNI; default: checkHost (what stunnel sends when `connect` names the file system's DNS name). */
  sni?: string;
  /** stunnel log level; default 'info' (logs the negotiated protocol and cipher). */
  debug?: string;
  /** Milliseconds to wait until the accept port listens. */
  readyTimeoutMs?: number;
}

export interface RunningStunnel {
  /** The accept port (what the kernel client mounts). */
  port: number;
  /** The config file as written. */
  configFile: string;
  config: string;
  /** stunnel's log lines (stderr in foreground mode). */
  logs: string[];
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s); removes the temp dir. */
  stop(): Promise<void>;
}

// stunnels still running when the test process exits are stopped
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The config efs-utils' write_stunnel_config_file() writes, pointed at a local server. */
export function efsStunnelConfig(o: StunnelOptions & { certFile: string; keyFile: string; pidFile: string }): string {
  return [
    // global part
    'fips = no',
    'foreground = yes',
    'socket = l:SO_REUSEADDR=yes',
    'socket = a:SO_BINDTODEVICE=lo',
    `pid = ${o.pidFile}`,
    `debug = ${o.debug ?? 'info'}`,
    '',
    '[efs]',
    'client = yes',
    `accept = 127.0.0.1:${o.acceptPort}`,
    `connect = 127.0.0.1:${o.serverPort}`,
    'sslVersion = TLSv1.2',
    'renegotiation = no',
    'TIMEOUTbusy = 20',
    'TIMEOUTclose = 0',
    'TIMEOUTidle = 70',
    'delay = yes',
    'verify = 2',
    `CAfile = ${o.caFile}`,
    `cert = ${o.certFile}`,
    `key = ${o.keyFile}`,
    `checkHost = ${o.checkHost}`,
    `sni = ${o.sni ?? o.checkHost}`,
    'libwrap = no',
    '',
  ].join('\n');
}

/** Is 127.0.0.1:port in LISTEN state?  (Read from /proc: a probe connection would reach the server.) */
function listening(port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return fs
      .readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1] === want && f[3] === '0A';
      });
  } catch {
    return false;
  }
}

/** Write the config into a temp dir and start stunnel in the foreground; resolves once the accept port listens. */
export async function startStunnel(o: StunnelOptions): Promise<RunningStunnel> {
  const bin = stunnelBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-stunnel-'));
  const certFile = path.join(dir, 'certificate.pem');
  const keyFile = path.join(dir, 'privateKey.pem');
  fs.writeFileSync(certFile, o.cert, { mode: 0o600 });
  fs.writeFileSync(keyFile, o.key, { mode: 0o600 });
  const configFile = path.join(dir, `stunnel-config.efs.${o.acceptPort}`);
  const config = efsStunnelConfig({ ...o, certFile, keyFile, pidFile: path.join(dir, 'stunnel.pid') });
  fs.writeFileSync(configFile, config);

  const child = spawn(bin, [configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const logs: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        logs.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
  }
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (o.readyTimeoutMs ?? 10_000);
  while (!listening(o.acceptPort)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(
        `stunnel ${exited ? 'exited' : 'did not listen'} on 127.0.0.1:${o.acceptPort}\n--- config\n${config}\n--- log\n${logs.join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port: o.acceptPort, configFile, config, logs, stop };
}
