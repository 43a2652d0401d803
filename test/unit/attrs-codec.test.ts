import { describe, expect, it } from 'vitest';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { NfsError } from '../../src/protocol/status.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import {
  A,
  attrsEqual,
  bitmapFromList,
  bitmapHas,
  bitmapToList,
  decodeFattr,
  decodeSettable,
  encodeFattr,
  fattrBytes,
  parseNumericId,
  SETTABLE_ATTRS,
  SUPPATTR_EXCLCREAT,
  SUPPORTED_ATTRS,
  supportedAttrs,
  type AttrSource,
} from '../../src/nfs4/attrs.js';
import { FakeStore, listBitmap, mkFattr, mkStat, parseFattr } from './attrs-helpers.js';

function src(over: Partial<AttrSource> = {}): AttrSource {
  return {
    stat: mkStat(),
    fh: Buffer.from('0123456789abcdef0123456789abcdef'),
    store: new FakeStore(),
    config: { leaseSeconds: 90 },
    ...over,
  };
}

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof NfsError) return e.status;
    throw e;
  }
  return undefined;
}

async function statusOfAsync(fn: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof NfsError) return e.status;
    throw e;
  }
  return undefined;
}

/** Every attribute the Linux client asks for (kernel-client captures). */
const LINUX_ASKS = [0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 13, 16, 17, 19, 20, 21, 22, 23, 27, 28, 29, 30, 31, 33, 35, 36, 37, 41, 42, 43, 44, 45, 47, 48, 51, 52, 53, 54, 55, 62, 65, 75];
const EFS_LACKS = [A.ARCHIVE, A.FILES_AVAIL, A.FILES_FREE, A.FILES_TOTAL, A.FS_LOCATIONS, A.MIMETYPE, A.QUOTA_AVAIL_HARD, A.QUOTA_AVAIL_SOFT, A.QUOTA_USED, A.TIME_BACKUP, A.ACL];

describe('supported_attrs', () => {
  it('excludes what EFS lacks and includes the rest of what Linux uses', () => {
    for (const minor of [0, 1]) {
      const bm = supportedAttrs(minor);
      for (const id of EFS_LACKS) expect(bitmapHas(bm, id), `attr ${id}`).toBe(false);
      for (const id of LINUX_ASKS) {
        if (EFS_LACKS.includes(id as never) || id === 62 || id === 65) continue;
        if (id === 75 && minor === 0) continue;
        expect(bitmapHas(bm, id), `attr ${id} minor ${minor}`).toBe(true);
      }
    }
  });

  it('has suppattr_exclcreat only in 4.1, and no pNFS attributes', () => {
    expect(bitmapHas(supportedAttrs(0), A.SUPPATTR_EXCLCREAT)).toBe(false);
    expect(bitmapHas(supportedAttrs(1), A.SUPPATTR_EXCLCREAT)).toBe(true);
    expect(SUPPORTED_ATTRS).toEqual(supportedAttrs(0));
    expect(supportedAttrs(0)).toHaveLength(2);
    expect(supportedAttrs(1)).toHaveLength(3);
    for (const m of [0, 1]) {
      expect(bitmapHas(supportedAttrs(m), A.FS_LAYOUT_TYPES)).toBe(false);
      expect(bitmapHas(supportedAttrs(m), A.LAYOUT_BLKSIZE)).toBe(false);
      expect(bitmapHas(supportedAttrs(m), A.NAMED_ATTR)).toBe(true);
      expect(bitmapHas(supportedAttrs(m), A.TIME_CREATE)).toBe(true);
    }
  });

  it('settable and exclcreat sets', () => {
    expect(bitmapToList(SETTABLE_ATTRS)).toEqual([A.SIZE, A.MODE, A.OWNER, A.OWNER_GROUP, A.TIME_ACCESS_SET, A.TIME_MODIFY_SET]);
    expect(bitmapToList(SUPPATTR_EXCLCREAT)).toEqual([A.SIZE, A.MODE, A.OWNER, A.OWNER_GROUP]);
  });

  it('bitmap helpers', () => {
    expect(bitmapFromList([0, 31, 32, 75])).toEqual([0x80000001, 1, 0x800]);
    expect(bitmapToList([0x80000001, 1, 0x800])).toEqual([0, 31, 32, 75]);
    expect(bitmapFromList([])).toEqual([]);
  });
});

describe('encodeFattr', () => {
  it('encodes the Linux "standard" set from a Stat', () => {
    const ids = [1, 3, 4, 8, 20, 33, 35, 36, 37, 41, 45, 47, 52, 53, 55];
    const st = mkStat({ rdev: { major: 8, minor: 1 }, mode: 0o104755 });
    const b = fattrBytes(listBitmap(ids), src({ stat: st }), 1);
    const { ids: got, values } = parseFattr(new XdrReader(b));
    expect(got).toEqual(ids);
    expect(values.get(1)).toBe(1); // NF4REG
    expect(values.get(3)).toBe(99);
    expect(values.get(4)).toBe(12345);
    expect(values.get(8)).toEqual({ a: 0x1234, b: 0x5678 });
    expect(values.get(20)).toBe(42);
    expect(values.get(33)).toBe(0o4755);
    expect(values.get(35)).toBe(1);
    expect(values.get(36)).toBe('1000');
    expect(values.get(37)).toBe('1000');
    expect(values.get(41)).toEqual({ a: 8, b: 1 });
    expect(values.get(45)).toBe(16384);
    expect(values.get(47)).toEqual({ a: 1700000000, b: 1 });
    expect(values.get(52)).toEqual({ a: 1700000002, b: 3 });
    expect(values.get(53)).toEqual({ a: 1700000001, b: 2 });
    expect(values.get(55)).toBe(42);
  });

  it('encodes capabilities, fsinfo and pathconf', () => {
    const ids = [0, 2, 5, 6, 7, 9, 10, 11, 13, 15, 16, 17, 18, 19, 26, 27, 28, 29, 30, 31, 34, 50, 51, 75];
    const s = src({ stat: mkStat({ kind: 'dir' }) });
    const { values, ids: got } = parseFattr(new XdrReader(fattrBytes(listBitmap(ids), s, 1)));
    expect(got).toEqual(ids);
    expect(values.get(0)).toEqual(supportedAttrs(1));
    expect(values.get(2)).toBe(0);
    expect(values.get(5)).toBe(true);
    expect(values.get(6)).toBe(true);
    expect(values.get(7)).toBe(false);
    expect(values.get(9)).toBe(true);
    expect(values.get(10)).toBe(90);
    expect(values.get(11)).toBe(0);
    expect(values.get(13)).toBe(0);
    expect(values.get(15)).toBe(true);
    expect(values.get(16)).toBe(false);
    expect(values.get(17)).toBe(true);
    expect(values.get(18)).toBe(true);
    expect(values.get(19)).toEqual(s.fh);
    expect(values.get(26)).toBe(true);
    expect(values.get(27)).toBe(52673613135872);
    expect(values.get(28)).toBe(177);
    expect(values.get(29)).toBe(255);
    expect(values.get(30)).toBe(1048576);
    expect(values.get(31)).toBe(1048576);
    expect(values.get(34)).toBe(true);
    expect(values.get(50)).toEqual({ a: 1699999999, b: 4 });
    expect(values.get(51)).toEqual({ a: 0, b: 1 });
    expect(values.get(75)).toEqual(SUPPATTR_EXCLCREAT);
  });

  it('drops unsupported, write-only and 4.1-only attributes from the reply bitmap', () => {
    const req = listBitmap([4, 12, 14, 21, 24, 32, 48, 54, 62, 65, 75, 200]);
    const r40 = parseFattr(new XdrReader(fattrBytes(req, src(), 0)));
    expect(r40.ids).toEqual([4]);
    const r41 = parseFattr(new XdrReader(fattrBytes(req, src(), 1)));
    expect(r41.ids).toEqual([4, 75]);
    // the bitmap has no trailing zero words
    expect(r40.mask).toEqual([0x10]);
  });

  it('empty request gives an empty fattr4', () => {
    expect([...fattrBytes([], src(), 1)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('fetches statfs once and only for space_avail/free/total; values clamp in u64', async () => {
    const store = new FakeStore();
    store.used = 123456;
    const w = new XdrWriter();
    const r1 = encodeFattr(w, listBitmap([4, 45]), src({ store }), 1);
    expect(r1).toBeUndefined(); // synchronous
    expect(store.statfsCalls).toBe(0);

    const w2 = new XdrWriter();
    await encodeFattr(w2, listBitmap([42, 43, 44, 45]), src({ store }), 1);
    expect(store.statfsCalls).toBe(1);
    const { values } = parseFattr(new XdrReader(Buffer.from(w2.finish())));
    expect(values.get(44)).toBe(1n << 63n);
    expect(values.get(42)).toBe((1n << 63n) - 123456n);
    expect(values.get(43)).toBe((1n << 63n) - 123456n);
    expect(values.get(45)).toBe(16384);
  });

  it('space_avail never goes negative', async () => {
    const store = new FakeStore();
    store.used = 2 ** 64;
    const w = new XdrWriter();
    await encodeFattr(w, listBitmap([42]), src({ store }), 1);
    expect(parseFattr(new XdrReader(Buffer.from(w.finish()))).values.get(42)).toBe(0n);
  });

  it('type codes for every kind', () => {
    const kinds = { reg: 1, dir: 2, blk: 3, chr: 4, lnk: 5, sock: 6, fifo: 7 } as const;
    for (const [k, code] of Object.entries(kinds)) {
      const b = fattrBytes(listBitmap([1]), src({ stat: mkStat({ kind: k as keyof typeof kinds }) }), 1);
      expect(parseFattr(new XdrReader(b)).values.get(1)).toBe(code);
    }
  });

  it('filehandle may be given lazily', () => {
    let calls = 0;
    const fh = Buffer.alloc(32, 1);
    const s = src({ fh: () => (calls++, fh) });
    fattrBytes(listBitmap([4]), s, 1);
    expect(calls).toBe(0);
    const v = parseFattr(new XdrReader(fattrBytes(listBitmap([19]), s, 1))).values.get(19);
    expect(v).toEqual(fh);
    expect(calls).toBe(1);
  });

  it('round-trips through decodeFattr', () => {
    const b = fattrBytes(listBitmap([1, 4, 36]), src(), 1);
    const f = decodeFattr(new XdrReader(b));
    expect(f.attrmask).toEqual([0x12, 0x10]);
    expect(f.attr_vals.length).toBe(4 + 8 + 8);
  });
});

describe('decodeSettable', () => {
  it('decodes size, mode, owner, group and times', () => {
    const f = mkFattr([4, 33, 36, 37, 48, 54], (w) => {
      w.u64(2 ** 40 + 5);
      w.u32(0o100755);
      w.string('1001');
      w.string('0');
      w.u32(1); // SET_TO_CLIENT_TIME4
      w.i64(-5);
      w.u32(999999999);
      w.u32(0); // SET_TO_SERVER_TIME4
    });
    const { set, attrset } = decodeSettable(f);
    expect(set).toEqual({
      size: 2 ** 40 + 5,
      mode: 0o755,
      uid: 1001,
      gid: 0,
      atime: { sec: -5, nsec: 999999999 },
      mtime: 'now',
    });
    expect(bitmapToList(attrset)).toEqual([4, 33, 36, 37, 48, 54]);
  });

  it('round-trips what encodeFattr produces for the settable, readable attrs', () => {
    const st = mkStat({ size: 777, mode: 0o2750, uid: 5, gid: 6 });
    const b = fattrBytes(listBitmap([4, 33, 36, 37]), src({ stat: st }), 1);
    const { set } = decodeSettable(decodeFattr(new XdrReader(b)));
    expect(set).toEqual({ size: 777, mode: 0o2750, uid: 5, gid: 6 });
  });

  it('empty fattr4 sets nothing', () => {
    expect(decodeSettable({ attrmask: [], attr_vals: Buffer.alloc(0) })).toEqual({ set: {}, attrset: [] });
  });

  it('unsupported attributes -> ATTRNOTSUPP (before anything else)', () => {
    for (const id of [A.ACL, A.ARCHIVE, A.HIDDEN, A.SYSTEM, A.MIMETYPE, A.TIME_BACKUP, A.QUOTA_USED, 120]) {
      const f = mkFattr([A.MODE, id], (w) => w.u32(0o644));
      expect(statusOf(() => decodeSettable(f)), `attr ${id}`).toBe(N.NFS4ERR_ATTRNOTSUPP);
    }
    // 4.1-only attribute in 4.0
    expect(statusOf(() => decodeSettable(mkFattr([75], () => {}), 0))).toBe(N.NFS4ERR_ATTRNOTSUPP);
  });

  it('supported read-only attributes -> INVAL', () => {
    for (const id of [0, 1, 3, 8, 10, 11, 19, 20, 33 + 2, 45, 47, 52, 53, 55, 75]) {
      const f = mkFattr([id], (w) => w.u64(0));
      expect(statusOf(() => decodeSettable(f, 1)), `attr ${id}`).toBe(N.NFS4ERR_INVAL);
    }
  });

  it('malformed or trailing bytes -> BADXDR', () => {
    expect(statusOf(() => decodeSettable(mkFattr([33], () => {})))).toBe(N.NFS4ERR_BADXDR);
    expect(statusOf(() => decodeSettable(mkFattr([33], (w) => (w.u32(0o644), w.u32(0)))))).toBe(N.NFS4ERR_BADXDR);
    expect(statusOf(() => decodeSettable(mkFattr([54], (w) => w.u32(2))))).toBe(N.NFS4ERR_BADXDR);
    expect(statusOf(() => decodeSettable(mkFattr([36], (w) => w.u32(100))))).toBe(N.NFS4ERR_BADXDR);
  });

  it('nseconds above 999999999 -> INVAL', () => {
    const f = mkFattr([54], (w) => (w.u32(1), w.i64(500000000), w.u32(1e9)));
    expect(statusOf(() => decodeSettable(f))).toBe(N.NFS4ERR_INVAL);
  });

  it('owner strings must be numeric', () => {
    expect(parseNumericId('0')).toBe(0);
    expect(parseNumericId('4294967295')).toBe(4294967295);
    expect(parseNumericId('007')).toBe(7);
    for (const s of ['root', 'root@localdomain', '1000@example.com', '-1', '1e3', ' 1', '4294967296', '99999999999']) {
      expect(statusOf(() => parseNumericId(s)), s).toBe(N.NFS4ERR_BADOWNER);
    }
    expect(statusOf(() => parseNumericId(''))).toBe(N.NFS4ERR_INVAL);
    const f = mkFattr([37], (w) => w.string('wheel'));
    expect(statusOf(() => decodeSettable(f))).toBe(N.NFS4ERR_BADOWNER);
  });
});

describe('attrsEqual (VERIFY/NVERIFY)', () => {
  it('equal when the client sends back what GETATTR returned', async () => {
    const s = src();
    const ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 19, 20, 33, 36, 37, 42, 47, 55, 75];
    const f = decodeFattr(new XdrReader(await bytesAsync(listBitmap(ids), s, 1)));
    expect(await attrsEqual(f, s, 1)).toBe(true);
  });

  it('not equal when a value differs', async () => {
    const s = src();
    const f = mkFattr([4], (w) => w.u64(12346));
    expect(await attrsEqual(f, s, 1)).toBe(false);
    const g = mkFattr([36], (w) => w.string('1000@example.com'));
    expect(await attrsEqual(g, s, 1)).toBe(false);
  });

  it('supported_attrs compares as a set (trailing zero words allowed)', async () => {
    const s = src();
    const bm = supportedAttrs(1);
    const f = mkFattr([0], (w) => {
      w.u32(bm.length + 1);
      for (const x of bm) w.u32(x);
      w.u32(0);
    });
    expect(await attrsEqual(f, s, 1)).toBe(true);
  });

  it('errors: unsupported -> ATTRNOTSUPP, write-only or rdattr_error -> INVAL, malformed -> BADXDR', async () => {
    const s = src();
    expect(await statusOfAsync(() => attrsEqual(mkFattr([A.ACL], (w) => w.u32(0)), s, 1))).toBe(N.NFS4ERR_ATTRNOTSUPP);
    expect(await statusOfAsync(() => attrsEqual(mkFattr([A.TIME_MODIFY_SET], (w) => w.u32(0)), s, 1))).toBe(N.NFS4ERR_INVAL);
    expect(await statusOfAsync(() => attrsEqual(mkFattr([A.RDATTR_ERROR], (w) => w.u32(0)), s, 1))).toBe(N.NFS4ERR_INVAL);
    expect(await statusOfAsync(() => attrsEqual(mkFattr([4], (w) => w.u32(0)), s, 1))).toBe(N.NFS4ERR_BADXDR);
    expect(await statusOfAsync(() => attrsEqual(mkFattr([4], (w) => (w.u64(12345), w.u32(0))), s, 1))).toBe(N.NFS4ERR_BADXDR);
  });
});

async function bytesAsync(req: number[], s: AttrSource, minor: number): Promise<Buffer> {
  const w = new XdrWriter();
  await encodeFattr(w, req, s, minor);
  return Buffer.from(w.finish());
}
