import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CreateAttrs } from '../../src/store/types.js';
import { FILE, useTempStores } from './store-helpers.js';

// The fast paths of the store: create fd hand-off, create without needless
// chown/chmod, shared stat reads, write-burst stat upkeep.

const { fresh: open } = useTempStores();
const A = FILE;
const isRoot = process.getuid?.() === 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2);
}
const openFds = async () => (await readdir('/proc/self/fd')).length;

describe('create fd hand-off', () => {
  it('open() right after createFile uses the create fd; the file behaves as with a fresh open', async () => {
    const { s, root } = await open();
    const f = (await s.createFile(s.rootIno, 'f', A)).stat;
    expect(s.cacheStats().handoff).toMatchObject({ parked: 1, used: 0, size: 1 });
    const w = await s.open(f.ino, true);
    expect(s.cacheStats().handoff).toMatchObject({ parked: 1, used: 1, size: 0 });
    expect(w.writable).toBe(true);
    expect(await s.write(w, Buffer.from('hello'), 0, true)).toBe(5);
    await s.close(w);
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('hello');
    expect((await s.getattr(f.ino)).size).toBe(5);

    // read-only open of a just-created file: the O_RDWR create fd serves it, writes are refused as before
    const g = (await s.createFile(s.rootIno, 'g', A)).stat;
    const r = await s.open(g.ino, false);
    expect(s.cacheStats().handoff.used).toBe(2);
    await expect(s.write(r, Buffer.from('x'), 0, false)).rejects.toMatchObject({ code: 'EBADF' });
    expect(await s.read(r, Buffer.alloc(4), 0)).toEqual({ bytes: 0, eof: true });
    await s.close(r);
    await expect(s.read(r, Buffer.alloc(4), 0)).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('parked fds are bounded, closed when unused for handoffMs, and dropped with their file', async () => {
    const { s } = await open({ handoffMs: 100, handoffMax: 3 });
    const base = await openFds();
    const files = [];
    for (let i = 0; i < 8; i++) files.push((await s.createFile(s.rootIno, `f${i}`, A)).stat);
    expect(s.cacheStats().handoff).toMatchObject({ parked: 8, size: 3, capacity: 3, expired: 5 });
    expect(await openFds()).toBeLessThanOrEqual(base + 3);
    // removed (or replaced) files lose their parked fd; open then fails as it always did
    await s.remove(s.rootIno, 'f7');
    expect(s.cacheStats().handoff.size).toBe(2);
    await expect(s.open(files[7].ino, true)).rejects.toMatchObject({ code: 'ESTALE' });
    await sleep(300);
    expect(s.cacheStats().handoff).toMatchObject({ size: 0, used: 0 });
    expect(await openFds()).toBeLessThanOrEqual(base);
    // an open after expiry opens the file by its path
    const o = await s.open(files[6].ino, true);
    await s.write(o, Buffer.from('late'), 0, false);
    await s.close(o);
    expect((await s.getattr(files[6].ino)).size).toBe(4);
    // its fd stays cached in the pool after the close (one fd), until the file goes
    expect(await openFds()).toBeLessThanOrEqual(base + 1);
    await s.remove(s.rootIno, 'f6');
    expect(await openFds()).toBeLessThanOrEqual(base);
  });

  it('shutdown closes parked fds; handoffMax 0 turns the hand-off off', async () => {
    const { s } = await open();
    const base = await openFds();
    for (let i = 0; i < 5; i++) await s.createFile(s.rootIno, `f${i}`, A);
    expect(await openFds()).toBe(base + 5);
    await s.shutdown();
    await sleep(10);
    expect(await openFds()).toBeLessThanOrEqual(base);
    const { s: off } = await open({ handoffMax: 0 });
    const base2 = await openFds();
    const f = (await off.createFile(off.rootIno, 'f', A)).stat;
    expect(await openFds()).toBe(base2);
    const o = await off.open(f.ino, true);
    expect(off.cacheStats().handoff).toMatchObject({ parked: 0, used: 0 });
    await off.close(o);
  });
});

describe('createFile sets exactly the owner and mode asked for', () => {
  it.runIf(isRoot)('on disk (not emulated), whatever the umask or a setgid parent left', async () => {
    const { s, root } = await open({ emulateOwnership: false });
    const sg = (await s.mkdir(s.rootIno, 'sg', { mode: 0o2775, uid: 0, gid: 4321 })).stat;
    const cases: Array<[number, CreateAttrs]> = [
      [s.rootIno, { mode: 0o644, uid: 0, gid: 0 }],
      [s.rootIno, { mode: 0o666, uid: 0, gid: 0 }], // the server's umask would strip 022
      [s.rootIno, { mode: 0o4755, uid: 0, gid: 0 }],
      [s.rootIno, { mode: 0o2770, uid: 1234, gid: 5678 }],
      [s.rootIno, { mode: 0, uid: 7, gid: 0 }],
      [sg.ino, { mode: 0o640, uid: 0, gid: 0 }], // the directory would hand down gid 4321
      [sg.ino, { mode: 0o640, uid: 0, gid: 4321 }],
      [s.rootIno, { mode: 0o600, uid: 0, gid: 0, size: 10_000, mtime: { sec: 1_000_000, nsec: 5000 } }],
    ];
    let i = 0;
    for (const [dir, attrs] of cases) {
      const name = `f${i++}`;
      const st = (await s.createFile(dir, name, attrs)).stat;
      const disk = fs.lstatSync(path.join(root, dir === sg.ino ? 'sg' : '', name));
      expect([st.mode, st.uid, st.gid]).toEqual([attrs.mode, attrs.uid, attrs.gid]);
      expect([disk.mode & 0o7777, disk.uid, disk.gid]).toEqual([attrs.mode, attrs.uid, attrs.gid]);
      expect(st.size).toBe(attrs.size ?? 0);
      expect(disk.size).toBe(attrs.size ?? 0);
      if (attrs.mtime && attrs.mtime !== 'now') expect(st.mtime).toEqual(attrs.mtime);
      // the reported stat is the file's stat as it is now
      expect(st.ctime).toEqual((await s.getattr(st.ino)).ctime);
      expect(Number(fs.lstatSync(path.join(root, dir === sg.ino ? 'sg' : '', name), { bigint: true }).ctimeNs % 1_000_000_000n)).toBe(st.ctime.nsec);
    }
  });

  it('emulated: reported owner and mode exact, file accessible on disk', async () => {
    const { s, root } = await open({ emulateOwnership: true });
    const st = (await s.createFile(s.rootIno, 'f', { mode: 0o4000, uid: 502, gid: 21 })).stat;
    expect([st.mode, st.uid, st.gid]).toEqual([0o4000, 502, 21]);
    expect(fs.lstatSync(path.join(root, 'f')).mode & 0o600).toBe(0o600);
    const o = await s.open(st.ino, true);
    await s.write(o, Buffer.from('ok'), 0, true);
    await s.close(o);
  });
});

describe('stat reads', () => {
  it('concurrent reads of one inode share one lstat; the result is fresh', async () => {
    const { s } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', { mode: 0o755, uid: 0, gid: 0 })).stat;
    const r = await s.createFile(d.ino, 'f', A); // the directory's stat is not cached while... it is, after dirAfter
    const inner = (s as unknown as { resolver: { statCache: { delete(ino: number): void } } }).resolver;
    inner.statCache.delete(d.ino);
    const before = s.cacheStats().resolves;
    const all = await Promise.all(Array.from({ length: 10 }, () => s.getattr(d.ino)));
    const after = s.cacheStats().resolves;
    expect(after.started - before.started).toBe(1);
    expect(after.shared - before.shared).toBe(9);
    for (const st of all) expect(st).toBe(all[0]);
    expect(all[0].change).toBe(r.dir.after);
  });

  it('a mutation of one inode does not keep another inode from being cached', async () => {
    const { s } = await open();
    const a = (await s.createFile(s.rootIno, 'a', A)).stat;
    const b = (await s.createFile(s.rootIno, 'b', A)).stat;
    const inner = (s as unknown as { resolver: { statCache: { delete(ino: number): void } } }).resolver;
    inner.statCache.delete(b.ino);
    const o = await s.sharedFile(a.ino, true);
    // writes to a run while b is read: b's stat is still cached
    await Promise.all([s.write(o, Buffer.alloc(1000, 1), 0, false), s.getattr(b.ino), s.write(o, Buffer.alloc(1000, 2), 1000, false)]);
    const hits = s.cacheStats().stat.hits;
    await s.getattr(b.ino);
    expect(s.cacheStats().stat.hits).toBe(hits + 1);
  });
});

describe('parallel writes to one file', () => {
  it('change stays above everything reported; size and metered space are current once the burst ends', async () => {
    const { s } = await open();
    const f = (await s.createFile(s.rootIno, 'f', A)).stat;
    const o = await s.sharedFile(f.ino, true);
    const chunk = 64 * 1024;
    for (let round = 0; round < 5; round++) {
      const seen: number[] = [(await s.getattr(f.ino)).change];
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          await s.write(o, Buffer.alloc(chunk, i), (round * 16 + i) * chunk, false);
          seen.push((await s.getattr(f.ino)).change);
        }),
      );
      const after = await s.getattr(f.ino);
      for (const c of seen) expect(after.change).toBeGreaterThanOrEqual(c);
      expect(after.size).toBe((round + 1) * 16 * chunk);
      // a later write still moves the change attribute past everything seen
      await s.write(o, Buffer.from('z'), 0, false);
      expect((await s.getattr(f.ino)).change).toBeGreaterThan(Math.max(...seen, after.change));
    }
    // the last write of a burst refreshed the metered space without any getattr
    await Promise.all(Array.from({ length: 8 }, (_, i) => s.write(o, Buffer.alloc(chunk, 9), (80 + i) * chunk, false)));
    expect((await s.statfs()).used).toBeGreaterThanOrEqual(88 * chunk);
  });
});

