/**
 * Test helpers for the attribute tests: a tiny in-memory Store, a CompoundCtx
 * builder and a fattr4 parser written independently of src/nfs4/attrs.ts.
 */
import pino from 'pino';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { FhCodec } from '../../src/nfs4/fh.js';
import type { CompoundCtx, FileRef } from '../../src/nfs4/context.js';
import type { DirPage, FsStats, SetAttrs, Stat, Store } from '../../src/store/types.js';
import { StoreError } from '../../src/store/types.js';
import type { StateManager } from '../../src/state/types.js';
import { FULL_ACCESS } from '../../src/policy/authorizer.js';
import { NFS4ERR_ACCESS } from '../../src/xdr/gen/nfs4.js';

export function mkStat(over: Partial<Stat> = {}): Stat {
  return {
    ino: 42,
    gen: 7,
    kind: 'reg',
    mode: 0o644,
    nlink: 1,
    uid: 1000,
    gid: 1000,
    size: 12345,
    spaceUsed: 16384,
    rdev: { major: 0, minor: 0 },
    atime: { sec: 1700000000, nsec: 1 },
    mtime: { sec: 1700000001, nsec: 2 },
    ctime: { sec: 1700000002, nsec: 3 },
    btime: { sec: 1699999999, nsec: 4 },
    change: 99,
    ...over,
  };
}

/** A minimal Store: a map of inodes plus the entries of directories. */
export class FakeStore {
  readonly fsid = { major: 0x1234, minor: 0x5678 };
  readonly rootIno = 1;
  inodes = new Map<number, Stat>();
  dirs = new Map<number, { name: string; ino: number; cookie: number }[]>();
  used = 6144;
  readdirCalls: { cookie: number; max: number }[] = [];
  setattrCalls: { ino: number; attrs: SetAttrs }[] = [];
  statfsCalls = 0;

  add(st: Stat): Stat {
    this.inodes.set(st.ino, st);
    return st;
  }

  addDir(ino: number, names: string[], over: Partial<Stat> = {}): Stat {
    const dir = this.add(mkStat({ ino, gen: 1, kind: 'dir', mode: 0o755, nlink: 2, size: 6144, spaceUsed: 4096, ...over }));
    const entries = names.map((name, i) => {
      const child = this.add(mkStat({ ino: ino * 1000 + i + 1, gen: 1 }));
      return { name, ino: child.ino, cookie: 10 + i * 3 };
    });
    this.dirs.set(ino, entries);
    return dir;
  }

  async getattr(ino: number): Promise<Stat> {
    const st = this.inodes.get(ino);
    if (!st) throw new StoreError('ENOENT');
    return { ...st };
  }

  async readdir(dirIno: number, cookie: number, max: number): Promise<DirPage> {
    this.readdirCalls.push({ cookie, max });
    const all = this.dirs.get(dirIno) ?? [];
    const after = all.filter((e) => e.cookie > cookie);
    const page = after.slice(0, max);
    return {
      entries: page.map((e) => ({ name: e.name, cookie: e.cookie, stat: { ...this.inodes.get(e.ino)! } })),
      eof: page.length === after.length,
    };
  }

  async setattr(ino: number, attrs: SetAttrs): Promise<Stat> {
    this.setattrCalls.push({ ino, attrs });
    const st = this.inodes.get(ino);
    if (!st) throw new StoreError('ENOENT');
    const next = { ...st, change: st.change + 1 };
    if (attrs.mode !== undefined) next.mode = attrs.mode;
    if (attrs.uid !== undefined) next.uid = attrs.uid;
    if (attrs.gid !== undefined) next.gid = attrs.gid;
    if (attrs.size !== undefined) next.size = attrs.size;
    if (attrs.atime !== undefined) next.atime = attrs.atime === 'now' ? { sec: 1, nsec: 0 } : attrs.atime;
    if (attrs.mtime !== undefined) next.mtime = attrs.mtime === 'now' ? { sec: 1, nsec: 0 } : attrs.mtime;
    this.inodes.set(ino, next);
    return { ...next };
  }

  async statfs(): Promise<FsStats> {
    this.statfsCalls++;
    return { used: this.used, files: this.inodes.size };
  }
}

export const FH = new FhCodec(Buffer.alloc(32, 9));

export function fileRef(st: Stat): FileRef {
  return { ino: st.ino, gen: st.gen, fh: FH.encode(st.ino, st.gen), stat: st };
}

export interface TestCtxOptions {
  minorVersion?: number;
  uid?: number;
  gid?: number;
  replyBudget?: number;
  resolveIo?: StateManager['resolveIo'];
}

export function mkCtx(store: FakeStore, cfh: Stat | undefined, o: TestCtxOptions = {}): CompoundCtx {
  const state = {
    resolveIo: o.resolveIo ?? (async () => ({ file: { ino: 0, writable: true }, shared: false })),
  } as unknown as StateManager;
  return {
    server: {
      store: store as unknown as Store,
      state,
      fh: FH,
      config: {
        leaseSeconds: 90,
        fileSystemId: 'fs-0123456789abcdef0',
        writeVerifier: Buffer.alloc(8),
        serverOwner: 'o',
        serverScope: 's',
        readOnlyStatus: NFS4ERR_ACCESS,
      },
      log: pino({ level: 'silent' }),
    },
    conn: { id: 1, remoteAddress: '127.0.0.1', remotePort: 1, log: pino({ level: 'silent' }), grant: FULL_ACCESS },
    minorVersion: o.minorVersion ?? 1,
    cred: { flavor: 1, uid: o.uid ?? 0, gid: o.gid ?? 0, gids: [], machinename: 'm' },
    identity: { uid: o.uid ?? 0, gid: o.gid ?? 0, gids: [] },
    cfh: cfh ? fileRef(cfh) : undefined,
    sfh: undefined,
    currentStateid: undefined,
    savedStateid: undefined,
    session: undefined,
    slot: undefined,
    reply: new XdrWriter(1024),
    replyBudget: o.replyBudget ?? 1 << 20,
    replyStart: 0,
  };
}

/* ---------------- an independent fattr4 parser ---------------- */

export type AttrValue = number | bigint | boolean | string | Buffer | number[] | { a: number | bigint; b: number | bigint };

const U32 = new Set([1, 2, 10, 11, 13, 28, 29, 33, 35]);
const U64 = new Set([3, 4, 20, 27, 30, 31, 45, 55]);
const U64BIG = new Set([42, 43, 44]);
const BOOL = new Set([5, 6, 7, 9, 15, 16, 17, 18, 26, 34]);
const TIME = new Set([47, 50, 51, 52, 53]);
const STR = new Set([36, 37]);
const BITMAP = new Set([0, 75]);

function bitsOf(bm: number[]): number[] {
  const out: number[] = [];
  bm.forEach((w, i) => {
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(i * 32 + b);
  });
  return out;
}

export function parseFattr(r: XdrReader): { ids: number[]; mask: number[]; values: Map<number, AttrValue> } {
  const n = r.u32();
  const mask: number[] = [];
  for (let i = 0; i < n; i++) mask.push(r.u32());
  const vals = r.opaque();
  const vr = new XdrReader(vals);
  const values = new Map<number, AttrValue>();
  const ids = bitsOf(mask);
  for (const id of ids) {
    if (U32.has(id)) values.set(id, vr.u32());
    else if (U64.has(id)) values.set(id, vr.u64());
    else if (U64BIG.has(id)) {
      const hi = vr.u32();
      const lo = vr.u32();
      values.set(id, (BigInt(hi) << 32n) | BigInt(lo));
    } else if (BOOL.has(id)) values.set(id, vr.bool());
    else if (TIME.has(id)) values.set(id, { a: vr.i64(), b: vr.u32() });
    else if (STR.has(id)) values.set(id, vr.string());
    else if (BITMAP.has(id)) {
      const k = vr.u32();
      const bm: number[] = [];
      for (let i = 0; i < k; i++) bm.push(vr.u32());
      values.set(id, bm);
    } else if (id === 8) values.set(id, { a: vr.u64(), b: vr.u64() });
    else if (id === 41) values.set(id, { a: vr.u32(), b: vr.u32() });
    else if (id === 19) values.set(id, Buffer.from(vr.opaque()));
    else throw new Error(`test parser: unknown attribute ${id}`);
  }
  if (vr.remaining !== 0) throw new Error(`test parser: ${vr.remaining} trailing bytes`);
  return { ids, mask, values };
}

export function listBitmap(ids: number[]): number[] {
  const bm: number[] = [];
  for (const id of ids) {
    while (bm.length <= id >> 5) bm.push(0);
    bm[id >> 5] = (bm[id >> 5]! | (1 << (id & 31))) >>> 0;
  }
  return bm;
}

/** Builds a fattr4 {attrmask, attr_vals} from a list of ids and a writer callback for the values. */
export function mkFattr(ids: number[], vals: (w: XdrWriter) => void): { attrmask: number[]; attr_vals: Buffer } {
  const w = new XdrWriter(64);
  vals(w);
  return { attrmask: listBitmap(ids), attr_vals: Buffer.from(w.finish()) };
}
