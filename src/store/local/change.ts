/** One of our mutations of an inode, from begin() to end() (see mutations.ts). */
export interface Mutation {
  ino: number;
  /** The inode's change value when it began. */
  before: number;
  done: boolean;
}

/**
 * The change attribute. Base = the host ctime in microseconds (fits in 2^53
 * until the year ~2255). The host ctime may not advance between two changes
 * made within one timestamp tick, so every mutation of ours records a floor
 * (the value reported before the mutation + 1); the reported change is
 * max(base, floor). A floor is dropped once the base overtakes it; floors that
 * linger (file never touched again) are settled by the owner (see
 * Mutations.maybeSettle) when the map grows past its bound.
 *
 * Mutations in flight are tracked too (begin/end): until one ends, every
 * value reported for its inode is remembered, so the value after it is above
 * anything a client could have seen before or during it, even with
 * overlapping mutations.
 */
export class ChangeTracker {
  private readonly floors = new Map<number, number>();
  /**
   * Inodes with mutations in flight: count, the highest change value reported
   * meanwhile, and the highest `before` of the mutations begun meanwhile.
   */
  private readonly active = new Map<number, { n: number; seen: number; top: number }>();

  constructor(readonly softLimit = 100_000) {}

  get size(): number {
    return this.floors.size;
  }

  /** The change value to report for `ino` whose ctime base is `base`. */
  value(ino: number, base: number): number {
    let change = base;
    const f = this.floors.get(ino);
    if (f !== undefined) {
      if (base >= f) this.floors.delete(ino);
      else change = f;
    }
    const a = this.active.get(ino);
    if (a && change > a.seen) a.seen = change;
    return change;
  }

  /** Records the start of a mutation of `ino` whose change value was `before` (read just now). */
  begin(ino: number, before: number): Mutation {
    let a = this.active.get(ino);
    if (!a) {
      a = { n: 0, seen: 0, top: 0 };
      this.active.set(ino, a);
    }
    a.n++;
    if (before > a.top) a.top = before;
    return { ino, before, done: false };
  }

  /** Ends a mutation: the next value is strictly above everything seen. False when it had ended already. */
  end(m: Mutation): boolean {
    if (m.done) return false;
    m.done = true;
    let seen = m.before;
    const a = this.active.get(m.ino);
    if (a) {
      seen = Math.max(seen, a.seen);
      if (--a.n <= 0) this.active.delete(m.ino);
    }
    this.bump(m.ino, seen);
    return true;
  }

  /** Ends a mutation that leaves no change to track (it did not happen, or its inode died). */
  drop(m: Mutation): void {
    if (m.done) return;
    m.done = true;
    const a = this.active.get(m.ino);
    if (a && --a.n <= 0) this.active.delete(m.ino);
  }

  inFlight(ino: number): boolean {
    return this.active.has(ino);
  }

  /**
   * With mutations of `ino` in flight: a value at or above every value reported so far (the
   * `before` of the first of them was current when it began, values reported since are in
   * `seen`, one that ended left a floor). undefined when none is in flight.
   */
  reportedBound(ino: number): number | undefined {
    const a = this.active.get(ino);
    return a ? Math.max(a.top, a.seen, this.floors.get(ino) ?? 0) : undefined;
  }

  /** Records that `ino` was mutated after reporting `before`: the next value is at least before+1. */
  bump(ino: number, before: number): number {
    const f = Math.max(this.floors.get(ino) ?? 0, before + 1);
    this.floors.delete(ino); // re-insert: keeps the map ordered by last bump
    this.floors.set(ino, f);
    return f;
  }

  forget(ino: number): void {
    this.floors.delete(ino);
  }

  overLimit(): boolean {
    return this.floors.size > this.softLimit;
  }

  /** The oldest floors (by last bump), for settling. */
  oldest(n: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const e of this.floors) {
      out.push(e);
      if (out.length >= n) break;
    }
    return out;
  }
}

/** ctime (bigint ns) -> change base in microseconds. */
export function changeBase(ctimeNs: bigint): number {
  return Number(ctimeNs / 1000n);
}
