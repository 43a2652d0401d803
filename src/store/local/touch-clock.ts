/**
 * Per-inode staleness clock for the stat cache. Every event that can change
 * what a stat of an inode returns (the start and the end of one of our
 * mutations of it, an invalidation) "touches" the inode. A stat read records
 * `now()` before it starts; its result may be cached only if the inode was
 * not touched since (a read that overlapped a touch may show either side of
 * it).
 *
 * Memory is bounded: the last touches are kept in two generations of at most
 * capacity/2 inodes each; when the newer one fills up, the older one is
 * dropped. An inode whose last touch was dropped counts as touched at the
 * newest tick the dropped generation could hold (conservative: a read that
 * started before that tick is not cached).
 */
export class TouchClock {
  private tick = 0;
  private cur = new Map<number, number>();
  private prev = new Map<number, number>();
  /** The tick at which `prev` stopped taking touches. */
  private prevEnd = 0;
  /** Every inode in neither generation was last touched at or before this tick. */
  private floor = 0;
  private readonly half: number;

  constructor(readonly capacity = 65536) {
    if (!(capacity >= 2)) throw new Error('TouchClock capacity must be >= 2');
    this.half = Math.floor(capacity / 2);
  }

  now(): number {
    return this.tick;
  }

  touch(ino: number): void {
    const t = ++this.tick;
    this.cur.set(ino, t);
    if (this.cur.size >= this.half) {
      this.floor = this.prevEnd;
      this.prev = this.cur;
      this.prevEnd = t;
      this.cur = new Map();
    }
  }

  /** True if `ino` may have been touched after tick `t`. */
  since(ino: number, t: number): boolean {
    let v = this.cur.get(ino);
    if (v === undefined) v = this.prev.get(ino);
    return (v ?? this.floor) > t;
  }

  /** Inodes whose last touch is remembered. */
  get size(): number {
    return this.cur.size + this.prev.size;
  }
}
