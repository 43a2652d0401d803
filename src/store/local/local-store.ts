import { promises as fsp, constants as C, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as fsWalk from '@nodelib/fs.walk';
import pino, { type Logger } from 'pino';
import {
  StoreError,
  type CreateAttrs,
  type DirChange,
  type DirEntry,
  type DirPage,
  type FileKind,
  type FsStats,
  type OpenFile,
  type SetAttrs,
  type Stat,
  type Store,
} from '../types.js';
import { Lru } from './lru.js';
import { sys, type Fd } from './sys.js';
import { FdPool, type FdEntry, type FdPoolStats } from './fd-pool.js';
import { RwLock } from './rwlock.js';
import { KeyedMutex } from '../../util/keyed-mutex.js';
import { TouchClock } from './touch-clock.js';
import { errnoOf, fail, toStoreError } from './errors.js';
import { InodeIndex, type Link } from './inode-index.js';
import { OwnerOverlay, type Owner } from './overlay.js';
import { ChangeTracker, changeBase } from './change.js';
import { assignCookies, firstAfter, nameCookie } from './cookie.js';
import {
  DIR_SIZE,
  MAX_DEPTH,
  MAX_FILE_SIZE,
  MAX_LINKS,
  MAX_SYMLINK_BYTES,
  checkName,
  devParts,
  genOf,
  inoOf,
  kindOf,
  spaceOf,
  timespec,
  timesFor,
  toSeconds,
} from './stat.js';

export interface LocalStoreOptions {
  /** Directory holding the exported tree (created 0755, 0:0 when missing). */
  root: string;
  /** Private state directory (never inside root). */
  metaDir: string;
  fsid: { major: number; minor: number };
  log?: Logger;
  /** Keep uid/gid/mode in an overlay instead of on disk. Default: not running as root. */
  emulateOwnership?: boolean;
  /** Bounds of the caches (optional tuning). */
  statCacheSize?: number;
  dirCacheSize?: number;
  /**
   * Most fds the store holds for file I/O (default 4096; see fd-pool.ts):
   * every open, anonymous-stateid I/O and parked create fd shares this one
   * bound. Opens do not hold fds: an evicted fd is opened again on demand.
   */
  fdLimit?: number;
  /**
   * Most removed-while-open files whose fds are kept (default: a quarter of
   * fdLimit, at most 1024); beyond it the oldest one's I/O fails with ESTALE.
   */
  detachedFdMax?: number;
  /** Change floors kept before lingering ones are settled (default 100,000). */
  changeFloorLimit?: number;
  /**
   * How long the fd of a just-created file is kept for the open() that
   * usually follows (default 2000 ms), and how many such fds at most
   * (default 128, at most a quarter of fdLimit; 0 turns the hand-off off).
   * They count against fdLimit.
   */
  handoffMs?: number;
  handoffMax?: number;
}

/** The fd of a file createFile just made, parked for the open() that follows. */
interface Handoff {
  fh: Fd;
  gen: number;
  at: number;
}

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

interface Mutation {
  ino: number;
  before: number;
  done: boolean;
}

interface Listing {
  change: number;
  entries: Array<{ name: string; cookie: number; ino: number }>;
}

const O_NOFOLLOW = C.O_NOFOLLOW;
const O_DIRECTORY = C.O_DIRECTORY;
const O_NONBLOCK = C.O_NONBLOCK;
const LSTAT_CONCURRENCY = 128;


/**
 * The Store on a local directory.
 *
 * Identity: ino = host st_ino (refused beyond 2^53), gen = 32 bits folded from
 * the host birth time in ns (0 when the host has none). An in-memory inode
 * index (ino -> parent ino + name, plus extra names for hard links) is built by
 * walking the tree at startup and kept up to date by every mutation; paths are
 * rebuilt from it by walking parent links.
 *
 * Safety: client names are single validated components; every path is an
 * index path of real directories plus that component; lstat everywhere,
 * O_NOFOLLOW on every open, fstat ino/gen check after open. A namespace
 * reader/writer lock closes the window in which a directory in a resolved path
 * could be swapped for a symlink: path-using ops hold it shared; remove,
 * rename and symlink creation hold it exclusively; fd I/O holds nothing
 * (reopening an fd the fd pool closed takes it shared).
 *
 * Fds: one bounded pool (fd-pool.ts, option fdLimit) serves every open and
 * anonymous-stateid I/O; opens hold references, not fds (see "I/O" below).
 *
 * metaDir layout (shared with other parts of the server: everything here is
 * prefixed `store-`):
 *   store-owners.journal   emulated ownership overlay (see overlay.ts)
 *   store-tmp/             staging for fifos/sockets (emptied at startup)
 *
 * Change attribute: see change.ts; mutations are bracketed by begin()/end()
 * so the value after a mutation is above every value computed before or
 * during it.
 *
 * readdir: cookie = 53-bit hash of the name (cookie.ts); the sorted listing
 * of a directory is cached per (ino, change) and edited in place by our own
 * creates/removes/renames; entry stats come from the stat cache.
 */
export class LocalStore implements Store {
  readonly fsid: { major: number; minor: number };
  readonly rootIno: number;

  private readonly lock = new RwLock();
  private readonly changes: ChangeTracker;
  /**
   * Inodes with mutations in flight: count, the highest change value computed
   * meanwhile, and the highest `before` of the mutations begun meanwhile.
   */
  private readonly active = new Map<number, { n: number; seen: number; top: number }>();
  private readonly statCache: Lru<number, Stat>;
  private readonly dirCache: Lru<number, Listing>;
  /** Every fd of regular-file I/O (opens, anonymous I/O, create hand-off): one bounded pool. */
  private readonly pool: FdPool;
  /**
   * Open files whose last name went (removed, renamed over): ino -> their pool
   * entry. They stay reachable by handle (getattr, verify) through its pinned
   * fd until the last close, as a removed open file stays alive on a local
   * file system (bounded: see fd-pool.ts).
   */
  private readonly detached = new Map<number, FdEntry>();
  /** Per-inode touch clock: a stat read that overlapped a mutation or invalidation of its inode is not cached. */
  private readonly clock: TouchClock;
  /** Fresh stat reads in flight, by inode: a caller may share one that started after the inode's last touch. */
  private readonly resolving = new Map<number, { t: number; p: Promise<{ path: string; stat: Stat; link?: Link }> }>();
  /**
   * Serializes path operations on one directory entry (see remove()). Holders
   * take the namespace lock first and never wait for it while holding one, so
   * there is no lock-order cycle.
   */
  private readonly names = new KeyedMutex();
  /** Fds of just-created files, for the open() that follows (insertion order = age). */
  private readonly handoff = new Map<number, Handoff>();
  private handoffTimer: NodeJS.Timeout | undefined;
  private readonly handoffMs: number;
  private readonly handoffMax: number;
  private readonly counters = { resolves: 0, resolvesShared: 0, handoffParked: 0, handoffUsed: 0, handoffExpired: 0, removesShared: 0, removesExclusive: 0 };
  private settling = false;
  private closed = false;
  private readonly tmpDir: string;

  private constructor(
    private readonly root: string,
    private readonly metaDir: string,
    fsid: { major: number; minor: number },
    private readonly log: Logger,
    readonly emulateOwnership: boolean,
    private readonly index: InodeIndex,
    private readonly overlay: OwnerOverlay | undefined,
    private readonly rootDev: bigint,
    opts: LocalStoreOptions,
  ) {
    this.fsid = { major: fsid.major, minor: fsid.minor };
    this.rootIno = index.rootIno;
    this.tmpDir = path.join(metaDir, 'store-tmp');
    this.changes = new ChangeTracker(opts.changeFloorLimit ?? 100_000);
    this.statCache = new Lru(opts.statCacheSize ?? 65536);
    this.clock = new TouchClock(Math.max(1024, opts.statCacheSize ?? 65536));
    const fdLimit = Math.max(1, Math.floor(opts.fdLimit ?? 4096));
    this.handoffMs = opts.handoffMs ?? 2000;
    this.handoffMax = Math.max(0, Math.floor(opts.handoffMax ?? Math.min(128, Math.floor(fdLimit / 4))));
    this.dirCache = new Lru(opts.dirCacheSize ?? 256);
    this.pool = new FdPool({
      capacity: fdLimit,
      detachedMax: opts.detachedFdMax ?? Math.max(1, Math.min(1024, Math.floor(fdLimit / 4))),
      reopen: (ino, gen, writable) => this.reopen(ino, gen, writable),
      onError: (err) => this.log.warn({ err: (err as Error)?.message }, 'closing a pooled fd failed'),
    });
  }

  // ---------------------------------------------------------------- startup

  static async open(opts: LocalStoreOptions): Promise<LocalStore> {
    const log = opts.log ?? pino({ level: 'silent' });
    const root = path.resolve(opts.root);
    const metaDir = path.resolve(opts.metaDir);
    const rel = path.relative(root, metaDir);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw new Error('localefs store: metaDir must not be inside root');
    }
    const emulate = opts.emulateOwnership ?? (typeof process.getuid === 'function' ? process.getuid() !== 0 : true);

    await fsp.mkdir(metaDir, { recursive: true, mode: 0o700 });
    const tmpDir = path.join(metaDir, 'store-tmp');
    await fsp.rm(tmpDir, { recursive: true, force: true });
    await fsp.mkdir(tmpDir, { mode: 0o700 });

    let created = false;
    try {
      const st = await sys.lstat(root);
      if (!st.isDirectory()) throw new Error('localefs store: root is not a directory (or is a symlink)');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(root, { recursive: true, mode: 0o755 });
      await sys.chmod(root, 0o755);
      if (!emulate) await sys.lchown(root, 0, 0);
      created = true;
    }
    const rootSt = await sys.lstat(root);
    // again with symlinks in the parents resolved
    const realRel = path.relative(await fsp.realpath(root), await fsp.realpath(metaDir));
    if (realRel === '' || (!realRel.startsWith('..') && !path.isAbsolute(realRel))) {
      throw new Error('localefs store: metaDir must not be inside root');
    }
    const rootIno = inoOf(rootSt);
    const index = new InodeIndex(rootIno);
    index.add(rootIno, rootIno, '', genOf(rootSt), 'dir', spaceOf('dir', rootSt));

    const overlay = emulate ? await OwnerOverlay.open(metaDir) : undefined;
    await buildIndex(root, rootSt.dev, index, log);

    if (overlay) {
      const dropped = overlay.prune((ino, o) => {
        const n = index.get(ino);
        return n !== undefined && n.gen === o.gen;
      });
      const r = overlay.get(rootIno);
      if (!r || r.gen !== genOf(rootSt)) {
        // an EFS file system root belongs to 0:0
        await overlay.set(rootIno, {
          gen: genOf(rootSt),
          uid: 0,
          gid: 0,
          mode: created ? 0o755 : Number(rootSt.mode) & 0o7777,
        });
      }
      await overlay.compact();
      if (dropped) log.info({ dropped }, 'ownership overlay: dropped entries of dead inodes');
    }
    const store = new LocalStore(root, metaDir, opts.fsid, log, emulate, index, overlay, rootSt.dev, opts);
    log.info({ files: index.size, used: index.used, emulateOwnership: emulate, created }, 'local store ready');
    return store;
  }

  // ---------------------------------------------------------------- helpers

  private err(e: unknown, op: string): StoreError {
    const se = toStoreError(e, op);
    if (!(e instanceof StoreError)) this.log.debug({ op, err: (e as Error)?.message }, 'store op failed');
    return se;
  }

  private checkOpen(): void {
    if (this.closed) fail('EIO', 'store is shut down');
  }

  private pathVia(ino: number, via?: Link): string {
    const comps = this.index.components(ino, via);
    if (comps === undefined) fail('ESTALE');
    return comps.length === 0 ? this.root : this.root + '/' + comps.join('/');
  }

  private toStat(st: BigIntStats): Stat {
    const ino = inoOf(st);
    const gen = genOf(st);
    const hostMode = Number(st.mode);
    const kind = kindOf(hostMode);
    let mode = hostMode & 0o7777;
    let uid = Number(st.uid);
    let gid = Number(st.gid);
    if (this.overlay) {
      const o = this.overlay.get(ino);
      if (o && o.gen === gen) {
        uid = o.uid;
        gid = o.gid;
        mode = o.mode & 0o7777;
      }
    }
    if (kind === 'lnk') mode = 0o777;
    const btimeNs = st.birthtimeNs > 0n ? st.birthtimeNs : st.ctimeNs;
    return {
      ino,
      gen,
      kind,
      mode,
      nlink: Number(st.nlink),
      uid,
      gid,
      size: kind === 'dir' ? DIR_SIZE : Number(st.size),
      spaceUsed: spaceOf(kind, st),
      rdev: kind === 'blk' || kind === 'chr' ? devParts(st.rdev) : { major: 0, minor: 0 },
      atime: timespec(st.atimeNs),
      mtime: timespec(st.mtimeNs),
      ctime: timespec(st.ctimeNs),
      btime: timespec(btimeNs),
      change: this.changeOf(ino, st),
    };
  }

  private changeOf(ino: number, st: BigIntStats): number {
    const change = this.changes.value(ino, changeBase(st.ctimeNs));
    const a = this.active.get(ino);
    if (a && change > a.seen) a.seen = change;
    return change;
  }

  private invalidate(ino: number): void {
    this.clock.touch(ino);
    this.statCache.delete(ino);
    this.dirCache.delete(ino);
  }

  /**
   * Caches a stat read that started at clock tick `t`, unless its inode was
   * touched since (the read may then show either side of that event).
   *
   * A stat read during one of our mutations of the inode is cacheable: it is
   * a valid view while the mutation is in flight, its change value was
   * recorded in the mutation's `seen` (so the value after is above it), and
   * end() touches the inode and drops the entry.
   */
  private cacheStat(s: Stat, t: number): void {
    if (!this.clock.since(s.ino, t)) this.statCache.set(s.ino, s);
  }

  /** Stat of an indexed inode (caller holds the namespace lock, shared or exclusive). */
  private async statIno(ino: number, fresh = false): Promise<Stat> {
    if (!fresh) {
      const c = this.statCache.get(ino);
      if (c) return c;
    }
    const r = await this.resolve(ino);
    return r.stat;
  }

  /**
   * Finds a live name of `ino`: its path and fresh stat. Prunes dead names. Lock held.
   *
   * "Fresh" = read after every event that touched the inode before this call.
   * A read of the same inode already in flight that started after the
   * inode's last touch is exactly that, so concurrent callers share it (under
   * load many ops ask for the stat of the same directory at once). The
   * sharer holds the namespace lock too, so the path it gets is as valid for
   * it as one it would have computed itself.
   */
  private resolve(ino: number): Promise<{ path: string; stat: Stat; link?: Link }> {
    const cur = this.resolving.get(ino);
    if (cur && !this.clock.since(ino, cur.t)) {
      this.counters.resolvesShared++;
      return cur.p;
    }
    this.counters.resolves++;
    const t = this.clock.now();
    const p = this.resolveNow(ino, t);
    const entry = { t, p };
    this.resolving.set(ino, entry);
    const done = (): void => {
      if (this.resolving.get(ino) === entry) this.resolving.delete(ino);
    };
    p.then(done, done);
    return p;
  }

  private async resolveNow(ino: number, t0: number): Promise<{ path: string; stat: Stat; link?: Link }> {
    let t = t0;
    for (let attempt = 0; ; attempt++) {
      if (!this.index.has(ino)) fail('ESTALE');
      let raced = false;
      for (const l of this.index.links(ino)) {
        let p: string;
        try {
          p = ino === this.rootIno ? this.root : this.pathVia(ino, l);
        } catch {
          continue;
        }
        // the third time, under the entry lock: no remove of this name can overlap the read
        const r =
          attempt < 2 || ino === this.rootIno
            ? await this.statLink(ino, l, p, t, false)
            : await this.names.run(entryKey(l), () => this.statLink(ino, l, p, t, true));
        if (r === 'raced') raced = true;
        else if (r !== 'gone') return r;
      }
      if (!raced) fail('ESTALE');
      t = this.clock.now();
    }
  }

  /**
   * lstat of one name of `ino` (read started at tick t), with index upkeep.
   * Dropping a name or forgetting an inode on the strength of the read is
   * only done when none of our mutations of the inode overlapped it (or under
   * the entry lock): a remove of the name, and a create that reuses the inode
   * number, may have run meanwhile, and the stale read must not undo their
   * index updates. 'raced' asks the caller to read again.
   */
  private async statLink(
    ino: number,
    l: Link,
    p: string,
    t: number,
    locked: boolean,
  ): Promise<{ path: string; stat: Stat; link?: Link } | 'gone' | 'raced'> {
    const root = ino === this.rootIno;
    let st: BigIntStats;
    try {
      st = await sys.lstat(p);
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (root) return 'gone';
        if (!locked && this.clock.since(ino, t)) return 'raced';
        this.dropLink(ino, l);
        return 'gone';
      }
      throw e;
    }
    if (inoOf(st) !== ino) {
      if (root) return 'gone';
      if (!locked && this.clock.since(ino, t)) return 'raced';
      this.dropLink(ino, l);
      return 'gone';
    }
    const s = this.toStat(st);
    const n = this.index.get(ino);
    if (n && n.gen !== s.gen) {
      if (!root && !locked && this.clock.since(ino, t)) return 'raced';
      // same number, new file (reused outside our view): the old handles are stale
      this.forgetInode(ino);
      this.index.add(ino, l.parent, l.name, s.gen, s.kind, s.spaceUsed);
    } else {
      this.index.setSpace(ino, s.spaceUsed);
    }
    this.cacheStat(s, t);
    return root ? { path: p, stat: s } : { path: p, stat: s, link: l };
  }

  private dropLink(ino: number, l: Link): void {
    if (this.index.removeLink(ino, l.parent, l.name)) this.forgetInode(ino);
  }

  /** The inode is gone: drop every trace. */
  private forgetInode(ino: number): void {
    this.index.drop(ino);
    this.invalidate(ino);
    this.changes.forget(ino);
    this.pool.forget(ino);
    this.dropParked(ino);
    if (this.overlay?.get(ino) && !this.detached.has(ino)) {
      this.overlay.drop(ino).catch((e) => this.log.error({ err: (e as Error).message }, 'ownership overlay write failed'));
    }
  }

  private async dirInfo(dirIno: number): Promise<{ stat: Stat; path: string }> {
    const r = await this.resolveCached(dirIno);
    if (r.stat.kind !== 'dir') fail('ENOTDIR');
    return r;
  }

  /** Stat (cached if possible), a path of `ino` and the name it goes through (none for the root). Lock held. */
  private async resolveCached(ino: number): Promise<{ stat: Stat; path: string; link?: Link }> {
    const c = this.statCache.get(ino);
    if (c) {
      const n = this.index.get(ino);
      if (n) return { stat: c, path: this.pathVia(ino), link: ino === this.rootIno ? undefined : { parent: n.parent, name: n.name } };
    }
    return this.resolve(ino);
  }

  /**
   * Marks the start of a mutation of `ino` whose change value was `before`
   * (read just now). Until end(), every change value computed for the inode is
   * remembered, so the value after the mutation is above anything a client
   * could have seen before or during it, even with overlapping mutations.
   */
  private begin(ino: number, before: number): Mutation {
    let a = this.active.get(ino);
    if (!a) {
      a = { n: 0, seen: 0, top: 0 };
      this.active.set(ino, a);
    }
    a.n++;
    if (before > a.top) a.top = before;
    this.clock.touch(ino);
    this.statCache.delete(ino);
    return { ino, before, done: false };
  }

  /** Ends a mutation: the next change value is strictly above everything seen. Idempotent. */
  private end(m: Mutation, keepListing = false): void {
    if (m.done) return;
    m.done = true;
    let seen = m.before;
    const a = this.active.get(m.ino);
    if (a) {
      seen = Math.max(seen, a.seen);
      if (--a.n <= 0) this.active.delete(m.ino);
    }
    this.changes.bump(m.ino, seen);
    this.clock.touch(m.ino);
    this.statCache.delete(m.ino);
    if (!keepListing) this.dirCache.delete(m.ino);
    this.maybeSettle();
  }

  /**
   * The mutation did not happen (it failed before changing anything): leaves
   * the inode's change value alone. Values computed meanwhile were real
   * values of the unchanged inode.
   */
  private abort(m: Mutation): void {
    if (m.done) return;
    m.done = true;
    const a = this.active.get(m.ino);
    if (a && --a.n <= 0) this.active.delete(m.ino);
  }

  /**
   * Ends mutation m, whose result `st` was read starting at tick t (after
   * begin), and caches that stat unless something else touched the inode
   * since t.
   */
  private endWithStat(m: Mutation, st: BigIntStats, t: number): Stat {
    const clean = !this.clock.since(m.ino, t);
    this.end(m);
    const s = this.toStat(st);
    if (clean) this.statCache.set(m.ino, s);
    return s;
  }

  /** The inode died during the mutation: no change to track. */
  private endDead(m: Mutation): void {
    if (m.done) return;
    m.done = true;
    const a = this.active.get(m.ino);
    if (a && --a.n <= 0) this.active.delete(m.ino);
  }

  /**
   * Ends a namespace mutation of directory m.ino: fresh stat, change strictly
   * above `before`. The cached listing is edited in place when it was current
   * at `before` (no concurrent change slipped in), otherwise dropped.
   */
  private async dirAfter(m: Mutation, edit?: (l: Listing) => boolean): Promise<DirChange> {
    const listing = this.dirCache.peek(m.ino);
    this.end(m, true);
    const before = m.before;
    let after: number;
    try {
      after = (await this.statIno(m.ino, true)).change;
    } catch {
      this.dirCache.delete(m.ino);
      return { before, after: before + 1 };
    }
    const cur = this.dirCache.peek(m.ino);
    if (listing && cur === listing && listing.change === before && edit && edit(listing)) listing.change = after;
    else if (cur) this.dirCache.delete(m.ino);
    return { before, after };
  }

  private checkDepth(dirIno: number): void {
    const d = this.index.depth(dirIno);
    if (d < 0) fail('ESTALE');
    if (d + 1 > MAX_DEPTH) fail('ENAMETOOLONG', 'directory depth limit');
  }

  private realMode(kind: FileKind, mode: number): number {
    if (!this.overlay) return mode & 0o7777;
    const perm = mode & 0o777;
    return kind === 'dir' ? perm | 0o700 : perm | 0o600;
  }

  private async setOwner(ino: number, o: Owner): Promise<void> {
    if (this.overlay) await this.overlay.set(ino, o);
  }

  /**
   * Opens an indexed inode's current path without following a symlink, and checks it is still
   * that inode (and generation `gen` when given). Lock held.
   */
  private async openIno(ino: number, flags: number, gen?: number): Promise<{ fh: Fd; st: BigIntStats; path: string }> {
    const { path: p, stat } = await this.resolveCached(ino);
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
  private async openPath(p: string, flags: number, mode?: number): Promise<Fd> {
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

  /** Settles lingering change floors (files never touched again) once the tracker grows past its bound. */
  private maybeSettle(): void {
    if (this.settling || !this.changes.overLimit()) return;
    this.settling = true;
    void this.lock
      .shared(async () => {
        for (const [ino, floor] of this.changes.oldest(4096)) {
          try {
            const p = this.pathVia(ino);
            const n = this.index.get(ino);
            const link = n && ino !== this.rootIno ? { parent: n.parent, name: n.name } : undefined;
            // under the entry lock: the name keeps naming the inode checked below
            await this.names.run(entryKey(link), async () => {
              let st = await sys.lstat(p);
              if (inoOf(st) !== ino) {
                this.changes.forget(ino);
                return;
              }
              if (changeBase(st.ctimeNs) < floor) {
                await sys.lchown(p, -1, -1); // moves ctime to now, past the floor
                st = await sys.lstat(p);
              }
              this.invalidate(ino);
              if (changeBase(st.ctimeNs) >= floor) this.changes.forget(ino);
            });
          } catch {
            this.changes.forget(ino);
          }
        }
      })
      .finally(() => {
        this.settling = false;
      });
  }

  // ---------------------------------------------------------------- reads

  async verify(ino: number, gen: number): Promise<Stat> {
    const s = await this.getattr(ino);
    if (s.gen !== gen >>> 0) throw new StoreError('ESTALE');
    return s;
  }

  async getattr(ino: number): Promise<Stat> {
    this.checkOpen();
    const c = this.statCache.get(ino);
    if (c && this.index.has(ino)) return c;
    const de = this.detached.get(ino);
    if (de && !this.index.has(ino)) {
      const d = await this.detachedStat(de).catch(() => undefined);
      if (d) return d;
    }
    try {
      return await this.lock.shared(() => this.statIno(ino, true));
    } catch (e) {
      throw this.err(e, 'getattr');
    }
  }

  async lookup(dirIno: number, name: string): Promise<Stat> {
    this.checkOpen();
    checkName(name);
    try {
      return await this.lock.shared(async () => {
        const dir = await this.dirInfo(dirIno);
        return this.lookupIn(dirIno, dir.path, name);
      });
    } catch (e) {
      throw this.err(e, 'lookup');
    }
  }

  private async lookupIn(dirIno: number, dirPath: string, name: string, locked = false): Promise<Stat> {
    const t = this.clock.now();
    const st = await sys.lstat(dirPath + '/' + name);
    // a mount point inside the tree: its inode numbers would collide with ours
    if (st.dev !== this.rootDev) fail('EACCES', 'another file system is mounted here');
    if (!locked && this.clock.since(inoOf(st), t)) {
      // one of our mutations of that inode overlapped the read (a remove of this name, a create
      // reusing the number...): a stale read must not re-add a removed name or forget a new file.
      // Read again under the entry lock, which no remove of this name can overlap.
      return this.names.run(entryKey({ parent: dirIno, name }), () => this.lookupIn(dirIno, dirPath, name, true));
    }
    const s = this.toStat(st);
    const n = this.index.get(s.ino);
    if (n && n.gen !== s.gen) this.forgetInode(s.ino);
    this.index.add(s.ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
    this.cacheStat(s, t);
    return s;
  }

  async parent(dirIno: number): Promise<Stat> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const dir = await this.dirInfo(dirIno);
        if (dirIno === this.rootIno) return dir.stat;
        const n = this.index.get(dirIno);
        if (!n) fail('ESTALE');
        return this.statIno(n.parent);
      });
    } catch (e) {
      throw this.err(e, 'parent');
    }
  }

  isBelow(ino: number, dirIno: number): boolean {
    if (ino === dirIno) return true;
    return this.index.links(ino).some((l) => this.index.isAncestor(dirIno, l.parent));
  }

  async readdir(dirIno: number, cookie: number, maxEntries: number): Promise<DirPage> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const dir = await this.dirInfo(dirIno);
        let listing = this.dirCache.get(dirIno);
        if (!listing || listing.change !== dir.stat.change) {
          listing = await this.list(dirIno, dir.path, dir.stat.change);
        }
        const all = listing.entries;
        let i = cookie === 0 ? 0 : firstAfter(all, cookie);
        const out: DirEntry[] = [];
        const want = Math.max(0, Math.floor(maxEntries));
        while (i < all.length && out.length < want) {
          const chunk = all.slice(i, i + Math.min(LSTAT_CONCURRENCY, want - out.length));
          i += chunk.length;
          const stats = await Promise.all(
            chunk.map(async (e) => {
              const c = this.statCache.get(e.ino);
              if (c && this.index.has(e.ino)) return c;
              try {
                return await this.lookupIn(dirIno, dir.path, e.name);
              } catch (err) {
                const code = errnoOf(err);
                if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined; // vanished behind our back
                throw err;
              }
            }),
          );
          chunk.forEach((e, k) => {
            const s = stats[k];
            if (s) out.push({ name: e.name, cookie: e.cookie, stat: s });
          });
        }
        return { entries: out, eof: i >= all.length };
      });
    } catch (e) {
      throw this.err(e, 'readdir');
    }
  }

  /** Lists a directory, stats every entry (filling the stat cache and index), sorts by cookie. Lock held. */
  private async list(dirIno: number, dirPath: string, change: number): Promise<Listing> {
    const names = await fsp.readdir(dirPath);
    const entries: Array<{ name: string; cookie: number; ino: number }> = [];
    for (let i = 0; i < names.length; i += LSTAT_CONCURRENCY) {
      const chunk = names.slice(i, i + LSTAT_CONCURRENCY);
      const stats = await Promise.all(
        chunk.map((n) =>
          this.lookupIn(dirIno, dirPath, n).catch((err) => {
            const code = errnoOf(err);
            if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
            throw err;
          }),
        ),
      );
      chunk.forEach((n, k) => {
        const s = stats[k];
        if (s) entries.push({ name: n, cookie: 0, ino: s.ino });
      });
    }
    assignCookies(entries);
    const listing: Listing = { change, entries };
    this.dirCache.set(dirIno, listing);
    return listing;
  }

  async readlink(ino: number): Promise<string> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const r = await this.resolveCached(ino);
        if (r.stat.kind !== 'lnk') fail('EINVAL', 'not a symlink');
        // the entry lock: the name cannot be removed and taken by another file meanwhile
        return this.names.run(entryKey(r.link), () => sys.readlink(r.path));
      });
    } catch (e) {
      throw this.err(e, 'readlink');
    }
  }

  async statfs(): Promise<FsStats> {
    this.checkOpen();
    return { used: this.index.used, files: this.index.size };
  }

  // ---------------------------------------------------------------- creation

  async createFile(dirIno: number, name: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    if (attrs.size !== undefined && (attrs.size < 0 || attrs.size > MAX_FILE_SIZE)) throw new StoreError('EFBIG');
    try {
      return await this.creating(false, dirIno, name, async (p) => {
        const real = this.realMode('reg', attrs.mode);
        const fh = await this.openPath(p, C.O_CREAT | C.O_EXCL | C.O_RDWR | O_NOFOLLOW, real & 0o777);
        let st: BigIntStats;
        try {
          // One fstat shows what the create left (umask, a setgid directory's group, our own
          // uid/gid); only what differs from the wanted owner and mode is changed. chown comes
          // first, as it may clear setuid/setgid (the create set none).
          st = await fh.stat({ bigint: true });
          let changed = false;
          if (!this.overlay && (Number(st.uid) !== attrs.uid || Number(st.gid) !== attrs.gid)) {
            await fh.chown(attrs.uid, attrs.gid);
            changed = true;
          }
          if ((Number(st.mode) & 0o7777) !== real) {
            await fh.chmod(real);
            changed = true;
          }
          if (attrs.size) {
            await fh.truncate(attrs.size);
            changed = true;
          }
          if (attrs.atime !== undefined || attrs.mtime !== undefined) {
            const cur = changed ? await fh.stat({ bigint: true }) : st;
            await fh.utimes(...timesFor(attrs, cur));
            changed = true;
          }
          if (changed) st = await fh.stat({ bigint: true });
          await this.setOwner(inoOf(st), { gen: genOf(st), uid: attrs.uid, gid: attrs.gid, mode: attrs.mode & 0o7777 });
        } catch (e) {
          await fh.close().catch(() => undefined);
          await sys.unlink(p).catch(() => undefined);
          throw e;
        }
        // kept for the open() of this file that usually follows (OPEN with create)
        this.park(inoOf(st), genOf(st), fh);
        return st;
      });
    } catch (e) {
      throw this.err(e, 'create');
    }
  }

  /**
   * Runs a creation under the namespace lock (exclusive for symlinks, see
   * the note above remove()) and the entry lock: `make` creates `name` at the
   * given path (EEXIST if taken) and returns its lstat.
   */
  private creating(
    exclusive: boolean,
    dirIno: number,
    name: string,
    make: (p: string) => Promise<BigIntStats>,
  ): Promise<{ stat: Stat; dir: DirChange }> {
    const run = async (): Promise<{ stat: Stat; dir: DirChange }> => {
      const dir = await this.dirInfo(dirIno);
      this.checkDepth(dirIno);
      const m = this.begin(dirIno, dir.stat.change);
      try {
        // under the entry lock: a remove of this name cannot run between make's calls on the path
        const st = await this.names.run(entryKey({ parent: dirIno, name }), () => make(dir.path + '/' + name));
        return await this.created(m, name, st);
      } finally {
        this.end(m);
      }
    };
    return exclusive ? this.lock.exclusive(run) : this.lock.shared(run);
  }

  private async created(m: Mutation, name: string, st: BigIntStats): Promise<{ stat: Stat; dir: DirChange }> {
    const dirIno = m.ino;
    const s = this.toStat(st);
    const n = this.index.get(s.ino);
    if (n && n.gen !== s.gen) {
      const owner = this.overlay?.get(s.ino);
      this.forgetInode(s.ino);
      if (owner && this.overlay) await this.overlay.set(s.ino, owner); // forgetInode dropped the fresh entry too
    }
    this.index.add(s.ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
    this.invalidate(s.ino);
    this.statCache.set(s.ino, s);
    const dir = await this.dirAfter(m, (l) => listingAdd(l, name, s.ino));
    return { stat: s, dir };
  }

  async mkdir(dirIno: number, name: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    try {
      return await this.creating(false, dirIno, name, async (p) => {
        const real = this.realMode('dir', attrs.mode);
        await sys.mkdir(p, real & 0o777);
        let st: BigIntStats;
        try {
          const fh = await this.openPath(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
          try {
            if (!this.overlay) await fh.chown(attrs.uid, attrs.gid);
            await fh.chmod(real);
            if (attrs.atime !== undefined || attrs.mtime !== undefined) {
              const cur = await fh.stat({ bigint: true });
              await fh.utimes(...timesFor(attrs, cur));
            }
            st = await fh.stat({ bigint: true });
          } finally {
            await fh.close();
          }
          await this.setOwner(inoOf(st), { gen: genOf(st), uid: attrs.uid, gid: attrs.gid, mode: attrs.mode & 0o7777 });
        } catch (e) {
          await sys.rmdir(p).catch(() => undefined);
          throw e;
        }
        return st;
      });
    } catch (e) {
      throw this.err(e, 'mkdir');
    }
  }

  async symlink(dirIno: number, name: string, target: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    if (typeof target !== 'string' || target === '' || target.includes('\0')) throw new StoreError('EINVAL', 'invalid symlink target');
    if (Buffer.byteLength(target, 'utf8') > MAX_SYMLINK_BYTES) throw new StoreError('ENAMETOOLONG', 'symlink target too long');
    try {
      return await this.creating(true, dirIno, name, async (p) => {
        await sys.symlink(target, p);
        let st: BigIntStats;
        try {
          if (!this.overlay) await sys.lchown(p, attrs.uid, attrs.gid);
          if (attrs.atime !== undefined || attrs.mtime !== undefined) {
            const cur = await sys.lstat(p);
            await sys.lutimes(p, ...timesFor(attrs, cur));
          }
          st = await sys.lstat(p);
          await this.setOwner(inoOf(st), { gen: genOf(st), uid: attrs.uid, gid: attrs.gid, mode: 0o777 });
        } catch (e) {
          await sys.unlink(p).catch(() => undefined);
          throw e;
        }
        return st;
      });
    } catch (e) {
      throw this.err(e, 'symlink');
    }
  }

  async mknod(dirIno: number, name: string, kind: 'fifo' | 'sock', attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    if (kind !== 'fifo' && kind !== 'sock') throw new StoreError('ENOTSUP');
    let tmp: string | undefined;
    try {
      // made in metaDir outside the namespace lock (spawning mkfifo takes milliseconds), then linked into place
      tmp = await this.makeSpecialTemp(kind);
      const t = tmp;
      return await this.creating(false, dirIno, name, async (p) => {
        await this.placeSpecial(kind, t, p);
        let st: BigIntStats;
        try {
          if (!this.overlay) await sys.lchown(p, attrs.uid, attrs.gid);
          // p is the special file we just made: no symlink can take its place while we hold the lock
          await sys.chmod(p, this.realMode(kind, attrs.mode));
          if (attrs.atime !== undefined || attrs.mtime !== undefined) {
            const cur = await sys.lstat(p);
            await sys.lutimes(p, ...timesFor(attrs, cur));
          }
          st = await sys.lstat(p);
          if (kindOf(Number(st.mode)) !== kind) fail('EIO', 'mknod: unexpected file type');
          await this.setOwner(inoOf(st), { gen: genOf(st), uid: attrs.uid, gid: attrs.gid, mode: attrs.mode & 0o7777 });
        } catch (e) {
          await sys.unlink(p).catch(() => undefined);
          throw e;
        }
        return st;
      });
    } catch (e) {
      throw this.err(e, 'mknod');
    } finally {
      if (tmp) await sys.unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Makes a fifo (with mkfifo(1)) or a socket (bind of a unix socket) in
   * metaDir/store-tmp under a random name.
   */
  private async makeSpecialTemp(kind: 'fifo' | 'sock'): Promise<string> {
    const tmp = path.join(this.tmpDir, (kind === 'fifo' ? 'f' : 's') + randomBytes(6).toString('hex'));
    if (kind === 'fifo') {
      await new Promise<void>((resolve, reject) => {
        execFile('mkfifo', ['-m', '600', '--', tmp], (err) => (err ? reject(new StoreError('ENOTSUP', 'mkfifo failed')) : resolve()));
      });
      return tmp;
    }
    if (Buffer.byteLength(tmp) > 100) fail('ENOTSUP', 'socket files need a short metaDir path');
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', () => reject(new StoreError('ENOTSUP', 'cannot make a socket file')));
      server.listen(tmp, () => resolve());
    });
    // closing unlinks the bound name: keep a second name
    const keep = tmp + 'k';
    try {
      await sys.link(tmp, keep);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sys.unlink(tmp).catch(() => undefined);
    }
    return keep;
  }

  /**
   * Puts a special file made by makeSpecialTemp at `p` (EEXIST if the name is
   * taken): a hard link fails atomically on an existing name. With metaDir on
   * another file system, a fifo is made in place instead.
   */
  private async placeSpecial(kind: 'fifo' | 'sock', tmp: string, p: string): Promise<void> {
    try {
      await sys.link(tmp, p);
      return;
    } catch (e) {
      if (errnoOf(e) !== 'EXDEV') throw e;
    }
    if (kind === 'sock') fail('ENOTSUP', 'socket files need metaDir on the same file system as root');
    await sys.lstat(p).then(
      () => fail('EEXIST'),
      (err) => {
        if (errnoOf(err) !== 'ENOENT') throw err;
      },
    );
    await new Promise<void>((resolve, reject) => {
      execFile('mkfifo', ['-m', '600', '--', p], (err) => (err ? reject(new StoreError('EEXIST', 'mkfifo failed')) : resolve()));
    });
  }

  async link(ino: number, dirIno: number, name: string): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    try {
      // exclusive: two racing links must not both pass the link-count check
      return await this.lock.exclusive(async () => {
        const src = await this.resolve(ino);
        if (src.stat.kind === 'dir') fail('EISDIR');
        if (src.stat.nlink >= MAX_LINKS) fail('EMLINK');
        const dir = await this.dirInfo(dirIno);
        this.checkDepth(dirIno);
        const p = dir.path + '/' + name;
        const dm = this.begin(dirIno, dir.stat.change);
        const om = this.begin(ino, src.stat.change);
        try {
          await sys.link(src.path, p);
          const t = this.clock.now();
          const st = await sys.lstat(p);
          if (inoOf(st) !== ino) fail('EIO', 'link: inode mismatch');
          const s = this.endWithStat(om, st, t);
          this.index.add(ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
          const dc = await this.dirAfter(dm, (l) => listingAdd(l, name, ino));
          return { stat: s, dir: dc };
        } finally {
          this.end(om);
          this.end(dm);
        }
      });
    } catch (e) {
      throw this.err(e, 'link');
    }
  }

  // ---------------------------------------------------------------- removal and rename

  /*
   * Locking of remove.
   *
   * The namespace lock exists so that no path-using op resolves a path
   * through a directory that is meanwhile swapped for a symlink (or for
   * another directory). Only ops that change which object a directory
   * component names need it exclusively:
   *   - rename (moves directories, puts anything at a name);
   *   - symlink creation and link (put a symlink at a name that a path
   *     resolved before may still use);
   *   - removing a directory: a path resolved through it (say by a create
   *     inside it) may meanwhile lead, after the rmdir and a mkdir of the same
   *     name, into another directory, or, with a symlink made there, out of
   *     the tree.
   * Removing a non-directory changes no directory component of any path
   * (components are directories), so it runs under the shared lock, next to
   * creations and other removes. What it can change is the object at the
   * removed name itself, so the ops that act on an object through its own
   * name (the entry: parent ino + name) rather than through an fd hold a
   * per-entry lock (`names`) across their check and their calls:
   *   - remove itself (its lstat and unlink: else two removes of one name
   *     with a create between them could unlink the new file);
   *   - creations (their cleanup unlink, mknod's chmod/lchown by path);
   *   - setattr of a symlink/fifo/socket (lstat check, then calls by path);
   *   - readlink, and the change-floor settling (lchown by path);
   *   - lookup and stat reads whose index upkeep would act on a read that
   *     one of our mutations of the inode overlapped (the read is then done
   *     again under the entry lock, see lookupIn and statLink).
   * Whether the entry is a directory is only known after its lstat: a
   * directory found under the shared lock is left alone and the remove
   * starts over under the exclusive lock.
   */
  async remove(dirIno: number, name: string): Promise<{ removed: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    try {
      const r = await this.lock.shared(() => this.names.run(entryKey({ parent: dirIno, name }), () => this.removeEntry(dirIno, name, false)));
      if (r) {
        this.counters.removesShared++;
        return r;
      }
      this.counters.removesExclusive++;
      const x = await this.lock.exclusive(() => this.removeEntry(dirIno, name, true));
      if (!x) fail('EIO', 'remove: no result');
      return x;
    } catch (e) {
      throw this.err(e, 'remove');
    }
  }

  /**
   * Removes one entry (see the locking note above remove()). With only the
   * shared lock held, returns undefined for a directory (nothing changed).
   */
  private async removeEntry(dirIno: number, name: string, exclusive: boolean): Promise<{ removed: Stat; dir: DirChange } | undefined> {
    const dir = await this.dirInfo(dirIno);
    const p = dir.path + '/' + name;
    // begun before the entry's lstat, with no await since the directory's stat: `before` is
    // current (other mutations of the directory may end while we read the entry)
    const dm = this.begin(dirIno, dir.stat.change);
    let st: BigIntStats;
    try {
      st = await sys.lstat(p);
    } catch (e) {
      this.abort(dm);
      throw e;
    }
    if (!exclusive && kindOf(Number(st.mode)) === 'dir') {
      this.abort(dm);
      return undefined;
    }
    let om: Mutation | undefined;
    let held: FdEntry | undefined;
    try {
      const removed = this.indexedStat(st, dirIno, name);
      om = this.begin(removed.ino, removed.change);
      held = await this.holdOpen(removed, p);
      if (removed.kind === 'dir') await sys.rmdir(p);
      else await sys.unlink(p);
      this.unlinked(removed, dirIno, name, om);
      const dc = await this.dirAfter(dm, (l) => listingRemove(l, name));
      return { removed, dir: dc };
    } finally {
      if (held) this.pool.release(held);
      if (om) this.end(om);
      this.end(dm);
    }
  }

  /**
   * Before a name of `s` goes (remove, rename over it; the caller holds that entry, `p` is its
   * path): if the file is open, makes sure its pool entry has an fd of the mode its opens need,
   * kept from eviction until release(): should this be the file's last name, the opens reach it
   * through that fd only (it cannot be opened by path any more, see unlinked()).
   */
  private async holdOpen(s: Stat, p: string): Promise<FdEntry | undefined> {
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

  /** Fresh stat of an entry found by lstat; records the name in the index. */
  private indexedStat(st: BigIntStats, dirIno: number, name: string): Stat {
    const s = this.toStat(st);
    const n = this.index.get(s.ino);
    if (n && n.gen !== s.gen) this.forgetInode(s.ino);
    this.index.add(s.ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
    return s;
  }

  /** Index upkeep after a name of `s` went away (m: the object's mutation). */
  private unlinked(s: Stat, dirIno: number, name: string, m: Mutation): void {
    const dead = s.kind === 'dir' || this.index.removeLink(s.ino, dirIno, name) || s.nlink <= 1;
    if (dead) {
      this.endDead(m);
      if (s.kind === 'reg') {
        // open: it stays reachable through its pinned fd (see holdOpen) until the last close
        const e = this.pool.peek(s.ino);
        if (e && e.gen === s.gen) {
          this.pool.detach(e);
          if (e.detached && !e.stale) this.detached.set(s.ino, e);
        }
      }
      this.forgetInode(s.ino);
    } else {
      this.end(m);
    }
  }

  async rename(
    fromDir: number,
    fromName: string,
    toDir: number,
    toName: string,
  ): Promise<{ from: DirChange; to: DirChange; replaced?: Stat }> {
    this.checkOpen();
    checkName(fromName);
    checkName(toName);
    try {
      return await this.lock.exclusive(async () => {
        const fd = await this.dirInfo(fromDir);
        const td = fromDir === toDir ? fd : await this.dirInfo(toDir);
        const fromPath = fd.path + '/' + fromName;
        const toPath = td.path + '/' + toName;
        const srcSt = await sys.lstat(fromPath);
        const src = this.indexedStat(srcSt, fromDir, fromName);
        let dst: Stat | undefined;
        try {
          dst = this.toStat(await sys.lstat(toPath));
        } catch (e) {
          if (errnoOf(e) !== 'ENOENT') throw e;
        }
        if (dst && dst.ino === src.ino) {
          // two names of one file (or the same name): POSIX says do nothing
          const same = { before: fd.stat.change, after: fd.stat.change };
          return { from: same, to: fromDir === toDir ? same : { before: td.stat.change, after: td.stat.change } };
        }
        if (src.kind === 'dir') {
          if (this.index.isAncestor(src.ino, toDir)) fail('EINVAL', 'cannot move a directory into itself');
          this.checkDepth(toDir);
        } else if (fromDir !== toDir) {
          this.checkDepth(toDir);
        }
        if (dst) {
          if (src.kind === 'dir' && dst.kind !== 'dir') fail('ENOTDIR');
          if (src.kind !== 'dir' && dst.kind === 'dir') fail('EISDIR');
          dst = this.indexedStat(await sys.lstat(toPath), toDir, toName);
        }
        const fm = this.begin(fromDir, fd.stat.change);
        const tm = fromDir === toDir ? undefined : this.begin(toDir, td.stat.change);
        const sm = this.begin(src.ino, src.change);
        const xm = dst ? this.begin(dst.ino, dst.change) : undefined;
        let held: FdEntry | undefined;
        try {
          if (dst) held = await this.holdOpen(dst, toPath);
          try {
            await sys.rename(fromPath, toPath);
          } catch (e) {
            if (errnoOf(e) === 'EEXIST') fail('ENOTEMPTY');
            throw e;
          }
          if (dst && xm) this.unlinked(dst, toDir, toName, xm);
          if (this.index.has(src.ino)) this.index.moveLink(src.ino, fromDir, fromName, toDir, toName);
          else this.index.add(src.ino, toDir, toName, src.gen, src.kind, src.spaceUsed);
          this.end(sm);
          const from = await this.dirAfter(fm, (l) =>
            fromDir === toDir
              ? listingRemove(l, fromName) && (!dst || listingRemove(l, toName)) && listingAdd(l, toName, src.ino)
              : listingRemove(l, fromName),
          );
          const to = tm
            ? await this.dirAfter(tm, (l) => (!dst || listingRemove(l, toName)) && listingAdd(l, toName, src.ino))
            : from;
          return dst ? { from, to, replaced: dst } : { from, to };
        } finally {
          if (held) this.pool.release(held);
          for (const m of [fm, tm, sm, xm]) if (m) this.end(m);
        }
      });
    } catch (e) {
      throw this.err(e, 'rename');
    }
  }

  // ---------------------------------------------------------------- setattr

  async setattr(ino: number, attrs: SetAttrs): Promise<Stat> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const cur = await this.resolveCached(ino);
        const kind = cur.stat.kind;
        if (
          attrs.mode === undefined &&
          attrs.uid === undefined &&
          attrs.gid === undefined &&
          attrs.size === undefined &&
          attrs.atime === undefined &&
          attrs.mtime === undefined
        ) {
          return cur.stat;
        }
        if (attrs.size !== undefined) {
          if (kind === 'dir') fail('EISDIR');
          if (kind !== 'reg') fail('EINVAL');
          if (attrs.size < 0 || attrs.size > MAX_FILE_SIZE) fail('EFBIG');
        }
        const chown = attrs.uid !== undefined || attrs.gid !== undefined;
        // the emulated owner after this call (kernel semantics: chown of a non-directory drops setuid/setgid)
        let newMode = attrs.mode !== undefined ? attrs.mode & 0o7777 : cur.stat.mode;
        if (attrs.mode === undefined && chown && kind !== 'dir') {
          newMode &= ~0o4000;
          if (newMode & 0o010) newMode &= ~0o2000;
        }
        const owner: Owner = {
          gen: cur.stat.gen,
          uid: attrs.uid ?? cur.stat.uid,
          gid: attrs.gid ?? cur.stat.gid,
          mode: kind === 'lnk' ? 0o777 : newMode,
        };
        const times = attrs.atime !== undefined || attrs.mtime !== undefined;
        const atime = attrs.atime !== undefined ? toSeconds(attrs.atime) : cur.stat.atime.sec + cur.stat.atime.nsec / 1e9;
        const mtime = attrs.mtime !== undefined ? toSeconds(attrs.mtime) : cur.stat.mtime.sec + cur.stat.mtime.nsec / 1e9;

        let st: BigIntStats;
        let t = 0;
        const m = this.begin(ino, cur.stat.change);
        try {
          if (kind === 'reg' || kind === 'dir') {
            const flags = kind === 'dir' ? C.O_RDONLY | O_DIRECTORY : attrs.size !== undefined ? C.O_RDWR : C.O_RDONLY;
            const { fh } = await this.openIno(ino, flags);
            try {
              if (chown) await fh.chown(this.overlay ? -1 : (attrs.uid ?? -1), this.overlay ? -1 : (attrs.gid ?? -1));
              if (attrs.mode !== undefined) await fh.chmod(this.realMode(kind, attrs.mode));
              if (attrs.size !== undefined) await fh.truncate(attrs.size);
              if (times) await fh.utimes(atime, mtime);
              t = this.clock.now();
              st = await fh.stat({ bigint: true });
            } finally {
              await fh.close();
            }
          } else {
            // By path: the entry lock keeps the name from being removed (and so
            // from being taken by another file) between the check and the calls.
            st = await this.names.run(entryKey(cur.link), async () => {
              const p = cur.path;
              let check: BigIntStats;
              try {
                check = await sys.lstat(p);
              } catch (e) {
                if (errnoOf(e) === 'ENOENT') fail('ESTALE'); // the name went away before we got the entry lock
                throw e;
              }
              if (inoOf(check) !== ino) fail('ESTALE');
              if (chown) await sys.lchown(p, this.overlay ? -1 : (attrs.uid ?? -1), this.overlay ? -1 : (attrs.gid ?? -1));
              // not a symlink (checked above, under the lock): chmod cannot be redirected
              if (attrs.mode !== undefined && kind !== 'lnk') await sys.chmod(p, this.realMode(kind, attrs.mode));
              if (times) await sys.lutimes(p, atime, mtime);
              t = this.clock.now();
              return sys.lstat(p);
            });
          }
          await this.setOwner(ino, owner);
        } catch (e) {
          this.end(m);
          throw e;
        }
        const s = this.endWithStat(m, st, t);
        this.index.setSpace(ino, s.spaceUsed);
        return s;
      });
    } catch (e) {
      throw this.err(e, 'setattr');
    }
  }

  // ---------------------------------------------------------------- I/O

  /*
   * Fds: every fd of regular-file I/O lives in one bounded pool (fd-pool.ts),
   * shared by all opens of a file and by anonymous-stateid I/O. An open is a
   * reference on the file's pool entry; an fd the pool closed (LRU) is opened
   * again by path at the next I/O (reopen()). Removed-while-open files keep
   * a pinned fd (holdOpen, unlinked), bounded by detachedFdMax.
   */

  async open(ino: number, writable: boolean): Promise<OpenFile> {
    this.checkOpen();
    const parked = this.unpark(ino);
    if (parked) {
      // the fd of the create (O_RDWR, same inode): no path, no lock needed
      const e = this.pool.entry(ino, parked.gen);
      this.pool.install(e, true, parked.fh, false);
      this.pool.ref(e, writable);
      return new LocalFile(ino, writable, e, false);
    }
    try {
      return await this.lock.shared(async () => {
        const e = await this.poolEntry(ino, writable);
        this.pool.ref(e, writable);
        return new LocalFile(ino, writable, e, false);
      });
    } catch (e) {
      throw this.err(e, 'open');
    }
  }

  /** The pool entry of a regular file, with an fd that serves `writable` (opened here if needed). Lock held. */
  private async poolEntry(ino: number, writable: boolean): Promise<FdEntry> {
    const cur = await this.resolveCached(ino);
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

  async sharedFile(ino: number, writable: boolean): Promise<OpenFile> {
    this.checkOpen();
    const c = this.pool.peek(ino);
    if (c && c.fd(writable)) {
      this.pool.hit();
      return new LocalFile(ino, writable, c, true);
    }
    try {
      return await this.lock.shared(async () => new LocalFile(ino, writable, await this.poolEntry(ino, writable), true));
    } catch (e) {
      throw this.err(e, 'open');
    }
  }

  /** Parks the fd of a file createFile just made, for the open() that usually follows. Bounded in number and time. */
  private park(ino: number, gen: number, fh: Fd): void {
    this.dropParked(ino);
    if (this.handoffMax === 0) {
      fh.close().catch(() => undefined);
      return;
    }
    while (this.handoff.size >= this.handoffMax) {
      const first = this.handoff.keys().next();
      if (first.done) break;
      this.dropParked(first.value);
      this.counters.handoffExpired++;
    }
    this.handoff.set(ino, { fh, gen, at: Date.now() });
    this.pool.adjustExternal(1);
    this.counters.handoffParked++;
    if (!this.handoffTimer) this.sweepLater(this.handoffMs);
  }

  /** Takes the parked fd of `ino` (for the pool) if it is still the indexed regular file it was made as. */
  private unpark(ino: number): Handoff | undefined {
    const h = this.handoff.get(ino);
    if (!h) return undefined;
    this.handoff.delete(ino);
    this.pool.adjustExternal(-1);
    const n = this.index.get(ino);
    if (!n || n.gen !== h.gen || n.kind !== 'reg') {
      h.fh.close().catch(() => undefined);
      return undefined;
    }
    this.counters.handoffUsed++;
    return h;
  }

  private dropParked(ino: number): void {
    const h = this.handoff.get(ino);
    if (!h) return;
    this.handoff.delete(ino);
    this.pool.adjustExternal(-1);
    h.fh.close().catch(() => undefined);
  }

  private sweepLater(ms: number): void {
    this.handoffTimer = setTimeout(() => {
      this.handoffTimer = undefined;
      const now = Date.now();
      for (const [ino, h] of this.handoff) {
        if (now - h.at < this.handoffMs) break; // insertion order is age order
        this.dropParked(ino);
        this.counters.handoffExpired++;
      }
      const next = this.handoff.values().next();
      if (!next.done) this.sweepLater(Math.max(1, next.value.at + this.handoffMs - now));
    }, ms);
    this.handoffTimer.unref();
  }

  private asLocal(file: OpenFile): LocalFile {
    if (!(file instanceof LocalFile)) throw new StoreError('EBADF');
    return file;
  }

  /**
   * Runs an fd operation on the file's pooled fd (read-write for a writable open), pinned
   * meanwhile; an fd the pool closed is opened again by path first.
   */
  private withFd<T>(file: LocalFile, fn: (fh: Fd) => Promise<T>): Promise<T> {
    if (file.closed) throw new StoreError('EBADF');
    return this.pool.run(file.entry, file.writable, fn);
  }

  async read(file: OpenFile, into: Buffer, pos: number): Promise<{ bytes: number; eof: boolean }> {
    this.checkOpen();
    const f = this.asLocal(file);
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new StoreError('EINVAL');
    try {
      return await this.withFd(f, async (fh) => {
        let got = 0;
        while (got < into.length) {
          const { bytesRead } = await fh.read(into, got, into.length - got, pos + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got < into.length) return { bytes: got, eof: true };
        let size = this.statCache.peek(f.ino)?.size;
        if (size === undefined) size = Number((await fh.stat({ bigint: true })).size);
        return { bytes: got, eof: pos + got >= size };
      });
    } catch (e) {
      throw this.err(e, 'read');
    }
  }

  async write(file: OpenFile, data: Buffer, pos: number, sync: boolean): Promise<number> {
    this.checkOpen();
    const f = this.asLocal(file);
    if (!f.writable) throw new StoreError('EBADF', 'file not open for writing');
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new StoreError('EINVAL');
    if (pos + data.length > MAX_FILE_SIZE) throw new StoreError('EFBIG');
    try {
      if (data.length === 0) {
        if (sync) await this.withFd(f, (fh) => fh.datasync());
        return 0;
      }
      return await this.withFd(f, async (fh) => {
        let before = this.statCache.peek(f.ino)?.change;
        if (before === undefined) {
          const a = this.active.get(f.ino);
          if (a) {
            // other mutations of the file are in flight (writes in parallel): every value reported
            // so far is at most the `before` of the first of them (current when it began), a value
            // computed since (`seen`), or a floor set by one that ended: no fstat needed
            before = Math.max(a.top, a.seen, this.changes.floor(f.ino) ?? 0);
          } else {
            before = this.toStat(await fh.stat({ bigint: true })).change;
          }
        }
        // (no await between reading `before` and begin: nothing can be reported in between)
        const m = this.begin(f.ino, before);
        let done = 0;
        try {
          while (done < data.length) {
            const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
            if (bytesWritten === 0) throw new StoreError('EIO', 'short write');
            done += bytesWritten;
          }
          if (sync) await fh.datasync();
        } finally {
          this.end(m);
        }
        // With other mutations of the file still in flight, a stat now would not be cached (their
        // end touches the inode); the last of them refreshes the cached stat (and the metered space).
        if (!this.active.has(f.ino)) await this.refreshFromFd(f.ino, fh);
        return done;
      });
    } catch (e) {
      throw this.err(e, 'write');
    }
  }

  /** Refreshes the cached stat of an inode from its fd (after a write). */
  private async refreshFromFd(ino: number, fh: Fd): Promise<void> {
    const t = this.clock.now();
    const st = await fh.stat({ bigint: true });
    if (inoOf(st) !== ino || !this.index.has(ino)) return;
    const s = this.toStat(st);
    this.index.setSpace(ino, s.spaceUsed);
    this.cacheStat(s, t);
  }

  async commit(file: OpenFile): Promise<void> {
    this.checkOpen();
    const f = this.asLocal(file);
    try {
      await this.withFd(f, (fh) => fh.sync());
    } catch (e) {
      throw this.err(e, 'commit');
    }
  }

  /** Attributes of a detached open file, read through its pinned fd (undefined once it is gone). */
  private async detachedStat(e: FdEntry): Promise<Stat | undefined> {
    if (e.stale) return undefined;
    const s = this.toStat(await this.pool.run(e, false, (fh) => fh.stat({ bigint: true })));
    return s.gen === e.gen ? s : undefined;
  }

  /** Drops the open's reference; the last close of a file closes its fds (awaited). */
  async close(file: OpenFile): Promise<void> {
    const f = this.asLocal(file);
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

  // ---------------------------------------------------------------- lifecycle

  /** Cache counters, for diagnostics and tests. */
  cacheStats(): {
    stat: ReturnType<Lru<number, Stat>['stats']>;
    dir: ReturnType<Lru<number, Listing>['stats']>;
    /** The fd pool (fd-pool.ts): fds held, bound, hits/misses (opened or reopened), evictions, detached pins. */
    fd: FdPoolStats;
    changeFloors: number;
    /** Fresh stat reads started, and requests that shared one already in flight. */
    resolves: { started: number; shared: number };
    /** Create fds parked for the following open(): parked, used by open(), closed unused (time or bound); parked now. */
    handoff: { parked: number; used: number; expired: number; size: number; capacity: number };
    /** Removes run under the shared namespace lock (non-directories) and under the exclusive one (directories). */
    removes: { shared: number; exclusive: number };
  } {
    const c = this.counters;
    return {
      stat: this.statCache.stats(),
      dir: this.dirCache.stats(),
      fd: this.pool.stats(),
      changeFloors: this.changes.size,
      resolves: { started: c.resolves, shared: c.resolvesShared },
      handoff: { parked: c.handoffParked, used: c.handoffUsed, expired: c.handoffExpired, size: this.handoff.size, capacity: this.handoffMax },
      removes: { shared: c.removesShared, exclusive: c.removesExclusive },
    };
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    // let running namespace ops finish
    await this.lock.exclusive(async () => {
      this.closed = true;
    });
    if (this.handoffTimer) clearTimeout(this.handoffTimer);
    this.handoffTimer = undefined;
    for (const ino of [...this.handoff.keys()]) this.dropParked(ino);
    await this.pool.close();
    this.detached.clear();
    this.statCache.clear();
    this.dirCache.clear();
    await this.overlay?.close();
    this.log.debug('local store shut down');
  }
}

/** Key of a directory entry for LocalStore.names (the root, which has no entry, gets its own key). */
function entryKey(l: Link | undefined): string {
  return l ? l.parent + '/' + l.name : '/';
}

/** Walks the tree once at startup and records every name. */
async function buildIndex(root: string, rootDev: bigint, index: InodeIndex, log: Logger): Promise<void> {
  const started = Date.now();
  const dirs = new Map<string, number>([[root, index.rootIno]]);
  let seen = 0;
  let batch: fsWalk.Entry[] = [];
  const flush = async (): Promise<void> => {
    const entries = batch;
    batch = [];
    const stats = await Promise.all(entries.map((e) => sys.lstat(e.path).catch(() => undefined)));
    entries.forEach((e, i) => {
      const st = stats[i];
      if (!st || st.dev !== rootDev) return; // (mount points inside the tree are not served)
      const parentPath = e.path.slice(0, e.path.length - e.name.length - 1);
      const parent = dirs.get(parentPath);
      if (parent === undefined) return;
      const ino = inoOf(st); // throws for inode numbers beyond 2^53: refuse to start
      const kind = kindOf(Number(st.mode));
      index.add(ino, parent, e.name, genOf(st), kind, spaceOf(kind, st));
      if (kind === 'dir') dirs.set(e.path, ino);
    });
  };
  const stream = fsWalk.walkStream(root, {
    followSymbolicLinks: false,
    stats: false,
    errorFilter: (err) => {
      log.warn({ code: err.code }, 'index walk: skipping an unreadable directory');
      return true;
    },
  });
  // (async iteration over this stream can stall: drive it with events and pause while a batch is stat'ed)
  await new Promise<void>((resolve, reject) => {
    let ended = false;
    let busy = false;
    let failed = false;
    const fin = (e?: unknown): void => {
      if (failed) return;
      if (e) {
        failed = true;
        stream.destroy();
        reject(e instanceof StoreError ? new Error(`localefs store: ${e.message}`) : e);
        return;
      }
      if (ended && !busy) {
        flush().then(() => resolve(), fin);
      }
    };
    stream.on('data', (e: fsWalk.Entry) => {
      batch.push(e);
      if (++seen % 100_000 === 0) log.info({ seen, elapsedMs: Date.now() - started }, 'indexing the tree');
      if (batch.length >= 512 && !busy) {
        busy = true;
        stream.pause();
        flush().then(() => {
          busy = false;
          if (ended) fin();
          else stream.resume();
        }, fin);
      }
    });
    stream.on('error', fin);
    stream.on('end', () => {
      ended = true;
      fin();
    });
  });
  log.info({ files: index.size, elapsedMs: Date.now() - started }, 'index built');
}

/** Inserts a name into a sorted listing; false (caller drops the listing) on a cookie collision. */
function listingAdd(l: Listing, name: string, ino: number): boolean {
  const cookie = nameCookie(name);
  const i = firstAfter(l.entries, cookie - 1);
  if (i < l.entries.length && l.entries[i].cookie === cookie) return false;
  if (i > 0 && l.entries[i - 1].cookie === cookie) return false;
  l.entries.splice(i, 0, { name, cookie, ino });
  return true;
}

/** Removes a name from a sorted listing; false when it is not found where expected. */
function listingRemove(l: Listing, name: string): boolean {
  const cookie = nameCookie(name);
  const i = firstAfter(l.entries, cookie - 1);
  if (i < l.entries.length && l.entries[i].cookie === cookie && l.entries[i].name === name) {
    l.entries.splice(i, 1);
    return true;
  }
  return false;
}
