/**
 * The create -> open hand-off: the fd of a file createFile just made is
 * parked for the open() that usually follows it (OPEN with create), so that
 * open needs no path lookup, open(2) or fstat. Bounded in number (each parked
 * fd counts against the fd pool's capacity) and in time.
 */
import type { Fd } from './sys.js';
import type { FdPool } from './fd-pool.js';
import type { InodeIndex } from './inode-index.js';

/** The fd of a file createFile just made, parked for the open() that follows. */
export interface Parked {
  fh: Fd;
  gen: number;
  at: number;
}

export interface HandoffStats {
  /** Parked, used by open(), closed unused (time or bound); parked now, and the bound. */
  parked: number;
  used: number;
  expired: number;
  size: number;
  capacity: number;
}

export class Handoff {
  /** Insertion order = age. */
  private readonly parked = new Map<number, Parked>();
  private timer: NodeJS.Timeout | undefined;
  private readonly counts = { parked: 0, used: 0, expired: 0 };

  /** `max` 0 turns the hand-off off. */
  constructor(
    private readonly pool: FdPool,
    private readonly index: InodeIndex,
    private readonly ms: number,
    private readonly max: number,
  ) {}

  /** Parks the fd of a file createFile just made. */
  park(ino: number, gen: number, fh: Fd): void {
    this.drop(ino);
    if (this.max === 0) {
      fh.close().catch(() => undefined);
      return;
    }
    while (this.parked.size >= this.max) {
      const first = this.parked.keys().next();
      if (first.done) break;
      this.drop(first.value);
      this.counts.expired++;
    }
    this.parked.set(ino, { fh, gen, at: Date.now() });
    this.pool.adjustExternal(1);
    this.counts.parked++;
    if (!this.timer) this.sweepLater(this.ms);
  }

  /** Takes the parked fd of `ino` (for the pool) if it is still the indexed regular file it was made as. */
  take(ino: number): Parked | undefined {
    const h = this.parked.get(ino);
    if (!h) return undefined;
    this.parked.delete(ino);
    this.pool.adjustExternal(-1);
    if (this.index.genOf(ino) !== h.gen || this.index.kindOf(ino) !== 'reg') {
      h.fh.close().catch(() => undefined);
      return undefined;
    }
    this.counts.used++;
    return h;
  }

  /** Closes the parked fd of `ino`, if any. */
  drop(ino: number): void {
    const h = this.parked.get(ino);
    if (!h) return;
    this.parked.delete(ino);
    this.pool.adjustExternal(-1);
    h.fh.close().catch(() => undefined);
  }

  stats(): HandoffStats {
    const c = this.counts;
    return { parked: c.parked, used: c.used, expired: c.expired, size: this.parked.size, capacity: this.max };
  }

  /** Closes every parked fd and stops the sweep. */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const ino of [...this.parked.keys()]) this.drop(ino);
  }

  private sweepLater(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      for (const [ino, h] of this.parked) {
        if (now - h.at < this.ms) break; // insertion order is age order
        this.drop(ino);
        this.counts.expired++;
      }
      const next = this.parked.values().next();
      if (!next.done) this.sweepLater(Math.max(1, next.value.at + this.ms - now));
    }, ms);
    this.timer.unref();
  }
}
