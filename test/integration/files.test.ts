import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { ANON_STATEID, FATTR, FILE_TYPE, NfsClient, NfsStatusError } from '../../src/client/nfs-client.js';
import { pool, randomData, sha256, startTestServer, type TestServer } from './harness.js';

async function expectStatus(p: Promise<unknown>, status: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${N.NFSSTAT4_NAMES[status]}`).toBeInstanceOf(NfsStatusError);
  expect((err as NfsStatusError).statusName).toBe(N.NFSSTAT4_NAMES[status]);
}

describe('file life cycle', () => {
  let srv: TestServer;
  let c: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('creates, writes and reads back a file (checksums)', async () => {
    const data = randomData(300 * 1024 + 7);
    const f = await c.create('/life.bin', 0o640);
    expect(f.attrs.type).toBe(FILE_TYPE.REG);
    expect(f.attrs.mode! & 0o777).toBe(0o640);
    expect(f.attrs.size).toBe(0);
    const w = await c.write(f.fh, f.stateid, 0, data);
    expect(w.count).toBe(data.length);
    const back = await c.readAll(f.fh, f.stateid);
    expect(sha256(back)).toBe(sha256(data));
    await c.close(f.fh, f.stateid);
    expect(sha256(await c.readFile('/life.bin'))).toBe(sha256(data));
    const a = await c.getattr('/life.bin');
    expect(a.size).toBe(data.length);
    expect(a.numlinks).toBe(1);
    expect(a.owner).toBe('0');
  });

  it('reads at and past EOF', async () => {
    await c.writeFile('/eof.txt', Buffer.from('0123456789'));
    const fh = await c.lookupPath('/eof.txt');
    const r1 = await c.read(fh, ANON_STATEID, 5, 100);
    expect(r1.data.toString()).toBe('56789');
    expect(r1.eof).toBe(true);
    const r2 = await c.read(fh, ANON_STATEID, 100, 10);
    expect(r2.data.length).toBe(0);
    expect(r2.eof).toBe(true);
    const r3 = await c.read(fh, ANON_STATEID, 0, 4);
    expect(r3.data.toString()).toBe('0123');
    expect(r3.eof).toBe(false);
  });

  it('appends and truncates', async () => {
    await c.writeFile('/append.txt', Buffer.from('hello'));
    const f = await c.open('/append.txt', { access: 'both' });
    const size = f.attrs.size!;
    expect(size).toBe(5);
    await c.write(f.fh, f.stateid, size, Buffer.from(' world'));
    expect((await c.readAll(f.fh, f.stateid)).toString()).toBe('hello world');
    await c.setattr(f.fh, { size: 4 }, f.stateid);
    expect((await c.getattr(f.fh)).size).toBe(4);
    expect((await c.readAll(f.fh, f.stateid)).toString()).toBe('hell');
    // extend by truncate: zeros
    await c.setattr(f.fh, { size: 8 }, f.stateid);
    const ext = await c.readAll(f.fh, f.stateid);
    expect(ext).toEqual(Buffer.concat([Buffer.from('hell'), Buffer.alloc(4)]));
    await c.close(f.fh, f.stateid);
  });

  it('refuses an exclusive create of an existing file, allows an unchecked one', async () => {
    await c.writeFile('/excl.txt', Buffer.from('x'));
    await expectStatus(c.create('/excl.txt', 0o644, { guarded: true }), N.NFS4ERR_EXIST);
    await expectStatus(c.create('/excl.txt', 0o644, { exclusive: true }), N.NFS4ERR_EXIST);
    const f = await c.create('/excl.txt', 0o644);
    expect(f.attrs.size).toBe(1);
    await c.close(f.fh, f.stateid);
    const g = await c.create('/excl-new.txt', 0o600, { exclusive: true });
    expect(g.attrs.type).toBe(FILE_TYPE.REG);
    await c.close(g.fh, g.stateid);
  });

  it('renames across directories and over an existing file', async () => {
    await c.mkdir('/src');
    await c.mkdir('/dst');
    const a = randomData(1000);
    const b = randomData(2000);
    const fhA = await c.writeFile('/src/a', a);
    await c.writeFile('/dst/b', b);
    const ren = await c.rename('/src/a', '/dst/a2');
    expect(ren.source_cinfo.after).not.toBe(ren.source_cinfo.before);
    expect(ren.target_cinfo.after).not.toBe(ren.target_cinfo.before);
    await expectStatus(c.lookupPath('/src/a'), N.NFS4ERR_NOENT);
    expect(sha256(await c.readFile('/dst/a2'))).toBe(sha256(a));
    // the handle follows the file
    expect((await c.lookupPath('/dst/a2')).equals(fhA)).toBe(true);
    // over an existing file: the target is replaced
    await c.rename('/dst/a2', '/dst/b');
    expect(sha256(await c.readFile('/dst/b'))).toBe(sha256(a));
    await expectStatus(c.lookupPath('/dst/a2'), N.NFS4ERR_NOENT);
    // renaming a directory over a non-empty one fails
    await c.mkdir('/src/sub');
    await c.mkdir('/dst/full');
    await c.writeFile('/dst/full/x', Buffer.from('x'));
    await expect(c.rename('/src/sub', '/dst/full')).rejects.toBeInstanceOf(NfsStatusError);
    // a directory into another directory
    await c.rename('/src/sub', '/dst/sub');
    expect((await c.getattr('/dst/sub')).type).toBe(FILE_TYPE.DIR);
  });

  it('makes hard links and symbolic links', async () => {
    await c.mkdir('/links');
    const fh = await c.writeFile('/links/orig', Buffer.from('linked'));
    const before = await c.getattr(fh);
    await c.link('/links/orig', '/links/hard');
    const after = await c.getattr('/links/hard');
    expect(after.fileid).toBe(before.fileid);
    expect(after.numlinks).toBe(2);
    expect((await c.readFile('/links/hard')).toString()).toBe('linked');
    await expectStatus(c.link('/links/orig', '/links/hard'), N.NFS4ERR_EXIST);
    // hard link to a directory is refused
    await c.mkdir('/links/dir');
    await expect(c.link('/links/dir', '/links/dirlink')).rejects.toBeInstanceOf(NfsStatusError);

    await c.symlink('/links/sym', 'orig');
    const s = await c.getattr('/links/sym');
    expect(s.type).toBe(FILE_TYPE.LNK);
    expect(s.size).toBe(4);
    expect(await c.readlink('/links/sym')).toBe('orig');
    await c.symlink('/links/abs', '/somewhere/else/entirely');
    expect(await c.readlink('/links/abs')).toBe('/somewhere/else/entirely');
    // READLINK on a regular file is INVAL
    await expectStatus(c.readlink('/links/orig'), N.NFS4ERR_INVAL);

    await c.remove('/links/orig');
    expect((await c.getattr('/links/hard')).numlinks).toBe(1);
  });

  it('makes and removes directories', async () => {
    const fh = await c.mkdir('/tree', 0o750);
    const a = await c.getattr(fh);
    expect(a.type).toBe(FILE_TYPE.DIR);
    expect(a.mode! & 0o777).toBe(0o750);
    await expectStatus(c.mkdir('/tree'), N.NFS4ERR_EXIST);
    await c.mkdir('/tree/sub');
    await c.writeFile('/tree/sub/f', Buffer.from('f'));
    await expectStatus(c.remove('/tree/sub'), N.NFS4ERR_NOTEMPTY);
    await c.remove('/tree/sub/f');
    await c.remove('/tree/sub');
    await expectStatus(c.lookupPath('/tree/sub'), N.NFS4ERR_NOENT);
    await expectStatus(c.remove('/tree/nothing'), N.NFS4ERR_NOENT);
    await c.remove('/tree');
    await expectStatus(c.getattr(fh), N.NFS4ERR_STALE);
  });

  it('writes 1 MiB UNSTABLE then COMMITs; FILE_SYNC is stable at once', async () => {
    const data = randomData(1024 * 1024);
    const f = await c.create('/unstable.bin');
    const w = await c.write(f.fh, f.stateid, 0, data, N.UNSTABLE4);
    expect(w.count).toBe(data.length);
    expect(w.committed).toBeGreaterThanOrEqual(N.UNSTABLE4);
    const verf = await c.commit(f.fh, 0, 0);
    expect(verf.equals(w.writeverf)).toBe(true);
    expect(sha256(await c.readAll(f.fh, f.stateid))).toBe(sha256(data));

    const sync = await c.write(f.fh, f.stateid, data.length, Buffer.from('tail'), N.FILE_SYNC4);
    expect(sync.committed).toBe(N.FILE_SYNC4);
    expect(sync.count).toBe(4);
    await c.close(f.fh, f.stateid);
    expect((await c.getattr('/unstable.bin')).size).toBe(data.length + 4);
  });

  it('handles offsets above 4 GiB (sparse)', async () => {
    const off = 5 * 1024 * 1024 * 1024 + 3;
    const f = await c.create('/sparse.bin');
    await c.write(f.fh, f.stateid, off, Buffer.from('far away'));
    const a = await c.getattr(f.fh, [FATTR.SIZE, FATTR.SPACE_USED]);
    expect(a.size).toBe(off + 8);
    expect(a.space_used!).toBeLessThan(16 * 1024 * 1024);
    const r = await c.read(f.fh, f.stateid, off, 100);
    expect(r.data.toString()).toBe('far away');
    expect(r.eof).toBe(true);
    const hole = await c.read(f.fh, f.stateid, 4 * 1024 * 1024 * 1024, 4096);
    expect(hole.data.equals(Buffer.alloc(4096))).toBe(true);
    const straddle = await c.read(f.fh, f.stateid, off - 4, 8);
    expect(straddle.data).toEqual(Buffer.concat([Buffer.alloc(4), Buffer.from('far ')]));
    await c.close(f.fh, f.stateid);
  });

  it('advances the change attribute on each write', async () => {
    const f = await c.create('/change.txt');
    let prev = (await c.getattr(f.fh, [FATTR.CHANGE])).change!;
    for (let i = 0; i < 6; i++) {
      await c.write(f.fh, f.stateid, i, Buffer.from([65 + i]));
      const now = (await c.getattr(f.fh, [FATTR.CHANGE])).change!;
      expect(now).toBeGreaterThan(prev);
      prev = now;
    }
    await c.setattr(f.fh, { mode: 0o600 });
    expect((await c.getattr(f.fh, [FATTR.CHANGE])).change!).toBeGreaterThan(prev);
    await c.close(f.fh, f.stateid);
  });

  it('changes the directory change attribute and mtime when entries change', async () => {
    const dir = await c.mkdir('/dirchange');
    const a0 = await c.getattr(dir, [FATTR.CHANGE, FATTR.NUMLINKS]);
    await c.writeFile('/dirchange/x', Buffer.from('x'));
    const a1 = await c.getattr(dir, [FATTR.CHANGE]);
    expect(a1.change!).toBeGreaterThan(a0.change!);
    await c.mkdir('/dirchange/sub');
    const a2 = await c.getattr(dir, [FATTR.CHANGE, FATTR.NUMLINKS]);
    expect(a2.change!).toBeGreaterThan(a1.change!);
    expect(a2.numlinks).toBe(a0.numlinks! + 1);
  });

  it('lists 2,000 entries across pages, none missing and no duplicates', async () => {
    const dir = await c.mkdir('/big');
    const names = Array.from({ length: 2000 }, (_, i) => `file-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`);
    await pool(names, 16, async (name) => {
      await c.touch(`/big/${name}`);
    });
    let pages = 0;
    const entries = await c.readdir(dir, { maxcount: 8192, dircount: 2048, onPage: () => void pages++ });
    expect(pages).toBeGreaterThan(3);
    const seen = entries.map((e) => e.name);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).not.toContain('.');
    expect(seen).not.toContain('..');
    expect([...seen].sort()).toEqual([...names].sort());
    for (const e of entries) expect(e.attrs.type).toBe(FILE_TYPE.REG);
    const ids = new Set(entries.map((e) => e.attrs.fileid));
    expect(ids.size).toBe(entries.length);
  });

  it('lists a directory while entries are added between pages', async () => {
    const dir = await c.mkdir('/growing');
    const names = Array.from({ length: 600 }, (_, i) => `g${i}`);
    await pool(names, 16, async (name) => {
      await c.touch(`/growing/${name}`);
    });
    const added: string[] = [];
    const entries = await c.readdir(dir, {
      maxcount: 4096,
      onPage: async (_e, page) => {
        for (let k = 0; k < 5; k++) {
          const n = `new-${page}-${k}`;
          await c.touch(`/growing/${n}`);
          added.push(n);
        }
      },
    });
    const seen = entries.map((e) => e.name);
    expect(added.length).toBeGreaterThan(10);
    expect(new Set(seen).size).toBe(seen.length);
    const seenSet = new Set(seen);
    for (const n of names) expect(seenSet.has(n), `${n} missing`).toBe(true);
    for (const n of seen) expect(names.includes(n) || added.includes(n), `${n} unexpected`).toBe(true);
  });

  it('lists a directory while entries are removed and renamed between pages', async () => {
    const dir = await c.mkdir('/shrinking');
    const names = Array.from({ length: 400 }, (_, i) => `s${String(i).padStart(4, '0')}`);
    await pool(names, 16, async (name) => {
      await c.touch(`/shrinking/${name}`);
    });
    const removed = new Set<string>();
    const renamed = new Map<string, string>();
    const seen: string[] = [];
    await c.readdir(dir, {
      maxcount: 2048,
      onPage: async (entries, page) => {
        seen.push(...entries.map((e) => e.name));
        const seenSet = new Set(seen);
        // remove some entries not seen yet and rename one, then carry on
        const unseen = names.filter((n) => !seenSet.has(n) && !removed.has(n) && !renamed.has(n));
        for (const n of unseen.slice(0, 3)) {
          await c.remove(`/shrinking/${n}`);
          removed.add(n);
        }
        const r = unseen[3];
        if (r) {
          await c.rename(`/shrinking/${r}`, `/shrinking/renamed-${page}`);
          renamed.set(r, `renamed-${page}`);
        }
      },
    });
    expect(removed.size).toBeGreaterThan(6);
    expect(new Set(seen).size).toBe(seen.length);
    const seenSet = new Set(seen);
    for (const n of names) {
      if (removed.has(n) || renamed.has(n)) continue;
      expect(seenSet.has(n), `${n} missing`).toBe(true);
    }
    for (const n of removed) expect(seenSet.has(n), `${n} was removed before it was listed`).toBe(false);
  });

  it('rejects bad names', async () => {
    await expectStatus(c.create(`/${'n'.repeat(256)}`), N.NFS4ERR_NAMETOOLONG);
    await expect(c.mkdir('/a\u0000b')).rejects.toBeInstanceOf(NfsStatusError);
    const r = await c.compound([{ argop: N.OP_PUTROOTFH }, { argop: N.OP_LOOKUP, oplookup: { objname: '' } }]);
    expect(r.status).toBe(N.NFS4ERR_INVAL);
  });
});
