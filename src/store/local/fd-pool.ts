/**
 * FdPool: the one bounded set of file descriptors a LocalStore holds for
 * regular-file I/O.
 *
 * An NFS open does not own an fd: it holds a reference on the pool entry of
 * its file (inode + generation). An entry has up to two fds, one read-only
 * and one read-write (the read-write one also serves reads), shared by every
 * open of the file and by anonymous-stateid I/O. The pool keeps at most
 * `capacity` fds (counting fds held for it elsewhere, see adjustExternal):
 * past that it closes the least recently used fds that no I/O is using right
 * now; the next I/O through an open whose fd was closed opens the file again
 * by path (`reopen`, which checks it is still the same inode and generation).
 * An fd in use by a read/write/fsync is pinned until the call returns.
 *
 * Files removed (or renamed over) while open cannot be opened again by path:
 * the store makes sure an fd of the mode their opens need is open before the
 * name goes (hold/release), then detach() takes it out of the LRU (pinned
 * until the last open of the file closes). These pins are bounded too, by
 * `detachedMax`: beyond it the oldest detached file loses its fds and I/O or
 * GETATTR through its opens fails with ESTALE until they are closed. (The
 * Linux client never depends on this: it silly-renames files it has open
 * instead of removing them; only other clients' removals can detach a file.)
 *
 * Hot path: an I/O whose fd is open costs no system call here (a pin, an LRU
 * touch). The last close of a file leaves its fds cached (evictable) until it
 * is removed or replaced, or they are evicted (in the background for
 * evictions, awaited for close()).
 */
import type { Fd } from './sys.js';
import { StoreError } from '../types.js';

type FileHandle = Fd;

const DONE: Promise<void> = Promise.resolve();

/** One fd of an entry in one mode. */
export class FdSlot {
  fh: FileHandle | undefined = undefined;
  /** A reopen in flight, shared by the I/O waiting for it. */
  opening: Promise<FileHandle> | undefined = undefined;
  /** I/O calls using fh right now (not evictable meanwhile). */
  pins = 0;
  constructor(
    readonly entry: FdEntry,
    readonly writable: boolean,
  ) {}
}

/** The pool entry of one file (inode number + generation). */
export class FdEntry {
  readonly ro: FdSlot;
  readonly rw: FdSlot;
  /** Opens holding the entry, and how many of them are read-write. */
  refs = 0;
  writers = 0;
  /** Store operations that need its fds kept (a remove about to detach it). */
  holds = 0;
  /** Found by inode number (the current file of that number). */
  listed = false;
  /** Its last name went while open: fds pinned, no reopen. */
  detached = false;
  /** Unusable: I/O fails with ESTALE (gone with no fd, dropped beyond the detached bound, shutdown). */
  stale = false;

  constructor(
    readonly ino: number,
    readonly gen: number,
  ) {
    this.ro = new FdSlot(this, false);
    this.rw = new FdSlot(this, true);
  }

  /** An open fd that serves reads (writable false) or writes. */
  fd(writable: boolean): FileHandle | undefined {
    return this.rw.fh ?? (writable ? undefined : this.ro.fh);
  }
}

export interface FdPoolOptions {
  /** Most fds held at once (in-flight I/O may briefly exceed it when everything is pinned). */
  capacity: number;
  /** Most detached (removed while open) files whose fds are kept. */
  detachedMax: number;
  /** Opens (ino, gen) again by path, read-write or read-only; ESTALE when that file is gone. */
  reopen: (ino: number, gen: number, writable: boolean) => Promise<FileHandle>;
  /** A background close failed. */
  onError?: (err: unknown) => void;
}

export interface FdPoolStats {
  /** Fds held now, and the bound. */
  size: number;
  capacity: number;
  /** An fd was needed and found open / had to be opened (first open or reopen after eviction). */
  hits: number;
  misses: number;
  /** Fds closed by the LRU bound. */
  evictions: number;
  /** Files with a pool entry now, and opens referencing them. */
  entries: number;
  refs: number;
  /** Detached files whose fds are pinned now; their bound; detached files dropped over it (their I/O: ESTALE). */
  pinnedDetached: number;
  detachedMax: number;
  detachedDropped: number;
  /** Fds held for the pool outside it (create hand-off), counted against capacity. */
  external: number;
}

export class FdPool {
  readonly capacity: number;
  readonly detachedMax: number;
  private readonly entries = new Map<number, FdEntry>();
  /** Slots with an fd, not detached, least recently used first. */
  private readonly lru = new Set<FdSlot>();
  /** Detached entries with fds, oldest first. */
  private readonly detachedSet = new Set<FdEntry>();
  private readonly closing = new Set<Promise<void>>();
  private open = 0;
  private external = 0;
  private refs = 0;
  private closed = false;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private detachedDropped = 0;

  constructor(private readonly o: FdPoolOptions) {
    if (!(o.capacity >= 1)) throw new Error('FdPool capacity must be >= 1');
    this.capacity = Math.floor(o.capacity);
    this.detachedMax = Math.max(0, Math.floor(o.detachedMax));
  }

  /** The listed entry of `ino`, if any (the file of that number the pool last saw). */
  peek(ino: number): FdEntry | undefined {
    return this.entries.get(ino);
  }

  /** The entry of (ino, gen), made on demand; one of another generation (a reused number) is unlisted. */
  entry(ino: number, gen: number): FdEntry {
    const cur = this.entries.get(ino);
    if (cur && cur.gen === gen) return cur;
    if (cur) this.forget(ino);
    const e = new FdEntry(ino, gen);
    e.listed = true;
    this.entries.set(ino, e);
    return e;
  }

  /** Counts an fd found open without an I/O (an open or anonymous I/O that needed no open). */
  hit(): void {
    this.hits++;
  }

  ref(e: FdEntry, writable: boolean): void {
    e.refs++;
    this.refs++;
    if (writable) e.writers++;
  }

  /**
   * Drops an open's reference. After the last one the fds stay in the LRU, like those of
   * anonymous-stateid I/O, for the next open of the file (an application that opens, reads and
   * closes many files, or one file again and again, pays no open(2) and close(2) each time); they
   * close when evicted, or when the file is removed or replaced (detach, forget). A detached file's
   * last close closes its fds at once (resolves when closed).
   */
  unref(e: FdEntry, writable: boolean): Promise<void> {
    e.refs--;
    this.refs--;
    if (writable) e.writers--;
    if (e.refs > 0 || !e.detached) return DONE;
    e.stale = true;
    return this.closeUnpinned(e);
  }

  /**
   * Adds an fd just opened for `e` (`counted`: a miss; the create hand-off is not). An fd the slot
   * already has wins (the new one is closed); a stale entry refuses it (ESTALE).
   */
  install(e: FdEntry, writable: boolean, fh: FileHandle, counted = true): void {
    const slot = writable ? e.rw : e.ro;
    if (counted) this.misses++;
    if (this.closed || e.stale || slot.fh) {
      this.closeFh(fh);
      if (this.closed || e.stale) throw new StoreError('ESTALE');
      return;
    }
    slot.fh = fh;
    this.open++;
    if (!e.detached) {
      this.lru.add(slot);
      // an entry dropped for having no fd is found by number again
      if (!e.listed && !this.entries.has(e.ino)) {
        e.listed = true;
        this.entries.set(e.ino, e);
      }
    }
    this.trim();
  }

  /**
   * Runs fn with an fd of `e`: the read-write one when `writable` (or when it is open), else the
   * read-only one; opened again if it was closed. The fd cannot be closed while fn runs.
   */
  async run<T>(e: FdEntry, writable: boolean, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const slot = writable || e.rw.fh !== undefined ? e.rw : e.ro;
    slot.pins++;
    try {
      let fh = slot.fh;
      if (fh !== undefined) {
        this.hits++;
        if (!e.detached) {
          this.lru.delete(slot);
          this.lru.add(slot);
        }
      } else {
        fh = await this.load(slot);
      }
      return await fn(fh);
    } finally {
      if (--slot.pins === 0 && (this.open + this.external > this.capacity || e.stale || this.closed || (e.detached && e.refs === 0))) {
        this.settle(slot);
      }
    }
  }

  /** Keeps e's fds from eviction (a remove of one of its names is under way). */
  hold(e: FdEntry): void {
    e.holds++;
  }

  release(e: FdEntry): void {
    e.holds--;
    if (e.holds === 0) this.trim();
  }

  /**
   * The last name of e's file went: with opens, its fds stay (pinned, not evictable, bounded by
   * detachedMax: beyond it the oldest detached file's fds close and its I/O fails with ESTALE);
   * without opens, or without an fd, it is done.
   */
  detach(e: FdEntry): void {
    this.unlist(e);
    if (e.detached || e.stale) return;
    if (e.refs === 0 || (e.ro.fh === undefined && e.rw.fh === undefined)) {
      this.drop(e);
      return;
    }
    e.detached = true;
    this.lru.delete(e.ro);
    this.lru.delete(e.rw);
    this.detachedSet.add(e);
    while (this.detachedSet.size > this.detachedMax) {
      const oldest = this.detachedSet.values().next().value as FdEntry;
      this.drop(oldest);
      this.detachedDropped++;
    }
    this.trim();
  }

  /** The file of this number is gone or was replaced: unlists its entry; without opens, its fds close. */
  forget(ino: number): void {
    const e = this.entries.get(ino);
    if (!e) return;
    this.unlist(e);
    if (e.refs === 0) this.drop(e);
  }

  /** Fds held for the pool elsewhere (the create hand-off): counted against capacity. */
  adjustExternal(n: number): void {
    this.external += n;
    if (n > 0) this.trim();
  }

  /** Closes at least half of the idle fds (the process ran out of fds); resolves when closed. */
  shed(): Promise<void> {
    const ps: Promise<void>[] = [];
    let n = Math.max(1, Math.ceil(this.lru.size / 2));
    for (const slot of this.lru) {
      if (n <= 0) break;
      if (slot.pins > 0 || slot.entry.holds > 0) continue;
      ps.push(this.closeSlot(slot));
      this.evictions++;
      n--;
    }
    return Promise.all(ps).then(() => undefined);
  }

  /** Closes every fd (in-flight I/O keeps its fd until it returns); later I/O fails with ESTALE. */
  async close(): Promise<void> {
    this.closed = true;
    const all = new Set<FdEntry>([...this.entries.values(), ...this.detachedSet]);
    for (const slot of this.lru) all.add(slot.entry);
    for (const e of all) {
      e.stale = true;
      void this.closeUnpinned(e);
      this.unlist(e);
    }
    this.detachedSet.clear();
    await Promise.all([...this.closing]);
  }

  stats(): FdPoolStats {
    return {
      size: this.open,
      capacity: this.capacity,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      entries: this.entries.size,
      refs: this.refs,
      pinnedDetached: this.detachedSet.size,
      detachedMax: this.detachedMax,
      detachedDropped: this.detachedDropped,
      external: this.external,
    };
  }

  // ---------------------------------------------------------------- internals

  private load(slot: FdSlot): Promise<FileHandle> {
    if (slot.opening) return slot.opening;
    const e = slot.entry;
    if (this.closed || e.stale || e.detached) {
      return Promise.reject(new StoreError('ESTALE', 'the file is gone (removed while open, its fd closed)'));
    }
    const p = this.o.reopen(e.ino, e.gen, slot.writable).then(
      (fh) => {
        if (slot.opening === p) slot.opening = undefined;
        this.install(e, slot.writable, fh);
        const got = slot.fh;
        if (got === undefined) throw new StoreError('ESTALE');
        return got;
      },
      (err: unknown) => {
        if (slot.opening === p) slot.opening = undefined;
        throw err;
      },
    );
    slot.opening = p;
    return p;
  }

  /** After the last pin of a slot went. */
  private settle(slot: FdSlot): void {
    const e = slot.entry;
    if (e.stale || this.closed || (e.detached && e.refs === 0)) void this.closeSlot(slot);
    else this.trim();
  }

  /** Closes least recently used idle fds while over capacity. */
  private trim(): void {
    let over = this.open + this.external - this.capacity;
    if (over <= 0) return;
    for (const slot of this.lru) {
      if (slot.pins > 0 || slot.entry.holds > 0) continue;
      void this.closeSlot(slot);
      this.evictions++;
      if (--over <= 0) break;
    }
  }

  /** Marks e unusable and closes its fds (pinned ones when their I/O returns). */
  private drop(e: FdEntry): void {
    e.stale = true;
    this.unlist(e);
    this.detachedSet.delete(e);
    void this.closeUnpinned(e);
  }

  private closeUnpinned(e: FdEntry): Promise<void> {
    const a = e.ro.fh !== undefined && e.ro.pins === 0 ? this.closeSlot(e.ro) : DONE;
    const b = e.rw.fh !== undefined && e.rw.pins === 0 ? this.closeSlot(e.rw) : DONE;
    this.gc(e);
    return a === DONE && b === DONE ? DONE : Promise.all([a, b]).then(() => undefined);
  }

  private closeSlot(slot: FdSlot): Promise<void> {
    const fh = slot.fh;
    if (fh === undefined) return DONE;
    slot.fh = undefined;
    this.open--;
    this.lru.delete(slot);
    this.gc(slot.entry);
    return this.closeFh(fh);
  }

  private closeFh(fh: FileHandle): Promise<void> {
    const p = fh.close().catch((err: unknown) => this.o.onError?.(err));
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
    return p;
  }

  /** Forgets an entry that holds nothing. */
  private gc(e: FdEntry): void {
    if (e.ro.fh !== undefined || e.rw.fh !== undefined) return;
    this.detachedSet.delete(e);
    if (e.refs === 0 && e.holds === 0 && e.ro.opening === undefined && e.rw.opening === undefined) this.unlist(e);
  }

  private unlist(e: FdEntry): void {
    if (!e.listed) return;
    e.listed = false;
    if (this.entries.get(e.ino) === e) this.entries.delete(e.ino);
  }
}
