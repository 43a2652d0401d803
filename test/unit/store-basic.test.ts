import { describe, expect, it } from 'vitest';
import { stat as fsStat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore } from '../../src/store/local/local-store.js';
import { type CreateAttrs } from '../../src/store/types.js';
import { storeCode, useTempStores } from './store-helpers.js';

const { tmp, openAt, close } = useTempStores();
const open = (d: string, emulateOwnership?: boolean): Promise<LocalStore> => openAt(d, { fsid: { major: 1, minor: 2 }, emulateOwnership });
const code = storeCode;

const A: CreateAttrs = { mode: 0o644, uid: 1000, gid: 1000 };
const D: CreateAttrs = { mode: 0o755, uid: 1000, gid: 1000 };

describe('LocalStore basics', () => {
  it('creates the root as 0755 0:0 and reports EFS-style attributes', async () => {
    const d = await tmp();
    const s = await open(d);
    const r = await s.getattr(s.rootIno);
    expect(r.kind).toBe('dir');
    expect(r.mode).toBe(0o755);
    expect(r.uid).toBe(0);
    expect(r.gid).toBe(0);
    expect(r.size).toBe(6144);
    expect(r.spaceUsed).toBeGreaterThanOrEqual(4096);
    expect(r.spaceUsed % 4096).toBe(0);
    expect((await s.parent(s.rootIno)).ino).toBe(s.rootIno);
    expect(s.fsid).toEqual({ major: 1, minor: 2 });
  });

  it('refuses a metaDir inside the root', async () => {
    const d = await tmp();
    await expect(LocalStore.open({ root: d, metaDir: path.join(d, 'meta'), fsid: { major: 0, minor: 0 } })).rejects.toThrow(/metaDir/);
  });

  it('create, lookup, parent, readdir, readlink, statfs', async () => {
    const d = await tmp();
    const s = await open(d);
    const sub = await s.mkdir(s.rootIno, 'sub', D);
    expect(sub.stat.kind).toBe('dir');
    expect(sub.dir.after).toBeGreaterThan(sub.dir.before);
    const f = await s.createFile(sub.stat.ino, 'file', { ...A, size: 10000 });
    expect(f.stat.size).toBe(10000);
    expect(f.stat.spaceUsed).toBe(4096); // sparse: nothing allocated, minimum 4 KiB
    expect(f.stat.mode).toBe(0o644);
    expect(await code(s.createFile(sub.stat.ino, 'file', A))).toBe('EEXIST');
    expect((await s.lookup(sub.stat.ino, 'file')).ino).toBe(f.stat.ino);
    expect(await code(s.lookup(sub.stat.ino, 'nope'))).toBe('ENOENT');
    expect(await code(s.lookup(f.stat.ino, 'x'))).toBe('ENOTDIR');
    expect((await s.parent(sub.stat.ino)).ino).toBe(s.rootIno);
    const l = await s.symlink(sub.stat.ino, 'ln', 'file', { mode: 0o777, uid: 1, gid: 2 });
    expect(l.stat.kind).toBe('lnk');
    expect(l.stat.spaceUsed).toBe(4096);
    expect(await s.readlink(l.stat.ino)).toBe('file');
    expect(await code(s.readlink(f.stat.ino))).toBe('EINVAL');
    const page = await s.readdir(sub.stat.ino, 0, 100);
    expect(page.eof).toBe(true);
    expect(page.entries.map((e) => e.name).sort()).toEqual(['file', 'ln']);
    for (const e of page.entries) expect(e.cookie).toBeGreaterThan(2);
    const fs1 = await s.statfs();
    expect(fs1.files).toBe(4);
    expect(fs1.used).toBeGreaterThanOrEqual(4 * 4096);
  });

  it('rejects bad names', async () => {
    const d = await tmp();
    const s = await open(d);
    for (const n of ['', '.', '..', 'a/b', 'a\0b']) expect(await code(s.createFile(s.rootIno, n, A))).toBe('EINVAL');
    expect(await code(s.lookup(s.rootIno, '..'))).toBe('EINVAL');
    expect(await code(s.createFile(s.rootIno, 'x'.repeat(256), A))).toBe('ENAMETOOLONG');
    expect(await code(s.createFile(s.rootIno, 'é'.repeat(128), A))).toBe('ENAMETOOLONG'); // 256 bytes
    expect(await code(s.createFile(s.rootIno, 'x'.repeat(255), A))).toBe('OK');
  });

  it('enforces symlink, link, size and depth limits', async () => {
    const d = await tmp();
    const s = await open(d);
    expect(await code(s.symlink(s.rootIno, 'l1', 'x'.repeat(4081), A))).toBe('ENAMETOOLONG');
    expect(await code(s.symlink(s.rootIno, 'l2', 'x'.repeat(4080), A))).toBe('OK');
    expect(await code(s.symlink(s.rootIno, 'l3', '', A))).toBe('EINVAL');

    const f = await s.createFile(s.rootIno, 'f', A);
    const links = await s.mkdir(s.rootIno, 'links', D);
    for (let i = 1; i < 177; i++) await s.link(f.stat.ino, links.stat.ino, `l${i}`);
    expect((await s.getattr(f.stat.ino)).nlink).toBe(177);
    expect(await code(s.link(f.stat.ino, links.stat.ino, 'one-too-many'))).toBe('EMLINK');
    expect(await code(s.link(links.stat.ino, s.rootIno, 'dirlink'))).toBe('EISDIR');

    const of = await s.open(f.stat.ino, true);
    expect(await code(s.write(of, Buffer.from('ab'), 52673613135872 - 1, false))).toBe('EFBIG');
    expect(await code(s.setattr(f.stat.ino, { size: 52673613135873 }))).toBe('EFBIG');
    await s.close(of);

    let cur = s.rootIno;
    for (let i = 0; i < 1000; i++) cur = (await s.mkdir(cur, 'd', D)).stat.ino;
    expect(await code(s.mkdir(cur, 'd', D))).toBe('ENAMETOOLONG');
    expect(await code(s.createFile(cur, 'f', A))).toBe('ENAMETOOLONG');
    expect((await s.getattr(cur)).kind).toBe('dir');
  }, 60_000);

  it('handles survive a restart; unknown or removed inodes are ESTALE', async () => {
    const d = await tmp();
    const s1 = await open(d);
    const a = await s1.mkdir(s1.rootIno, 'a', D);
    const b = await s1.mkdir(a.stat.ino, 'b', D);
    const f = await s1.createFile(b.stat.ino, 'f', A);
    const g = await s1.createFile(a.stat.ino, 'g', A);
    await s1.link(f.stat.ino, s1.rootIno, 'hard');
    await s1.remove(a.stat.ino, 'g');
    expect(await code(s1.verify(g.stat.ino, g.stat.gen))).toBe('ESTALE');
    await s1.rename(a.stat.ino, 'b', s1.rootIno, 'b2');
    await close(s1);

    const s2 = await open(d);
    expect(s2.rootIno).toBe(s1.rootIno);
    for (const x of [a, b, f]) {
      const st = await s2.verify(x.stat.ino, x.stat.gen);
      expect(st.ino).toBe(x.stat.ino);
    }
    expect(await code(s2.verify(f.stat.ino, (f.stat.gen + 1) >>> 0))).toBe('ESTALE');
    expect(await code(s2.verify(g.stat.ino, g.stat.gen))).toBe('ESTALE');
    expect(await code(s2.getattr(123456789012))).toBe('ESTALE');
    expect((await s2.parent(b.stat.ino)).ino).toBe(s2.rootIno);
    // one of the two names of f goes away: the other still resolves
    await s2.remove(b.stat.ino, 'f');
    expect((await s2.verify(f.stat.ino, f.stat.gen)).nlink).toBe(1);
    const o = await s2.open(f.stat.ino, false);
    await s2.close(o);
  });

  it('a reused inode number gets a different generation', async () => {
    const d = await tmp();
    const s = await open(d);
    const first = await s.createFile(s.rootIno, 'victim', A);
    expect(first.stat.gen).not.toBe(0);
    await s.remove(s.rootIno, 'victim');
    let reused: { ino: number; gen: number } | undefined;
    for (let i = 0; i < 500 && !reused; i++) {
      const c = await s.createFile(s.rootIno, `n${i}`, A);
      if (c.stat.ino === first.stat.ino) reused = c.stat;
    }
    if (!reused) return; // the host did not reuse the number: nothing to check
    expect(reused.gen).not.toBe(first.stat.gen);
    expect(await code(s.verify(first.stat.ino, first.stat.gen))).toBe('ESTALE');
    expect((await s.verify(reused.ino, reused.gen)).ino).toBe(reused.ino);
  });

  it('setattr: mode, owner, size, times', async () => {
    const d = await tmp();
    const s = await open(d);
    const f = await s.createFile(s.rootIno, 'f', A);
    let st = await s.setattr(f.stat.ino, { mode: 0o4750 });
    expect(st.mode).toBe(0o4750);
    st = await s.setattr(f.stat.ino, { uid: 7, gid: 8 });
    expect([st.uid, st.gid]).toEqual([7, 8]);
    expect(st.mode & 0o4000).toBe(0); // chown drops setuid
    st = await s.setattr(f.stat.ino, { size: 12345 });
    expect(st.size).toBe(12345);
    st = await s.setattr(f.stat.ino, { mtime: { sec: 1_000_000_000, nsec: 500_000_000 }, atime: { sec: 1_100_000_000, nsec: 0 } });
    expect(st.mtime.sec).toBe(1_000_000_000);
    expect(Math.abs(st.mtime.nsec - 500_000_000)).toBeLessThan(1000);
    expect(st.atime.sec).toBe(1_100_000_000);
    const now = Math.floor(Date.now() / 1000);
    st = await s.setattr(f.stat.ino, { mtime: 'now' });
    expect(Math.abs(st.mtime.sec - now)).toBeLessThanOrEqual(2);
    const dir = await s.mkdir(s.rootIno, 'd', D);
    expect(await code(s.setattr(dir.stat.ino, { size: 0 }))).toBe('EISDIR');
    st = await s.setattr(dir.stat.ino, { mode: 0o3777 });
    expect(st.mode).toBe(0o3777);
    const ln = await s.symlink(s.rootIno, 'ln', '/', A);
    expect(await code(s.setattr(ln.stat.ino, { size: 0 }))).toBe('EINVAL');
    st = await s.setattr(ln.stat.ino, { uid: 3, gid: 4 });
    expect([st.uid, st.gid, st.mode]).toEqual([3, 4, 0o777]);
  });

  it('remove: files, empty and non-empty directories', async () => {
    const d = await tmp();
    const s = await open(d);
    const dir = await s.mkdir(s.rootIno, 'd', D);
    await s.createFile(dir.stat.ino, 'f', A);
    expect(await code(s.remove(s.rootIno, 'd'))).toBe('ENOTEMPTY');
    const r = await s.remove(dir.stat.ino, 'f');
    expect(r.removed.kind).toBe('reg');
    expect(r.dir.after).toBeGreaterThan(r.dir.before);
    expect(await code(s.remove(dir.stat.ino, 'f'))).toBe('ENOENT');
    await s.remove(s.rootIno, 'd');
    expect(await code(s.getattr(dir.stat.ino))).toBe('ESTALE');
    expect((await s.statfs()).files).toBe(1);
  });

  it('mknod makes fifos and sockets', async () => {
    const d = await tmp();
    const s = await open(d);
    const fifo = await s.mknod(s.rootIno, 'fifo', 'fifo', { mode: 0o640, uid: 5, gid: 6 });
    expect([fifo.stat.kind, fifo.stat.mode, fifo.stat.uid, fifo.stat.gid, fifo.stat.spaceUsed]).toEqual(['fifo', 0o640, 5, 6, 4096]);
    expect(await code(s.mknod(s.rootIno, 'fifo', 'fifo', A))).toBe('EEXIST');
    const sock = await s.mknod(s.rootIno, 'sock', 'sock', { mode: 0o600, uid: 5, gid: 6 });
    expect(sock.stat.kind).toBe('sock');
    expect(await code(s.open(fifo.stat.ino, false))).toBe('EINVAL');
    const st = await s.setattr(fifo.stat.ino, { mode: 0o600 });
    expect(st.mode).toBe(0o600);
  });

  it('picks up files made behind its back at startup and by lookup', async () => {
    const d = await tmp();
    const s1 = await open(d);
    await close(s1);
    await writeFile(path.join(d, 'fs', 'pre'), 'x');
    const s = await open(d);
    const pre = await s.lookup(s.rootIno, 'pre');
    expect(pre.size).toBe(1);
    await writeFile(path.join(d, 'fs', 'later'), 'yy');
    const later = await s.lookup(s.rootIno, 'later');
    expect((await s.getattr(later.ino)).size).toBe(2);
    expect((await fsStat(path.join(d, 'fs'))).isDirectory()).toBe(true);
  });
});
