/**
 * The resolver: inode number -> a live path and a fresh stat, through the
 * inode index, with the stat cache in front of it.
 *
 * Paths are rebuilt from the index by walking parent links. A stat read is
 * cached only when no event touched its inode while it ran (touch-clock.ts);
 * concurrent fresh reads of one inode share one lstat. Reads that find a name
 * gone or naming another file keep the index up to date (dropping names,
 * forgetting inodes), unless one of our mutations of the inode overlapped the
 * read: then it is read again, the third time under the entry lock.
 */
import type { BigIntStats } from 'node:fs';
import type { Stat } from '../types.js';
import type { KeyedMutex } from '../../util/keyed-mutex.js';
import { Lru } from './lru.js';
import { sys, type Fd } from './sys.js';
import { TouchClock } from './touch-clock.js';
import { errnoOf, fail } from './errors.js';
import { entryKey, type InodeIndex, type Link } from './inode-index.js';
import type { OwnerOverlay } from './overlay.js';
import { changeBase, type ChangeTracker } from './change.js';
import type { EntryStats, Listings } from './listings.js';
import { DIR_SIZE, devParts, genOf, inoOf, kindOf, spaceOf, timespec } from './stat.js';

export interface ResolverOptions {
  root: string;
  /** The tree's device: entries on another one (mount points) are refused. */
  rootDev: bigint;
  index: InodeIndex;
  overlay: OwnerOverlay | undefined;
  changes: ChangeTracker;
  /** Dropped with the rest of an inode's cached state. */
  listings: Listings;
  /** The per-entry locks (see LocalStore.remove). */
  names: KeyedMutex;
  statCacheSize: number;
}

/** A live name of an inode: its path, fresh stat and the name it goes through (none for the root). */
export interface Resolved {
  path: string;
  stat: Stat;
  link?: Link;
}

export class Resolver implements EntryStats {
  readonly statCache: Lru<number, Stat>;
  private readonly root: string;
  private readonly rootIno: number;
  private readonly rootDev: bigint;
  private readonly index: InodeIndex;
  private readonly overlay: OwnerOverlay | undefined;
  private readonly changes: ChangeTracker;
  private readonly listings: Listings;
  private readonly names: KeyedMutex;
  /** Per-inode touch clock: a stat read that overlapped a mutation or invalidation of its inode is not cached. */
  private readonly clock: TouchClock;
  /** Fresh stat reads in flight, by inode: a caller may share one that started after the inode's last touch. */
  private readonly resolving = new Map<number, { t: number; p: Promise<Resolved> }>();
  /** What else drops its state of an inode that is gone (open files, parked creates...). */
  private readonly forgetHooks: Array<(ino: number) => void> = [];
  private resolves = 0;
  private resolvesShared = 0;

  constructor(o: ResolverOptions) {
    this.root = o.root;
    this.rootIno = o.index.rootIno;
    this.rootDev = o.rootDev;
    this.index = o.index;
    this.overlay = o.overlay;
    this.changes = o.changes;
    this.listings = o.listings;
    this.names = o.names;
    this.statCache = new Lru(o.statCacheSize);
    this.clock = new TouchClock(Math.max(1024, o.statCacheSize));
  }

  /** Adds state to drop when an inode is found gone or replaced. */
  onForget(hook: (ino: number) => void): void {
    this.forgetHooks.push(hook);
  }

  /** Fresh stat reads started, and requests that shared one already in flight. */
  counters(): { started: number; shared: number } {
    return { started: this.resolves, shared: this.resolvesShared };
  }

  /** A path of `ino`: through `via`, else its primary name. ESTALE when the chain to the root is broken (EAGAIN while indexing). */
  pathVia(ino: number, via?: Link): string {
    const comps = this.index.components(ino, via);
    if (comps === undefined) fail(this.index.complete ? 'ESTALE' : 'EAGAIN');
    return comps.length === 0 ? this.root : this.root + '/' + comps.join('/');
  }

  /** The store's view of a host stat: emulated ownership applied, change attribute from the tracker. */
  toStat(st: BigIntStats): Stat {
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
      change: this.changes.value(ino, changeBase(st.ctimeNs)),
    };
  }

  /** The current clock tick: take it before a stat read whose result may be cached. */
  now(): number {
    return this.clock.now();
  }

  /** True if `ino` may have been touched after tick `t`. */
  touchedSince(ino: number, t: number): boolean {
    return this.clock.since(ino, t);
  }

  /** The inode is about to change or just changed: reads that overlap this are not cached; its cached stat goes. */
  touch(ino: number): void {
    this.clock.touch(ino);
    this.statCache.delete(ino);
  }

  /** touch(), and its cached listing goes too. */
  invalidate(ino: number): void {
    this.touch(ino);
    this.listings.drop(ino);
  }

  /**
   * Caches a stat read that started at clock tick `t`, unless its inode was
   * touched since (the read may then show either side of that event).
   *
   * A stat read during one of our mutations of the inode is cacheable: it is
   * a valid view while the mutation is in flight, its change value was
   * recorded in the mutation's `seen` (so the value after is above it), and
   * the mutation's end touches the inode and drops the entry.
   */
  cacheStat(s: Stat, t: number): void {
    if (!this.clock.since(s.ino, t)) this.statCache.set(s.ino, s);
  }

  /** The cached stat of an indexed inode. */
  cachedStat(ino: number): Stat | undefined {
    const c = this.statCache.get(ino);
    return c && this.index.has(ino) ? c : undefined;
  }

  /** Stat of an indexed inode (caller holds the namespace lock, shared or exclusive). */
  async statIno(ino: number, fresh = false): Promise<Stat> {
    if (!fresh) {
      const c = this.statCache.get(ino);
      if (c) return c;
    }
    const r = await this.resolve(ino);
    return r.stat;
  }

  /** A directory's stat (cached if possible) and path; ENOTDIR for anything else. Lock held. */
  async dirInfo(dirIno: number): Promise<{ stat: Stat; path: string }> {
    const r = await this.resolveCached(dirIno);
    if (r.stat.kind !== 'dir') fail('ENOTDIR');
    return r;
  }

  /** Stat (cached if possible), a path of `ino` and the name it goes through (none for the root). Lock held. */
  async resolveCached(ino: number): Promise<Resolved> {
    const c = this.statCache.get(ino);
    if (c) {
      const link = this.index.primary(ino);
      if (link) return { stat: c, path: this.pathVia(ino), link: ino === this.rootIno ? undefined : link };
    }
    return this.resolve(ino);
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
  resolve(ino: number): Promise<Resolved> {
    const cur = this.resolving.get(ino);
    if (cur && !this.clock.since(ino, cur.t)) {
      this.resolvesShared++;
      return cur.p;
    }
    this.resolves++;
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

  /**
   * lstat of dirPath/name, recorded in the index (the directory's path, taken under the
   * namespace lock held by the caller).
   */
  async lookupIn(dirIno: number, dirPath: string, name: string, locked = false): Promise<Stat> {
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
    const s = this.indexedStat(st, dirIno, name);
    this.cacheStat(s, t);
    return s;
  }

  /** Fresh stat of an entry found by lstat; records the name in the index. */
  indexedStat(st: BigIntStats, dirIno: number, name: string): Stat {
    const s = this.toStat(st);
    const gen = this.index.genOf(s.ino);
    if (gen !== undefined && gen !== s.gen) this.forgetInode(s.ino);
    this.index.add(s.ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
    return s;
  }

  /** Refreshes the cached stat of an inode from its fd (after a write). */
  async refreshFromFd(ino: number, fh: Fd): Promise<void> {
    const t = this.clock.now();
    const st = await fh.stat({ bigint: true });
    if (inoOf(st) !== ino || !this.index.has(ino)) return;
    const s = this.toStat(st);
    this.index.setSpace(ino, s.spaceUsed);
    this.cacheStat(s, t);
  }

  /** The inode is gone: drop every trace. */
  forgetInode(ino: number): void {
    this.index.drop(ino);
    this.invalidate(ino);
    this.changes.forget(ino);
    for (const hook of this.forgetHooks) hook(ino);
  }

  private async resolveNow(ino: number, t0: number): Promise<Resolved> {
    let t = t0;
    for (let attempt = 0; ; attempt++) {
      if (!this.index.has(ino)) fail(this.index.complete ? 'ESTALE' : 'EAGAIN');
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
  private async statLink(ino: number, l: Link, p: string, t: number, locked: boolean): Promise<Resolved | 'gone' | 'raced'> {
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
    const gen = this.index.genOf(ino);
    if (gen !== undefined && gen !== s.gen) {
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
}
