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
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NfsClient, op } from '../../src/client/nfs-client.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import {
  type BenchServer,
  type ServerName,
  ganeshaMissing,
  ganeshaVersion,
  killAllSync,
  startGanesha,
  startLocalefs,
} from './servers.js';
import { GROUPS, METRIC_LABELS, WORKLOADS, fmtRate, type Ctx, type GroupName, type Sample, type Sizes } from './workloads.js';
import { summarizeProfile } from './profile-summary.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const USAGE = `Usage: npm run bench -- [options]

Runs the same NFSv4.1 workloads against localefs and nfs-ganesha in one run
and reports localefs/ganesha ratios (> 1: localefs is faster).

  --quick               small sizes and 2 repetitions (a smoke run)
  --only NAME           localefs or ganesha: measure one server only
  --workloads LIST      comma list of metadata,small,stream,random (default all)
  --reps N              repetitions (default 5, --quick 2); the median is reported
  --out FILE            JSON results (default /tmp/localefs-bench.json)
  --dir DIR             where the servers' temp dirs go (default ${os.tmpdir()})
  --profile DIR         write a V8 CPU profile of localefs into DIR and summarize it
  --keep                keep the servers' temp dirs
  --jobs N              files in flight for metadata/small (default 8)
  --files N             files of the metadata workload (default 2000, --quick 300)
  --small-files N       files of the small-file workload (default 1000, --quick 200)
  --stream-mib N        size of the streamed file in MiB (default 256, --quick 32)
  --random-reads N      random 4 KiB reads (default 5000, --quick 1000)
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
  const workloads = values.workloads ? values.workloads.split(',').map((w) => w.trim()).filter(Boolean) : Object.keys(WORKLOADS);
  for (const w of workloads) if (!(w in WORKLOADS)) throw new UsageError(`unknown workload "${w}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
  const sizes: Sizes = {
    metaFiles: intOpt(values.files, '--files', quick ? 300 : 2000),
    readdirPasses: quick ? 3 : 10,
    smallFiles: intOpt(values['small-files'], '--small-files', quick ? 200 : 1000),
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
  rate: number;
  samples: number[];
  /** Median server CPU per unit (µs). */
  serverCpuUsPerUnit: number;
  /** Median client CPU per unit (µs). */
  clientCpuUsPerUnit: number;
}

interface MetricResult {
  metric: string;
  label: string;
  unit: string;
  servers: Partial<Record<ServerName, ServerSummary>>;
  ratio?: number;
}

function summarize(samples: Map<string, Sample[]>, servers: ServerName[], metrics: string[]): MetricResult[] {
  const out: MetricResult[] = [];
  for (const metric of metrics) {
    const r: MetricResult = { metric, label: METRIC_LABELS[metric] ?? metric, unit: '', servers: {} };
    for (const s of servers) {
      const xs = samples.get(`${s}/${metric}`) ?? [];
      if (xs.length === 0) continue;
      r.unit = xs[0]!.unit;
      r.servers[s] = {
        rate: median(xs.map((x) => x.rate)),
        samples: xs.map((x) => x.rate),
        serverCpuUsPerUnit: median(xs.map((x) => (x.serverCpuMs * 1000) / x.amount)),
        clientCpuUsPerUnit: median(xs.map((x) => (x.clientCpuMs * 1000) / x.amount)),
      };
    }
    const a = r.servers.localefs?.rate;
    const b = r.servers.ganesha?.rate;
    if (a !== undefined && b !== undefined && b > 0) r.ratio = a / b;
    if (Object.keys(r.servers).length) out.push(r);
  }
  return out;
}

function table(results: MetricResult[], servers: ServerName[]): string {
  const both = servers.length === 2;
  const head = ['Workload', 'unit', ...servers, ...(both ? ['ratio localefs/ganesha'] : []), ...servers.map((s) => `${s} server CPU µs/unit`)];
  const rows = results.map((r) => [
    r.label,
    `${r.unit}/s`,
    ...servers.map((s) => fmtRate(r.servers[s]?.rate ?? Number.NaN)),
    ...(both ? [r.ratio !== undefined ? r.ratio.toFixed(2) : '-'] : []),
    ...servers.map((s) => fmtRate(r.servers[s]?.serverCpuUsPerUnit ?? Number.NaN)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), sep, ...rows.map(line)].join('\n');
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
    progress(`sizes: ${JSON.stringify(o.sizes)}; repetitions ${o.reps}; workloads ${o.workloads.join(',')}; temp dir ${base}`);
    const leaseSeconds = 120;
    for (const name of o.servers) {
      const dir = path.join(base, name);
      const s =
        name === 'localefs'
          ? await startLocalefs({ repo: REPO, dir, leaseSeconds, cpuProfDir: o.profileDir })
          : await startGanesha({ dir, leaseSeconds });
      servers.set(name, s);
      progress(`${name} pid ${s.pid} on 127.0.0.1:${s.port}`);
    }

    // warm-up (untimed): JIT, caches, first-connection costs
    const warm: Sizes = { ...o.sizes, metaFiles: 100, readdirPasses: 1, smallFiles: 50, streamMiB: 4, randomReads: 200 };
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

    const results = summarize(samples, o.servers, metrics);
    const date = new Date().toISOString();
    const tbl = table(results, o.servers);
    process.stdout.write(`\nlocalefs vs nfs-ganesha — ${date}, ${mach.cpus} x ${mach.cpu}${o.quick ? ' (--quick)' : ''}, median of ${o.reps}\n\n${tbl}\n\n`);
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
          parts.push(summarizeProfile(profs[0]!, { topN: 15, root, windows, tables: 'project', title: `during ${metric} (${METRIC_LABELS[metric] ?? metric})` }));
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
      if (ok) rmSync(base, { recursive: true, force: true });
      else {
        // keep the logs and configs for a look; drop the bulk
        for (const d of ['localefs/data', 'ganesha/export']) rmSync(path.join(base, d), { recursive: true, force: true });
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
