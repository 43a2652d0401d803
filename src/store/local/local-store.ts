import { constants as C, type BigIntStats } from 'node:fs';
import pino, { type Logger } from 'pino';
import {
  StoreError,
  type CreateAttrs,
  type DirChange,
  type DirPage,
  type FileKind,
  type FsStats,
  type OpenFile,
  type SetAttrs,
  type Stat,
  type Store,
} from '../types.js';
import type { Lru } from './lru.js';
import { sys } from './sys.js';
import type { FdEntry, FdPoolStats } from './fd-pool.js';
import { RwLock } from './rwlock.js';
import { KeyedMutex } from '../../util/keyed-mutex.js';
import { errnoOf, fail, toStoreError } from './errors.js';
import { entryKey, type InodeIndex } from './inode-index.js';
import type { Owner, OwnerOverlay } from './overlay.js';
import { ChangeTracker, type Mutation } from './change.js';
import { Resolver } from './resolver.js';
import { Listings, listingAdd, listingRemove, type Listing } from './listings.js';
import { Mutations } from './mutations.js';
import { OpenFiles, asLocalFile } from './open-files.js';
import type { HandoffStats } from './handoff.js';
import type { SpecialFiles } from './special-files.js';
import { startTree, type StartedTree } from './startup.js';
import { MAX_DEPTH, checkName, genOf, inoOf, kindOf, timesFor, toSeconds } from './stat.js';
import { MAX_FILE_SIZE, MAX_LINKS, MAX_SYMLINK_BYTES } from '../../protocol/efs-limits.js';

export interface LocalStoreOptions {
  /** Directory holding the exported tree (created 0755, 0:0 when missing). */
  root: string;
  /** Private state directory (never inside root). */
  metaDir: string;
  fsid: { major: number; minor: number };
  log?: Logger;
  /** Keep uid/gid/mode in an overlay instead of on disk. Default: not running as root. */
  emulateOwnership?: boolean;
  /**
   * How long open() waits for the start-up index walk before it returns and
   * lets the walk finish in the background (default 300 ms; tests of the
   * background case pass 0).
   */
  indexWaitMs?: number;
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

const O_NOFOLLOW = C.O_NOFOLLOW;
const O_DIRECTORY = C.O_DIRECTORY;

/**
 * The Store on a local directory.
 *
 * Identity: ino = host st_ino (refused beyond 2^53), gen = 32 bits folded from
 * the host birth time in ns (0 when the host has none). An in-memory inode
 * index (ino -> parent ino + name, plus extra names for hard links) is built by
 * walking the tree at startup (startup.ts) and kept up to date by every
 * mutation; paths are rebuilt from it by walking parent links (resolver.ts).
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
 * anonymous-stateid I/O; opens hold references, not fds (open-files.ts).
 *
 * metaDir layout (shared with other parts of the server: everything here is
 * prefixed `store-`):
 *   store-owners.journal   emulated ownership overlay (see overlay.ts)
 *   store-tmp/             staging for fifos/sockets (special-files.ts)
 *
 * Change attribute: see change.ts; mutations are bracketed by begin()/end()
 * (mutations.ts) so the value after a mutation is above every value computed
 * before or during it.
 *
 * readdir: cookie = 53-bit hash of the name (cookie.ts); the sorted listing
 * of a directory is cached per (ino, change) and edited in place by our own
 * creates/removes/renames (listings.ts); entry stats come from the stat cache.
 */
export class LocalStore implements Store {
  readonly fsid: { major: number; minor: number };
  readonly rootIno: number;
  readonly emulateOwnership: boolean;

  private readonly lock = new RwLock();
  /**
   * Serializes path operations on one directory entry (see remove()). Holders
   * take the namespace lock first and never wait for it while holding one, so
   * there is no lock-order cycle.
   */
  private readonly names = new KeyedMutex();
  private readonly log: Logger;
  private readonly index: InodeIndex;
  private readonly overlay: OwnerOverlay | undefined;
  private readonly specials: SpecialFiles;
  private readonly changes: ChangeTracker;
  private readonly listings: Listings;
  private readonly resolver: Resolver;
  private readonly mutations: Mutations;
  private readonly files: OpenFiles;
  private readonly removes = { shared: 0, exclusive: 0 };
  private closed = false;

  private constructor(
    private readonly tree: StartedTree,
    log: Logger,
    emulateOwnership: boolean,
    opts: LocalStoreOptions,
  ) {
    this.fsid = { major: opts.fsid.major, minor: opts.fsid.minor };
    this.rootIno = tree.index.rootIno;
    this.emulateOwnership = emulateOwnership;
    this.log = log;
    this.index = tree.index;
    this.overlay = tree.overlay;
    this.specials = tree.specials;
    this.changes = new ChangeTracker(opts.changeFloorLimit ?? 100_000);
    this.listings = new Listings(opts.dirCacheSize ?? 256);
    this.resolver = new Resolver({
      root: tree.root,
      rootDev: tree.rootDev,
      index: this.index,
      overlay: this.overlay,
      changes: this.changes,
      listings: this.listings,
      names: this.names,
      statCacheSize: opts.statCacheSize ?? 65536,
    });
    this.mutations = new Mutations({
      changes: this.changes,
      resolver: this.resolver,
      listings: this.listings,
      index: this.index,
      lock: this.lock,
      names: this.names,
    });
    this.files = new OpenFiles({
      resolver: this.resolver,
      index: this.index,
      lock: this.lock,
      overlay: this.overlay,
      log,
      checkOpen: () => this.checkOpen(),
      fdLimit: opts.fdLimit,
      detachedFdMax: opts.detachedFdMax,
      handoffMs: opts.handoffMs,
      handoffMax: opts.handoffMax,
    });
  }

  static async open(opts: LocalStoreOptions): Promise<LocalStore> {
    const log = opts.log ?? pino({ level: 'silent' });
    const emulate = opts.emulateOwnership ?? (typeof process.getuid === 'function' ? process.getuid() !== 0 : true);
    const tree = await startTree(opts.root, opts.metaDir, emulate, log);
    const store = new LocalStore(tree, log, emulate, opts);
    // a small tree is indexed by now; a large one goes on in the background while clients mount
    const waitMs = opts.indexWaitMs ?? 300;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([tree.indexed, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    log.info(
      { files: tree.index.size, used: tree.index.used, emulateOwnership: emulate, created: tree.created, indexing: !tree.index.complete },
      tree.index.complete ? 'local store ready' : 'local store ready; indexing the rest of the tree in the background (old handles get NFS4ERR_DELAY until it is done)',
    );
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

  // ---------------------------------------------------------------- reads

  async verify(ino: number, gen: number): Promise<Stat> {
    const s = await this.getattr(ino);
    if (s.gen !== gen >>> 0) throw new StoreError('ESTALE');
    return s;
  }

  async getattr(ino: number): Promise<Stat> {
    this.checkOpen();
    const c = this.resolver.cachedStat(ino);
    if (c) return c;
    const detached = this.files.detachedStat(ino);
    if (detached) {
      const d = await detached.catch(() => undefined);
      if (d) return d;
    }
    try {
      return await this.lock.shared(() => this.resolver.statIno(ino, true));
    } catch (e) {
      throw this.err(e, 'getattr');
    }
  }

  async lookup(dirIno: number, name: string): Promise<Stat> {
    this.checkOpen();
    checkName(name);
    try {
      return await this.lock.shared(async () => {
        const dir = await this.resolver.dirInfo(dirIno);
        return this.resolver.lookupIn(dirIno, dir.path, name);
      });
    } catch (e) {
      throw this.err(e, 'lookup');
    }
  }

  async parent(dirIno: number): Promise<Stat> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const dir = await this.resolver.dirInfo(dirIno);
        if (dirIno === this.rootIno) return dir.stat;
        const parent = this.index.parentOf(dirIno);
        if (parent === undefined) fail('ESTALE');
        return this.resolver.statIno(parent);
      });
    } catch (e) {
      throw this.err(e, 'parent');
    }
  }

  isBelow(ino: number, dirIno: number): boolean {
    if (ino === dirIno) return true;
    return this.index.parentsOf(ino).some((parent) => this.index.isAncestor(dirIno, parent));
  }

  async readdir(dirIno: number, cookie: number, maxEntries: number): Promise<DirPage> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const dir = await this.resolver.dirInfo(dirIno);
        return this.listings.page(this.resolver, dirIno, dir, cookie, maxEntries);
      });
    } catch (e) {
      throw this.err(e, 'readdir');
    }
  }

  async readlink(ino: number): Promise<string> {
    this.checkOpen();
    try {
      return await this.lock.shared(async () => {
        const r = await this.resolver.resolveCached(ino);
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
        const fh = await this.files.openPath(p, C.O_CREAT | C.O_EXCL | C.O_RDWR | O_NOFOLLOW, real & 0o777);
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
        this.files.park(inoOf(st), genOf(st), fh);
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
      const dir = await this.resolver.dirInfo(dirIno);
      this.checkDepth(dirIno);
      const m = this.mutations.begin(dirIno, dir.stat.change);
      try {
        // under the entry lock: a remove of this name cannot run between make's calls on the path
        const st = await this.names.run(entryKey({ parent: dirIno, name }), () => make(dir.path + '/' + name));
        return await this.created(m, name, st);
      } finally {
        this.mutations.end(m);
      }
    };
    return exclusive ? this.lock.exclusive(run) : this.lock.shared(run);
  }

  private async created(m: Mutation, name: string, st: BigIntStats): Promise<{ stat: Stat; dir: DirChange }> {
    const dirIno = m.ino;
    const s = this.resolver.toStat(st);
    const gen = this.index.genOf(s.ino);
    if (gen !== undefined && gen !== s.gen) {
      const owner = this.overlay?.get(s.ino);
      this.resolver.forgetInode(s.ino);
      if (owner && this.overlay) await this.overlay.set(s.ino, owner); // forgetInode dropped the fresh entry too
    }
    this.index.add(s.ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
    this.resolver.invalidate(s.ino);
    this.resolver.statCache.set(s.ino, s);
    const dir = await this.mutations.dirAfter(m, (l) => listingAdd(l, name, s.ino));
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
          const fh = await this.files.openPath(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
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
      tmp = await this.specials.make(kind);
      const t = tmp;
      return await this.creating(false, dirIno, name, async (p) => {
        await this.specials.place(kind, t, p);
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

  async link(ino: number, dirIno: number, name: string): Promise<{ stat: Stat; dir: DirChange }> {
    this.checkOpen();
    checkName(name);
    try {
      // exclusive: two racing links must not both pass the link-count check
      return await this.lock.exclusive(async () => {
        const src = await this.resolver.resolve(ino);
        if (src.stat.kind === 'dir') fail('EISDIR');
        if (src.stat.nlink >= MAX_LINKS) fail('EMLINK');
        const dir = await this.resolver.dirInfo(dirIno);
        this.checkDepth(dirIno);
        const p = dir.path + '/' + name;
        const dm = this.mutations.begin(dirIno, dir.stat.change);
        const om = this.mutations.begin(ino, src.stat.change);
        try {
          await sys.link(src.path, p);
          const t = this.resolver.now();
          const st = await sys.lstat(p);
          if (inoOf(st) !== ino) fail('EIO', 'link: inode mismatch');
          const s = this.mutations.endWithStat(om, st, t);
          this.index.add(ino, dirIno, name, s.gen, s.kind, s.spaceUsed);
          const dc = await this.mutations.dirAfter(dm, (l) => listingAdd(l, name, ino));
          return { stat: s, dir: dc };
        } finally {
          this.mutations.end(om);
          this.mutations.end(dm);
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
        this.removes.shared++;
        return r;
      }
      this.removes.exclusive++;
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
    const dir = await this.resolver.dirInfo(dirIno);
    const p = dir.path + '/' + name;
    // begun before the entry's lstat, with no await since the directory's stat: `before` is
    // current (other mutations of the directory may end while we read the entry)
    const dm = this.mutations.begin(dirIno, dir.stat.change);
    let st: BigIntStats;
    try {
      st = await sys.lstat(p);
    } catch (e) {
      this.mutations.drop(dm);
      throw e;
    }
    if (!exclusive && kindOf(Number(st.mode)) === 'dir') {
      this.mutations.drop(dm);
      return undefined;
    }
    let om: Mutation | undefined;
    let held: FdEntry | undefined;
    try {
      const removed = this.resolver.indexedStat(st, dirIno, name);
      om = this.mutations.begin(removed.ino, removed.change);
      held = await this.files.holdOpen(removed, p);
      if (removed.kind === 'dir') await sys.rmdir(p);
      else await sys.unlink(p);
      this.unlinked(removed, dirIno, name, om);
      const dc = await this.mutations.dirAfter(dm, (l) => listingRemove(l, name));
      return { removed, dir: dc };
    } finally {
      if (held) this.files.release(held);
      if (om) this.mutations.end(om);
      this.mutations.end(dm);
    }
  }

  /** Index upkeep after a name of `s` went away (m: the object's mutation). */
  private unlinked(s: Stat, dirIno: number, name: string, m: Mutation): void {
    const dead = s.kind === 'dir' || this.index.removeLink(s.ino, dirIno, name) || s.nlink <= 1;
    if (dead) {
      this.mutations.drop(m);
      this.files.detach(s);
      this.resolver.forgetInode(s.ino);
    } else {
      this.mutations.end(m);
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
        const fd = await this.resolver.dirInfo(fromDir);
        const td = fromDir === toDir ? fd : await this.resolver.dirInfo(toDir);
        const fromPath = fd.path + '/' + fromName;
        const toPath = td.path + '/' + toName;
        const srcSt = await sys.lstat(fromPath);
        const src = this.resolver.indexedStat(srcSt, fromDir, fromName);
        let dst: Stat | undefined;
        try {
          dst = this.resolver.toStat(await sys.lstat(toPath));
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
          dst = this.resolver.indexedStat(await sys.lstat(toPath), toDir, toName);
        }
        const fm = this.mutations.begin(fromDir, fd.stat.change);
        const tm = fromDir === toDir ? undefined : this.mutations.begin(toDir, td.stat.change);
        const sm = this.mutations.begin(src.ino, src.change);
        const xm = dst ? this.mutations.begin(dst.ino, dst.change) : undefined;
        let held: FdEntry | undefined;
        try {
          if (dst) held = await this.files.holdOpen(dst, toPath);
          try {
            await sys.rename(fromPath, toPath);
          } catch (e) {
            if (errnoOf(e) === 'EEXIST') fail('ENOTEMPTY');
            throw e;
          }
          if (dst && xm) this.unlinked(dst, toDir, toName, xm);
          if (this.index.has(src.ino)) this.index.moveLink(src.ino, fromDir, fromName, toDir, toName);
          else this.index.add(src.ino, toDir, toName, src.gen, src.kind, src.spaceUsed);
          this.mutations.end(sm);
          const from = await this.mutations.dirAfter(fm, (l) =>
            fromDir === toDir
              ? listingRemove(l, fromName) && (!dst || listingRemove(l, toName)) && listingAdd(l, toName, src.ino)
              : listingRemove(l, fromName),
          );
          const to = tm
            ? await this.mutations.dirAfter(tm, (l) => (!dst || listingRemove(l, toName)) && listingAdd(l, toName, src.ino))
            : from;
          return dst ? { from, to, replaced: dst } : { from, to };
        } finally {
          if (held) this.files.release(held);
          for (const m of [fm, tm, sm, xm]) if (m) this.mutations.end(m);
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
        const cur = await this.resolver.resolveCached(ino);
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
        const m = this.mutations.begin(ino, cur.stat.change);
        try {
          if (kind === 'reg' || kind === 'dir') {
            const flags = kind === 'dir' ? C.O_RDONLY | O_DIRECTORY : attrs.size !== undefined ? C.O_RDWR : C.O_RDONLY;
            const { fh } = await this.files.openIno(ino, flags);
            try {
              if (chown) await fh.chown(this.overlay ? -1 : (attrs.uid ?? -1), this.overlay ? -1 : (attrs.gid ?? -1));
              if (attrs.mode !== undefined) await fh.chmod(this.realMode(kind, attrs.mode));
              if (attrs.size !== undefined) await fh.truncate(attrs.size);
              if (times) await fh.utimes(atime, mtime);
              t = this.resolver.now();
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
              t = this.resolver.now();
              return sys.lstat(p);
            });
          }
          await this.setOwner(ino, owner);
        } catch (e) {
          this.mutations.end(m);
          throw e;
        }
        const s = this.mutations.endWithStat(m, st, t);
        this.index.setSpace(ino, s.spaceUsed);
        return s;
      });
    } catch (e) {
      throw this.err(e, 'setattr');
    }
  }

  // ---------------------------------------------------------------- I/O

  // (opens and fds: open-files.ts)

  async open(ino: number, writable: boolean): Promise<OpenFile> {
    this.checkOpen();
    try {
      return await this.files.open(ino, writable);
    } catch (e) {
      throw this.err(e, 'open');
    }
  }

  async sharedFile(ino: number, writable: boolean): Promise<OpenFile> {
    this.checkOpen();
    try {
      return await this.files.shared(ino, writable);
    } catch (e) {
      throw this.err(e, 'open');
    }
  }

  async read(file: OpenFile, into: Buffer, pos: number): Promise<{ bytes: number; eof: boolean }> {
    this.checkOpen();
    const f = asLocalFile(file);
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new StoreError('EINVAL');
    try {
      return await this.files.withFd(f, async (fh) => {
        let got = 0;
        while (got < into.length) {
          const { bytesRead } = await fh.read(into, got, into.length - got, pos + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got < into.length) return { bytes: got, eof: true };
        let size = this.resolver.statCache.peek(f.ino)?.size;
        if (size === undefined) size = Number((await fh.stat({ bigint: true })).size);
        return { bytes: got, eof: pos + got >= size };
      });
    } catch (e) {
      throw this.err(e, 'read');
    }
  }

  async write(file: OpenFile, data: Buffer, pos: number, sync: boolean): Promise<number> {
    this.checkOpen();
    const f = asLocalFile(file);
    if (!f.writable) throw new StoreError('EBADF', 'file not open for writing');
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new StoreError('EINVAL');
    if (pos + data.length > MAX_FILE_SIZE) throw new StoreError('EFBIG');
    try {
      if (data.length === 0) {
        if (sync) await this.files.withFd(f, (fh) => fh.datasync());
        return 0;
      }
      return await this.files.withFd(f, async (fh) => {
        let before = this.resolver.statCache.peek(f.ino)?.change;
        // other mutations of the file in flight (writes in parallel): no fstat needed
        if (before === undefined) before = this.changes.reportedBound(f.ino);
        if (before === undefined) before = this.resolver.toStat(await fh.stat({ bigint: true })).change;
        // (no await between reading `before` and begin: nothing can be reported in between)
        const m = this.mutations.begin(f.ino, before);
        let done = 0;
        try {
          while (done < data.length) {
            const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
            if (bytesWritten === 0) throw new StoreError('EIO', 'short write');
            done += bytesWritten;
          }
          if (sync) await fh.datasync();
        } finally {
          this.mutations.end(m);
        }
        // With other mutations of the file still in flight, a stat now would not be cached (their
        // end touches the inode); the last of them refreshes the cached stat (and the metered space).
        if (!this.changes.inFlight(f.ino)) await this.resolver.refreshFromFd(f.ino, fh);
        return done;
      });
    } catch (e) {
      throw this.err(e, 'write');
    }
  }

  async commit(file: OpenFile): Promise<void> {
    this.checkOpen();
    const f = asLocalFile(file);
    try {
      await this.files.withFd(f, (fh) => fh.sync());
    } catch (e) {
      throw this.err(e, 'commit');
    }
  }

  /** Drops the open's reference; the last close of a file closes its fds (awaited). */
  async close(file: OpenFile): Promise<void> {
    await this.files.close(asLocalFile(file));
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
    handoff: HandoffStats;
    /** Removes run under the shared namespace lock (non-directories) and under the exclusive one (directories). */
    removes: { shared: number; exclusive: number };
  } {
    return {
      stat: this.resolver.statCache.stats(),
      dir: this.listings.stats(),
      fd: this.files.fdStats(),
      changeFloors: this.changes.size,
      resolves: this.resolver.counters(),
      handoff: this.files.handoffStats(),
      removes: { shared: this.removes.shared, exclusive: this.removes.exclusive },
    };
  }

  /** Settles when the start-up index walk is over (every inode of the tree is known from then on). */
  get indexed(): Promise<void> {
    return this.tree.indexed;
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    // let running namespace ops finish
    await this.lock.exclusive(async () => {
      this.closed = true;
    });
    this.tree.stopIndexing();
    await this.files.shutdown();
    this.resolver.statCache.clear();
    this.listings.clear();
    await this.overlay?.close();
    this.log.debug('local store shut down');
  }
}
