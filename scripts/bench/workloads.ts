/**
 * The benchmark workloads, run through the project's NFSv4.1 client against
 * whichever server the client is connected to. Each builds its compounds the
 * way a kernel client would once it has the directory's file handle (PUTFH
 * of the directory, not a path walk from the root), checks what it reads
 * back, and cleans up after itself (untimed).
 *
 *  metadata  create+close N empty files in one directory, stat them
 *            (LOOKUP+GETATTR), list the directory (READDIR with attributes),
 *            remove them; `jobs` files in flight. Then the same create,
 *            stat and remove one file at a time (queue depth 1) on
 *            `metaFilesQd1` files in a second directory.
 *  small     N 4 KiB files: OPEN(create) / WRITE FILE_SYNC / CLOSE, then
 *            OPEN / READ / CLOSE; `jobs` files in flight. Then the same one
 *            file at a time on `smallFilesQd1` files.
 *  latency   one file: `PUTFH; GETATTR` (the attributes `ls -l` asks), one
 *            at a time, and the client floor: the RPC NULL procedure, one at
 *            a time on the same connection. Reported in µs per call.
 *  stream    one big file in 1 MiB UNSTABLE WRITEs, 8 in flight, then COMMIT;
 *            read back in 1 MiB READs, 8 in flight.
 *  random    4 KiB READs at random 4 KiB-aligned offsets of that file,
 *            16 in flight.
 */
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsClient, NfsStatusError, op, encodeAttrs, FATTR, DEFAULT_GETATTR, decodeAttrs } from '../../src/client/nfs-client.js';
import { rssSampler } from './servers.js';

export interface Sizes {
  metaFiles: number;
  /** Files of the metadata rows at queue depth 1. */
  metaFilesQd1: number;
  readdirPasses: number;
  smallFiles: number;
  /** Files of the small-file rows at queue depth 1. */
  smallFilesQd1: number;
  /** GETATTR (and NULL) calls of the latency rows. */
  latencyOps: number;
  streamMiB: number;
  randomReads: number;
  /** Files in flight in the metadata and small-file workloads. */
  jobs: number;
  /** WRITEs / READs in flight while streaming. */
  streamDepth: number;
  /** READs in flight for random reads. */
  randomDepth: number;
}

/** One timed phase. `amount` is in `unit`s (files, entries, MiB, reads). */
export interface Sample {
  metric: string;
  unit: string;
  amount: number;
  seconds: number;
  /** amount / seconds */
  rate: number;
  /** CPU time the server process used during the phase (ms). */
  serverCpuMs: number;
  /** CPU time the bench (client) process used during the phase (ms). */
  clientCpuMs: number;
  /** The phase's start and end, µs of CLOCK_MONOTONIC (to slice a server CPU profile). */
  windowUs: [number, number];
  /** Highest resident set size of the server process seen during the phase (MiB; sampled every 50 ms, NaN if unreadable). */
  serverPeakRssMiB: number;
  /** Latency rows only: percentiles of the single calls (µs). */
  opUs?: { p50: number; p90: number; p99: number; max: number };
}

export interface Ctx {
  client: NfsClient;
  /** utime+stime of the server so far (ms). */
  serverCpuMs: () => number;
  /** Resident set size of the server process now (KiB). */
  serverRssKiB: () => number;
  /** File handle of the directory this run may use (empty, private). */
  dir: Buffer;
  sizes: Sizes;
  progress: (msg: string) => void;
  /** Which metrics to time (the rest of a group still runs if later metrics need it). */
  want: (metric: string) => boolean;
}

const KiB = 1024;
const MiB = 1024 * 1024;
const BLOCK = 4 * KiB;

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** client.run(), retrying NFS4ERR_DELAY / GRACE a bounded number of times. */
export async function run(c: NfsClient, ops: N.nfs_argop4[]): Promise<N.nfs_resop4[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await c.run(ops);
    } catch (err) {
      if (err instanceof NfsStatusError && (err.status === N.NFS4ERR_DELAY || err.status === N.NFS4ERR_GRACE) && attempt < 100) {
        await sleep(50);
        continue;
      }
      throw err;
    }
  }
}

/** Runs fn(0..count-1) with at most `width` calls in flight; stops handing out work after a failure. */
export async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(width, count); w++) workers.push(worker());
  const results = await Promise.allSettled(workers);
  const bad = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) throw bad.reason;
}

/** Small deterministic PRNG (mulberry32), so both servers see the same offsets. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1 MiB of pseudo-random bytes, the same in every run. */
const BASE: Buffer = (() => {
  const r = prng(0x10ca1ef5);
  const b = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 4) b.writeUInt32LE((r() * 4294967296) >>> 0, i);
  return b;
})();

/** Content of `len` bytes at `offset` of the streamed file: BASE repeated, each 4 KiB block stamped with its number. */
function fileBytes(offset: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  let done = 0;
  while (done < len) {
    const pos = offset + done;
    const inBase = pos % MiB;
    const n = Math.min(len - done, MiB - inBase);
    BASE.copy(out, done, inBase, inBase + n);
    done += n;
  }
  // stamp: the first 8 bytes of every 4 KiB block hold the block number
  const firstBlock = Math.ceil(offset / BLOCK);
  for (let b = firstBlock; b * BLOCK + 8 <= offset + len; b++) {
    const at = b * BLOCK - offset;
    out.writeUInt32LE(b >>> 0, at);
    out.writeUInt32LE(Math.floor(b / 4294967296), at + 4);
  }
  return out;
}

function smallContent(i: number): Buffer {
  const b = Buffer.from(BASE.subarray(0, BLOCK));
  b.writeUInt32LE(0x5a11f11e, 0);
  b.writeUInt32LE(i, 4);
  return b;
}

function name(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(7, '0')}`;
}

function openOwner(c: NfsClient): N.open_owner4 {
  return { clientid: c.clientId ?? Buffer.alloc(8), owner: Buffer.from('localefs-bench-owner') };
}

function openOp(c: NfsClient, file: string, access: number, create: boolean): N.nfs_argop4 {
  return {
    argop: N.OP_OPEN,
    opopen: {
      seqid: 0,
      share_access: access,
      share_deny: N.OPEN4_SHARE_DENY_NONE,
      owner: openOwner(c),
      openhow: create
        ? { opentype: N.OPEN4_CREATE, how: { mode: N.UNCHECKED4, createattrs: encodeAttrs({ mode: 0o644 }) } }
        : { opentype: N.OPEN4_NOCREATE },
      claim: { claim: N.CLAIM_NULL, file },
    },
  };
}

interface Opened {
  fh: Buffer;
  stateid: N.stateid4;
  /** A delegation handed out with the open (returned at close). */
  deleg?: N.stateid4;
}

/** PUTFH dir; OPEN name; GETFH; GETATTR — what a kernel client sends for open(2). */
export async function openIn(c: NfsClient, dir: Buffer, file: string, access: number, create: boolean): Promise<Opened> {
  const res = await run(c, [op.putfh(dir), openOp(c, file, access, create), op.getfh(), op.getattr(DEFAULT_GETATTR)]);
  const ok = res[1]!.opopen!.resok4!;
  const d = ok.delegation;
  const deleg = d.delegation_type === N.OPEN_DELEGATE_NONE ? undefined : (d.read?.stateid ?? d.write?.stateid);
  return { fh: Buffer.from(res[2]!.opgetfh!.resok4!.object), stateid: ok.stateid, deleg };
}

export async function closeFile(c: NfsClient, f: Opened): Promise<void> {
  const ops: N.nfs_argop4[] = [op.putfh(f.fh), { argop: N.OP_CLOSE, opclose: { seqid: 0, open_stateid: f.stateid } }];
  if (f.deleg) ops.push({ argop: N.OP_DELEGRETURN, opdelegreturn: { deleg_stateid: f.deleg } });
  await run(c, ops);
}

export async function mkdirIn(c: NfsClient, dir: Buffer, sub: string): Promise<Buffer> {
  const res = await run(c, [op.putfh(dir), op.create({ type: N.NF4DIR }, sub, { mode: 0o755 }), op.getfh()]);
  return Buffer.from(res[2]!.opgetfh!.resok4!.object);
}

export async function removeIn(c: NfsClient, dir: Buffer, file: string): Promise<void> {
  await run(c, [op.putfh(dir), op.remove(file)]);
}

/** Times one phase, with the CPU both processes used during it and the server's peak RSS. */
async function timed(ctx: Ctx, metric: string, unit: string, amount: number, fn: () => Promise<void>): Promise<Sample> {
  const rss = rssSampler(ctx.serverRssKiB, 50);
  const srv0 = ctx.serverCpuMs();
  const cli0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let peakKiB: number;
  let t1 = 0n;
  try {
    await fn();
    t1 = process.hrtime.bigint();
  } finally {
    peakKiB = rss.stop();
  }
  const cli = process.cpuUsage(cli0);
  return makeSample(ctx, {
    metric,
    unit,
    amount,
    seconds: Number(t1 - t0) / 1e9,
    serverCpuMs: ctx.serverCpuMs() - srv0,
    clientCpuMs: (cli.user + cli.system) / 1000,
    windowUs: [Number(t0 / 1000n), Number(t1 / 1000n)],
    serverPeakRssMiB: peakKiB / 1024,
  });
}

/** Completes a sample (rate) and reports it on the progress line. */
function makeSample(ctx: Ctx, x: Omit<Sample, 'rate'>): Sample {
  const { metric, unit, amount, seconds } = x;
  const sample: Sample = { ...x, rate: amount / seconds };
  const speed = isLatencyMetric(metric) ? `${fmtRate((seconds * 1e6) / amount)} µs/call` : `${fmtRate(sample.rate)} ${unit}/s`;
  ctx.progress(`${metric}: ${speed} (${amount} ${unit} in ${seconds.toFixed(2)} s, server CPU ${sample.serverCpuMs.toFixed(0)} ms, peak RSS ${sample.serverPeakRssMiB.toFixed(0)} MiB)`);
  return sample;
}

export function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/* ------------------------------------------------------------------ */
/* 1. metadata                                                          */
/* ------------------------------------------------------------------ */


/**
 * Lists a directory with READDIR (attributes requested, not decoded) and
 * returns the entry names, following cookies through the client's generated
 * codecs. nfs_cookie4 is a bigint there, so each 64-bit cookie goes back to
 * the server bit for bit (ganesha hands out cookies above 2^53; a rounded one
 * would make it resume at the wrong place and repeat entries).
 */
export async function listDir(c: NfsClient, dir: Buffer, attrs: number[], dircount: number, maxcount: number): Promise<string[]> {
  const names: string[] = [];
  let cookie = 0n;
  let verf = Buffer.alloc(8);
  for (let page = 0; page < 1_000_000; page++) {
    const res = await run(c, [op.putfh(dir), op.readdir(cookie, verf, dircount, maxcount, attrs)]);
    const ok = res[1]!.opreaddir!.resok4!;
    verf = Buffer.from(ok.cookieverf);
    const entries = ok.reply.entries;
    for (const e of entries) names.push(e.name);
    if (ok.reply.eof) return names;
    if (entries.length === 0) throw new Error('READDIR returned no entries and no EOF');
    cookie = entries[entries.length - 1]!.cookie;
  }
  throw new Error('READDIR did not reach EOF');
}

export async function metadata(ctx: Ctx): Promise<Sample[]> {
  const { client: c, sizes } = ctx;
  const n = sizes.metaFiles;
  const dir = await mkdirIn(c, ctx.dir, 'meta');
  const out: Sample[] = [];

  out.push(
    await timed(ctx, 'meta.create', 'files', n, () =>
      pool(n, sizes.jobs, async (i) => {
        const f = await openIn(c, dir, name('f', i), N.OPEN4_SHARE_ACCESS_WRITE, true);
        await closeFile(c, f);
      }),
    ),
  );

  const fileids = new Set<number>();
  out.push(
    await timed(ctx, 'meta.stat', 'files', n, () =>
      pool(n, sizes.jobs, async (i) => {
        const res = await run(c, [op.putfh(dir), op.lookup(name('f', i)), op.getfh(), op.getattr(DEFAULT_GETATTR)]);
        const a = decodeAttrs(res[3]!.opgetattr!.resok4!.obj_attributes);
        if (a.type !== N.NF4REG || a.size !== 0) throw new Error(`stat ${name('f', i)}: unexpected type ${a.type} / size ${a.size}`);
        fileids.add(Number(a.fileid));
      }),
    ),
  );
  if (fileids.size !== n) throw new Error(`stat saw ${fileids.size} distinct fileids for ${n} files`);

  const passes = sizes.readdirPasses;
  out.push(
    await timed(ctx, 'meta.readdir', 'entries', n * passes, async () => {
      for (let p = 0; p < passes; p++) {
        const names = await listDir(c, dir, DEFAULT_GETATTR, 65536, 262144);
        if (names.length !== n || new Set(names).size !== n) throw new Error(`READDIR listed ${names.length} entries (${new Set(names).size} distinct), expected ${n}`);
      }
    }),
  );

  out.push(await timed(ctx, 'meta.remove', 'files', n, () => pool(n, sizes.jobs, (i) => removeIn(c, dir, name('f', i)))));
  await removeIn(c, ctx.dir, 'meta');

  // the same one file at a time (queue depth 1), fewer files, in a fresh directory
  if (['meta.create.qd1', 'meta.stat.qd1', 'meta.remove.qd1'].some(ctx.want)) {
    const n1 = sizes.metaFilesQd1;
    const dir1 = await mkdirIn(c, ctx.dir, 'meta1');
    out.push(
      await timed(ctx, 'meta.create.qd1', 'files', n1, async () => {
        for (let i = 0; i < n1; i++) {
          const f = await openIn(c, dir1, name('q', i), N.OPEN4_SHARE_ACCESS_WRITE, true);
          await closeFile(c, f);
        }
      }),
    );
    const ids1 = new Set<number>();
    out.push(
      await timed(ctx, 'meta.stat.qd1', 'files', n1, async () => {
        for (let i = 0; i < n1; i++) {
          const res = await run(c, [op.putfh(dir1), op.lookup(name('q', i)), op.getfh(), op.getattr(DEFAULT_GETATTR)]);
          const a = decodeAttrs(res[3]!.opgetattr!.resok4!.obj_attributes);
          if (a.type !== N.NF4REG || a.size !== 0) throw new Error(`stat ${name('q', i)}: unexpected type ${a.type} / size ${a.size}`);
          ids1.add(Number(a.fileid));
        }
      }),
    );
    if (ids1.size !== n1) throw new Error(`stat (1 in flight) saw ${ids1.size} distinct fileids for ${n1} files`);
    out.push(
      await timed(ctx, 'meta.remove.qd1', 'files', n1, async () => {
        for (let i = 0; i < n1; i++) await removeIn(c, dir1, name('q', i));
      }),
    );
    await removeIn(c, ctx.dir, 'meta1');
  }
  return out;
}

/* ------------------------------------------------------------------ */
/* 2. small files                                                       */
/* ------------------------------------------------------------------ */

/** OPEN(create) / WRITE FILE_SYNC 4 KiB / CLOSE of small file i. */
async function writeSmall(c: NfsClient, dir: Buffer, i: number): Promise<void> {
  const f = await openIn(c, dir, name('s', i), N.OPEN4_SHARE_ACCESS_BOTH, true);
  const data = smallContent(i);
  const res = await run(c, [op.putfh(f.fh), op.write(f.stateid, 0, data, N.FILE_SYNC4)]);
  const w = res[1]!.opwrite!.resok4!;
  if (w.count !== data.length) throw new Error(`small WRITE wrote ${w.count} of ${data.length}`);
  if (w.committed !== N.FILE_SYNC4) throw new Error(`small WRITE FILE_SYNC came back as stable_how ${w.committed}`);
  await closeFile(c, f);
}

/** OPEN / READ 4 KiB / CLOSE of small file i, checking the bytes. */
async function readSmall(c: NfsClient, dir: Buffer, i: number): Promise<void> {
  const f = await openIn(c, dir, name('s', i), N.OPEN4_SHARE_ACCESS_READ, false);
  const res = await run(c, [op.putfh(f.fh), op.read(f.stateid, 0, BLOCK)]);
  const r = res[1]!.opread!.resok4!;
  if (!Buffer.from(r.data).equals(smallContent(i))) throw new Error(`small file ${i} read back wrong (${r.data.length} bytes)`);
  await closeFile(c, f);
}

export async function smallFiles(ctx: Ctx): Promise<Sample[]> {
  const { client: c, sizes } = ctx;
  const out: Sample[] = [];
  // `jobs` files in flight, then one at a time (fewer files, a fresh directory)
  const rounds = [
    { sub: 'small', n: sizes.smallFiles, width: sizes.jobs, suffix: '' },
    { sub: 'small1', n: sizes.smallFilesQd1, width: 1, suffix: '.qd1' },
  ];
  for (const { sub, n, width, suffix } of rounds) {
    if (suffix && !ctx.want(`small.write${suffix}`) && !ctx.want(`small.read${suffix}`)) continue;
    const dir = await mkdirIn(c, ctx.dir, sub);
    out.push(await timed(ctx, `small.write${suffix}`, 'files', n, () => pool(n, width, (i) => writeSmall(c, dir, i))));
    out.push(await timed(ctx, `small.read${suffix}`, 'files', n, () => pool(n, width, (i) => readSmall(c, dir, i))));
    await pool(n, sizes.jobs, (i) => removeIn(c, dir, name('s', i)));
    await removeIn(c, ctx.dir, sub);
  }
  return out;
}

/* ------------------------------------------------------------------ */
/* 3. streaming + 4. random reads                                       */
/* ------------------------------------------------------------------ */

export async function bigFile(ctx: Ctx): Promise<Sample[]> {
  const { client: c, sizes } = ctx;
  const size = sizes.streamMiB * MiB;
  const chunks = sizes.streamMiB;
  const out: Sample[] = [];
  const fname = 'big.dat';

  // stream write: OPEN, 1 MiB UNSTABLE WRITEs (streamDepth in flight), COMMIT, CLOSE
  let f: Opened | undefined;
  const write = async () => {
    f = await openIn(c, ctx.dir, fname, N.OPEN4_SHARE_ACCESS_BOTH, true);
    const file = f;
    const verfs = new Set<string>();
    await pool(chunks, sizes.streamDepth, async (i) => {
      const data = fileBytes(i * MiB, MiB);
      let done = 0;
      while (done < data.length) {
        const res = await run(c, [op.putfh(file.fh), op.write(file.stateid, i * MiB + done, data.subarray(done), N.UNSTABLE4)]);
        const w = res[1]!.opwrite!.resok4!;
        if (w.count === 0) throw new Error('WRITE wrote 0 bytes');
        done += w.count;
        verfs.add(Buffer.from(w.writeverf).toString('hex'));
      }
    });
    const cres = await run(c, [op.putfh(file.fh), op.commit(0, 0)]);
    const cverf = Buffer.from(cres[1]!.opcommit!.resok4!.writeverf).toString('hex');
    if (verfs.size !== 1 || !verfs.has(cverf)) throw new Error('write verifier changed during the stream (server restarted?)');
    await closeFile(c, file);
  };
  if (ctx.want('stream.write')) out.push(await timed(ctx, 'stream.write', 'MiB', sizes.streamMiB, write));
  else await write();
  const fh = f!.fh;

  const attrs = await c.getattr(fh, [FATTR.SIZE]);
  if (Number(attrs.size) !== size) throw new Error(`streamed file is ${attrs.size} bytes, expected ${size}`);

  // stream read: OPEN, 1 MiB READs (streamDepth in flight), CLOSE
  if (ctx.want('stream.read')) {
    out.push(
      await timed(ctx, 'stream.read', 'MiB', sizes.streamMiB, async () => {
        const r = await openIn(c, ctx.dir, fname, N.OPEN4_SHARE_ACCESS_READ, false);
        await pool(chunks, sizes.streamDepth, async (i) => {
          let done = 0;
          const parts: Buffer[] = [];
          while (done < MiB) {
            const res = await run(c, [op.putfh(r.fh), op.read(r.stateid, i * MiB + done, MiB - done)]);
            const rr = res[1]!.opread!.resok4!;
            if (rr.data.length === 0) throw new Error(`READ at ${i * MiB + done} returned nothing (eof ${rr.eof})`);
            parts.push(Buffer.from(rr.data));
            done += rr.data.length;
          }
          const got = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
          if (!got.equals(fileBytes(i * MiB, MiB))) throw new Error(`stream READ of MiB ${i} returned wrong data`);
        });
        await closeFile(c, r);
      }),
    );
  }

  // random 4 KiB reads (randomDepth in flight), one open
  if (ctx.want('random.read')) {
    const blocks = size / BLOCK;
    const rnd = prng(20240601);
    const offsets = Array.from({ length: sizes.randomReads }, () => Math.floor(rnd() * blocks) * BLOCK);
    const r = await openIn(c, ctx.dir, fname, N.OPEN4_SHARE_ACCESS_READ, false);
    out.push(
      await timed(ctx, 'random.read', 'reads', sizes.randomReads, () =>
        pool(offsets.length, sizes.randomDepth, async (i) => {
          const off = offsets[i]!;
          const res = await run(c, [op.putfh(r.fh), op.read(r.stateid, off, BLOCK)]);
          const data = res[1]!.opread!.resok4!.data;
          if (data.length !== BLOCK || data.readUInt32LE(0) !== off / BLOCK || !Buffer.from(data).equals(fileBytes(off, BLOCK))) {
            throw new Error(`random READ at ${off} returned wrong data`);
          }
        }),
      ),
    );
    await closeFile(c, r);
  }

  await removeIn(c, ctx.dir, fname);
  return out;
}

/* ------------------------------------------------------------------ */
/* 5. latency at queue depth 1                                          */
/* ------------------------------------------------------------------ */

/** Percentiles of single-call times (ns in, µs out). */
function percentiles(ns: Float64Array): { p50: number; p90: number; p99: number; max: number } {
  const s = Float64Array.from(ns).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]! / 1000;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! / 1000 };
}

/**
 * `PUTFH file; GETATTR (what ls -l asks)` one call at a time, and the client
 * floor: the RPC NULL procedure (program 100003, version 4, procedure 0) one
 * at a time on the same connection. The floor is the round trip through the
 * client, the kernel's loopback and the server's RPC layer with no NFS work.
 *
 * The two loops are interleaved in blocks of LAT_BLOCK calls (which one goes
 * first alternates) so drift from other work on the machine hits both alike
 * and "GETATTR minus floor" means something. Each call is timed on its own;
 * a metric's time is the sum of its calls, its server CPU the sum over its
 * blocks, its peak RSS that of the whole interleaved phase.
 */
export async function latency(ctx: Ctx): Promise<Sample[]> {
  const { client: c, sizes } = ctx;
  const n = sizes.latencyOps;
  const f = await openIn(c, ctx.dir, 'lat.f', N.OPEN4_SHARE_ACCESS_WRITE, true);
  await closeFile(c, f);
  const getattrOps = [op.putfh(f.fh), op.getattr(DEFAULT_GETATTR)];
  const check = (res: N.nfs_resop4[]) => {
    const a = decodeAttrs(res[1]!.opgetattr!.resok4!.obj_attributes);
    if (a.type !== N.NF4REG || a.size !== 0) throw new Error(`GETATTR: unexpected type ${a.type} / size ${a.size}`);
  };
  // untimed: a few of each first (connection, caches)
  for (let i = 0; i < 20; i++) {
    check(await run(c, getattrOps));
    await c.null();
  }
  let last: N.nfs_resop4[] = [];
  const kinds = [
    { metric: 'lat.getattr', call: async () => void (last = await run(c, getattrOps)) },
    { metric: 'lat.null', call: () => c.null() },
  ]
    .filter((k) => ctx.want(k.metric))
    .map((k) => ({ ...k, each: new Float64Array(n), done: 0, ns: 0, serverCpuMs: 0, clientCpuMs: 0 }));
  const rss = rssSampler(ctx.serverRssKiB, 50);
  const t0 = process.hrtime.bigint();
  let peakKiB = Number.NaN;
  try {
    for (let b = 0; b * LAT_BLOCK < n; b++) {
      const m = Math.min(LAT_BLOCK, n - b * LAT_BLOCK);
      for (const k of b % 2 === 0 ? kinds : [...kinds].reverse()) {
        const srv0 = ctx.serverCpuMs();
        const cli0 = process.cpuUsage();
        let t = process.hrtime.bigint();
        for (let i = 0; i < m; i++) {
          await k.call();
          const t1 = process.hrtime.bigint();
          k.each[k.done++] = Number(t1 - t);
          k.ns += Number(t1 - t);
          t = t1;
        }
        const cli = process.cpuUsage(cli0);
        k.serverCpuMs += ctx.serverCpuMs() - srv0;
        k.clientCpuMs += (cli.user + cli.system) / 1000;
      }
    }
  } finally {
    peakKiB = rss.stop();
  }
  const t1 = process.hrtime.bigint();
  if (last.length) check(last);
  const out = kinds.map((k) => {
    const s = makeSample(ctx, {
      metric: k.metric,
      unit: 'calls',
      amount: n,
      seconds: k.ns / 1e9,
      serverCpuMs: k.serverCpuMs,
      clientCpuMs: k.clientCpuMs,
      windowUs: [Number(t0 / 1000n), Number(t1 / 1000n)],
      serverPeakRssMiB: peakKiB / 1024,
    });
    s.opUs = percentiles(k.each);
    return s;
  });
  await removeIn(c, ctx.dir, 'lat.f');
  return out;
}

/** Calls per block of the interleaved GETATTR / NULL latency loops. */
const LAT_BLOCK = 50;

export const GROUPS = {
  metadata: { run: metadata, metrics: ['meta.create', 'meta.create.qd1', 'meta.stat', 'meta.stat.qd1', 'meta.readdir', 'meta.remove', 'meta.remove.qd1'] },
  small: { run: smallFiles, metrics: ['small.write', 'small.write.qd1', 'small.read', 'small.read.qd1'] },
  file: { run: bigFile, metrics: ['stream.write', 'stream.read', 'random.read'] },
  latency: { run: latency, metrics: ['lat.getattr', 'lat.null'] },
} as const;

export type GroupName = keyof typeof GROUPS;

/** Workload names accepted by --workloads and the metrics each one times (in the order of the table). */
export const WORKLOADS: Record<string, { group: GroupName; metrics: string[] }> = {
  metadata: { group: 'metadata', metrics: [...GROUPS.metadata.metrics] },
  small: { group: 'small', metrics: [...GROUPS.small.metrics] },
  stream: { group: 'file', metrics: ['stream.write', 'stream.read'] },
  random: { group: 'file', metrics: ['random.read'] },
  latency: { group: 'latency', metrics: [...GROUPS.latency.metrics] },
};

/** Rows reported as µs per call (lower is better) instead of a rate. */
export const LATENCY_METRICS = new Set(['lat.getattr', 'lat.null', 'lat.getattr.above-floor']);
export const isLatencyMetric = (metric: string): boolean => LATENCY_METRICS.has(metric);

/** The table's label of a metric; `jobs` is the queue depth of the "in flight" rows. */
export function metricLabel(metric: string, jobs: number): string {
  const qd = `${jobs} in flight`;
  const labels: Record<string, string> = {
    'meta.create': `metadata: create+close empty files, ${qd}`,
    'meta.create.qd1': 'metadata: create+close empty files, 1 in flight',
    'meta.stat': `metadata: stat (LOOKUP+GETATTR), ${qd}`,
    'meta.stat.qd1': 'metadata: stat (LOOKUP+GETATTR), 1 in flight',
    'meta.readdir': 'metadata: readdir (with attributes)',
    'meta.remove': `metadata: remove, ${qd}`,
    'meta.remove.qd1': 'metadata: remove, 1 in flight',
    'small.write': `small files: 4 KiB open/write FILE_SYNC/close, ${qd}`,
    'small.write.qd1': 'small files: 4 KiB open/write FILE_SYNC/close, 1 in flight',
    'small.read': `small files: 4 KiB open/read/close, ${qd}`,
    'small.read.qd1': 'small files: 4 KiB open/read/close, 1 in flight',
    'stream.write': 'streaming write 1 MiB UNSTABLE x8 + COMMIT',
    'stream.read': 'streaming read 1 MiB x8',
    'random.read': 'random 4 KiB reads x16',
    'lat.getattr': 'latency: PUTFH+GETATTR (ls -l attrs), 1 in flight',
    'lat.null': 'latency: client floor, RPC NULL, 1 in flight',
    'lat.getattr.above-floor': 'latency: GETATTR minus client floor',
  };
  return labels[metric] ?? metric;
}
