/**
 * The mutation bracket: every change the store makes to an inode runs
 * between begin() and end(), so that the change value after it is above
 * every value computed before or during it (change.ts), and so that no stat
 * read overlapping it is cached (the resolver's touch clock).
 */
import type { BigIntStats } from 'node:fs';
import type { DirChange, Stat } from '../types.js';
import type { KeyedMutex } from '../../util/keyed-mutex.js';
import type { RwLock } from './rwlock.js';
import { sys } from './sys.js';
import { changeBase, type ChangeTracker, type Mutation } from './change.js';
import { entryKey, type InodeIndex } from './inode-index.js';
import type { Resolver } from './resolver.js';
import type { Listing, Listings } from './listings.js';
import { inoOf } from './stat.js';

export interface MutationsOptions {
  changes: ChangeTracker;
  resolver: Resolver;
  listings: Listings;
  index: InodeIndex;
  /** The namespace lock and the per-entry locks (see LocalStore.remove): taken to settle change floors. */
  lock: RwLock;
  names: KeyedMutex;
}

export class Mutations {
  private settling = false;

  constructor(private readonly o: MutationsOptions) {}

  /**
   * Marks the start of a mutation of `ino` whose change value was `before`
   * (read just now). Until end(), every change value computed for the inode is
   * remembered, so the value after the mutation is above anything a client
   * could have seen before or during it, even with overlapping mutations.
   */
  begin(ino: number, before: number): Mutation {
    const m = this.o.changes.begin(ino, before);
    this.o.resolver.touch(ino);
    return m;
  }

  /** Ends a mutation: the next change value is strictly above everything seen. Idempotent. */
  end(m: Mutation, keepListing = false): void {
    if (!this.o.changes.end(m)) return;
    if (keepListing) this.o.resolver.touch(m.ino);
    else this.o.resolver.invalidate(m.ino);
    this.maybeSettle();
  }

  /**
   * Ends a mutation with no change to track: it failed before changing
   * anything (values computed meanwhile were real values of the unchanged
   * inode), or the inode died during it.
   */
  drop(m: Mutation): void {
    this.o.changes.drop(m);
  }

  /**
   * Ends mutation m, whose result `st` was read starting at tick t (after
   * begin), and caches that stat unless something else touched the inode
   * since t.
   */
  endWithStat(m: Mutation, st: BigIntStats, t: number): Stat {
    const r = this.o.resolver;
    const clean = !r.touchedSince(m.ino, t);
    this.end(m);
    const s = r.toStat(st);
    if (clean) r.statCache.set(m.ino, s);
    return s;
  }

  /**
   * Ends a namespace mutation of directory m.ino: fresh stat, change strictly
   * above `before`. The cached listing is edited in place when it was current
   * at `before` (no concurrent change slipped in), otherwise dropped.
   */
  async dirAfter(m: Mutation, edit?: (l: Listing) => boolean): Promise<DirChange> {
    const listings = this.o.listings;
    const listing = listings.peek(m.ino);
    this.end(m, true);
    const before = m.before;
    let after: number;
    try {
      after = (await this.o.resolver.statIno(m.ino, true)).change;
    } catch {
      listings.drop(m.ino);
      return { before, after: before + 1 };
    }
    const cur = listings.peek(m.ino);
    if (listing && cur === listing && listing.change === before && edit && edit(listing)) listing.change = after;
    else if (cur) listings.drop(m.ino);
    return { before, after };
  }

  /** Settles lingering change floors (files never touched again) once the tracker grows past its bound. */
  private maybeSettle(): void {
    const { changes, resolver, index, names } = this.o;
    if (this.settling || !changes.overLimit()) return;
    this.settling = true;
    void this.o.lock
      .shared(async () => {
        for (const [ino, floor] of changes.oldest(4096)) {
          try {
            const p = resolver.pathVia(ino);
            const link = ino !== index.rootIno ? index.primary(ino) : undefined;
            // under the entry lock: the name keeps naming the inode checked below
            await names.run(entryKey(link), async () => {
              let st = await sys.lstat(p);
              if (inoOf(st) !== ino) {
                changes.forget(ino);
                return;
              }
              if (changeBase(st.ctimeNs) < floor) {
                await sys.lchown(p, -1, -1); // moves ctime to now, past the floor
                st = await sys.lstat(p);
              }
              resolver.invalidate(ino);
              if (changeBase(st.ctimeNs) >= floor) changes.forget(ino);
            });
          } catch {
            changes.forget(ino);
          }
        }
      })
      .finally(() => {
        this.settling = false;
      });
  }
}
