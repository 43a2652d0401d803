/** The attribute ops over a real LocalStore in a temporary directory. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { NfsError } from '../../src/protocol/status.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import type { CompoundCtx } from '../../src/nfs4/context.js';
import { SELF_ENCODES, type OpSpec } from '../../src/nfs4/optable-types.js';
import { OP_SPECS } from '../../src/nfs4/optable.js';
import { LocalStore } from '../../src/store/local/local-store.js';
import type { Stat } from '../../src/store/types.js';
import { FakeStore, listBitmap, mkCtx, mkFattr, parseFattr } from './attrs-helpers.js';

const GETATTR = OP_SPECS.find((o) => o.op === N.OP_GETATTR)!;
const SETATTR = OP_SPECS.find((o) => o.op === N.OP_SETATTR)!;
const READDIR = OP_SPECS.find((o) => o.op === N.OP_READDIR)!;

const STANDARD = [1, 3, 4, 8, 11, 19, 20, 33, 35, 36, 37, 41, 45, 47, 52, 53, 55];

let dir: string;
let store: LocalStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'localefs-attrs-'));
  store = await LocalStore.open({ root: path.join(dir, 'fs'), metaDir: path.join(dir, 'meta'), fsid: { major: 1, minor: 2 }, emulateOwnership: true });
});

afterAll(async () => {
  await store?.shutdown();
  await rm(dir, { recursive: true, force: true });
});

function ctxFor(st: Stat, uid = 0): CompoundCtx {
  const ctx = mkCtx(new FakeStore(), st, { uid, gid: uid });
  ctx.server.store = store;
  return ctx;
}

async function call(spec: OpSpec, ctx: CompoundCtx, args: (w: XdrWriter) => void): Promise<{ status: number; body: Buffer }> {
  const aw = new XdrWriter();
  args(aw);
  const decoded = spec.decode(new XdrReader(Buffer.from(aw.finish())));
  const w = ctx.reply;
  const start = w.length;
  try {
    const res = await spec.run(ctx, decoded);
    if (!(spec.flags & SELF_ENCODES) && spec.encode) spec.encode(w, res);
    return { status: N.NFS4_OK, body: Buffer.from(w.buf.subarray(start, w.length)) };
  } catch (e) {
    if (!(e instanceof NfsError)) throw e;
    return { status: e.status, body: Buffer.alloc(0) };
  }
}

const bitmapArg = (w: XdrWriter, ids: number[]): void => {
  const bm = listBitmap(ids);
  w.u32(bm.length);
  for (const x of bm) w.u32(x);
};

describe('attribute ops on LocalStore', () => {
  it('GETATTR of the root: EFS-like directory, fsid from the store', async () => {
    const root = await store.getattr(store.rootIno);
    const r = await call(GETATTR, ctxFor(root), (w) => bitmapArg(w, [...STANDARD, 42, 44]));
    expect(r.status).toBe(N.NFS4_OK);
    const { values } = parseFattr(new XdrReader(r.body));
    expect(values.get(1)).toBe(2);
    expect(values.get(8)).toEqual({ a: 1, b: 2 });
    expect(values.get(20)).toBe(store.rootIno);
    expect(values.get(44)).toBe(1n << 63n);
    expect((values.get(42) as bigint) < 1n << 63n).toBe(true);
  });

  it('READDIR pages through a real directory with small maxcount', async () => {
    const root = await store.getattr(store.rootIno);
    const { stat: d } = await store.mkdir(root.ino, 'many', { mode: 0o755, uid: 0, gid: 0 });
    const names: string[] = [];
    for (let i = 0; i < 120; i++) {
      const name = `file-${i}`;
      names.push(name);
      await store.createFile(d.ino, name, { mode: 0o644, uid: 0, gid: 0 });
    }
    const seen: string[] = [];
    let cookie = 0;
    for (let round = 0; round < 500; round++) {
      const r = await call(READDIR, ctxFor(d), (w) => {
        w.u64(cookie);
        w.fixedOpaque(Buffer.alloc(8));
        w.u32(0);
        w.u32(2000);
        bitmapArg(w, STANDARD);
      });
      expect(r.status).toBe(N.NFS4_OK);
      expect(r.body.length).toBeLessThanOrEqual(2000);
      const rd = new XdrReader(r.body);
      rd.skip(8);
      let last = cookie;
      while (rd.bool()) {
        last = rd.u64();
        expect(last).toBeGreaterThan(2);
        seen.push(rd.string());
        const { values } = parseFattr(rd);
        expect(values.get(1)).toBe(1);
        expect(values.get(33)).toBe(0o644);
      }
      const eof = rd.bool();
      if (eof) break;
      expect(last).not.toBe(cookie);
      cookie = last;
    }
    expect(seen.sort()).toEqual(names.sort());
  });

  it('SETATTR mode and size, then GETATTR sees them', async () => {
    const root = await store.getattr(store.rootIno);
    const { stat: f } = await store.createFile(root.ino, 'sz', { mode: 0o644, uid: 1000, gid: 1000 });
    const attrs = mkFattr([4, 33], (w) => (w.u64(4097), w.u32(0o600)));
    const r = await call(SETATTR, ctxFor(f, 1000), (w) => {
      w.u32(0);
      w.fixedOpaque(Buffer.alloc(12));
      w.u32(attrs.attrmask.length);
      for (const x of attrs.attrmask) w.u32(x);
      w.opaque(attrs.attr_vals);
    });
    expect(r.status).toBe(N.NFS4_OK);
    const g = await call(GETATTR, ctxFor(f), (w) => bitmapArg(w, [4, 33, 45]));
    const { values } = parseFattr(new XdrReader(g.body));
    expect(values.get(4)).toBe(4097);
    expect(values.get(33)).toBe(0o600);
  });
});
