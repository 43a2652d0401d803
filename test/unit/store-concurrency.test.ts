import { afterEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore } from '../../src/store/local/local-store.js';
import { sys } from '../../src/store/local/sys.js';
import { KeyedMutex } from '../../src/util/keyed-mutex.js';
import { TouchClock } from '../../src/store/local/touch-clock.js';
import { StoreError } from '../../src/store/types.js';
import { DIR, FILE, useTempStores } from './store-helpers.js';

// Locking of the store's namespace ops (see the note above LocalStore.remove):
// removes of non-directories run under the shared namespace lock, next to each
// other; removing a directory still takes it exclusively; ops on one directory
// entry are serialized by the entry lock; stat reads that one of our mutations
// overlapped do not undo that mutation's index upkeep. Stalls are made by
// holding one system call of the store (spied on its sys table) behind a gate.

// registered before the hook below, so the stores shut down after it (after-hooks run last-registered first)
const { fresh: open } = useTempStores();
/** Gates still shut when a test fails: opened before shutdown, which waits for the ops they hold. */
const gates: Array<() => void> = [];
afterEach(() => {
  for (const release of gates.splice(0)) release();
  vi.restoreAllMocks();
});

const A = FILE;
const D = DIR;

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  gates.push(open);
  return { wait, open };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Settles to the value, or to the StoreError code. */
function outcome<T>(p: Promise<T>): Promise<T | string> {
  return p.catch((e: unknown) => {
    if (e instanceof StoreError) return e.code;
    throw e;
  });
}

/** Holds the first sys[fn] call of the store whose path ends with `suffix` until the gate opens. */
function holdPromiseCall(fn: 'unlink' | 'open', suffix: string): { held: () => boolean; release: () => void } {
  const g = gate();
  let held = false;
  const real = sys[fn] as (...a: unknown[]) => Promise<unknown>;
  vi.spyOn(sys, fn).mockImplementation((async (...args: unknown[]) => {
    if (!held && String(args[0]).endsWith(suffix)) {
      held = true;
      await g.wait;
    }
    return real(...args);
  }) as never);
  return { held: () => held, release: g.open };
}

/** Lets the first sys.lstat of a path ending with `suffix` run, but holds its result until the gate opens. */
function holdLstatResult(suffix: string): { held: () => boolean; release: () => void } {
  const g = gate();
  let held = false;
  const real = sys.lstat;
  vi.spyOn(sys, 'lstat').mockImplementation((p: string) => {
    const result = real(p);
    if (held || !p.endsWith(suffix)) return result;
    held = true;
    return g.wait.then(() => result);
  });
  return { held: () => held, release: g.open };
}

describe('remove locking', () => {
  it('removes of files in one directory run side by side (shared namespace lock)', async () => {
    const { s } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    const a = (await s.createFile(d.ino, 'a', A)).stat;
    const b = (await s.createFile(d.ino, 'b', A)).stat;
    const h = holdPromiseCall('unlink', '/d/a');
    const ra = s.remove(d.ino, 'a');
    await until(h.held, "a's unlink");
    // with remove exclusive, this would wait for the held remove of a
    const rb = await Promise.race([s.remove(d.ino, 'b'), sleep(5000).then(() => 'blocked' as const)]);
    expect(rb).not.toBe('blocked');
    expect(rb !== 'blocked' && rb.removed.ino).toBe(b.ino);
    h.release();
    expect((await ra).removed.ino).toBe(a.ino);
    expect(s.cacheStats().removes).toEqual({ shared: 2, exclusive: 0 });
    expect((await s.readdir(d.ino, 0, 10)).entries).toEqual([]);
  });

  it('removing a directory waits for path ops under way inside it (no create lands in a replaced directory)', async () => {
    const { s, root } = await open();
    const a = (await s.mkdir(s.rootIno, 'a', D)).stat;
    const h = holdPromiseCall('open', '/a/x');
    const c = outcome(s.createFile(a.ino, 'x', A)); // holds the shared lock, stalled before its O_EXCL open
    await until(h.held, "the create's open");
    let removeDone = false;
    const r = outcome(s.remove(s.rootIno, 'a')).finally(() => {
      removeDone = true;
    });
    const m = outcome(s.mkdir(s.rootIno, 'a', D));
    await sleep(50);
    // an rmdir under the shared lock would have removed the still empty `a` by now, the mkdir
    // would have made a new `a`, and the create would land in that one
    expect(removeDone).toBe(false);
    h.release();
    const created = await c;
    expect(typeof created).toBe('object');
    expect(await r).toBe('ENOTEMPTY');
    expect(await m).toBe('EEXIST');
    expect(s.cacheStats().removes.exclusive).toBe(1);
    const x = created as { stat: { ino: number } };
    expect((await lstat(path.join(root, 'a'))).ino).toBe(a.ino);
    expect((await lstat(path.join(root, 'a', 'x'))).ino).toBe(x.stat.ino);
    expect((await s.lookup(a.ino, 'x')).ino).toBe(x.stat.ino);
  });

  it('the entry lock keeps two removes and a create of one name apart', async () => {
    const { s, root } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    const first = (await s.createFile(d.ino, 'x', A)).stat;
    const h = holdPromiseCall('unlink', '/d/x');
    const r1 = s.remove(d.ino, 'x'); // found `first`, stalled before its unlink
    await until(h.held, 'the first unlink');
    const r2 = outcome(s.remove(d.ino, 'x'));
    const c = outcome(s.createFile(d.ino, 'x', A));
    await sleep(30);
    h.release();
    const [res1, res2, resC] = await Promise.all([r1, r2, c]);
    expect(res1.removed.ino).toBe(first.ino);
    // without the entry lock: the second remove unlinks `first` too, the create makes a new file,
    // and the held unlink then removes that new file, which the create reported made
    expect(typeof resC).toBe('object');
    const made = (resC as { stat: { ino: number } }).stat.ino;
    if (typeof res2 === 'object') {
      // the create ran first: the second remove removed the new file, and says so
      expect(res2.removed.ino).toBe(made);
      await expect(lstat(path.join(root, 'd', 'x'))).rejects.toMatchObject({ code: 'ENOENT' });
    } else {
      expect(res2).toBe('ENOENT');
      expect((await lstat(path.join(root, 'd', 'x'))).ino).toBe(made);
      expect((await s.lookup(d.ino, 'x')).ino).toBe(made);
    }
  });

  it('a lookup that a remove of its name overlapped does not put the removed name back in the index', async () => {
    const { s } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    const f = (await s.createFile(d.ino, 'n1', A)).stat;
    await s.link(f.ino, d.ino, 'n2');
    const h = holdLstatResult('/d/n1');
    const l = outcome(s.lookup(d.ino, 'n1'));
    await until(h.held, "the lookup's lstat");
    await s.remove(d.ino, 'n1'); // the file lives on as n2
    h.release();
    expect(await l).toBe('ENOENT'); // read again under the entry lock, after the remove
    const index = (s as unknown as { index: { links(ino: number): Array<{ name: string }> } }).index;
    expect(index.links(f.ino).map((x) => x.name)).toEqual(['n2']);
    expect((await s.getattr(f.ino)).nlink).toBe(1);
  });

  it('a stale read of a removed file does not unindex a new file that reuses its inode number', async () => {
    const { s, root } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    // does this file system hand a freed inode number to the next file (ext4 does)?
    const probe = path.join(root, 'probe');
    fs.writeFileSync(probe, '');
    const pino = fs.lstatSync(probe).ino;
    fs.unlinkSync(probe);
    fs.writeFileSync(probe + '2', '');
    const reuses = fs.lstatSync(probe + '2').ino === pino;
    fs.unlinkSync(probe + '2');
    // tmpfs and others do not hand a freed number out at once: there would be nothing to race, and the test would prove nothing
    expect(reuses, 'this test needs a temp file system that reuses freed inode numbers at once (ext4: set TMPDIR to one)').toBe(true);

    for (const via of ['lookup', 'getattr'] as const) {
      const x = (await s.createFile(d.ino, 'x', A)).stat;
      if (via === 'getattr') (s as unknown as { resolver: { statCache: { delete(ino: number): void } } }).resolver.statCache.delete(x.ino);
      const h = holdLstatResult('/d/x');
      const read = outcome(via === 'lookup' ? s.lookup(d.ino, 'x') : s.getattr(x.ino));
      await until(h.held, 'the read');
      await s.remove(d.ino, 'x');
      const y = (await s.createFile(d.ino, 'y', A)).stat;
      h.release();
      await read;
      vi.restoreAllMocks();
      if (y.ino !== x.ino) continue; // no reuse this time
      expect(y.gen).not.toBe(x.gen);
      // the stale read (x, old generation) must not have forgotten y
      const again = await s.getattr(y.ino);
      expect([again.ino, again.gen]).toEqual([y.ino, y.gen]);
      expect((await s.lookup(d.ino, 'y')).gen).toBe(y.gen);
      await expect(s.verify(x.ino, x.gen)).rejects.toMatchObject({ code: 'ESTALE' });
      await s.remove(d.ino, 'y');
    }
  });

  it('concurrent creates and removes in one directory keep the index, the listing and the change attribute consistent', async () => {
    const { s, root } = await open();
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    const seen: number[] = [];
    const names = Array.from({ length: 200 }, (_, i) => `f${i}`);
    await Promise.all(
      names.map(async (n) => {
        const r = await s.createFile(d.ino, n, A);
        expect(r.dir.after).toBeGreaterThan(r.dir.before);
        seen.push(r.dir.after);
      }),
    );
    const before = (await s.getattr(d.ino)).change;
    for (const c of seen) expect(before).toBeGreaterThanOrEqual(c);
    const gone = names.filter((_, i) => i % 3 !== 0);
    await Promise.all(
      gone.map(async (n) => {
        const r = await s.remove(d.ino, n);
        expect(r.dir.after).toBeGreaterThan(r.dir.before);
        expect(r.dir.before).toBeGreaterThanOrEqual(before);
      }),
    );
    const left = names.filter((_, i) => i % 3 === 0).sort();
    expect((await s.readdir(d.ino, 0, 1000)).entries.map((e) => e.name).sort()).toEqual(left);
    expect(fs.readdirSync(path.join(root, 'd')).sort()).toEqual(left);
    expect((await s.statfs()).files).toBe(2 + left.length); // root, d and the files left
    expect((await s.getattr(d.ino)).change).toBeGreaterThan(before);
    expect(s.cacheStats().removes).toEqual({ shared: gone.length, exclusive: 0 });
  });
});

describe('helpers', () => {
  it('KeyedMutex: one holder per key in FIFO order, keys independent, idle keys dropped', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const g = gate();
    const a1 = m.run('a', async () => {
      log.push('a1+');
      await g.wait;
      log.push('a1-');
    });
    const a2 = m.run('a', async () => {
      log.push('a2');
    });
    const b = m.run('b', async () => {
      log.push('b');
      return 7;
    });
    expect(await b).toBe(7);
    expect(log).toEqual(['a1+', 'b']);
    expect(m.size).toBe(1);
    g.open();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1+', 'b', 'a1-', 'a2']);
    expect(m.size).toBe(0);
    await expect(m.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run('a', async () => 'next')).toBe('next');
    expect(m.size).toBe(0);
  });

  it('TouchClock: per-inode staleness, bounded, conservative for forgotten inodes', () => {
    const c = new TouchClock(4); // two generations of 2
    const t0 = c.now();
    c.touch(1);
    expect(c.since(1, t0)).toBe(true);
    expect(c.since(2, t0)).toBe(false); // never touched
    const t1 = c.now();
    c.touch(2); // generation full: {1, 2} becomes the older one
    expect(c.since(1, t1)).toBe(false);
    expect(c.since(2, t1)).toBe(true);
    const t2 = c.now();
    c.touch(1);
    expect(c.since(1, t2)).toBe(true); // the newer generation wins
    c.touch(3); // {1, 3} full: {1, 2} is dropped
    expect(c.size).toBeLessThanOrEqual(4);
    expect(c.since(2, t0)).toBe(true); // forgotten: counts as touched when its generation closed (tick 2)
    expect(c.since(2, t2)).toBe(false);
    expect(c.since(9, t1)).toBe(true); // unknown inodes too
    expect(c.since(9, c.now())).toBe(false);
    for (let i = 0; i < 1000; i++) c.touch(100 + i);
    expect(c.size).toBeLessThanOrEqual(4);
    expect(c.since(100 + 999, c.now() - 1)).toBe(true);
    expect(c.since(5, c.now())).toBe(false);
  });
});
