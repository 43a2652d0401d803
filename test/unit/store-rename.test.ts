import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/store/local/local-store.js';
import { DIR, FILE, storeCode, useTempStores } from './store-helpers.js';

const { fresh } = useTempStores();
const open = async (): Promise<LocalStore> => (await fresh()).s;
const A = FILE;
const D = DIR;
const code = storeCode;

describe('LocalStore rename', () => {
  it('moves a file within and across directories', async () => {
    const s = await open();
    const a = await s.mkdir(s.rootIno, 'a', D);
    const b = await s.mkdir(s.rootIno, 'b', D);
    const f = await s.createFile(a.stat.ino, 'f', A);
    const r1 = await s.rename(a.stat.ino, 'f', a.stat.ino, 'g');
    expect(r1.from).toEqual(r1.to);
    expect(r1.from.after).toBeGreaterThan(r1.from.before);
    expect(r1.replaced).toBeUndefined();
    expect((await s.lookup(a.stat.ino, 'g')).ino).toBe(f.stat.ino);
    expect(await code(s.lookup(a.stat.ino, 'f'))).toBe('ENOENT');
    const r2 = await s.rename(a.stat.ino, 'g', b.stat.ino, 'h');
    expect(r2.from.after).toBeGreaterThan(r2.from.before);
    expect(r2.to.after).toBeGreaterThan(r2.to.before);
    expect((await s.getattr(f.stat.ino)).ino).toBe(f.stat.ino);
    expect((await s.readdir(a.stat.ino, 0, 10)).entries).toEqual([]);
    expect((await s.readdir(b.stat.ino, 0, 10)).entries.map((e) => e.name)).toEqual(['h']);
  });

  it('replaces a file; the replaced inode goes stale', async () => {
    const s = await open();
    const f = await s.createFile(s.rootIno, 'f', A);
    const g = await s.createFile(s.rootIno, 'g', A);
    const r = await s.rename(s.rootIno, 'f', s.rootIno, 'g');
    expect(r.replaced?.ino).toBe(g.stat.ino);
    expect(await code(s.verify(g.stat.ino, g.stat.gen))).toBe('ESTALE');
    expect((await s.lookup(s.rootIno, 'g')).ino).toBe(f.stat.ino);
    expect((await s.readdir(s.rootIno, 0, 10)).entries.map((e) => e.name)).toEqual(['g']);
  });

  it('replaces an empty directory, refuses a non-empty one and kind mismatches', async () => {
    const s = await open();
    const x = await s.mkdir(s.rootIno, 'x', D);
    const y = await s.mkdir(s.rootIno, 'y', D);
    const f = await s.createFile(s.rootIno, 'f', A);
    expect(await code(s.rename(s.rootIno, 'f', s.rootIno, 'y'))).toBe('EISDIR');
    expect(await code(s.rename(s.rootIno, 'x', s.rootIno, 'f'))).toBe('ENOTDIR');
    await s.createFile(y.stat.ino, 'inside', A);
    expect(await code(s.rename(s.rootIno, 'x', s.rootIno, 'y'))).toBe('ENOTEMPTY');
    await s.remove(y.stat.ino, 'inside');
    const r = await s.rename(s.rootIno, 'x', s.rootIno, 'y');
    expect(r.replaced?.ino).toBe(y.stat.ino);
    expect((await s.lookup(s.rootIno, 'y')).ino).toBe(x.stat.ino);
    expect(await code(s.getattr(y.stat.ino))).toBe('ESTALE');
    expect((await s.getattr(f.stat.ino)).kind).toBe('reg');
  });

  it('refuses to move a directory into its own subtree', async () => {
    const s = await open();
    const a = await s.mkdir(s.rootIno, 'a', D);
    const b = await s.mkdir(a.stat.ino, 'b', D);
    const c = await s.mkdir(b.stat.ino, 'c', D);
    expect(await code(s.rename(s.rootIno, 'a', c.stat.ino, 'a'))).toBe('EINVAL');
    expect(await code(s.rename(s.rootIno, 'a', a.stat.ino, 'self'))).toBe('EINVAL');
    // the reverse is fine
    await s.rename(b.stat.ino, 'c', s.rootIno, 'c');
    expect((await s.parent(c.stat.ino)).ino).toBe(s.rootIno);
  });

  it('renaming a directory keeps its descendants reachable', async () => {
    const s = await open();
    const a = await s.mkdir(s.rootIno, 'a', D);
    const b = await s.mkdir(a.stat.ino, 'b', D);
    const f = await s.createFile(b.stat.ino, 'f', A);
    const o = await s.open(f.stat.ino, true);
    await s.write(o, Buffer.from('data'), 0, true);
    await s.close(o);
    const n = await s.mkdir(s.rootIno, 'n', D);
    await s.rename(s.rootIno, 'a', n.stat.ino, 'moved');
    const st = await s.verify(f.stat.ino, f.stat.gen);
    expect(st.size).toBe(4);
    const o2 = await s.open(f.stat.ino, false);
    const buf = Buffer.alloc(4);
    expect(await s.read(o2, buf, 0)).toEqual({ bytes: 4, eof: true });
    expect(buf.toString()).toBe('data');
    await s.close(o2);
    expect((await s.parent(a.stat.ino)).ino).toBe(n.stat.ino);
    await s.createFile(b.stat.ino, 'g', A);
  });

  it('renaming one hard link onto another name of the same file does nothing', async () => {
    const s = await open();
    const f = await s.createFile(s.rootIno, 'f', A);
    await s.link(f.stat.ino, s.rootIno, 'g');
    const r = await s.rename(s.rootIno, 'f', s.rootIno, 'g');
    expect(r.replaced).toBeUndefined();
    expect((await s.lookup(s.rootIno, 'f')).ino).toBe(f.stat.ino);
    expect((await s.lookup(s.rootIno, 'g')).ino).toBe(f.stat.ino);
    expect((await s.getattr(f.stat.ino)).nlink).toBe(2);
    const self = await s.rename(s.rootIno, 'f', s.rootIno, 'f');
    expect(self.from.after).toBe(self.from.before);
  });

  it('rename over the last name of a hard-linked file keeps the other name', async () => {
    const s = await open();
    const f = await s.createFile(s.rootIno, 'f', A);
    await s.link(f.stat.ino, s.rootIno, 'g');
    await s.createFile(s.rootIno, 'h', A);
    await s.rename(s.rootIno, 'h', s.rootIno, 'f');
    const st = await s.verify(f.stat.ino, f.stat.gen);
    expect(st.nlink).toBe(1);
    expect((await s.lookup(s.rootIno, 'g')).ino).toBe(f.stat.ino);
  });

  it('ENOENT for a missing source', async () => {
    const s = await open();
    expect(await code(s.rename(s.rootIno, 'nope', s.rootIno, 'x'))).toBe('ENOENT');
  });
});
