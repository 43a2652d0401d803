/**
 * Directory listings: the sorted listing of a directory is cached per
 * (ino, change) and edited in place by our own creates/removes/renames (see
 * Mutations.dirAfter); readdir pages through it by cookie (cookie.ts), with
 * entry stats from the stat cache.
 */
import { promises as fsp } from 'node:fs';
import type { DirEntry, DirPage, Stat } from '../types.js';
import { Lru } from './lru.js';
import { errnoOf } from './errors.js';
import { assignCookies, firstAfter, nameCookie } from './cookie.js';

/** The names of a directory sorted by cookie, as of its change value `change`. */
export interface Listing {
  change: number;
  entries: Array<{ name: string; cookie: number; ino: number }>;
}

/** How entries get their stats (the resolver: its stat cache, and lstat with index upkeep). */
export interface EntryStats {
  /** The cached stat of an indexed inode. */
  cachedStat(ino: number): Stat | undefined;
  /** lstat of dirPath/name, recorded in the index. */
  lookupIn(dirIno: number, dirPath: string, name: string): Promise<Stat>;
}

const LSTAT_CONCURRENCY = 128;

export class Listings {
  private readonly cache: Lru<number, Listing>;

  constructor(capacity: number) {
    this.cache = new Lru(capacity);
  }

  /** The cached listing of a directory, whatever its change value (no counters touched). */
  peek(dirIno: number): Listing | undefined {
    return this.cache.peek(dirIno);
  }

  drop(dirIno: number): void {
    this.cache.delete(dirIno);
  }

  /** Entries after `cookie` (0 = start), at most maxEntries; the listing is made when the cached one is not current. Namespace lock held. */
  async page(
    stats: EntryStats,
    dirIno: number,
    dir: { stat: Stat; path: string },
    cookie: number,
    maxEntries: number,
  ): Promise<DirPage> {
    let listing = this.cache.get(dirIno);
    if (!listing || listing.change !== dir.stat.change) {
      listing = await this.list(stats, dirIno, dir.path, dir.stat.change);
    }
    const all = listing.entries;
    let i = cookie === 0 ? 0 : firstAfter(all, cookie);
    const out: DirEntry[] = [];
    const want = Math.max(0, Math.floor(maxEntries));
    while (i < all.length && out.length < want) {
      const chunk = all.slice(i, i + Math.min(LSTAT_CONCURRENCY, want - out.length));
      i += chunk.length;
      const found = await Promise.all(chunk.map((e) => stats.cachedStat(e.ino) ?? lookupEntry(stats, dirIno, dir.path, e.name)));
      chunk.forEach((e, k) => {
        const s = found[k];
        if (s) out.push({ name: e.name, cookie: e.cookie, stat: s });
      });
    }
    return { entries: out, eof: i >= all.length };
  }

  stats(): ReturnType<Lru<number, Listing>['stats']> {
    return this.cache.stats();
  }

  clear(): void {
    this.cache.clear();
  }

  /** Lists a directory, stats every entry (filling the stat cache and index), sorts by cookie. */
  private async list(stats: EntryStats, dirIno: number, dirPath: string, change: number): Promise<Listing> {
    const names = await fsp.readdir(dirPath);
    const entries: Array<{ name: string; cookie: number; ino: number }> = [];
    for (let i = 0; i < names.length; i += LSTAT_CONCURRENCY) {
      const chunk = names.slice(i, i + LSTAT_CONCURRENCY);
      const found = await Promise.all(chunk.map((n) => lookupEntry(stats, dirIno, dirPath, n)));
      chunk.forEach((n, k) => {
        const s = found[k];
        if (s) entries.push({ name: n, cookie: 0, ino: s.ino });
      });
    }
    assignCookies(entries);
    const listing: Listing = { change, entries };
    this.cache.set(dirIno, listing);
    return listing;
  }
}

/** The stat of a listed entry; undefined when it vanished behind our back. */
function lookupEntry(stats: EntryStats, dirIno: number, dirPath: string, name: string): Promise<Stat | undefined> {
  return stats.lookupIn(dirIno, dirPath, name).catch((err: unknown) => {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
    throw err;
  });
}

/** Inserts a name into a sorted listing; false (caller drops the listing) on a cookie collision. */
export function listingAdd(l: Listing, name: string, ino: number): boolean {
  const cookie = nameCookie(name);
  const i = firstAfter(l.entries, cookie - 1);
  if (i < l.entries.length && l.entries[i].cookie === cookie) return false;
  if (i > 0 && l.entries[i - 1].cookie === cookie) return false;
  l.entries.splice(i, 0, { name, cookie, ino });
  return true;
}

/** Removes a name from a sorted listing; false when it is not found where expected. */
export function listingRemove(l: Listing, name: string): boolean {
  const cookie = nameCookie(name);
  const i = firstAfter(l.entries, cookie - 1);
  if (i < l.entries.length && l.entries[i].cookie === cookie && l.entries[i].name === name) {
    l.entries.splice(i, 1);
    return true;
  }
  return false;
}
