import { describe, expect, it } from 'vitest';
import { appendFile, lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore } from '../../src/store/local/local-store.js';
import { OwnerOverlay } from '../../src/store/local/overlay.js';
import { useTempStores } from './store-helpers.js';

const { tmp, openAt, close } = useTempStores();
const open = (d: string, emulateOwnership: boolean): Promise<LocalStore> => openAt(d, { emulateOwnership });

const isRoot = process.getuid?.() === 0;

describe('ownership', () => {
  it('emulated: exact uid/gid/mode reported, real files stay accessible, survives a restart', async () => {
    const d = await tmp();
    const s1 = await open(d, true);
    expect(s1.emulateOwnership).toBe(true);
    const dir = await s1.mkdir(s1.rootIno, 'dir', { mode: 0o2700, uid: 501, gid: 20 });
    const f = await s1.createFile(dir.stat.ino, 'f', { mode: 0o4000, uid: 502, gid: 21 });
    const ln = await s1.symlink(dir.stat.ino, 'ln', 'f', { mode: 0o777, uid: 503, gid: 22 });
    const fifo = await s1.mknod(dir.stat.ino, 'p', 'fifo', { mode: 0o000, uid: 504, gid: 23 });
    const gone = await s1.createFile(s1.rootIno, 'gone', { mode: 0o600, uid: 9, gid: 9 });
    expect([dir.stat.uid, dir.stat.gid, dir.stat.mode]).toEqual([501, 20, 0o2700]);
    expect([f.stat.uid, f.stat.gid, f.stat.mode]).toEqual([502, 21, 0o4000]);
    expect([ln.stat.uid, ln.stat.gid, ln.stat.mode]).toEqual([503, 22, 0o777]);
    expect([fifo.stat.uid, fifo.stat.gid, fifo.stat.mode]).toEqual([504, 23, 0]);
    const root = await s1.getattr(s1.rootIno);
    expect([root.uid, root.gid, root.mode]).toEqual([0, 0, 0o755]);
    // on disk: accessible to the server
    const real = await lstat(path.join(d, 'fs', 'dir', 'f'));
    expect(real.mode & 0o600).toBe(0o600);
    expect((await lstat(path.join(d, 'fs', 'dir'))).mode & 0o700).toBe(0o700);
    const o = await s1.open(f.stat.ino, true);
    await s1.write(o, Buffer.from('ok'), 0, true);
    await s1.close(o);
    const st = await s1.setattr(f.stat.ino, { uid: 600 });
    expect([st.uid, st.gid, st.mode]).toEqual([600, 21, 0]); // chown dropped setuid
    await s1.setattr(f.stat.ino, { mode: 0o640, gid: 77 });
    await s1.remove(s1.rootIno, 'gone');
    await close(s1);

    const s2 = await open(d, true);
    const f2 = await s2.verify(f.stat.ino, f.stat.gen);
    expect([f2.uid, f2.gid, f2.mode]).toEqual([600, 77, 0o640]);
    const d2 = await s2.getattr(dir.stat.ino);
    expect([d2.uid, d2.gid, d2.mode]).toEqual([501, 20, 0o2700]);
    const l2 = await s2.getattr(ln.stat.ino);
    expect([l2.uid, l2.gid]).toEqual([503, 22]);
    const p2 = await s2.getattr(fifo.stat.ino);
    expect([p2.uid, p2.gid, p2.mode]).toEqual([504, 23, 0]);
    // the dead inode's entry was dropped and the journal compacted
    const journal = await readFile(path.join(d, 'meta', 'store-owners.journal'), 'utf8');
    expect(journal.split('\n').filter(Boolean).every((l) => l.startsWith('s '))).toBe(true);
    expect(journal).not.toContain(`s ${gone.stat.ino} `);
  });

  it('overlay journal: a torn last record is ignored', async () => {
    const d = await tmp();
    const o1 = await OwnerOverlay.open(d);
    await o1.set(1, { gen: 5, uid: 1, gid: 2, mode: 0o644 });
    await o1.set(2, { gen: 6, uid: 3, gid: 4, mode: 0o600 });
    await o1.set(1, { gen: 5, uid: 7, gid: 8, mode: 0o640 });
    await o1.drop(2);
    await o1.close();
    await appendFile(path.join(d, 'store-owners.journal'), 's 3 1 2 3 7'); // torn: no newline
    const o2 = await OwnerOverlay.open(d);
    expect(o2.get(1)).toEqual({ gen: 5, uid: 7, gid: 8, mode: 0o640 });
    expect(o2.get(2)).toBeUndefined();
    expect(o2.get(3)).toBeUndefined();
    await o2.compact();
    await o2.close();
    const o3 = await OwnerOverlay.open(d);
    expect(o3.size).toBe(1);
    await o3.close();
  });

  it.runIf(isRoot)('as root: ownership and modes are applied on disk exactly, umask ignored', async () => {
    const d = await tmp();
    const s = await open(d, false);
    const old = process.umask(0o077);
    try {
      const dir = await s.mkdir(s.rootIno, 'dir', { mode: 0o2775, uid: 1234, gid: 5678 });
      const f = await s.createFile(dir.stat.ino, 'f', { mode: 0o6755, uid: 1234, gid: 5678 });
      const ln = await s.symlink(dir.stat.ino, 'ln', 'f', { mode: 0o777, uid: 42, gid: 43 });
      const onDisk = await lstat(path.join(d, 'fs', 'dir', 'f'));
      expect([onDisk.uid, onDisk.gid, onDisk.mode & 0o7777]).toEqual([1234, 5678, 0o6755]);
      const dDisk = await lstat(path.join(d, 'fs', 'dir'));
      expect([dDisk.uid, dDisk.gid, dDisk.mode & 0o7777]).toEqual([1234, 5678, 0o2775]);
      const lDisk = await lstat(path.join(d, 'fs', 'dir', 'ln'));
      expect([lDisk.uid, lDisk.gid]).toEqual([42, 43]);
      expect([f.stat.uid, f.stat.gid, f.stat.mode]).toEqual([1234, 5678, 0o6755]);
      expect(ln.stat.uid).toBe(42);
      const st = await s.setattr(f.stat.ino, { uid: 1, gid: 2, mode: 0o4711 });
      expect([st.uid, st.gid, st.mode]).toEqual([1, 2, 0o4711]);
      const rootDisk = await lstat(path.join(d, 'fs'));
      expect([rootDisk.uid, rootDisk.gid, rootDisk.mode & 0o7777]).toEqual([0, 0, 0o755]);
    } finally {
      process.umask(old);
    }
  });
});
