/**
 * npm run bench — localefs side by side with nfs-ganesha (Debian's
 * ganesha.nfsd + FSAL_VFS) on the same workloads in the same run, reported
 * as ratios localefs / ganesha (> 1: localefs is faster).
 *
 * Both servers run as separate processes on loopback ports with fresh
 * private directories on the same file system; the client (this process,
 * the project's NFSv4.1 client) is the same for both. Each repetition runs
 * every workload group on both servers back to back, the order alternating
 * between groups and repetitions so drift cancels; the median of the
 * repetitions is reported. See docs/benchmark.md.
 *
 *   npm run bench                       full run (5 repetitions)
 *   npm run bench -- --quick            small sizes, 2 repetitions
 *   npm run bench -- --only localefs    one server only (no ratios)
 *   npm run bench -- --workloads small --only localefs --profile /tmp/prof
 *   npm run bench -- --scale-files 1000000   localefs start-up and memory with 1,000,000 files
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_GETATTR, NfsClient, decodeAttrs, op } from '../../src/client/nfs-client.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import {
  type BenchServer,
  type ServerName,
  ganeshaMissing,
  ganeshaVersion,
  killAllSync,
  processStatusKiB,
  startGanesha,
  startLocalefs,
} from './servers.js';
import { GROUPS, WORKLOADS, fmtRate, isLatencyMetric, metricLabel, prng, run, type Ctx, type GroupName, type Sample, type Sizes } from './workloads.js';
import { summarizeProfile } from './profile-summary.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** --scale-files: files per directory at most, and how many random ones to stat. */
const SCALE_PER_DIR = 10_000;
const SCALE_STATS = 1_000;

const USAGE = `Usage: npm run bench -- [options]

Runs the same NFSv4.1 workloads against localefs and nfs-ganesha in one run
and reports ratios (> 1: localefs is faster; for the µs/call latency rows the
ratio is ganesha µs / localefs µs), server CPU per unit and the server's peak
RSS per row.

  --quick               small sizes and 2 repetitions (a smoke run)
  --only NAME           localefs or ganesha: measure one server only
  --workloads LIST      comma list of metadata,small,stream,random,latency (default all)
  --reps N              repetitions (default 5, --quick 2); the median is reported
  --out FILE            JSON results (default /tmp/localefs-bench.json)
  --dir DIR             where the servers' temp dirs go (default ${os.tmpdir()})
  --profile DIR         write a V8 CPU profile of localefs into DIR and summarize it
  --keep                keep the servers' temp dirs
  --jobs N              files in flight for the metadata/small rows (default 8);
                        each of those rows also runs 1 in flight (*.qd1 metrics)
  --files N             files of the metadata workload (default 2000, --quick 300;
                        the 1-in-flight rows use a quarter of it)
  --small-files N       files of the small-file workload (default 1000, --quick 200;
                        the 1-in-flight rows use a quarter of it)
  --stream-mib N        size of the streamed file in MiB (default 256, --quick 32)
  --random-reads N      random 4 KiB reads (default 5000, --quick 1000)
  --latency-ops N       GETATTR and NULL calls of the latency rows (default 5000, --quick 500)
  --scale-files N       create N empty files (directories of at most ${SCALE_PER_DIR.toLocaleString('en-US')}) in
                        localefs' data directory before starting it; report its
                        start-up time, time to the first mount and RSS (after the
                        mount and after stat of ${SCALE_STATS.toLocaleString('en-US')} random files), next to an
                        empty data directory. Runs no workloads unless --workloads
                        is given too (they then run on that populated localefs)
  --timeout-min N       give up (and stop the servers) after N minutes (default 60)
  --help`;

const startedAt = Date.now();
function progress(msg: string): void {
  const s = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${s}s] ${msg}\n`);
}

function intOpt(v: string | undefined, name: string, fallback: number, min = 1, max = 1e9): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

class UsageError extends Error {}

interface Options {
  quick: boolean;
  servers: ServerName[];
  workloads: string[];
  reps: number;
  out: string;
  baseDir: string;
  profileDir?: string;
  keep: boolean;
  sizes: Sizes;
  timeoutMin: number;
  /** --scale-files N (localefs start-up with N files in its data directory). */
  scaleFiles?: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      workloads: { type: 'string' },
      reps: { type: 'string' },
      out: { type: 'string' },
      dir: { type: 'string' },
      profile: { type: 'string' },
      keep: { type: 'boolean' },
      jobs: { type: 'string' },
      files: { type: 'string' },
      'small-files': { type: 'string' },
      'stream-mib': { type: 'string' },
      'random-reads': { type: 'string' },
      'latency-ops': { type: 'string' },
      'scale-files': { type: 'string' },
      'timeout-min': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = values.quick ?? false;
  let servers: ServerName[] = ['localefs', 'ganesha'];
  if (values.only !== undefined) {
    if (values.only !== 'localefs' && values.only !== 'ganesha') throw new UsageError(`--only must be localefs or ganesha, got "${values.only}"`);
    servers = [values.only];
  }
  const scaleFiles = values['scale-files'] !== undefined ? intOpt(values['scale-files'], '--scale-files', 0, 1, 100_000_000) : undefined;
  // --scale-files alone measures only localefs' start-up; --workloads adds the workloads
  const workloads = values.workloads
    ? values.workloads.split(',').map((w) => w.trim()).filter(Boolean)
    : scaleFiles !== undefined
      ? []
      : Object.keys(WORKLOADS);
  for (const w of workloads) if (!(w in WORKLOADS)) throw new UsageError(`unknown workload "${w}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
  if (scaleFiles !== undefined) {
    if (!servers.includes('localefs')) throw new UsageError('--scale-files measures localefs; it cannot be combined with --only ganesha');
    if (workloads.length === 0) servers = ['localefs'];
  }
  const metaFiles = intOpt(values.files, '--files', quick ? 300 : 2000);
  const smallFiles = intOpt(values['small-files'], '--small-files', quick ? 200 : 1000);
  const sizes: Sizes = {
    metaFiles,
    metaFilesQd1: Math.ceil(metaFiles / 4),
    readdirPasses: quick ? 3 : 10,
    smallFiles,
    smallFilesQd1: Math.ceil(smallFiles / 4),
    latencyOps: intOpt(values['latency-ops'], '--latency-ops', quick ? 500 : 5000),
    streamMiB: intOpt(values['stream-mib'], '--stream-mib', quick ? 32 : 256, 1, 65536),
    randomReads: intOpt(values['random-reads'], '--random-reads', quick ? 1000 : 5000),
    jobs: intOpt(values.jobs, '--jobs', 8, 1, 60),
    streamDepth: 8,
    randomDepth: 16,
  };
  return {
    quick,
    servers,
    workloads,
    reps: intOpt(values.reps, '--reps', quick ? 2 : 5, 1, 99),
    out: path.resolve(values.out ?? '/tmp/localefs-bench.json'),
    baseDir: path.resolve(values.dir ?? os.tmpdir()),
    profileDir: values.profile ? path.resolve(values.profile) : undefined,
    keep: values.keep ?? false,
    sizes,
    timeoutMin: intOpt(values['timeout-min'], '--timeout-min', 60, 1, 24 * 60),
    ...(scaleFiles !== undefined ? { scaleFiles } : {}),
  };
}

function machine(baseDir: string): Record<string, unknown> {
  let fsType = 'unknown';
  for (const [cmd, args] of [
    ['findmnt', ['-n', '-o', 'FSTYPE', '--target', baseDir]],
    ['stat', ['-f', '-c', '%T', baseDir]],
  ] as const) {
    try {
      fsType = execFileSync(cmd, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || fsType;
      if (fsType !== 'unknown') break;
    } catch {
      /* try the next way */
    }
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ganesha: ganeshaVersion(),
    fsType,
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface ServerSummary {
  /** Median rate (unit/s). */
  rate: number;
  /** Rate of each repetition. */
  samples: number[];
  /** Latency rows: median µs per call (the value the table shows), and each repetition's. */
  latencyUs?: number;
  latencySamplesUs?: number[];
  /** Median server CPU per unit (µs). */
  serverCpuUsPerUnit: number;
  /** Median client CPU per unit (µs). */
  clientCpuUsPerUnit: number;
  /** Highest server RSS seen in any repetition of the phase (MiB; sampled every 50 ms). */
  peakRssMiB: number;
}

interface MetricResult {
  metric: string;
  label: string;
  unit: string;
  /** 'rate': unit/s, higher is better; 'latency': µs per call, lower is better. */
  kind: 'rate' | 'latency';
  servers: Partial<Record<ServerName, ServerSummary>>;
  /** > 1: localefs is faster. rate rows: localefs rate / ganesha rate; latency rows: ganesha µs / localefs µs. */
  ratio?: number;
}

const usPerCall = (x: Sample) => (x.seconds * 1e6) / x.amount;
const maxOf = (xs: number[]) => xs.reduce((m, x) => (Number.isFinite(x) && !(x <= m) ? x : m), Number.NaN);

function summarize(samples: Map<string, Sample[]>, servers: ServerName[], metrics: string[], jobs: number): MetricResult[] {
  const out: MetricResult[] = [];
  for (const metric of metrics) {
    const kind = isLatencyMetric(metric) ? 'latency' : 'rate';
    const r: MetricResult = { metric, label: metricLabel(metric, jobs), unit: '', kind, servers: {} };
    for (const s of servers) {
      const xs = samples.get(`${s}/${metric}`) ?? [];
      if (xs.length === 0) continue;
      r.unit = xs[0]!.unit;
      r.servers[s] = {
        rate: median(xs.map((x) => x.rate)),
        samples: xs.map((x) => x.rate),
        ...(kind === 'latency' ? { latencyUs: median(xs.map(usPerCall)), latencySamplesUs: xs.map(usPerCall) } : {}),
        serverCpuUsPerUnit: median(xs.map((x) => (x.serverCpuMs * 1000) / x.amount)),
        clientCpuUsPerUnit: median(xs.map((x) => (x.clientCpuMs * 1000) / x.amount)),
        peakRssMiB: maxOf(xs.map((x) => x.serverPeakRssMiB)),
      };
    }
    setRatio(r);
    if (Object.keys(r.servers).length) out.push(r);
  }
  // GETATTR latency minus the client floor (NULL), repetition by repetition, median
  const at = out.findIndex((r) => r.metric === 'lat.null');
  if (at >= 0 && out.some((r) => r.metric === 'lat.getattr')) {
    const metric = 'lat.getattr.above-floor';
    const r: MetricResult = { metric, label: metricLabel(metric, jobs), unit: 'calls', kind: 'latency', servers: {} };
    for (const s of servers) {
      const g = samples.get(`${s}/lat.getattr`) ?? [];
      const f = samples.get(`${s}/lat.null`) ?? [];
      const n = Math.min(g.length, f.length);
      if (n === 0) continue;
      const diffs = Array.from({ length: n }, (_, i) => usPerCall(g[i]!) - usPerCall(f[i]!));
      const us = median(diffs);
      r.servers[s] = { rate: 1e6 / us, samples: diffs.map((d) => 1e6 / d), latencyUs: us, latencySamplesUs: diffs, serverCpuUsPerUnit: Number.NaN, clientCpuUsPerUnit: Number.NaN, peakRssMiB: Number.NaN };
    }
    setRatio(r);
    if (Object.keys(r.servers).length) out.splice(at + 1, 0, r);
  }
  return out;
}

function setRatio(r: MetricResult): void {
  const a = r.servers.localefs;
  const b = r.servers.ganesha;
  if (!a || !b) return;
  if (r.kind === 'latency') {
    if (a.latencyUs !== undefined && b.latencyUs !== undefined && a.latencyUs > 0) r.ratio = b.latencyUs / a.latencyUs;
  } else if (b.rate > 0) r.ratio = a.rate / b.rate;
}

function mdTable(head: string[], rows: string[][], leftCols: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i < leftCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i < leftCols ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), sep, ...rows.map(line)].join('\n');
}

function table(results: MetricResult[], servers: ServerName[]): string {
  const both = servers.length === 2;
  const head = [
    'Workload',
    'unit',
    ...servers,
    ...(both ? ['ratio (> 1: localefs faster)¹'] : []),
    ...servers.map((s) => `${s} server CPU µs/unit`),
    ...servers.map((s) => `${s} peak RSS MiB²`),
  ];
  const rows = results.map((r) => [
    r.label,
    r.kind === 'latency' ? 'µs/call' : `${r.unit}/s`,
    ...servers.map((s) => fmtRate((r.kind === 'latency' ? r.servers[s]?.latencyUs : r.servers[s]?.rate) ?? Number.NaN)),
    ...(both ? [r.ratio !== undefined ? r.ratio.toFixed(2) : '-'] : []),
    ...servers.map((s) => fmtRate(r.servers[s]?.serverCpuUsPerUnit ?? Number.NaN)),
    ...servers.map((s) => fmtMiB(r.servers[s]?.peakRssMiB ?? Number.NaN)),
  ]);
  const notes = [
    ...(both
      ? ['¹ rate rows (unit/s): localefs / ganesha; latency rows (µs/call, lower is better): ganesha µs / localefs µs. Either way > 1 means localefs is faster.']
      : []),
    '² highest VmRSS of the server process, sampled every 50 ms during the timed phase, over all repetitions.',
  ];
  // GETATTR latency split into the client floor and the server's part above it
  const g = results.find((r) => r.metric === 'lat.getattr');
  const f = results.find((r) => r.metric === 'lat.null');
  const d = results.find((r) => r.metric === 'lat.getattr.above-floor');
  if (g && f && d) {
    const parts = servers
      .filter((s) => g.servers[s]?.latencyUs !== undefined && f.servers[s]?.latencyUs !== undefined && d.servers[s]?.latencyUs !== undefined)
      .map((s) => `${s} GETATTR ${fmtRate(g.servers[s]!.latencyUs!)} µs, floor ${fmtRate(f.servers[s]!.latencyUs!)} µs, above the floor ${fmtRate(d.servers[s]!.latencyUs!)} µs`);
    if (parts.length) {
      notes.push(
        `Queue depth 1: ${parts.join('; ')}. Floor: RPC NULL on the same connection, interleaved with the GETATTRs (client + loopback + the server's RPC layer); ` +
          `"above the floor" is the median over repetitions of (GETATTR - NULL) within each repetition.`,
      );
    }
  }
  return mdTable(head, rows, 2) + '\n\n' + notes.join('\n');
}

function fmtMiB(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : '-';
}

/** Runs one workload group on one server with a fresh client and a fresh directory. */
async function runGroup(server: BenchServer, group: GroupName, tag: string, sizes: Sizes, want: (m: string) => boolean, quiet: boolean): Promise<Sample[]> {
  const client = await NfsClient.connect({ host: '127.0.0.1', port: server.port, minorVersion: 1, slots: 64, maxOps: 16, timeoutMs: 300_000 });
  try {
    const root = await client.lookupPath('/');
    const res = await client.run([op.putfh(root), op.create({ type: N.NF4DIR }, tag, { mode: 0o755 }), op.getfh()]);
    const dir = Buffer.from(res[2]!.opgetfh!.resok4!.object);
    const ctx: Ctx = {
      client,
      serverCpuMs: () => server.cpuMs(),
      serverRssKiB: () => server.rssKiB(),
      dir,
      sizes,
      progress: quiet ? () => {} : (m) => progress(`  ${server.name.padEnd(8)} ${m}`),
      want,
    };
    const samples = await GROUPS[group].run(ctx);
    await client.run([op.putfh(root), op.remove(tag)]);
    return samples;
  } finally {
    await client.destroy().catch(() => client.disconnect().catch(() => {}));
  }
}

/* ------------------------------------------------------------------ */
/* --scale-files: localefs start-up with many files                     */
/* ------------------------------------------------------------------ */

interface StartupMeasure {
  /** Spawning the process to its "localefs ready" log line. */
  spawnToReadyMs: number;
  /** The first mount by itself: connect, EXCHANGE_ID, CREATE_SESSION (+ RECLAIM_COMPLETE), PUTROOTFH+GETATTR. */
  mountMs: number;
  /** Spawning the process to the end of the first successful mount. */
  spawnToMountMs: number;
  rssAfterMountMiB: number;
  /** VmHWM (the kernel's peak RSS of the process) at the end of the mount. */
  peakRssToMountMiB: number;
}

interface ScaleResult {
  files: number;
  dirs: number;
  perDir: number;
  createSeconds: number;
  syncSeconds: number;
  /** localefs with an empty data directory, for comparison. */
  empty: StartupMeasure;
  populated: StartupMeasure & {
    stats: number;
    statSeconds: number;
    statUsPerFile: number;
    statP50Us: number;
    statMaxUs: number;
    rssAfterStatsMiB: number;
    /** The background index walk: its duration (from the server's "index built" line) and the server's RSS once it is over. */
    indexMs: number;
    rssIndexedMiB: number;
    /** Bytes of the index's own tables (typed arrays, name arena), as the "index built" line says. */
    indexBytes: number;
    indexedFiles: number;
  };
}

/** Waits (polling, bounded) for a JSON log line with this msg in the server's log; returns the parsed line. */
async function logLine(file: string, msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const needle = `"msg":"${msg}"`;
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      /* not written yet */
    }
    const line = text.split('\n').find((l) => l.includes(needle));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no "${msg}" line in ${file} within ${timeoutMs / 1000} s`);
}

const scaleName = (prefix: string, i: number, width: number) => `${prefix}${String(i).padStart(width, '0')}`;

/** Creates `files` empty files in directories of at most SCALE_PER_DIR under `root` (synchronous calls: fast). */
function populate(root: string, files: number): { dirs: number; dirWidth: number; fileWidth: number; seconds: number } {
  const dirs = Math.ceil(files / SCALE_PER_DIR);
  const dirWidth = Math.max(5, String(dirs - 1).length);
  const fileWidth = Math.max(7, String(files - 1).length);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const st = statfsSync(root);
  const need = files + dirs + 10_000;
  if (st.ffree < need) throw new Error(`--scale-files ${files}: the file system of ${root} has ${st.ffree} free inodes, needs about ${need}; use --dir`);
  const step = Math.max(1, Math.ceil(files / 10));
  let next = step;
  const t0 = process.hrtime.bigint();
  for (let d = 0; d < dirs; d++) {
    const dp = `${root}/${scaleName('d', d, dirWidth)}`;
    mkdirSync(dp, { mode: 0o755 });
    const end = Math.min(files, (d + 1) * SCALE_PER_DIR);
    for (let i = d * SCALE_PER_DIR; i < end; i++) {
      closeSync(openSync(`${dp}/${scaleName('f', i, fileWidth)}`, 'w', 0o644));
      if (i + 1 === next || i + 1 === files) {
        const sec = Number(process.hrtime.bigint() - t0) / 1e9;
        progress(`  created ${(i + 1).toLocaleString('en-US')} of ${files.toLocaleString('en-US')} files (${Math.round(((i + 1) * 100) / files)} %) in ${sec.toFixed(1)} s`);
        next += step;
      }
    }
  }
  return { dirs, dirWidth, fileWidth, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Starts localefs on `dir` and mounts it once; the client is left connected. */
async function startAndMount(o: Options, dir: string, leaseSeconds: number, profile: boolean): Promise<{ server: BenchServer; client: NfsClient; m: StartupMeasure }> {
  const server = await startLocalefs({ repo: REPO, dir, leaseSeconds, cpuProfDir: profile ? o.profileDir : undefined, readyTimeoutMs: o.timeoutMin * 60_000 });
  const t0 = process.hrtime.bigint();
  const client = await NfsClient.connect({ host: '127.0.0.1', port: server.port, minorVersion: 1, slots: 64, maxOps: 16, timeoutMs: 300_000 });
  const res = await run(client, [op.putrootfh(), op.getattr(DEFAULT_GETATTR)]);
  const t1 = process.hrtime.bigint();
  const a = decodeAttrs(res[1]!.opgetattr!.resok4!.obj_attributes);
  if (a.type !== N.NF4DIR) throw new Error(`mount: the root is of type ${a.type}, not a directory`);
  const m: StartupMeasure = {
    spawnToReadyMs: Number(server.readyAtNs - server.spawnedAtNs) / 1e6,
    mountMs: Number(t1 - t0) / 1e6,
    spawnToMountMs: Number(t1 - server.spawnedAtNs) / 1e6,
    rssAfterMountMiB: server.rssKiB() / 1024,
    peakRssToMountMiB: processStatusKiB(server.pid, 'VmHWM') / 1024,
  };
  return { server, client, m };
}

async function closeClient(c: NfsClient): Promise<void> {
  await c.destroy().catch(() => c.disconnect().catch(() => {}));
}

/**
 * --scale-files: localefs started on an empty data directory (for
 * comparison), then N empty files created in a fresh one before it starts.
 * Returns the populated server still running when the workloads follow.
 */
async function measureScale(o: Options, base: string, leaseSeconds: number, keepRunning: boolean): Promise<{ result: ScaleResult; server?: BenchServer }> {
  const files = o.scaleFiles!;
  progress(`scale: localefs on an empty data directory`);
  const e = await startAndMount(o, path.join(base, 'localefs-empty'), leaseSeconds, false);
  await closeClient(e.client);
  await e.server.stop();
  rmSync(path.join(base, 'localefs-empty', 'data'), { recursive: true, force: true });

  // localefs serves the default file system from <data>/fs (src/fleet.ts: dataDirOf + 'fs')
  const fsRoot = path.join(base, 'localefs', 'data', 'fs');
  progress(`scale: creating ${files.toLocaleString('en-US')} empty files in ${fsRoot} (untimed for the server)`);
  const pop = populate(fsRoot, files);
  const ts = process.hrtime.bigint();
  syncDisks();
  const syncSeconds = Number(process.hrtime.bigint() - ts) / 1e9;
  progress(`scale: created ${files.toLocaleString('en-US')} files in ${pop.dirs} directories in ${pop.seconds.toFixed(1)} s (${fmtRate(files / pop.seconds)} files/s), sync ${syncSeconds.toFixed(1)} s`);

  progress(`scale: starting localefs on ${files.toLocaleString('en-US')} files`);
  const p = await startAndMount(o, path.join(base, 'localefs'), leaseSeconds, keepRunning);
  try {
    progress(`scale: ready ${fmtRate(p.m.spawnToReadyMs)} ms after spawn, mounted after ${fmtRate(p.m.spawnToMountMs)} ms, RSS ${fmtMiB(p.m.rssAfterMountMiB)} MiB`);
    // stat of random files by path from the root, one at a time
    const stats = Math.min(SCALE_STATS, files);
    const rnd = prng(0x5ca1e);
    const picked = new Set<number>();
    while (picked.size < stats) picked.add(Math.floor(rnd() * files));
    const each: number[] = [];
    const t0 = process.hrtime.bigint();
    let t = t0;
    for (const i of picked) {
      const res = await run(p.client, [
        op.putrootfh(),
        op.lookup(scaleName('d', Math.floor(i / SCALE_PER_DIR), pop.dirWidth)),
        op.lookup(scaleName('f', i, pop.fileWidth)),
        op.getfh(),
        op.getattr(DEFAULT_GETATTR),
      ]);
      const a = decodeAttrs(res[4]!.opgetattr!.resok4!.obj_attributes);
      if (a.type !== N.NF4REG || a.size !== 0) throw new Error(`scale stat of file ${i}: unexpected type ${a.type} / size ${a.size}`);
      const t1 = process.hrtime.bigint();
      each.push(Number(t1 - t) / 1000);
      t = t1;
    }
    const statSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const rssAfterStatsMiB = p.server.rssKiB() / 1024;
    // the index walk goes on in the background after the mount: wait for it, then weigh the whole index
    const built = await logLine(path.join(p.server.dir, 'localefs.log'), 'index built', 30 * 60_000);
    const indexMs = Number(built.elapsedMs);
    const indexBytes = Number(built.indexBytes);
    const indexedFiles = Number(built.files);
    const rssIndexedMiB = p.server.rssKiB() / 1024;
    progress(`scale: index built in ${fmtRate(indexMs)} ms, RSS ${fmtMiB(rssIndexedMiB)} MiB`);
    const result: ScaleResult = {
      files,
      dirs: pop.dirs,
      perDir: SCALE_PER_DIR,
      createSeconds: pop.seconds,
      syncSeconds,
      empty: e.m,
      populated: {
        ...p.m,
        stats,
        statSeconds,
        statUsPerFile: (statSeconds * 1e6) / stats,
        statP50Us: median(each),
        statMaxUs: Math.max(...each),
        rssAfterStatsMiB,
        indexMs,
        rssIndexedMiB,
        indexBytes,
        indexedFiles,
      },
    };
    await closeClient(p.client);
    if (keepRunning) return { result, server: p.server };
    await p.server.stop();
    return { result };
  } catch (err) {
    await closeClient(p.client);
    await p.server.stop(2000);
    throw err;
  }
}

function scaleTable(r: ScaleResult): string {
  const n = r.files.toLocaleString('en-US');
  const ms = (v: number) => fmtRate(v);
  const rows: string[][] = [
    ['spawn to "localefs ready" (ms)', ms(r.empty.spawnToReadyMs), ms(r.populated.spawnToReadyMs)],
    ['first mount: EXCHANGE_ID+CREATE_SESSION+PUTROOTFH+GETATTR (ms)', ms(r.empty.mountMs), ms(r.populated.mountMs)],
    ['spawn to first mount done (ms)', ms(r.empty.spawnToMountMs), ms(r.populated.spawnToMountMs)],
    ['server RSS right after the mount (MiB)', fmtMiB(r.empty.rssAfterMountMiB), fmtMiB(r.populated.rssAfterMountMiB)],
    ['server peak RSS up to the mount (VmHWM, MiB)', fmtMiB(r.empty.peakRssToMountMiB), fmtMiB(r.populated.peakRssToMountMiB)],
    [`stat of ${r.populated.stats.toLocaleString('en-US')} random files, LOOKUP path from the root, 1 in flight (µs/file)`, '-', fmtRate(r.populated.statUsPerFile)],
    ['  the same: median / slowest single stat (µs)', '-', `${fmtRate(r.populated.statP50Us)} / ${fmtRate(r.populated.statMaxUs)}`],
    ['server RSS after those stats (MiB)', '-', fmtMiB(r.populated.rssAfterStatsMiB)],
    ['background index walk, from its start to "index built" (ms)', '-', ms(r.populated.indexMs)],
    ['server RSS once the index is complete (MiB)', fmtMiB(r.empty.rssAfterMountMiB), fmtMiB(r.populated.rssIndexedMiB)],
    ['the index itself: bytes per file (its tables and name arena)', '-', fmtRate(r.populated.indexBytes / r.populated.indexedFiles)],
  ];
  const perFile = ((r.populated.rssIndexedMiB - r.empty.rssAfterMountMiB) * 2 ** 20) / r.files;
  return [
    `localefs start-up with ${n} files (${r.dirs.toLocaleString('en-US')} ${r.dirs === 1 ? 'directory' : 'directories'} of at most ${r.perDir.toLocaleString('en-US')}), created in ${r.createSeconds.toFixed(1)} s (${fmtRate(r.files / r.createSeconds)} files/s, untimed for the server; sync ${r.syncSeconds.toFixed(1)} s)`,
    '',
    mdTable(['localefs', 'empty data dir', `${n} files`], rows, 1),
    '',
    `RSS with the whole index, populated minus empty: ${fmtRate(perFile)} bytes per file (index, caches and heap together).`,
  ].join('\n');
}

function syncDisks(): void {
  try {
    execFileSync('sync');
  } catch {
    /* best effort */
  }
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (o.servers.includes('ganesha')) {
    const missing = ganeshaMissing();
    if (missing) {
      process.stderr.write(`bench: ${missing}\n`);
      return 2;
    }
  }
  const metrics = Object.keys(WORKLOADS)
    .filter((w) => o.workloads.includes(w))
    .flatMap((w) => WORKLOADS[w]!.metrics);
  const groups = (Object.keys(GROUPS) as GroupName[]).filter((g) => GROUPS[g].metrics.some((m) => metrics.includes(m)));
  const want = (m: string) => metrics.includes(m);

  mkdirSync(o.baseDir, { recursive: true });
  const base = mkdtempSync(path.join(o.baseDir, 'localefs-bench-'));
  if (!o.keep) tempDir = base;
  const servers = new Map<ServerName, BenchServer>();
  const watchdog = setTimeout(() => {
    progress(`bench: gave up after ${o.timeoutMin} minutes; stopping the servers`);
    killAllSync();
    process.exit(3);
  }, o.timeoutMin * 60_000);
  watchdog.unref();
  let ok = false;
  const profStart = Date.now();
  try {
    const mach = machine(base);
    progress(`machine: ${mach.cpus} x ${mach.cpu}, ${mach.memGiB} GiB, ${mach.kernel}, node ${mach.node}, ganesha ${mach.ganesha}, fs ${mach.fsType}, load ${(mach.loadavgAtStart as number[]).join(' ')}`);
    if (o.workloads.length) progress(`sizes: ${JSON.stringify(o.sizes)}; repetitions ${o.reps}; workloads ${o.workloads.join(',')}; temp dir ${base}`);
    if (o.scaleFiles !== undefined) progress(`scale: ${o.scaleFiles} files; temp dir ${base}`);
    const leaseSeconds = 120;
    let scale: ScaleResult | undefined;
    if (o.scaleFiles !== undefined) {
      const got = await measureScale(o, base, leaseSeconds, groups.length > 0);
      scale = got.result;
      if (got.server) {
        servers.set('localefs', got.server);
        progress(`localefs (with ${o.scaleFiles} files) pid ${got.server.pid} on 127.0.0.1:${got.server.port}`);
      }
    }
    for (const name of groups.length > 0 ? o.servers : []) {
      if (servers.has(name)) continue;
      const dir = path.join(base, name);
      const s =
        name === 'localefs'
          ? await startLocalefs({ repo: REPO, dir, leaseSeconds, cpuProfDir: o.profileDir })
          : await startGanesha({ dir, leaseSeconds });
      servers.set(name, s);
      progress(`${name} pid ${s.pid} on 127.0.0.1:${s.port}`);
    }

    // warm-up (untimed): JIT, caches, first-connection costs
    const warm: Sizes = { ...o.sizes, metaFiles: 100, metaFilesQd1: 25, readdirPasses: 1, smallFiles: 50, smallFilesQd1: 13, streamMiB: 4, randomReads: 200, latencyOps: 200 };
    for (const [name, s] of servers) {
      progress(`warm-up on ${name}`);
      for (const g of groups) await runGroup(s, g, `warmup-${g}`, warm, () => true, true);
    }

    const samples = new Map<string, Sample[]>();
    for (let rep = 0; rep < o.reps; rep++) {
      for (let gi = 0; gi < groups.length; gi++) {
        const group = groups[gi]!;
        const order = (rep + gi) % 2 === 0 ? o.servers : [...o.servers].reverse();
        for (const name of order) {
          syncDisks();
          progress(`rep ${rep + 1}/${o.reps}: ${group} on ${name}`);
          const got = await runGroup(servers.get(name)!, group, `r${rep}-${group}`, o.sizes, want, false);
          for (const x of got) {
            const k = `${name}/${x.metric}`;
            if (!samples.has(k)) samples.set(k, []);
            samples.get(k)!.push(x);
          }
        }
      }
    }

    for (const [name, s] of servers) {
      progress(`stopping ${name}`);
      await s.stop(o.profileDir ? 60_000 : 10_000);
    }

    const results = summarize(samples, o.servers, metrics, o.sizes.jobs);
    const date = new Date().toISOString();
    if (results.length) {
      const tbl = table(results, o.servers);
      const what = o.scaleFiles !== undefined ? ` (localefs with ${o.scaleFiles.toLocaleString('en-US')} extra files in its data directory)` : '';
      process.stdout.write(`\nlocalefs vs nfs-ganesha — ${date}, ${mach.cpus} x ${mach.cpu}${o.quick ? ' (--quick)' : ''}, median of ${o.reps}${what}\n\n${tbl}\n\n`);
    }
    if (scale) process.stdout.write(`\n${scaleTable(scale)}\n\n`);
    const json = {
      date,
      machine: { ...mach, loadavgAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
      quick: o.quick,
      repetitions: o.reps,
      sizes: o.sizes,
      servers: o.servers,
      results: results.map((r) => ({
        ...r,
        rawSamples: Object.fromEntries(o.servers.map((s) => [s, samples.get(`${s}/${r.metric}`) ?? []])),
      })),
      ...(scale ? { scale } : {}),
    };
    writeFileSync(o.out, JSON.stringify(json, null, 2) + '\n');
    progress(`results written to ${o.out} (load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; other work on the machine adds noise)`);

    if (o.profileDir) {
      const profs = readdirSync(o.profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => path.join(o.profileDir!, f))
        .filter((f) => statSync(f).mtimeMs >= profStart)
        // the main thread's profile is the big one (tsx's loader thread writes a small one too)
        .sort((a, b) => statSync(b).size - statSync(a).size);
      if (profs.length === 0) progress(`no CPU profile appeared in ${o.profileDir}`);
      else {
        const root = `file://${REPO}/`;
        const parts = [summarizeProfile(profs[0]!, { topN: 30, root, title: `localefs CPU profile ${profs[0]}, whole run` })];
        // the same profile cut to each timed phase (all repetitions)
        for (const metric of metrics) {
          const windows = (samples.get(`localefs/${metric}`) ?? []).map((x) => x.windowUs);
          if (windows.length === 0) continue;
          parts.push(summarizeProfile(profs[0]!, { topN: 15, root, windows, tables: 'project', title: `during ${metric} (${metricLabel(metric, o.sizes.jobs)})` }));
        }
        const text = parts.join('\n\n');
        const summaryFile = profs[0]!.replace(/\.cpuprofile$/, '.summary.txt');
        writeFileSync(summaryFile, text + '\n');
        process.stdout.write(text + '\n');
        progress(`profile summary written to ${summaryFile}`);
      }
    }
    ok = true;
    return 0;
  } catch (err) {
    progress(`bench failed: ${(err as Error).stack ?? String(err)}`);
    for (const s of servers.values()) progress(`  ${s.name} files (log, config) are in ${s.dir}`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    await Promise.all([...servers.values()].map((s) => s.stop(o.profileDir ? 60_000 : 10_000).catch(() => {})));
    killAllSync();
    if (!o.keep) {
      if (o.scaleFiles !== undefined && o.scaleFiles >= 100_000) progress(`removing ${base} (${o.scaleFiles.toLocaleString('en-US')} files)`);
      if (ok) rmSync(base, { recursive: true, force: true });
      else {
        // keep the logs and configs for a look; drop the bulk
        for (const d of ['localefs/data', 'localefs-empty/data', 'ganesha/export']) rmSync(path.join(base, d), { recursive: true, force: true });
      }
    }
  }
}

/** The run's temp dir, removed by the signal handlers (unless --keep). */
let tempDir: string | undefined;

process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    progress(`bench: ${sig}; stopping the servers`);
    killAllSync();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    killAllSync();
    process.exit(1);
  },
);
