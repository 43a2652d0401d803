/**
 * The storage contract. The store is a POSIX-like tree keyed by inode number;
 * it knows nothing of NFS, sessions or policies. Errors are StoreError with an
 * errno-style code; the NFS layer maps them to nfsstat4.
 */

export type FileKind = 'reg' | 'dir' | 'lnk' | 'fifo' | 'sock' | 'blk' | 'chr';

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Stat {
  /** Durable inode number (fileid); stable across server restarts. */
  ino: number;
  /** Generation: distinguishes a reused inode number from the file a handle named. */
  gen: number;
  kind: FileKind;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** Bytes metered for this object (EFS style: data rounded up to 4 KiB). */
  spaceUsed: number;
  rdev: { major: number; minor: number };
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /** Creation time (time_create). */
  btime: Timespec;
  /** Change attribute: strictly increases on every data or metadata change the server makes. */
  change: number;
}

/** Caller identity as the permission checks see it (after squash/override). */
export interface Identity {
  uid: number;
  gid: number;
  gids: number[];
}

export interface CreateAttrs {
  mode: number;
  uid: number;
  gid: number;
  /** Optional initial size (OPEN create with size 0 is common). */
  size?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
}

export interface SetAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
}

/** Before/after change values of a directory that a namespace op modified (NFS change_info4). */
export interface DirChange {
  before: number;
  after: number;
}

export interface DirEntry {
  name: string;
  /** Opaque, stable position: pass back to readdir to continue after this entry. Never 0, 1 or 2. */
  cookie: number;
  stat: Stat;
}

export interface DirPage {
  entries: DirEntry[];
  eof: boolean;
}

export interface FsStats {
  /** Metered bytes used by the whole file system. */
  used: number;
  files: number;
}

/** An open file: keeps an fd for I/O without path lookups. */
export interface OpenFile {
  readonly ino: number;
  readonly writable: boolean;
}

export type StoreErrorCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EINVAL'
  | 'ESTALE'
  | 'ENAMETOOLONG'
  | 'EMLINK'
  | 'EFBIG'
  | 'ENOSPC'
  | 'EXDEV'
  | 'EACCES'
  | 'EPERM'
  | 'ELOOP'
  | 'EIO'
  | 'EBADF'
  | 'EDQUOT'
  /** Not known yet (the store is still indexing its tree after a start): ask again shortly. */
  | 'EAGAIN'
  | 'ENOTSUP';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'StoreError';
  }
}

export interface Store {
  /** Stable file system id pieces for the fsid attribute. */
  readonly fsid: { major: number; minor: number };
  readonly rootIno: number;

  /** Resolve a handle's (ino, gen): ESTALE if the inode is gone or was reused. */
  verify(ino: number, gen: number): Promise<Stat>;
  getattr(ino: number): Promise<Stat>;
  lookup(dirIno: number, name: string): Promise<Stat>;
  /** Parent directory; the root's parent is the root. */
  parent(dirIno: number): Promise<Stat>;
  /**
   * Whether `ino` is `dirIno` or lies below it through any of its names, as
   * the tree is now (false for an object with no name left). Answered from
   * memory: cheap enough to ask for every request.
   */
  isBelow(ino: number, dirIno: number): boolean;
  /** Entries after `cookie` (0 = start), "." and ".." excluded, at most maxEntries. */
  readdir(dirIno: number, cookie: number, maxEntries: number): Promise<DirPage>;

  /** Creates a regular file; EEXIST if the name exists. */
  createFile(dirIno: number, name: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }>;
  mkdir(dirIno: number, name: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }>;
  symlink(dirIno: number, name: string, target: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }>;
  mknod(dirIno: number, name: string, kind: 'fifo' | 'sock', attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }>;
  link(ino: number, dirIno: number, name: string): Promise<{ stat: Stat; dir: DirChange }>;
  /** Removes a file or an empty directory (ENOTEMPTY otherwise). Returns the removed object's stat as it was. */
  remove(dirIno: number, name: string): Promise<{ removed: Stat; dir: DirChange }>;
  /** POSIX rename semantics (replaces a compatible target). */
  rename(
    fromDir: number,
    fromName: string,
    toDir: number,
    toName: string,
  ): Promise<{ from: DirChange; to: DirChange; replaced?: Stat }>;
  readlink(ino: number): Promise<string>;
  setattr(ino: number, attrs: SetAttrs): Promise<Stat>;
  statfs(): Promise<FsStats>;

  /**
   * An NFS open: a reference to the file's fd in the store's bounded pool (shared by every open of
   * the file, reopened on demand after eviction; no open/close per I/O). Release it with close().
   */
  open(ino: number, writable: boolean): Promise<OpenFile>;
  /** The file's fd from the same pool, for I/O with the anonymous stateid. Do not close it. */
  sharedFile(ino: number, writable: boolean): Promise<OpenFile>;
  /** Reads into `into` (the reply buffer); returns bytes read and whether EOF was reached. */
  read(file: OpenFile, into: Buffer, pos: number): Promise<{ bytes: number; eof: boolean }>;
  /** Writes `data` (a view of the request) at pos; with sync the data is on disk when it returns. Returns bytes written. */
  write(file: OpenFile, data: Buffer, pos: number, sync: boolean): Promise<number>;
  /** Flushes the file's data to disk (COMMIT). */
  commit(file: OpenFile): Promise<void>;
  /** Ends an open; the fd stays cached in the pool until evicted or the file is removed. */
  close(file: OpenFile): Promise<void>;

  /** Releases every resource (fds, journals). */
  shutdown(): Promise<void>;
}
