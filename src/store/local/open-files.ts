/**
 * Open files: every fd of regular-file I/O lives in one bounded pool
 * (fd-pool.ts), shared by all opens of a file and by anonymous-stateid I/O.
 * An open is a reference on the file's pool entry; an fd the pool closed
 * (LRU) is opened again by path at the next I/O (reopen()). Removed-while-open
 * files keep a pinned fd (holdOpen, detach), bounded by detachedFdMax. The fd
 * of a just-created file is handed to the open() that follows (handoff.ts).
 */
import { constants as C, type BigIntStats } from 'node:fs';
import type { Logger } from 'pino';
import { StoreError, type OpenFile, type Stat } from '../types.js';
import { sys, type Fd } from './sys.js';
import { FdPool, type FdEntry, type FdPoolStats } from './fd-pool.js';
import type { RwLock } from './rwlock.js';
import { errnoOf, fail } from './errors.js';
import type { InodeIndex } from './inode-index.js';
import type { OwnerOverlay } from './overlay.js';
import type { Resolver } from './resolver.js';
import { Handoff, type HandoffStats } from './handoff.js';
import { genOf, inoOf } from './stat.js';

const O_NOFOLLOW = C.O_NOFOLLOW;
const O_NONBLOCK = C.O_NONBLOCK;

/**
 * An open of a regular file: a reference on the file's fd-pool entry (no fd
 * of its own). Shared ones (anonymous-stateid I/O) hold no reference and are
 * never closed.
 */
export class LocalFile implements OpenFile {
  closed = false;
  constructor(
    readonly ino: number,
    readonly writable: boolean,
    readonly entry: FdEntry,
    readonly shared: boolean,
  ) {}
}

/** The LocalFile behind an OpenFile this store returned (EBADF for anything else). */
export function asLocalFile(file: OpenFile): LocalFile {
  if (!(file instanceof LocalFile)) throw new StoreError('EBADF');
  return file;
}

export interface OpenFilesOptions {
  resolver: Resolver;
  index: InodeIndex;
  /** The namespace lock: taken shared to open by path. */
  lock: RwLock;
  overlay: OwnerOverlay | undefined;
  log: Logger;
  /** Throws once the store is shut down. */
  checkOpen: () => void;
  fdLimit?: number;
  detachedFdMax?: number;
  handoffMs?: number;
  handoffMax?: number;
}

export class OpenFiles {
  private readonly resolver: Resolver;
  private readonly index: InodeIndex;
  private readonly lock: RwLock;
  private readonly overlay: OwnerOverlay | undefined;
  private readonly log: Logger;
  private readonly checkOpen: () => void;
  /** Every fd of regular-file I/O (opens, anonymous I/O, create hand-off): one bounded pool. */
  private readonly pool: FdPool;
  private readonly handoff: Handoff;
  /**
   * Open files whose last name went (removed, renamed over): ino -> their pool
   * entry. They stay reachable by handle (getattr, verify) through its pinned
   * fd until the last close, as a removed open file stays alive on a local
   * file system (bounded: see fd-pool.ts).
   */
  private readonly detached = new Map<number, FdEntry>();

  constructor(o: OpenFilesOptions) {
    this.resolver = o.resolver;
    this.index = o.index;
    this.lock = o.lock;
    this.overlay = o.overlay;
    this.log = o.log;
    this.checkOpen = o.checkOpen;
    const fdLimit = Math.max(1, Math.floor(o.fdLimit ?? 4096));
    this.pool = new FdPool({
      capacity: fdLimit,
      detachedMax: o.detachedFdMax ?? Math.max(1, Math.min(1024, Math.floor(fdLimit / 4))),
      reopen: (ino, gen, writable) => this.reopen(ino, gen, writable),
      onError: (err) => this.log.warn({ err: (err as Error)?.message }, 'closing a pooled fd failed'),
    });
    const handoffMax = Math.max(0, Math.floor(o.handoffMax ?? Math.min(128, Math.floor(fdLimit / 4))));
    this.handoff = new Handoff(this.pool, this.index, o.handoffMs ?? 2000, handoffMax);
    this.resolver.onForget((ino) => this.forget(ino));
  }

  /** An open of a regular file (the fd its create parked, else a pooled one). */
  async open(ino: number, writable: boolean): Promise<LocalFile> {
    const parked = this.handoff.take(ino);
    if (parked) {
      // the fd of the create (O_RDWR, same inode): no path, no lock needed
      const e = this.pool.entry(ino, parked.gen);
      this.pool.install(e, true, parked.fh, false);
      this.pool.ref(e, writable);
      return new LocalFile(ino, writable, e, false);
    }
    return this.lock.shared(async () => {
      const e = await this.poolEntry(ino, writable);
      this.pool.ref(e, writable);
      return new LocalFile(ino, writable, e, false);
    });
  }

  /** A shared open for anonymous-stateid I/O (no reference, never closed). */
  async shared(ino: number, writable: boolean): Promise<LocalFile> {
    const c = this.pool.peek(ino);
    if (c && c.fd(writable)) {
      this.pool.hit();
      return new LocalFile(ino, writable, c, true);
    }
    return this.lock.shared(async () => new LocalFile(ino, writable, await this.poolEntry(ino, writable), true));
  }

  /** Drops the open's reference; the last close of a file closes its fds (awaited). */
  async close(f: LocalFile): Promise<void> {
    if (f.shared || f.closed) return;
    f.closed = true;
    const e = f.entry;
    const closing = this.pool.unref(e, f.writable);
    if (e.refs === 0 && e.detached && this.detached.get(e.ino) === e) {
      this.detached.delete(e.ino);
      if (!this.index.has(e.ino) && this.overlay?.get(e.ino)) {
        // the last close of a removed file: now its emulated ownership can go
        this.overlay.drop(e.ino).catch((err) => this.log.error({ err: (err as Error).message }, 'ownership overlay write failed'));
      }
    }
    await closing;
  }

  /**
   * Runs an fd operation on the file's pooled fd (read-write for a writable open), pinned
   * meanwhile; an fd the pool closed is opened again by path first.
   */
  withFd<T>(file: LocalFile, fn: (fh: Fd) => Promise<T>): Promise<T> {
    if (file.closed) throw new StoreError('EBADF');
    return this.pool.run(file.entry, file.writable, fn);
  }

  /** Parks the fd of a file createFile just made, for the open() that usually follows. */
  park(ino: number, gen: number, fh: Fd): void {
    this.handoff.park(ino, gen, fh);
  }

  /**
   * Opens an indexed inode's current path without following a symlink, and checks it is still
   * that inode (and generation `gen` when given). Lock held.
   */
  async openIno(ino: number, flags: number, gen?: number): Promise<{ fh: Fd; st: BigIntStats; path: string }> {
    const { path: p, stat } = await this.resolver.resolveCached(ino);
    if (gen !== undefined && stat.gen !== gen) fail('ESTALE');
    if (stat.kind === 'fifo') flags |= O_NONBLOCK;
    const fh = await this.openPath(p, flags | O_NOFOLLOW);
    try {
      const st = await fh.stat({ bigint: true });
      if (inoOf(st) !== ino || genOf(st) !== stat.gen) fail('ESTALE');
      return { fh, st, path: p };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * open(2); when the process is out of fds (EMFILE/ENFILE: the fd is allocated before
   * anything is created, so a retry is safe even with O_CREAT|O_EXCL), sheds idle pooled fds
   * and tries once more.
   */
  async openPath(p: string, flags: number, mode?: number): Promise<Fd> {
    try {
      return await sys.open(p, flags, mode);
    } catch (e) {
      const code = errnoOf(e);
      if (code !== 'EMFILE' && code !== 'ENFILE') throw e;
      this.log.warn({ code, fds: this.pool.stats().size }, 'out of file descriptors: closing idle pooled fds');
      await this.pool.shed();
      return sys.open(p, flags, mode);
    }
  }

  /**
   * Before a name of `s` goes (remove, rename over it; the caller holds that entry, `p` is its
   * path): if the file is open, makes sure its pool entry has an fd of the mode its opens need,
   * kept from eviction until release(): should this be the file's last name, the opens reach it
   * through that fd only (it cannot be opened by path any more, see detach()).
   */
  async holdOpen(s: Stat, p: string): Promise<FdEntry | undefined> {
    if (s.kind !== 'reg') return undefined;
    const e = this.pool.peek(s.ino);
    if (!e || e.gen !== s.gen || e.refs === 0) return undefined;
    this.pool.hold(e);
    const rw = e.writers > 0;
    if (e.fd(rw)) return e;
    try {
      const fh = await this.openPath(p, (rw ? C.O_RDWR : C.O_RDONLY) | O_NOFOLLOW);
      try {
        const st = await fh.stat({ bigint: true });
        if (inoOf(st) !== s.ino || genOf(st) !== s.gen) fail('ESTALE');
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw err;
      }
      this.pool.install(e, rw, fh);
    } catch (err) {
      // the opens will get ESTALE once the name is gone
      this.log.debug({ ino: s.ino, err: (err as Error)?.message }, 'could not keep an fd of an open file being removed');
    }
    return e;
  }

  /** Ends a holdOpen(). */
  release(e: FdEntry): void {
    this.pool.release(e);
  }

  /** The last name of `s` went: an open regular file stays reachable through its pinned fd (see holdOpen) until the last close. */
  detach(s: Stat): void {
    if (s.kind !== 'reg') return;
    const e = this.pool.peek(s.ino);
    if (e && e.gen === s.gen) {
      this.pool.detach(e);
      if (e.detached && !e.stale) this.detached.set(s.ino, e);
    }
  }

  /**
   * Attributes of a removed-while-open file, read through its pinned fd (resolving to undefined
   * once it is gone); no promise at all when `ino` is no such file (the common case costs no await).
   */
  detachedStat(ino: number): Promise<Stat | undefined> | undefined {
    const e = this.detached.get(ino);
    if (!e || this.index.has(ino)) return undefined;
    return this.statThroughFd(e);
  }

  fdStats(): FdPoolStats {
    return this.pool.stats();
  }

  handoffStats(): HandoffStats {
    return this.handoff.stats();
  }

  /** Closes every fd: parked, pooled (in-flight I/O keeps its fd until it returns). */
  async shutdown(): Promise<void> {
    this.handoff.clear();
    await this.pool.close();
    this.detached.clear();
  }

  /** The inode is gone: its fds and parked create go; its emulated ownership too, unless a detached open still uses it. */
  private forget(ino: number): void {
    this.pool.forget(ino);
    this.handoff.drop(ino);
    if (this.overlay?.get(ino) && !this.detached.has(ino)) {
      this.overlay.drop(ino).catch((e) => this.log.error({ err: (e as Error).message }, 'ownership overlay write failed'));
    }
  }

  private async statThroughFd(e: FdEntry): Promise<Stat | undefined> {
    if (e.stale) return undefined;
    const s = this.resolver.toStat(await this.pool.run(e, false, (fh) => fh.stat({ bigint: true })));
    return s.gen === e.gen ? s : undefined;
  }

  /** The pool entry of a regular file, with an fd that serves `writable` (opened here if needed). Lock held. */
  private async poolEntry(ino: number, writable: boolean): Promise<FdEntry> {
    const cur = await this.resolver.resolveCached(ino);
    if (cur.stat.kind === 'dir') fail('EISDIR');
    if (cur.stat.kind !== 'reg') fail('EINVAL', 'not a regular file');
    const e = this.pool.entry(ino, cur.stat.gen);
    if (e.fd(writable)) {
      this.pool.hit();
      return e;
    }
    const { fh } = await this.openIno(ino, writable ? C.O_RDWR : C.O_RDONLY, cur.stat.gen);
    this.pool.install(e, writable, fh);
    return e;
  }

  /** Opens a pooled file again by path (its fd was evicted): the same inode and generation, or ESTALE. */
  private async reopen(ino: number, gen: number, writable: boolean): Promise<Fd> {
    this.checkOpen();
    return this.lock.shared(async () => (await this.openIno(ino, writable ? C.O_RDWR : C.O_RDONLY, gen)).fh);
  }
}
