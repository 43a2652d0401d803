/**
 * The store's fd pool (src/store/local/fd-pool.ts): opens share one bounded
 * set of fds, evicted fds are reopened on demand, in-flight I/O pins its fd,
 * removed-while-open files keep a pinned fd up to a bound; and the state
 * manager's open-state limits (per client: DQUOT; server-wide: RESOURCE /
 * DELAY) with the real store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import { NfsStateManager } from '../../src/state/manager.js';
import { FdPool } from '../../src/store/local/fd-pool.js';
import { sys } from '../../src/store/local/sys.js';
import type { LocalStore } from '../../src/store/local/local-store.js';
import type { OpenFile, Stat } from '../../src/store/types.js';
import { FILE, storeCode, useTempStores } from './store-helpers.js';
import { mount40, mount41, silent, tempDir } from './state-fakes.js';

const { fresh, tmp } = useTempStores();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
/** The fd count once background closes (evictions) have run. */
async function settledFds(): Promise<number> {
  await sleep(20);
  return openFds();
}

async function makeFiles(s: LocalStore, n: number, prefix = 'f'): Promise<Stat[]> {
  const out: Stat[] = [];
  for (let i = 0; i < n; i++) out.push((await s.createFile(s.rootIno, `${prefix}${i}`, FILE)).stat);
  return out;
}

async function readAll(s: LocalStore, f: OpenFile, max = 256): Promise<string> {
  const buf = Buffer.alloc(max);
  const r = await s.read(f, buf, 0);
  return buf.subarray(0, r.bytes).toString();
}

describe('fd pool: opens hold references, not fds', () => {
  it('100 open files with capacity 8: data right, fds bounded, evictions counted, closed fds cached within the bound', async () => {
    const { s } = await fresh({ fdLimit: 8, handoffMax: 0 });
    const files = await makeFiles(s, 100);
    const base = await openFds();
    const opens: OpenFile[] = [];
    for (const f of files) opens.push(await s.open(f.ino, true));
    expect(await settledFds()).toBeLessThanOrEqual(base + 8);
    for (let i = 0; i < opens.length; i++) expect(await s.write(opens[i]!, Buffer.from(`data of file ${i}`), 0, false)).toBe(`data of file ${i}`.length);
    expect(await settledFds()).toBeLessThanOrEqual(base + 8);
    // every fd was evicted by now: reads reopen them
    for (let i = 0; i < opens.length; i++) expect(await readAll(s, opens[i]!)).toBe(`data of file ${i}`);
    // read-only opens of the same files share the entries (a read-write fd serves them)
    const ro = await s.open(files[99]!.ino, false);
    expect(await readAll(s, ro)).toBe('data of file 99');
    const st = s.cacheStats().fd;
    expect(st.size).toBeLessThanOrEqual(8);
    expect(st.capacity).toBe(8);
    expect(st.refs).toBe(101);
    expect(st.entries).toBe(100);
    expect(st.evictions).toBeGreaterThanOrEqual(100 + 100 + 100 - 8 - 8);
    expect(st.misses).toBeGreaterThanOrEqual(300);
    expect(st.hits).toBeGreaterThan(0);
    expect(await settledFds()).toBeLessThanOrEqual(base + 8);

    await s.close(ro);
    for (const o of opens) await s.close(o);
    // the last fds used stay cached for the next open of their files, within the capacity
    const closed = s.cacheStats().fd;
    expect(closed.refs).toBe(0);
    expect(closed.size).toBeLessThanOrEqual(8);
    expect(await openFds()).toBeLessThanOrEqual(base + 8);
    // closed opens are closed
    expect(await storeCode(s.read(opens[0]!, Buffer.alloc(4), 0))).toBe('EBADF');
    // the next open of a file whose fd is cached opens nothing
    const cachedIno = files[99]!.ino;
    const misses = s.cacheStats().fd.misses;
    const again = await s.open(cachedIno, true);
    expect(await readAll(s, again)).toBe('data of file 99');
    expect(s.cacheStats().fd.misses).toBe(misses);
    await s.close(again);
    // removing the files closes their cached fds
    for (let i = 0; i < files.length; i++) await s.remove(s.rootIno, `f${i}`);
    expect(s.cacheStats().fd).toMatchObject({ size: 0, refs: 0, entries: 0 });
    expect(await openFds()).toBeLessThanOrEqual(base);
  });

  it('an open whose fd is present costs no open: hits; parked create fds count against the capacity', async () => {
    const { s } = await fresh({ fdLimit: 8, handoffMax: 6 });
    const [a] = await makeFiles(s, 1, 'a');
    const o = await s.open(a!.ino, true); // the create fd, handed over
    const before = s.cacheStats().fd;
    for (let i = 0; i < 20; i++) await s.write(o, Buffer.from('x'), i, false);
    const after = s.cacheStats().fd;
    expect(after.misses).toBe(before.misses);
    expect(after.hits - before.hits).toBe(20);
    // six parked create fds: the pool keeps at most 2 of its own
    await makeFiles(s, 6, 'p');
    expect(s.cacheStats().handoff.size).toBe(6);
    const others = await makeFiles(s, 6, 'q'); // (parks push out the oldest parked fds)
    for (const f of others) await s.write(await s.sharedFile(f.ino, true), Buffer.from('y'), 0, false);
    const st = s.cacheStats().fd;
    expect(st.size + st.external).toBeLessThanOrEqual(8);
    expect(st.external).toBe(s.cacheStats().handoff.size);
    await s.close(o);
  });

  it('reopen after eviction follows renames and refuses a file replaced behind our back', async () => {
    const { s, root } = await fresh({ fdLimit: 2, handoffMax: 0 });
    const [a, b, c] = await makeFiles(s, 3);
    const oa = await s.open(a!.ino, true);
    await s.write(oa, Buffer.from('contents of a'), 0, false);
    const ob = await s.open(b!.ino, false);
    const oc = await s.open(c!.ino, false);
    expect(s.cacheStats().fd.size).toBe(2); // a's fd went
    await s.rename(s.rootIno, 'f0', s.rootIno, 'moved');
    expect(await readAll(s, oa)).toBe('contents of a');
    // b's fd evicted, then its name taken by another file outside the server: no I/O to the wrong file
    await readAll(s, oa);
    await readAll(s, oc);
    fs.writeFileSync(path.join(root, 'other'), 'not b');
    fs.renameSync(path.join(root, 'other'), path.join(root, 'f1'));
    expect(await storeCode(s.read(ob, Buffer.alloc(8), 0))).toBe('ESTALE');
    for (const o of [oa, ob, oc]) await s.close(o);
    // closed, a's and c's fds stay cached (within the capacity of 2); b's entry was refused
    expect(s.cacheStats().fd).toMatchObject({ size: 2, refs: 0 });
  });

  it('concurrent I/O on more files than fds: every byte lands where it should', async () => {
    const { s } = await fresh({ fdLimit: 3, handoffMax: 0 });
    const files = await makeFiles(s, 20);
    const opens = await Promise.all(files.map((f) => s.open(f.ino, true)));
    await Promise.all(
      opens.flatMap((o, i) => Array.from({ length: 8 }, (_, k) => s.write(o, Buffer.from(`${String.fromCharCode(97 + k)}${i % 10}`), k * 2, k % 3 === 0))),
    );
    const texts = await Promise.all(opens.map((o) => readAll(s, o)));
    texts.forEach((t, i) => expect(t).toBe(Array.from({ length: 8 }, (_, k) => `${String.fromCharCode(97 + k)}${i % 10}`).join('')));
    await Promise.all(opens.map((o) => s.commit(o)));
    for (const o of opens) await s.close(o);
    expect(s.cacheStats().fd).toMatchObject({ size: 3, refs: 0 });
  });

  it('an I/O in flight pins its fd: eviction passes it by, and the pool shrinks back after', async () => {
    const dir = await tmp();
    const paths = ['a', 'b', 'c'].map((n) => path.join(dir, n));
    for (const p of paths) fs.writeFileSync(p, p);
    const pool = new FdPool({ capacity: 1, detachedMax: 1, reopen: (ino, _gen, w) => sys.open(paths[ino]!, w ? fs.constants.O_RDWR : fs.constants.O_RDONLY) });
    const [ea, eb, ec] = [0, 1, 2].map((i) => pool.entry(i, 1));
    await pool.run(ea!, false, async (fa) => {
      await pool.run(eb!, false, async (fb) => {
        await pool.run(ec!, false, async () => undefined);
        expect((await fb.stat({ bigint: true })).size).toBeGreaterThan(0);
      });
      // b and c were evicted once their calls returned; a is still usable
      expect(pool.stats().size).toBe(1);
      expect((await fa.stat({ bigint: true })).size).toBeGreaterThan(0);
    });
    expect(pool.stats()).toMatchObject({ size: 1, misses: 3, evictions: 2 });
    await pool.run(eb!, false, async () => undefined);
    expect(pool.stats()).toMatchObject({ size: 1, misses: 4, evictions: 3 });
    await pool.close();
    expect(pool.stats().size).toBe(0);
    await expect(pool.run(ea!, false, async () => undefined)).rejects.toMatchObject({ code: 'ESTALE' });
  });

  it('shed() (the process ran out of fds) closes at least half of the idle fds', async () => {
    const dir = await tmp();
    const paths = Array.from({ length: 6 }, (_, i) => path.join(dir, `f${i}`));
    for (const p of paths) fs.writeFileSync(p, p);
    const pool = new FdPool({ capacity: 10, detachedMax: 1, reopen: (ino) => sys.open(paths[ino]!, fs.constants.O_RDONLY) });
    for (let i = 0; i < 6; i++) await pool.run(pool.entry(i, 1), false, async () => undefined);
    expect(pool.stats().size).toBe(6);
    await pool.shed();
    expect(pool.stats().size).toBe(3);
    await pool.close();
  });

  it('other fd users (readdir, readlink, mkdir, special files, setattr) leave no fd behind', async () => {
    const { s } = await fresh({ handoffMax: 0 });
    const [f] = await makeFiles(s, 1);
    const d = (await s.mkdir(s.rootIno, 'd', { mode: 0o755, uid: 0, gid: 0 })).stat;
    const l = (await s.symlink(s.rootIno, 'l', 'f0', FILE)).stat;
    const base = await openFds();
    for (let i = 0; i < 20; i++) {
      await s.readdir(s.rootIno, 0, 100);
      expect(await s.readlink(l.ino)).toBe('f0');
      const sub = (await s.mkdir(d.ino, `sub${i}`, { mode: 0o700, uid: 0, gid: 0 })).stat;
      await s.setattr(sub.ino, { mode: 0o755 });
      await s.setattr(f!.ino, { size: i, mode: 0o600 });
      await s.setattr(l.ino, { mtime: { sec: 1000 + i, nsec: 0 } });
      const fifo = (await s.mknod(d.ino, `p${i}`, 'fifo', FILE)).stat;
      await s.setattr(fifo.ino, { mode: 0o640 });
      await s.mknod(d.ino, `s${i}`, 'sock', FILE);
      await s.readdir(d.ino, 0, 100);
      expect(await storeCode(s.open(fifo.ino, false))).toBe('EINVAL');
      expect(await storeCode(s.open(d.ino, false))).toBe('EISDIR');
      await s.remove(d.ino, `p${i}`);
    }
    expect(await settledFds()).toBeLessThanOrEqual(base);
  });
});

describe('fd pool: files removed while open', () => {
  it('stay readable and writable through their open (fd pinned), even when their fd was evicted before the remove', async () => {
    const { s } = await fresh({ fdLimit: 2, handoffMax: 0 });
    const [a, b, c] = await makeFiles(s, 3);
    const oa = await s.open(a!.ino, true);
    await s.write(oa, Buffer.from('alive'), 0, false);
    const ob = await s.open(b!.ino, false);
    const oc = await s.open(c!.ino, false);
    expect(s.cacheStats().fd.size).toBe(2); // a's fd was evicted
    await s.remove(s.rootIno, 'f0');
    expect(s.cacheStats().fd.pinnedDetached).toBe(1);
    // more I/O elsewhere cannot evict it
    for (let i = 0; i < 5; i++) {
      await readAll(s, ob);
      await readAll(s, oc);
    }
    expect(await readAll(s, oa)).toBe('alive');
    await s.write(oa, Buffer.from('ALIVE'), 0, false);
    expect(await readAll(s, oa)).toBe('ALIVE');
    expect((await s.getattr(a!.ino)).nlink).toBe(0);
    await s.close(oa);
    expect(s.cacheStats().fd.pinnedDetached).toBe(0);
    expect(await storeCode(s.getattr(a!.ino))).toBe('ESTALE');
    await s.close(ob);
    await s.close(oc);
  });

  it('are bounded: beyond detachedFdMax the oldest loses its fd (ESTALE), the others carry on; closing releases everything', async () => {
    const { s } = await fresh({ fdLimit: 16, detachedFdMax: 2, handoffMax: 0 });
    const files = await makeFiles(s, 3);
    const base = await openFds();
    const opens: OpenFile[] = [];
    for (const [i, f] of files.entries()) {
      const o = await s.open(f.ino, true);
      await s.write(o, Buffer.from(`file ${i}`), 0, false);
      opens.push(o);
    }
    // a second open of the oldest: the drop hits every open of the file
    const again = await s.open(files[0]!.ino, false);
    for (let i = 0; i < 3; i++) await s.remove(s.rootIno, `f${i}`);
    expect(s.cacheStats().fd).toMatchObject({ pinnedDetached: 2, detachedMax: 2, detachedDropped: 1 });
    expect(await storeCode(s.read(opens[0]!, Buffer.alloc(8), 0))).toBe('ESTALE');
    expect(await storeCode(s.write(opens[0]!, Buffer.from('x'), 0, false))).toBe('ESTALE');
    expect(await storeCode(s.read(again, Buffer.alloc(8), 0))).toBe('ESTALE');
    expect(await storeCode(s.getattr(files[0]!.ino))).toBe('ESTALE');
    expect(await readAll(s, opens[1]!)).toBe('file 1');
    expect(await readAll(s, opens[2]!)).toBe('file 2');
    expect((await s.getattr(files[2]!.ino)).size).toBe(6);
    await s.close(again);
    for (const o of opens) await s.close(o);
    expect(s.cacheStats().fd).toMatchObject({ size: 0, pinnedDetached: 0, refs: 0 });
    expect(await openFds()).toBeLessThanOrEqual(base);
  });

  it('a file renamed over while open is detached too; without opens a removed file keeps no fd', async () => {
    const { s } = await fresh({ fdLimit: 8, handoffMax: 0 });
    const [a, b] = await makeFiles(s, 2);
    const oa = await s.open(a!.ino, true);
    await s.write(oa, Buffer.from('old a'), 0, false);
    await s.rename(s.rootIno, 'f1', s.rootIno, 'f0');
    expect(await readAll(s, oa)).toBe('old a');
    expect(s.cacheStats().fd.pinnedDetached).toBe(1);
    await s.close(oa);
    // anonymous I/O keeps an fd cached; the remove closes it
    await s.write(await s.sharedFile(b!.ino, true), Buffer.from('b'), 0, false);
    expect(s.cacheStats().fd.size).toBe(1);
    await s.remove(s.rootIno, 'f0');
    expect(s.cacheStats().fd).toMatchObject({ size: 0, pinnedDetached: 0, entries: 0 });
  });
});

describe('open-state limits (state manager with the real store)', () => {
  let sm: NfsStateManager | undefined;
  afterEach(async () => {
    await sm?.shutdown();
    sm = undefined;
  });

  async function status(p: Promise<unknown>): Promise<number> {
    try {
      await p;
      return N.NFS4_OK;
    } catch (err) {
      if (err instanceof NfsError) return err.status;
      throw err;
    }
  }

  it('a client at its limit gets NFS4ERR_DQUOT, another carries on; the server-wide cap answers RESOURCE (4.0) / DELAY (4.1)', async () => {
    const { s } = await fresh({ fdLimit: 4, handoffMax: 0 });
    const files = await makeFiles(s, 12);
    sm = new NfsStateManager({ leaseSeconds: 90, store: s, metaDir: tempDir(), log: silent, reapIntervalMs: 0, maxOpensPerClient: 5, maxOpens: 8 });
    const greedy = await mount41(sm, 'greedy');
    const polite = await mount41(sm, 'polite');
    const go = sm.newOpenOwner(greedy.client, Buffer.from('o'), 1);
    const opens = [];
    for (let i = 0; i < 5; i++) opens.push(await sm.openState(go, files[i]!.ino, 3));
    expect(await status(sm.openState(go, files[5]!.ino, 3))).toBe(N.NFS4ERR_DQUOT);
    expect(await status(sm.openState(sm.newOpenOwner(greedy.client, Buffer.from('o2'), 1), files[5]!.ino, 1))).toBe(N.NFS4ERR_DQUOT);
    // the other client opens, writes, reads
    const po = sm.newOpenOwner(polite.client, Buffer.from('p'), 1);
    const mine = await sm.openState(po, files[6]!.ino, 3);
    expect(await s.write(mine.openFile, Buffer.from('fine'), 0, true)).toBe(4);
    expect(await readAll(s, mine.openFile)).toBe('fine');
    // the greedy client's opens all still work (4 fds for 6 opens)
    for (const o of opens) await s.write(o.openFile, Buffer.from('g'), 0, false);
    expect(s.cacheStats().fd.size).toBeLessThanOrEqual(4);
    // server-wide: 6 + 2 = 8 open states, then nobody gets more
    await sm.openState(po, files[7]!.ino, 1);
    await sm.openState(po, files[8]!.ino, 1);
    expect(sm.stats().opens).toBe(8);
    expect(await status(sm.openState(po, files[9]!.ino, 1))).toBe(N.NFS4ERR_DELAY);
    const c40 = await mount40(sm);
    const o40 = sm.newOpenOwner(sm.clientById(c40)!, Buffer.from('v40'), 1);
    expect(await status(sm.openState(o40, files[9]!.ino, 1))).toBe(N.NFS4ERR_RESOURCE);
    // a CLOSE frees a place (and the client's count)
    await sm.close(opens[0]!);
    expect(sm.stats().opens).toBe(7);
    expect(await status(sm.openState(go, files[10]!.ino, 1))).toBe(N.NFS4_OK);
    expect(await status(sm.openState(go, files[11]!.ino, 1))).toBe(N.NFS4ERR_DQUOT);
  });
});
