import { describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { LocalStore } from '../../src/store/local/local-store.js';
import type { LocalFile } from '../../src/store/local/open-files.js';
import { Lru } from '../../src/store/local/lru.js';
import { RwLock } from '../../src/store/local/rwlock.js';
import { StoreError } from '../../src/store/types.js';
import { FILE, useTempStores } from './store-helpers.js';

const { fresh } = useTempStores();
const open = async (fdLimit: number, handoffMax?: number): Promise<LocalStore> => (await fresh({ fdLimit, handoffMax })).s;
const A = FILE;

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

describe('fd cache and I/O', () => {
  it('Lru bounds and counts', () => {
    const evicted: number[] = [];
    const l = new Lru<number, string>(2, (k) => evicted.push(k));
    l.set(1, 'a');
    l.set(2, 'b');
    expect(l.get(1)).toBe('a');
    l.set(3, 'c');
    expect(evicted).toEqual([2]);
    expect(l.get(2)).toBeUndefined();
    expect(l.stats()).toMatchObject({ size: 2, hits: 1, misses: 1, evictions: 1 });
  });

  it('RwLock: writers exclude readers, FIFO order', async () => {
    const lock = new RwLock();
    const log: string[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const r1 = lock.shared(async () => {
      log.push('r1+');
      await sleep(20);
      log.push('r1-');
    });
    const w = lock.exclusive(async () => {
      log.push('w+');
      await sleep(5);
      log.push('w-');
    });
    const r2 = lock.shared(async () => {
      log.push('r2+');
    });
    await Promise.all([r1, w, r2]);
    expect(log).toEqual(['r1+', 'r1-', 'w+', 'w-', 'r2+']);
  });

  it('the fd pool (anonymous I/O) is bounded, reused, and evicts removed or replaced inodes', async () => {
    const s = await open(4, 0); // (no create fds parked for a following open: see the hand-off tests)
    const base = await openFds();
    const files = [];
    for (let i = 0; i < 10; i++) files.push((await s.createFile(s.rootIno, `f${i}`, A)).stat);
    for (const f of files) {
      const o = await s.sharedFile(f.ino, true);
      await s.write(o, Buffer.from(`file ${f.ino}`), 0, false);
    }
    expect(s.cacheStats().fd.size).toBe(4);
    expect(await openFds()).toBeLessThanOrEqual(base + 4);
    const misses = s.cacheStats().fd.misses;
    const a = (await s.sharedFile(files[9].ino, false)) as LocalFile;
    const b = (await s.sharedFile(files[9].ino, true)) as LocalFile;
    expect(a.entry).toBe(b.entry); // one pool entry per file; its writable fd serves reads too
    expect(s.cacheStats().fd.misses).toBe(misses);
    expect(s.cacheStats().fd.hits).toBeGreaterThanOrEqual(2);

    // an fd evicted by the LRU is reopened transparently
    const old = await s.sharedFile(files[0].ino, false);
    for (let i = 1; i < 10; i++) await s.sharedFile(files[i].ino, true);
    const buf = Buffer.alloc(64);
    const r = await s.read(old, buf, 0);
    expect(buf.subarray(0, r.bytes).toString()).toBe(`file ${files[0].ino}`);
    expect(r.eof).toBe(true);

    // remove and rename-over drop the cached fd
    await s.sharedFile(files[8].ino, true);
    await s.sharedFile(files[9].ino, true);
    const sizeBefore = s.cacheStats().fd.size;
    await s.remove(s.rootIno, 'f9');
    await s.rename(s.rootIno, 'f7', s.rootIno, 'f8');
    expect(s.cacheStats().fd.size).toBe(sizeBefore - 2);
    let code = '';
    try {
      await s.sharedFile(files[9].ino, false);
    } catch (e) {
      code = (e as StoreError).code;
    }
    expect(code).toBe('ESTALE');
  });

  it('private opens: read loops to fill, eof, fd checks, closed handles', async () => {
    const s = await open(4);
    const f = (await s.createFile(s.rootIno, 'f', A)).stat;
    const w = await s.open(f.ino, true);
    const data = Buffer.alloc(300_000, 7);
    expect(await s.write(w, data.subarray(1000, 201_000), 0, true)).toBe(200_000);
    await s.commit(w);
    const r = await s.open(f.ino, false);
    const into = Buffer.alloc(100_000);
    expect(await s.read(r, into, 0)).toEqual({ bytes: 100_000, eof: false });
    expect(await s.read(r, into, 100_000)).toEqual({ bytes: 100_000, eof: true });
    expect(await s.read(r, into, 150_000)).toEqual({ bytes: 50_000, eof: true });
    expect(await s.read(r, into, 900_000)).toEqual({ bytes: 0, eof: true });
    await expect(s.write(r, Buffer.from('x'), 0, false)).rejects.toMatchObject({ code: 'EBADF' });
    const st = await s.getattr(f.ino);
    expect(st.size).toBe(200_000);
    expect(st.spaceUsed).toBe(200_704); // 49 blocks of 4 KiB
    expect((await s.statfs()).used).toBeGreaterThanOrEqual(200_704 + 4096);
    await s.close(r);
    await s.close(w);
    await expect(s.read(r, into, 0)).rejects.toMatchObject({ code: 'EBADF' });
    const dir = (await s.mkdir(s.rootIno, 'd', A)).stat;
    await expect(s.open(dir.ino, false)).rejects.toMatchObject({ code: 'EISDIR' });
    // an open file stays usable after its last name is removed
    const o = await s.open(f.ino, false);
    await s.remove(s.rootIno, 'f');
    expect((await s.read(o, Buffer.alloc(10), 0)).bytes).toBe(10);
    await s.close(o);
  });
});
