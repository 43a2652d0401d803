/**
 * The change attribute. Base = the host ctime in microseconds (fits in 2^53
 * until the year ~2255). The host ctime may not advance between two changes
 * made within one timestamp tick, so every mutation of ours records a floor
 * (the value reported before the mutation + 1); the reported change is
 * max(base, floor). A floor is dropped once the base overtakes it; floors that
 * linger (file never touched again) are settled by the owner (see
 * LocalStore.settleChanges) when the map grows past its bound.
 */
export class ChangeTracker {
  private readonly floors = new Map<number, number>();

  constructor(readonly softLimit = 100_000) {}

  get size(): number {
    return this.floors.size;
  }

  /** The change value to report for `ino` whose ctime base is `base`. */
  value(ino: number, base: number): number {
    const f = this.floors.get(ino);
    if (f === undefined) return base;
    if (base >= f) {
      this.floors.delete(ino);
      return base;
    }
    return f;
  }

  /** Records that `ino` was mutated after reporting `before`: the next value is at least before+1. */
  bump(ino: number, before: number): number {
    const f = Math.max(this.floors.get(ino) ?? 0, before + 1);
    this.floors.delete(ino); // re-insert: keeps the map ordered by last bump
    this.floors.set(ino, f);
    return f;
  }

  floor(ino: number): number | undefined {
    return this.floors.get(ino);
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
