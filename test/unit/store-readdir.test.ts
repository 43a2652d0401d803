import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { LocalStore } from '../../src/store/local/local-store.js';
import { assignCookies, nameCookie } from '../../src/store/local/cookie.js';
import { FILE, useTempStores } from './store-helpers.js';

const { tmp, openAt } = useTempStores();
const A = FILE;

/** A store whose root holds `big/` with n files made directly on disk (fast). */
async function bigDir(n: number): Promise<{ s: LocalStore; big: number; base: string }> {
  const base = await tmp();
  const big = path.join(base, 'fs', 'big');
  await mkdir(big, { recursive: true });
  for (let i = 0; i < n; i++) closeSync(openSync(path.join(big, `entry-${i}`), 'w'));
  const s = await openAt(base);
  return { s, big: (await s.lookup(s.rootIno, 'big')).ino, base };
}

describe('readdir cookies', () => {
  it('cookies are stable 53-bit hashes, never 0..2, collisions resolved deterministically', () => {
    const c = nameCookie('hello');
    expect(c).toBe(nameCookie('hello'));
    expect(Number.isSafeInteger(c)).toBe(true);
    expect(c).toBeGreaterThan(2);
    const forced = assignCookies([
      { name: 'b', cookie: 0 },
      { name: 'a', cookie: 0 },
    ]);
    // no collision here, but the output is sorted and strictly increasing
    expect(forced[0].cookie).toBeLessThan(forced[1].cookie);
  });

  it('pages through 10,000 entries from one cached listing', async () => {
    const { s, big } = await bigDir(10_000);
    const seen = new Set<string>();
    let cookie = 0;
    let pages = 0;
    let last = 0;
    const before = s.cacheStats().dir;
    for (;;) {
      const p = await s.readdir(big, cookie, 250);
      pages++;
      for (const e of p.entries) {
        expect(e.cookie).toBeGreaterThan(last);
        last = e.cookie;
        expect(seen.has(e.name)).toBe(false);
        seen.add(e.name);
        expect(e.stat.kind).toBe('reg');
      }
      if (p.eof) break;
      cookie = p.entries[p.entries.length - 1].cookie;
    }
    expect(seen.size).toBe(10_000);
    expect(pages).toBe(40);
    const after = s.cacheStats().dir;
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(39);
  }, 60_000);

  it('no duplicates and no misses while entries come and go between pages', async () => {
    const { s, big, base } = await bigDir(10_000);
    const initial = new Set(Array.from({ length: 10_000 }, (_, i) => `entry-${i}`));
    const removed = new Set<string>();
    const seen = new Set<string>();
    let cookie = 0;
    let round = 0;
    for (;;) {
      const p = await s.readdir(big, cookie, 500);
      for (const e of p.entries) {
        expect(seen.has(e.name)).toBe(false);
        seen.add(e.name);
      }
      if (p.eof) break;
      cookie = p.entries[p.entries.length - 1].cookie;
      // churn: remove some (seen and unseen), add some new ones
      for (let k = 0; k < 20; k++) {
        const victim = `entry-${(round * 977 + k * 131) % 10_000}`;
        if (!removed.has(victim)) {
          removed.add(victim);
          await s.remove(big, victim);
        }
        await s.createFile(big, `new-${round}-${k}`, A);
      }
      if (round % 3 === 0) {
        // and an external change the store did not make
        await writeFile(path.join(base, 'fs', 'big', `ext-${round}`), '');
      }
      round++;
    }
    for (const n of initial) if (!removed.has(n)) expect(seen.has(n), n).toBe(true);
    for (const n of seen) expect(n.startsWith('entry-') || n.startsWith('new-') || n.startsWith('ext-')).toBe(true);
  }, 120_000);

  it('cookie 0 restarts, a vanished cookie continues after its position', async () => {
    const { s, big } = await bigDir(50);
    const all = (await s.readdir(big, 0, 1000)).entries;
    expect(all.length).toBe(50);
    const mid = all[25];
    await s.remove(big, mid.name);
    const rest = await s.readdir(big, mid.cookie, 1000);
    expect(rest.entries.map((e) => e.name)).toEqual(all.slice(26).map((e) => e.name));
    expect(rest.eof).toBe(true);
    const none = await s.readdir(big, all[49].cookie, 10);
    expect(none).toEqual({ entries: [], eof: true });
    const zero = await s.readdir(big, 0, 0);
    expect(zero.entries).toEqual([]);
    expect(zero.eof).toBe(false);
  });

  it('entries carry fresh stats after writes to a listed file', async () => {
    const { s, big } = await bigDir(3);
    const first = (await s.readdir(big, 0, 10)).entries;
    const f = first[0];
    const o = await s.open(f.stat.ino, true);
    await s.write(o, Buffer.from('12345'), 0, false);
    await s.close(o);
    const again = (await s.readdir(big, 0, 10)).entries.find((e) => e.name === f.name)!;
    expect(again.stat.size).toBe(5);
    expect(again.stat.change).toBeGreaterThan(f.stat.change);
  });
});
