import { describe, expect, it } from 'vitest';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { NfsError, toNfsError } from '../../src/protocol/status.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import type { CompoundCtx } from '../../src/nfs4/context.js';
import { MUTATES, NEEDS_CFH, SELF_ENCODES, type OpSpec } from '../../src/nfs4/optable-types.js';
import { READDIR_EMPTY_BYTES } from '../../src/nfs4/ops/attr-ops.js';
import { OP_SPECS } from '../../src/nfs4/optable.js';
import { A, bitmapToList } from '../../src/nfs4/attrs.js';
import { FakeStore, FH, listBitmap, mkCtx, mkFattr, mkStat, parseFattr } from './attrs-helpers.js';

const op = (code: number): OpSpec => {
  const s = OP_SPECS.find((o) => o.op === code);
  if (!s) throw new Error(`no op ${code}`);
  return s;
};
const GETATTR = op(N.OP_GETATTR);
const SETATTR = op(N.OP_SETATTR);
const VERIFY = op(N.OP_VERIFY);
const NVERIFY = op(N.OP_NVERIFY);
const READDIR = op(N.OP_READDIR);
/** The attribute ops (attr-ops.ts) as the op table registers them. */
const ATTR_OPS = [GETATTR, SETATTR, VERIFY, NVERIFY, READDIR];

/** Runs an op like the dispatcher: decode args from bytes, run, encode OK results. */
async function call(spec: OpSpec, ctx: CompoundCtx, args: (w: XdrWriter) => void): Promise<{ status: number; body: Buffer }> {
  const aw = new XdrWriter();
  args(aw);
  const r = new XdrReader(Buffer.from(aw.finish()));
  const decoded = spec.decode(r);
  expect(r.remaining).toBe(0);
  const w = ctx.reply;
  const start = w.length;
  try {
    const res = await spec.run(ctx, decoded);
    if (!(spec.flags & SELF_ENCODES) && spec.encode) spec.encode(w, res);
    return { status: N.NFS4_OK, body: Buffer.from(w.buf.subarray(start, w.length)) };
  } catch (err) {
    const e = toNfsError(err);
    if (!e) throw err;
    w.rollback(start);
    if (e.body) e.body(w);
    else spec.errorBody?.(w);
    return { status: e.status, body: Buffer.from(w.buf.subarray(start, w.length)) };
  }
}

function bitmapArg(w: XdrWriter, ids: number[]): void {
  const bm = listBitmap(ids);
  w.u32(bm.length);
  for (const x of bm) w.u32(x);
}

function fattrArg(w: XdrWriter, f: { attrmask: number[]; attr_vals: Buffer }): void {
  w.u32(f.attrmask.length);
  for (const x of f.attrmask) w.u32(x);
  w.opaque(f.attr_vals);
}

function stateidArg(w: XdrWriter, seqid = 0, fill = 0): void {
  w.u32(seqid);
  w.fixedOpaque(Buffer.alloc(12, fill));
}

const STANDARD = [1, 3, 4, 8, 11, 19, 20, 33, 35, 36, 37, 41, 45, 47, 52, 53, 55];

describe('op table', () => {
  it('declares the five ops with their flags', () => {
    expect(ATTR_OPS.map((o) => o.name)).toEqual(['GETATTR', 'SETATTR', 'VERIFY', 'NVERIFY', 'READDIR']);
    expect(GETATTR.flags).toBe(NEEDS_CFH);
    expect(SETATTR.flags).toBe(NEEDS_CFH | MUTATES);
    expect(READDIR.flags).toBe(NEEDS_CFH | SELF_ENCODES);
  });
});

describe('GETATTR', () => {
  it('returns fresh attributes and updates cfh.stat', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat());
    const ctx = mkCtx(store, { ...st, size: 1 }); // cfh resolved with a stale size
    store.inodes.set(st.ino, { ...st, size: 5000 });
    const { status, body } = await call(GETATTR, ctx, (w) => bitmapArg(w, [4, 19, 20]));
    expect(status).toBe(N.NFS4_OK);
    const { values } = parseFattr(new XdrReader(body));
    expect(values.get(4)).toBe(5000);
    expect(values.get(19)).toEqual(FH.encode(st.ino, st.gen));
    expect(ctx.cfh!.stat.size).toBe(5000);
  });

  it('space attributes come from statfs', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat());
    const ctx = mkCtx(store, st);
    const { status, body } = await call(GETATTR, ctx, (w) => bitmapArg(w, [21, 22, 23, 42, 43, 44]));
    expect(status).toBe(N.NFS4_OK);
    const { ids, values } = parseFattr(new XdrReader(body));
    expect(ids).toEqual([42, 43, 44]); // files_* unsupported
    expect(values.get(42)).toBe((1n << 63n) - 6144n);
    expect(store.statfsCalls).toBe(1);
  });

  it('write-only attributes -> INVAL; vanished or reused inode -> STALE', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat());
    expect((await call(GETATTR, mkCtx(store, st), (w) => bitmapArg(w, [4, 54]))).status).toBe(N.NFS4ERR_INVAL);
    expect((await call(GETATTR, mkCtx(store, { ...st, gen: 8 }), (w) => bitmapArg(w, [4]))).status).toBe(N.NFS4ERR_STALE);
    store.inodes.delete(st.ino);
    expect((await call(GETATTR, mkCtx(store, st), (w) => bitmapArg(w, [4]))).status).toBe(N.NFS4ERR_STALE);
  });

  it('mounted_on_fileid equals fileid; 4.0 does not see suppattr_exclcreat', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat({ ino: 1, kind: 'dir' }));
    const r = await call(GETATTR, mkCtx(store, st, { minorVersion: 0 }), (w) => bitmapArg(w, [20, 55, 75]));
    const { ids, values } = parseFattr(new XdrReader(r.body));
    expect(ids).toEqual([20, 55]);
    expect(values.get(55)).toBe(1);
  });
});

describe('SETATTR', () => {
  it('sets mode and answers attrsset', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat({ uid: 1000 }));
    const ctx = mkCtx(store, st, { uid: 1000, gid: 1000 });
    const f = mkFattr([33], (w) => w.u32(0o600));
    const r = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, f)));
    expect(r.status).toBe(N.NFS4_OK);
    const br = new XdrReader(r.body);
    const n = br.u32();
    expect(n).toBe(2);
    expect(bitmapToList([br.u32(), br.u32()])).toEqual([33]);
    expect(store.setattrCalls).toEqual([{ ino: st.ino, attrs: { mode: 0o600 } }]);
    expect(ctx.cfh!.stat.mode).toBe(0o600);
  });

  it('errors carry an empty attrsset', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat({ uid: 1000 }));
    const ctx = mkCtx(store, st, { uid: 2000, gid: 2000 });
    const f = mkFattr([33], (w) => w.u32(0o600));
    const r = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, f)));
    expect(r.status).toBe(N.NFS4ERR_PERM);
    expect([...r.body]).toEqual([0, 0, 0, 0]);
    expect(store.setattrCalls).toHaveLength(0);

    const bad = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, mkFattr([A.ACL], (x) => x.u32(0)))));
    expect(bad.status).toBe(N.NFS4ERR_ATTRNOTSUPP);
    expect([...bad.body]).toEqual([0, 0, 0, 0]);

    const ro = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, mkFattr([A.FILEID], (x) => x.u64(1)))));
    expect(ro.status).toBe(N.NFS4ERR_INVAL);

    const owner = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, mkFattr([36], (x) => x.string('bob')))));
    expect(owner.status).toBe(N.NFS4ERR_BADOWNER);
    expect([...owner.body]).toEqual([0, 0, 0, 0]);

    // a store error is mapped and still carries the body
    store.inodes.delete(st.ino);
    const gone = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, mkFattr([33], (x) => x.u32(0o600)))));
    expect(gone.status).toBe(N.NFS4ERR_STALE);
    expect([...gone.body]).toEqual([0, 0, 0, 0]);
  });

  it('size: directory -> ISDIR, symlink/fifo -> INVAL, too big -> FBIG, no write permission -> ACCESS', async () => {
    const store = new FakeStore();
    const size0 = mkFattr([4], (w) => w.u64(0));
    const dir = store.add(mkStat({ ino: 2, kind: 'dir' }));
    const lnk = store.add(mkStat({ ino: 3, kind: 'lnk' }));
    const fifo = store.add(mkStat({ ino: 4, kind: 'fifo' }));
    const ro = store.add(mkStat({ ino: 5, mode: 0o444 }));
    const args = (f = size0) => (w: XdrWriter) => (stateidArg(w), fattrArg(w, f));
    expect((await call(SETATTR, mkCtx(store, dir), args())).status).toBe(N.NFS4ERR_ISDIR);
    expect((await call(SETATTR, mkCtx(store, lnk), args())).status).toBe(N.NFS4ERR_INVAL);
    expect((await call(SETATTR, mkCtx(store, fifo), args())).status).toBe(N.NFS4ERR_INVAL);
    const huge = mkFattr([4], (w) => (w.u32(0xffffffff), w.u32(0xffffffff)));
    expect((await call(SETATTR, mkCtx(store, ro), args(huge))).status).toBe(N.NFS4ERR_FBIG);
    expect((await call(SETATTR, mkCtx(store, ro, { uid: 1000 }), args())).status).toBe(N.NFS4ERR_ACCESS);
    expect((await call(SETATTR, mkCtx(store, ro, { uid: 0 }), args())).status).toBe(N.NFS4_OK);
  });

  it('size with a real stateid is validated by the state layer and skips the mode check', async () => {
    const store = new FakeStore();
    const ro = store.add(mkStat({ mode: 0o444 }));
    const seen: unknown[] = [];
    const ctx = mkCtx(store, ro, {
      uid: 1000,
      resolveIo: async (sid, ino, forWrite, minor) => {
        seen.push([sid.seqid, ino, forWrite, minor]);
        return { file: { ino, writable: true }, shared: false };
      },
    });
    const r = await call(SETATTR, ctx, (w) => (stateidArg(w, 3, 7), fattrArg(w, mkFattr([4], (x) => x.u64(10)))));
    expect(r.status).toBe(N.NFS4_OK);
    expect(seen).toEqual([[3, ro.ino, true, 1]]);

    // state errors propagate (with the body)
    const ctx2 = mkCtx(store, ro, {
      resolveIo: async () => {
        throw new NfsError(N.NFS4ERR_OPENMODE);
      },
    });
    const r2 = await call(SETATTR, ctx2, (w) => (stateidArg(w, 3, 7), fattrArg(w, mkFattr([4], (x) => x.u64(10)))));
    expect(r2.status).toBe(N.NFS4ERR_OPENMODE);
    expect([...r2.body]).toEqual([0, 0, 0, 0]);

    // anonymous and bypass stateids are not sent to the state layer; nor is a mode-only SETATTR
    const ctx3 = mkCtx(store, ro, {
      resolveIo: async () => {
        throw new Error('must not be called');
      },
    });
    expect((await call(SETATTR, ctx3, (w) => (stateidArg(w, 0, 0), fattrArg(w, mkFattr([4], (x) => x.u64(1)))))).status).toBe(N.NFS4_OK);
    expect((await call(SETATTR, ctx3, (w) => (stateidArg(w, 0xffffffff, 0xff), fattrArg(w, mkFattr([4], (x) => x.u64(1)))))).status).toBe(N.NFS4_OK);
    expect((await call(SETATTR, ctx3, (w) => (stateidArg(w, 5, 5), fattrArg(w, mkFattr([33], (x) => x.u32(0o644)))))).status).toBe(N.NFS4_OK);
  });

  it('4.1 current stateid is substituted', async () => {
    const store = new FakeStore();
    const f = store.add(mkStat());
    const seen: number[] = [];
    const ctx = mkCtx(store, f, {
      resolveIo: async (sid) => {
        seen.push(sid.seqid);
        return { file: { ino: f.ino, writable: true }, shared: false };
      },
    });
    const size = mkFattr([4], (x) => x.u64(1));
    expect((await call(SETATTR, ctx, (w) => (stateidArg(w, 1, 0), fattrArg(w, size)))).status).toBe(N.NFS4ERR_BAD_STATEID);
    ctx.currentStateid = { seqid: 9, other: Buffer.alloc(12, 4) };
    expect((await call(SETATTR, ctx, (w) => (stateidArg(w, 1, 0), fattrArg(w, size)))).status).toBe(N.NFS4_OK);
    expect(seen).toEqual([9]);
  });

  it('times and ownership', async () => {
    const store = new FakeStore();
    const f = store.add(mkStat());
    const ctx = mkCtx(store, f, { uid: 0 });
    const attrs = mkFattr([36, 37, 48, 54], (w) => {
      w.string('7');
      w.string('8');
      w.u32(0);
      w.u32(1);
      w.i64(100);
      w.u32(5);
    });
    const r = await call(SETATTR, ctx, (w) => (stateidArg(w), fattrArg(w, attrs)));
    expect(r.status).toBe(N.NFS4_OK);
    expect(store.setattrCalls[0]!.attrs).toEqual({ uid: 7, gid: 8, atime: 'now', mtime: { sec: 100, nsec: 5 } });
  });
});

describe('VERIFY / NVERIFY', () => {
  it('compare against current attributes', async () => {
    const store = new FakeStore();
    const st = store.add(mkStat());
    const same = mkFattr([4, 19], (w) => (w.u64(12345), w.opaque(FH.encode(st.ino, st.gen))));
    const diff = mkFattr([4], (w) => w.u64(1));
    expect((await call(VERIFY, mkCtx(store, st), (w) => fattrArg(w, same))).status).toBe(N.NFS4_OK);
    expect((await call(VERIFY, mkCtx(store, st), (w) => fattrArg(w, diff))).status).toBe(N.NFS4ERR_NOT_SAME);
    expect((await call(NVERIFY, mkCtx(store, st), (w) => fattrArg(w, same))).status).toBe(N.NFS4ERR_SAME);
    expect((await call(NVERIFY, mkCtx(store, st), (w) => fattrArg(w, diff))).status).toBe(N.NFS4_OK);
    const unsupp = mkFattr([A.ARCHIVE], (w) => w.bool(false));
    expect((await call(VERIFY, mkCtx(store, st), (w) => fattrArg(w, unsupp))).status).toBe(N.NFS4ERR_ATTRNOTSUPP);
  });
});

/* ------------------------------------------------------------------ */

interface DirReply {
  verf: Buffer;
  entries: { cookie: number; name: string; values: Map<number, unknown>; ids: number[] }[];
  eof: boolean;
  bytes: number;
}

function parseReaddir(body: Buffer): DirReply {
  const r = new XdrReader(body);
  const verf = Buffer.from(r.fixedOpaque(8));
  const entries: DirReply['entries'] = [];
  while (r.bool()) {
    const cookie = r.u64();
    const name = r.string();
    const { values, ids } = parseFattr(r);
    entries.push({ cookie, name, values, ids });
  }
  const eof = r.bool();
  expect(r.remaining).toBe(0);
  return { verf, entries, eof, bytes: body.length };
}

function readdirArgs(cookie: number | bigint, dircount: number, maxcount: number, ids: number[] = []) {
  return (w: XdrWriter) => {
    if (typeof cookie === 'bigint') w.u64big(cookie);
    else w.u64(cookie);
    w.fixedOpaque(Buffer.alloc(8));
    w.u32(dircount);
    w.u32(maxcount);
    bitmapArg(w, ids);
  };
}

describe('READDIR', () => {
  const names = Array.from({ length: 100 }, (_, i) => `dir${String(i).padStart(2, '0')}`);

  it('lists everything with the standard attribute set, zero verifier, eof', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, names);
    const ctx = mkCtx(store, dir);
    const r = await call(READDIR, ctx, readdirArgs(0, 65536, 65536, STANDARD));
    expect(r.status).toBe(N.NFS4_OK);
    const d = parseReaddir(r.body);
    expect(d.verf.equals(Buffer.alloc(8))).toBe(true);
    expect(d.eof).toBe(true);
    expect(d.entries.map((e) => e.name)).toEqual(names);
    for (const e of d.entries) {
      expect(e.cookie).toBeGreaterThan(2);
      expect(e.ids).toEqual(STANDARD);
      expect(e.values.get(11)).toBe(0);
      const ino = e.values.get(20) as number;
      expect(e.values.get(55)).toBe(ino);
      expect(e.values.get(19)).toEqual(FH.encode(ino, 1));
    }
  });

  it('empty directory: 16 bytes fit, 15 do not (TOOSMALL), 0 is TOOSMALL', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, []);
    const ok = await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 16));
    expect(ok.status).toBe(N.NFS4_OK);
    expect(ok.body.length).toBe(READDIR_EMPTY_BYTES);
    expect(parseReaddir(ok.body)).toMatchObject({ entries: [], eof: true });
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 15))).status).toBe(N.NFS4ERR_TOOSMALL);
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 0))).status).toBe(N.NFS4ERR_TOOSMALL);
  });

  it('TOOSMALL when not even one entry fits; otherwise pages respect maxcount and continue by cookie', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, names);
    // one entry without attributes: 4 + 8 + 4+8 (name) + 8 (empty fattr4) = 32, plus 16
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 47))).status).toBe(N.NFS4ERR_TOOSMALL);
    const one = await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 48));
    expect(one.status).toBe(N.NFS4_OK);
    expect(parseReaddir(one.body).entries).toHaveLength(1);

    for (const maxcount of [400, 350, 100, 1000, 4096]) {
      const seen: string[] = [];
      let cookie = 0;
      for (let round = 0; round < 200; round++) {
        const r = await call(READDIR, mkCtx(store, dir), readdirArgs(cookie, 0, maxcount, [A.TYPE, A.RDATTR_ERROR]));
        expect(r.status).toBe(N.NFS4_OK);
        expect(r.body.length).toBeLessThanOrEqual(maxcount);
        const d = parseReaddir(r.body);
        seen.push(...d.entries.map((e) => e.name));
        if (d.eof) break;
        expect(d.entries.length).toBeGreaterThan(0);
        // the next entry would not have fitted
        expect(r.body.length + 4 + 8 + 12 + 8 + 8 + 8).toBeGreaterThan(maxcount);
        cookie = d.entries[d.entries.length - 1]!.cookie;
      }
      expect(seen).toEqual(names);
    }
  });

  it('respects the session reply room too', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, names);
    const ctx = mkCtx(store, dir, { replyBudget: 1000 });
    ctx.reply.u32(0); // something already in the reply
    ctx.reply.u32(0);
    const before = ctx.reply.length;
    const r = await call(READDIR, ctx, readdirArgs(0, 0, 1 << 20, STANDARD));
    expect(r.status).toBe(N.NFS4_OK);
    expect(before + r.body.length).toBeLessThanOrEqual(1000);
    expect(parseReaddir(r.body).eof).toBe(false);
    const tiny = mkCtx(store, dir, { replyBudget: 10 });
    expect((await call(READDIR, tiny, readdirArgs(0, 0, 4096))).status).toBe(N.NFS4ERR_REP_TOO_BIG);
  });

  it('dircount limits names+cookies but always returns one entry', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, names);
    // each entry: cookie 8 + name 4+8 = 20 bytes of dircount
    const r = await call(READDIR, mkCtx(store, dir), readdirArgs(0, 100, 1 << 20, STANDARD));
    expect(parseReaddir(r.body).entries).toHaveLength(5);
    const r1 = await call(READDIR, mkCtx(store, dir), readdirArgs(0, 1, 1 << 20, STANDARD));
    expect(parseReaddir(r1.body).entries).toHaveLength(1);
  });

  it('continues after a cookie that no longer exists', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, ['a', 'b', 'c']); // cookies 10, 13, 16
    const r = await call(READDIR, mkCtx(store, dir), readdirArgs(11, 0, 4096));
    expect(parseReaddir(r.body).entries.map((e) => e.name)).toEqual(['b', 'c']);
    const end = await call(READDIR, mkCtx(store, dir), readdirArgs(16, 0, 4096));
    expect(parseReaddir(end.body)).toMatchObject({ entries: [], eof: true });
  });

  it('a cookie above 2^53 is none of ours: OK, no entries, eof (as for a cookie past the last entry)', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, ['a', 'b', 'c']); // cookies 10, 13, 16
    const pastLast = await call(READDIR, mkCtx(store, dir), readdirArgs(17, 0, 4096));
    expect(pastLast.status).toBe(N.NFS4_OK);
    for (const cookie of [2n ** 53n, 2n ** 53n + 1n, 0xfffffffffffffffen, 0xffffffffffffffffn]) {
      store.readdirCalls.length = 0;
      const r = await call(READDIR, mkCtx(store, dir), readdirArgs(cookie, 0, 4096, [A.TYPE]));
      expect(r.status).toBe(N.NFS4_OK);
      expect(parseReaddir(r.body)).toMatchObject({ entries: [], eof: true });
      expect(r.body.equals(pastLast.body)).toBe(true);
      // never handed to the store as a rounded number
      expect(store.readdirCalls).toEqual([]);
    }
    // 2^53 - 1 is still a store cookie: asked of the store exactly
    store.readdirCalls.length = 0;
    const top = await call(READDIR, mkCtx(store, dir), readdirArgs(2n ** 53n - 1n, 0, 4096));
    expect(parseReaddir(top.body)).toMatchObject({ entries: [], eof: true });
    expect(store.readdirCalls.map((c) => c.cookie)).toEqual([Number.MAX_SAFE_INTEGER]);
  });

  it('ignores the cookie verifier', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, ['a']);
    const r = await call(READDIR, mkCtx(store, dir), (w) => {
      w.u64(0);
      w.fixedOpaque(Buffer.from('deadbeef'));
      w.u32(0);
      w.u32(4096);
      w.u32(0);
    });
    expect(r.status).toBe(N.NFS4_OK);
  });

  it('errors: reserved cookies, NOTDIR, write-only attrs, ACCESS', async () => {
    const store = new FakeStore();
    const dir = store.addDir(10, ['a']);
    const file = store.add(mkStat({ ino: 77 }));
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(1, 0, 4096))).status).toBe(N.NFS4ERR_BAD_COOKIE);
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(2, 0, 4096))).status).toBe(N.NFS4ERR_BAD_COOKIE);
    expect((await call(READDIR, mkCtx(store, file), readdirArgs(0, 0, 4096))).status).toBe(N.NFS4ERR_NOTDIR);
    expect((await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 4096, [48]))).status).toBe(N.NFS4ERR_INVAL);
    const locked = store.addDir(11, ['x'], { mode: 0o700, uid: 0, gid: 0 });
    expect((await call(READDIR, mkCtx(store, locked, { uid: 1000, gid: 1000 }), readdirArgs(0, 0, 4096))).status).toBe(N.NFS4ERR_ACCESS);
    expect((await call(READDIR, mkCtx(store, locked, { uid: 0 }), readdirArgs(0, 0, 4096))).status).toBe(N.NFS4_OK);
  });

  it('asks the store in bounded batches and fetches statfs once', async () => {
    const store = new FakeStore();
    const many = Array.from({ length: 3000 }, (_, i) => `f${i}`);
    const dir = store.addDir(10, many);
    const r = await call(READDIR, mkCtx(store, dir), readdirArgs(0, 0, 1 << 20, [A.TYPE, A.SPACE_AVAIL]));
    const d = parseReaddir(r.body);
    expect(d.eof).toBe(true);
    expect(d.entries).toHaveLength(3000);
    expect(store.statfsCalls).toBe(1);
    for (const c of store.readdirCalls) expect(c.max).toBeLessThanOrEqual(1024);
  });
});
