/**
 * Starting and stopping the two servers the benchmark compares, each as its
 * own process on a loopback port with a private, fresh directory:
 *
 *  - localefs: `node dist/main.js`, as `npm start` runs it (optionally under --cpu-prof);
 *  - nfs-ganesha (Debian's ganesha.nfsd + FSAL_VFS) in the foreground (-F),
 *    configured from a file written here: NFSv4 only, one export of a temp
 *    dir, numeric owners, no root squash, no grace period.
 *
 * Both are children of the bench process; `stop()` signals only that child
 * PID, and `killAllSync()` is for exit/signal handlers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export type ServerName = 'localefs' | 'ganesha';

export interface BenchServer {
  readonly name: ServerName;
  readonly port: number;
  readonly pid: number;
  /** Where the server's own files (log, config) are. */
  readonly dir: string;
  /** utime + stime of the server process so far, in ms (from /proc). */
  cpuMs(): number;
  /** Resident set size of the server process now, in KiB (VmRSS from /proc); NaN if unreadable. */
  rssKiB(): number;
  /** process.hrtime.bigint() just after spawning the process. */
  readonly spawnedAtNs: bigint;
  /** process.hrtime.bigint() when the server was seen ready ("localefs ready" log line; ganesha: port accepting). */
  readyAtNs: bigint;
  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every server still running (synchronous: for 'exit' and signal handlers). */
export function killAllSync(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  running.clear();
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime (ms) of a process, children excluded; NaN if unreadable. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that closes comm: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM, ...); NaN if unreadable. */
export function processStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Current resident set size (VmRSS) of a process in KiB; NaN if unreadable. */
export function processRssKiB(pid: number): number {
  return processStatusKiB(pid, 'VmRSS');
}

/**
 * Samples `read()` (a server's RSS) every `everyMs` with a timer in this
 * process, at most `maxSamples` times, and keeps the maximum; `stop()` takes
 * one last sample and returns the peak (NaN if nothing could be read).
 */
export function rssSampler(read: () => number, everyMs = 50, maxSamples = 72_000): { stop(): number; samples(): number } {
  let peak = Number.NaN;
  let n = 0;
  const take = () => {
    const v = read();
    n++;
    if (Number.isFinite(v) && !(v <= peak)) peak = v;
  };
  take();
  const timer = setInterval(() => {
    take();
    if (n >= maxSamples) clearInterval(timer);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
    samples: () => n,
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (bounded). */
async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function makeServer(name: ServerName, child: ChildProcess, port: number, dir: string, spawnedAtNs: bigint): BenchServer {
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  exited.then(() => running.delete(child), () => running.delete(child));
  return {
    name,
    port,
    pid: child.pid!,
    dir,
    spawnedAtNs,
    readyAtNs: 0n,
    cpuMs: () => processCpuMs(child.pid!),
    rssKiB: () => processRssKiB(child.pid!),
    async stop(graceMs = 10_000): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
      const how = await Promise.race([exited.then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (how === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * The glibc malloc settings `npm start` runs with (package.json): freed 1 MiB request buffers stay
 * in the heap instead of being unmapped and faulted in again for the next WRITE.
 */
const LOCALEFS_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '8388608', MALLOC_TRIM_THRESHOLD_: '268435456' };

export interface LocalefsStart {
  /** Repository root (where scripts/build.mjs compiles src/ into dist/). */
  repo: string;
  /** Fresh directory for the data and log. */
  dir: string;
  leaseSeconds: number;
  /** Write a V8 CPU profile of the server into this directory on exit. */
  cpuProfDir?: string;
  /** Called right after the process is spawned (before it is ready). */
  onSpawn?: (pid: number) => void;
  /** How long to wait for "localefs ready" (default 60 s; it indexes the data directory first). */
  readyTimeoutMs?: number;
}

export async function startLocalefs(o: LocalefsStart): Promise<BenchServer> {
  mkdirSync(o.dir, { recursive: true });
  const port = await freePort();
  const log = path.join(o.dir, 'localefs.log');
  const fd = openSync(log, 'a');
  // what `npm start` runs: the compiled JavaScript in dist/, built afresh
  execFileSync(process.execPath, [path.join(o.repo, 'scripts/build.mjs'), '--quiet'], { cwd: o.repo, stdio: 'inherit' });
  const nodeArgs: string[] = [];
  if (o.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  const args = [
    ...nodeArgs,
    path.join(o.repo, 'dist/main.js'),
    '--data',
    path.join(o.dir, 'data'),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--lease-seconds',
    String(o.leaseSeconds),
    // the management API is not measured; a free port keeps it clear of another server's 8049
    '--api-port',
    '0',
  ];
  const child = spawn(process.execPath, args, { cwd: o.repo, stdio: ['ignore', 'pipe', fd], env: { ...process.env, ...LOCALEFS_MALLOC_ENV } });
  const spawnedAtNs = process.hrtime.bigint();
  closeSync(fd);
  const server = makeServer('localefs', child, port, o.dir, spawnedAtNs);
  if (child.pid !== undefined) o.onSpawn?.(child.pid);
  let seen = '';
  let onReady: (() => void) | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    writeLogSync(log, chunk);
    if (onReady) {
      seen = (seen + chunk.toString('utf8')).slice(-8192);
      if (seen.includes('localefs ready')) {
        server.readyAtNs = process.hrtime.bigint();
        onReady();
        onReady = undefined;
      }
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const readyMs = o.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => reject(new Error(`localefs did not report ready within ${readyMs / 1000} s; see ${log}`)), readyMs);
      const onExit = (code: number | null, sig: string | null) => {
        clearTimeout(timer);
        reject(new Error(`localefs exited (${code ?? sig}) before it was ready; see ${log}`));
      };
      child.once('exit', onExit);
      onReady = () => {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve();
      };
    });
  } catch (err) {
    await server.stop(2000);
    throw err;
  }
  return server;
}

function writeLogSync(file: string, chunk: Buffer): void {
  try {
    writeFileSync(file, chunk, { flag: 'a' });
  } catch {
    /* the log is best effort */
  }
}

/** Where Debian's ganesha lives, or a message saying how to get it. */
export function ganeshaMissing(): string | undefined {
  const bin = ['/usr/bin/ganesha.nfsd', '/usr/sbin/ganesha.nfsd'].find((p) => existsSync(p));
  const fsal = [
    '/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so',
    '/usr/lib/aarch64-linux-gnu/ganesha/libfsalvfs.so',
    '/usr/lib/ganesha/libfsalvfs.so',
    '/usr/lib64/ganesha/libfsalvfs.so',
  ].find((p) => existsSync(p));
  if (!bin || !fsal) {
    return (
      'nfs-ganesha is not installed (ganesha.nfsd and its VFS FSAL are needed for the comparison).\n' +
      'Install it with:  apt-get install -y nfs-ganesha nfs-ganesha-vfs\n' +
      'or measure localefs alone with:  npm run bench -- --only localefs'
    );
  }
  if (process.getuid?.() !== 0) return 'nfs-ganesha with FSAL_VFS needs root (open_by_handle_at); run the benchmark as root or with --only localefs';
  return undefined;
}

export function ganeshaVersion(): string {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'nfs-ganesha'], { encoding: 'utf8' }).trim();
    if (out) return out;
  } catch {
    /* not a dpkg system */
  }
  return 'unknown';
}

export interface GaneshaStart {
  dir: string;
  leaseSeconds: number;
}

export async function startGanesha(o: GaneshaStart): Promise<BenchServer> {
  const missing = ganeshaMissing();
  if (missing) throw new Error(missing);
  const exportDir = path.join(o.dir, 'export');
  const recovery = path.join(o.dir, 'recovery');
  mkdirSync(exportDir, { recursive: true });
  mkdirSync(recovery, { recursive: true });
  const port = await freePort();
  const conf = path.join(o.dir, 'ganesha.conf');
  // comparable to localefs: NFSv4.0/4.1 over TCP on loopback, one FSAL_VFS
  // export at the pseudo root, AUTH_SYS, numeric owners, no root squash,
  // same lease, no grace period, no NLM/RQUOTA/UDP, no Kerberos.
  const lines = [
    'NFS_CORE_PARAM {',
    `  NFS_Port = ${port};`,
    '  Bind_Addr = 127.0.0.1;',
    '  Protocols = 4;',
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '  Enable_UDP = false;',
    '}',
    'NFS_KRB5 { Active_krb5 = false; }',
    'NFSv4 {',
    '  Graceless = true;',
    '  RecoveryBackend = fs;',
    `  RecoveryRoot = "${recovery}";`,
    '  Minor_Versions = 0, 1;',
    `  Lease_Lifetime = ${o.leaseSeconds};`,
    '  Only_Numeric_Owners = true;',
    '}',
    'EXPORT {',
    '  Export_Id = 1;',
    `  Path = "${exportDir}";`,
    '  Pseudo = /;',
    '  Access_Type = RW;',
    '  Squash = No_Root_Squash;',
    '  Protocols = 4;',
    '  Transports = TCP;',
    '  SecType = sys;',
    '  FSAL { Name = VFS; }',
    '}',
    'LOG { Default_Log_Level = EVENT; }',
    '',
  ];
  writeFileSync(conf, lines.join('\n'));
  const log = path.join(o.dir, 'ganesha.log');
  const pidFile = path.join(o.dir, 'ganesha.pid');
  const child = spawn('ganesha.nfsd', ['-F', '-f', conf, '-L', log, '-p', pidFile, '-N', 'NIV_EVENT'], {
    cwd: o.dir,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const server = makeServer('ganesha', child, port, o.dir, process.hrtime.bigint());
  try {
    await waitForPort(port, child, 30_000, `ganesha (see ${log})`);
    server.readyAtNs = process.hrtime.bigint();
  } catch (err) {
    await server.stop(2000);
    throw err;
  }
  return server;
}
