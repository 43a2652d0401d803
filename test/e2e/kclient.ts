// Helpers for end-to-end tests with the real Linux NFS client.
//
// runGuest() boots a qemu guest through scripts/kclient/kclient.sh, which
// mounts a server on the host loopback and runs a busybox shell script there;
// startServer() runs localefs (src/main.ts) on a data directory, with its NFS
// port and its EFS management API on the loopback.  Both are plain child
// processes; nothing here talks to the network except through them (the
// guest only ever reaches <hostAddr>:<port>, hostAddr in 127.0.0.0/8).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const KCLIENT = path.join(REPO_ROOT, 'scripts/kclient/kclient.sh');
export const GUEST_SCRIPTS = path.join(REPO_ROOT, 'test/e2e/guest');

export const INSTALL_HINT =
  'install the kernel-client test prerequisites: ' +
  'apt-get install qemu-system-x86 linux-image-amd64 busybox-static nfs-common';

/** Exit statuses of kclient.sh (see `kclient.sh --help`). */
export const KCLIENT_EXIT = {
  usage: 90,
  missingPrerequisite: 91,
  setup: 92,
  mountFailed: 93,
  umountFailed: 94,
  timeout: 95,
  guestDied: 96,
  interrupted: 97,
} as const;

// Children still running when the test process exits (a test timed out, the
// runner was interrupted) are stopped rather than left behind.
const live = new Set<() => void>();
process.on('exit', () => {
  for (const kill of live) kill();
});

/** EFS's recommended options, but NFSv4.0. */
const EFS_OPTS_V40 = 'nfsvers=4.0,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport';
/**
 * For guests that mount a mount target through the relay (--host-addr): EFS's recommended
 * NFSv4.1 options; a mount that must fail fast (one try, soft, short timeouts); and the
 * harness' own NFSv4.0 soft mount, which never shares the 4.1 mounts' client or connection.
 */
export const MOUNT_TARGET_OPTS = 'nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,clientaddr=127.0.0.1';
export const FAIL_FAST_OPTS = 'nfsvers=4.1,soft,timeo=50,retrans=1,retry=0,noresvport,clientaddr=127.0.0.1';
export const HARNESS_SOFT_V40_OPTS = 'vers=4.0,soft,timeo=50,retrans=1,noresvport';

/**
 * Throws (with the apt-get line to run) unless qemu, a kernel image with its
 * modules and a static busybox are on this host.  Tests call this instead of
 * skipping: a missing prerequisite is a failure.
 */
export function assertKernelClientAvailable(): void {
  const missing: string[] = [];
  const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
  if (!which('qemu-system-x86_64')) missing.push('qemu-system-x86_64 (qemu-system-x86)');
  const kernels = fs.existsSync('/boot') ? fs.readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')) : [];
  if (kernels.length === 0) missing.push('a kernel image /boot/vmlinuz-* (linux-image-amd64)');
  else if (!kernels.some((k) => fs.existsSync(`/lib/modules/${k.slice('vmlinuz-'.length)}/modules.dep`)))
    missing.push('kernel modules /lib/modules/<version> (linux-image-amd64)');
  if (!fs.existsSync('/bin/busybox') && !fs.existsSync('/usr/bin/busybox')) missing.push('busybox (busybox-static)');
  if (!fs.existsSync('/sbin/mount.nfs') && !fs.existsSync('/usr/sbin/mount.nfs')) missing.push('mount.nfs (nfs-common)');
  if (missing.length > 0) {
    throw new Error(`kernel-client tests cannot run, missing: ${missing.join(', ')}; ${INSTALL_HINT}`);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** `n` distinct free ports (asked for one after another, none is bound yet, so one may come twice). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** Whether addr:port (a loopback address) can be bound right now. */
export async function canListen(addr: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, addr, () => srv.close(() => resolve(true)));
  });
}

/**
 * The first of `candidates` (127.0.0.0/8 addresses) where `port` is free,
 * e.g. an address for a mount target that listens on the server's NFS port.
 */
export async function freeLoopbackAddress(port: number, candidates: string[]): Promise<string> {
  for (const addr of candidates) {
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr)) throw new Error(`not a loopback address: ${addr}`);
    if (await canListen(addr, port)) return addr;
  }
  throw new Error(`port ${port} is taken on every one of ${candidates.join(', ')}`);
}

// ---------------------------------------------------------------- guest --

export interface GuestControl {
  /** Send one line to the guest (it waits for it with `kc_wait_host LINE`). */
  send(line: string): void;
  /** Stop the guest run now (kclient.sh then exits with 97). */
  kill(): void;
}

export interface RunGuestOptions {
  /** Host port of the NFS server (on hostAddr). */
  port: number;
  /**
   * Loopback address (127.0.0.0/8) the guest's connections are relayed to,
   * e.g. a mount target's address (kclient.sh --host-addr); default 127.0.0.1.
   */
  hostAddr?: string;
  vers: '4.1' | '4.0';
  /** A path to a guest script, or the script text itself. */
  script: string;
  /** Limit for the whole guest run (boot included), in seconds. */
  timeoutSec: number;
  /** Called for each stdout line as the guest prints it. */
  onLine?: (line: string, guest: GuestControl) => void;
  /** Mount options instead of the EFS defaults ('efs' for 4.1). */
  opts?: string;
  /** NAME=VALUE pairs exported to the guest script. */
  env?: Record<string, string>;
  /** More kclient.sh arguments (e.g. ['--keep']). */
  extraArgs?: string[];
}

export interface GuestResult {
  /** kclient.sh's exit status: the script's, or one of KCLIENT_EXIT. */
  code: number;
  /** Everything on stdout: the script's output between the begin/end banners. */
  output: string;
  /** The harness' own messages (timings, errors, console excerpts). */
  stderr: string;
  /** Wall-clock seconds. */
  seconds: number;
}

function looksLikePath(script: string): boolean {
  return !script.includes('\n') && fs.existsSync(script);
}

/** Boot a guest, run `script` in the mounted export, and collect the result. */
export async function runGuest(o: RunGuestOptions): Promise<GuestResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-guest-'));
  let scriptPath = o.script;
  if (!looksLikePath(o.script)) {
    scriptPath = path.join(tmp, 'script.sh');
    fs.writeFileSync(scriptPath, o.script);
  }
  const control = path.join(tmp, 'control');
  const args = ['--port', String(o.port), '--timeout', String(o.timeoutSec), '--control', control];
  if (o.hostAddr !== undefined) args.push('--host-addr', o.hostAddr);
  if (o.vers === '4.1') args.push('--vers', '4.1', '--opts', o.opts ?? 'efs');
  else args.push('--vers', '4.0', '--opts', o.opts ?? EFS_OPTS_V40);
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('--env', `${k}=${v}`);
  args.push(...(o.extraArgs ?? []), scriptPath);

  const started = Date.now();
  const child = spawn(KCLIENT, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGuest = () => child.kill('SIGTERM');
  live.add(killGuest);
  let controlFd: number | undefined;
  const guest: GuestControl = {
    send(line: string) {
      // O_RDWR: opening a FIFO this way never blocks, even before qemu has it open
      if (controlFd === undefined) controlFd = fs.openSync(control, fs.constants.O_RDWR);
      fs.writeSync(controlFd, `${line}\n`);
    },
    kill() {
      child.kill('SIGTERM');
    },
  };

  const out: string[] = [];
  const err: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      out.push(line);
      if (o.onLine) {
        try {
          o.onLine(line, guest);
        } catch (e) {
          err.push(`onLine threw: ${(e as Error).stack ?? e}`);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => err.push(chunk));

  const code: number = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  live.delete(killGuest);
  if (partial) out.push(partial);
  if (controlFd !== undefined) fs.closeSync(controlFd);
  fs.rmSync(tmp, { recursive: true, force: true });
  const result: GuestResult = {
    code,
    output: out.join('\n'),
    stderr: err.join(''),
    seconds: (Date.now() - started) / 1000,
  };
  if (code === KCLIENT_EXIT.missingPrerequisite) {
    throw new Error(`kclient.sh: missing prerequisite; ${INSTALL_HINT}\n${result.stderr}`);
  }
  return result;
}

/** The last lines of a guest run, for assertion messages. */
export function describeRun(r: GuestResult, lines = 60): string {
  const tail = r.output.split('\n').slice(-lines).join('\n');
  const fails = r.output
    .split('\n')
    .filter((l) => l.startsWith('FAIL'))
    .join('\n');
  return `guest exit ${r.code} after ${r.seconds.toFixed(1)} s\n${fails ? `${fails}\n` : ''}--- output (tail)\n${tail}\n--- harness\n${r.stderr}`;
}

/** The timing lines of a run ("time: ..." from the guest, the harness' own). */
export function timingSummary(r: GuestResult): string {
  const lines = r.output.split('\n').filter((l) => l.startsWith('time: '));
  const harness = r.stderr.split('\n').filter((l) => l.startsWith('kclient: timing'));
  return [...lines, ...harness, `wall ${r.seconds.toFixed(1)} s, exit ${r.code}`].join('\n');
}

// ---------------------------------------------------------------- server --

export interface ServerOptions {
  dataDir: string;
  /** 0 or absent: pick a free port. */
  port?: number;
  /** Port of the EFS management API (--api-port) on 127.0.0.1; 0 or absent: pick a free port. */
  apiPort?: number;
  leaseSeconds: number;
  /** Milliseconds to wait for the ready line. */
  readyTimeoutMs?: number;
  /** pino level for --log-level; default: $LOCALEFS_E2E_LOG_LEVEL or the server's own. */
  logLevel?: string;
  /** More command-line arguments, e.g. ['--config', FILE]. */
  extraArgs?: string[];
}

export interface RunningServer {
  port: number;
  /** From the ready line: the file system's id and the local CA file (cafile= for TLS mounts). */
  fileSystemId: string;
  caFile: string;
  /**
   * From the ready line: the EFS management API, `http://127.0.0.1:PORT`
   * (`--endpoint-url` for the AWS CLI, `endpoint` for the SDK); '' when the
   * ready line has none.
   */
  apiEndpoint: string;
  /** stdout and stderr lines of the server process, as they came. */
  logs: string[];
  /** SIGTERM, then wait for the process to exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/** Start localefs (`tsx src/main.ts`) and wait for its "localefs ready" line. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const [freeNfs, freeApi] = await freePorts(2);
  const port = o.port || freeNfs!;
  const apiPort = o.apiPort || (freeApi === port ? freeNfs! : freeApi!);
  const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
  const cmd = fs.existsSync(tsx) ? tsx : 'npx';
  const args = [
    ...(cmd === 'npx' ? ['tsx'] : []),
    'src/main.ts',
    '--data',
    o.dataDir,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--lease-seconds',
    String(o.leaseSeconds),
    '--api-host',
    '127.0.0.1',
    '--api-port',
    String(apiPort),
  ];
  const logLevel = o.logLevel ?? process.env.LOCALEFS_E2E_LOG_LEVEL;
  if (logLevel) args.push('--log-level', logLevel);
  if (o.extraArgs) args.push(...o.extraArgs);
  // own process group, so that stop() reaches tsx and the node it starts
  const child: ChildProcess = spawn(cmd, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: string[] = [];
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
  });

  const ready = new Promise<{ fileSystemId: string; caFile: string; apiEndpoint: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server not ready after ${o.readyTimeoutMs ?? 60000} ms:\n${logs.slice(-30).join('\n')}`)),
      o.readyTimeoutMs ?? 60000,
    );
    const collect = (stream: NodeJS.ReadableStream, checkReady: boolean) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        partial += chunk;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          logs.push(line);
          if (checkReady && line.includes('"msg":"localefs ready"')) {
            clearTimeout(timer);
            const j = JSON.parse(line) as { fileSystemId: string; caFile: string; apiEndpoint?: string };
            resolve({ fileSystemId: j.fileSystemId, caFile: j.caFile, apiEndpoint: j.apiEndpoint ?? '' });
          }
        }
      });
    };
    collect(child.stdout!, true);
    collect(child.stderr!, false);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${logs.slice(-30).join('\n')}`));
    });
  });

  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  const stop = async () => {
    if (exited) return;
    signalGroup('SIGTERM');
    const killer = setTimeout(() => signalGroup('SIGKILL'), 15000);
    await exitPromise;
    clearTimeout(killer);
  };

  const killServer = () => signalGroup('SIGKILL');
  live.add(killServer);
  void exitPromise.then(() => live.delete(killServer));
  let info;
  try {
    info = await ready;
  } catch (e) {
    signalGroup('SIGKILL');
    throw e;
  }
  return { port, ...info, logs, stop };
}

// ------------------------------------------------------------ data dir --

/** Every regular file under dir (no symlinks followed). */
export function walkFiles(dir: string): string[] {
  const found: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) found.push(p);
    }
  }
  return found;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface DurableCheck {
  name: string;
  size: number;
  sha256: string;
  how: string;
  /** Where the bytes were found in the data dir ('' if nowhere). */
  foundAt: string;
  /** 'name': a file with that name has those bytes; 'content': only a file
   * under another name has them; 'mismatch': the named file differs;
   * 'missing': no file has them. */
  match: 'name' | 'content' | 'mismatch' | 'missing';
  detail: string;
}

/**
 * Check a "@@LOCALEFS DURABLE <name> <size> <sha256> <how>" line against the
 * server's data directory right now.  The data layout is the server's
 * business, so look for the file name first and then for the content.
 */
export function checkDurableLine(dataDir: string, line: string): DurableCheck {
  const [, , name, sizeText, sha256, how] = line.trim().split(/\s+/);
  const size = Number(sizeText);
  const base: Omit<DurableCheck, 'foundAt' | 'match' | 'detail'> = { name, size, sha256, how };
  const files = walkFiles(dataDir);
  const named = files.filter((f) => path.basename(f) === name);
  const notes: string[] = [];
  for (const f of named) {
    const st = fs.statSync(f);
    const sum = st.size === size ? sha256File(f) : '';
    if (sum === sha256) return { ...base, foundAt: f, match: 'name', detail: `${f} has the bytes` };
    notes.push(`${f}: ${st.size} bytes, sha256 ${sum || '(size differs)'}`);
  }
  for (const f of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(f);
    } catch {
      continue;
    }
    if (st.size === size && sha256File(f) === sha256) {
      return { ...base, foundAt: f, match: 'content', detail: `found under another name: ${f}` };
    }
  }
  if (notes.length > 0) return { ...base, foundAt: named[0], match: 'mismatch', detail: notes.join('; ') };
  return { ...base, foundAt: '', match: 'missing', detail: `no file in ${dataDir} has ${size} bytes with sha256 ${sha256}` };
}

/** Run `probe` until it returns true, up to `tries` times, half a second apart; the error carries `context()` (a server log tail). */
export async function until(what: string, tries: number, probe: () => Promise<boolean>, context: () => string = () => ''): Promise<void> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      if (await probe()) return;
      last = undefined;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not reached after ${tries} tries${last ? ` (last error: ${String(last)})` : ''}\n--- server log (tail)\n${context()}`);
}

/** Whether something accepts TCP connections on addr:port. */
export function accepts(addr: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: addr, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

