/**
 * The system calls of the local store, and which of them run on the event
 * loop.
 *
 * Metadata calls (lstat, open, fstat, close, unlink, rename, mkdir, link,
 * chown, chmod, utimes, readlink...) run synchronously: on a local disk they
 * cost a few µs of CPU, where a round trip through libuv's thread pool costs
 * 15 to 35 µs (measured here: lstat 6 µs synchronous, 17 µs asynchronous at
 * 8 in flight, 34 µs at 1). Calls that can wait on the disk for long stay on
 * the thread pool: fsync/fdatasync, ftruncate, directory listings, and reads
 * and writes above SMALL_IO. Small reads and writes run synchronously too:
 * they are page-cache copies unless the data is not cached, when a read
 * waits for the disk (for a data directory on a slow or network disk, set
 * LOCALEFS_SYNC_IO=0 to send every read and write to the thread pool).
 *
 * Everything is promise-shaped (a synchronous failure is a rejection), so
 * callers await the same way whichever side a call runs on.
 */
import fs, { type BigIntStats } from 'node:fs';

/** Reads and writes up to this many bytes run on the event loop (0: none do). */
const SMALL_IO = process.env.LOCALEFS_SYNC_IO === '0' ? 0 : 64 * 1024;

function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

function callback<T>(start: (done: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, v) => (err ? reject(err) : resolve(v))));
}

const BIG = { bigint: true } as const;

/** An lstat that reports a missing entry without building a stack trace (the common miss of a LOOKUP). */
function lstat(p: string): Promise<BigIntStats> {
  try {
    const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    return st ? Promise.resolve(st) : Promise.reject(enoent(p));
  } catch (e) {
    return Promise.reject(e);
  }
}

function enoent(p: string): NodeJS.ErrnoException {
  const e = new Error(`ENOENT: no such file or directory, lstat '${p}'`) as NodeJS.ErrnoException;
  e.code = 'ENOENT';
  e.errno = -2;
  e.syscall = 'lstat';
  return e;
}

const unlink = (p: string): Promise<void> => now(() => fs.unlinkSync(p));
const rmdir = (p: string): Promise<void> => now(() => fs.rmdirSync(p));
const mkdir = (p: string, mode: number): Promise<void> => now(() => void fs.mkdirSync(p, { mode }));
const rename = (from: string, to: string): Promise<void> => now(() => fs.renameSync(from, to));
const link = (existing: string, p: string): Promise<void> => now(() => fs.linkSync(existing, p));
const symlink = (target: string, p: string): Promise<void> => now(() => fs.symlinkSync(target, p));
const readlink = (p: string): Promise<string> => now(() => fs.readlinkSync(p, 'utf8'));
const lchown = (p: string, uid: number, gid: number): Promise<void> => now(() => fs.lchownSync(p, uid, gid));
const chmod = (p: string, mode: number): Promise<void> => now(() => fs.chmodSync(p, mode));
const lutimes = (p: string, atime: fs.TimeLike, mtime: fs.TimeLike): Promise<void> => now(() => fs.lutimesSync(p, atime, mtime));

/**
 * An open file descriptor with the part of fs/promises' FileHandle the store
 * uses. Closing twice is harmless (the second close does nothing).
 */
export class Fd {
  private closed = false;

  constructor(readonly fd: number) {}

  stat(_opts: { bigint: true }): Promise<BigIntStats> {
    return now(() => fs.fstatSync(this.fd, BIG));
  }

  chown(uid: number, gid: number): Promise<void> {
    return now(() => fs.fchownSync(this.fd, uid, gid));
  }

  chmod(mode: number): Promise<void> {
    return now(() => fs.fchmodSync(this.fd, mode));
  }

  utimes(atime: fs.TimeLike, mtime: fs.TimeLike): Promise<void> {
    return now(() => fs.futimesSync(this.fd, atime, mtime));
  }

  truncate(len: number): Promise<void> {
    return callback<void>((done) => fs.ftruncate(this.fd, len, (err) => done(err, undefined)));
  }

  read(into: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (length <= SMALL_IO) return now(() => ({ bytesRead: fs.readSync(this.fd, into, offset, length, position) }));
    return callback((done) => fs.read(this.fd, into, offset, length, position, (err, bytesRead) => done(err, { bytesRead })));
  }

  write(data: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    if (length <= SMALL_IO) return now(() => ({ bytesWritten: fs.writeSync(this.fd, data, offset, length, position) }));
    return callback((done) => fs.write(this.fd, data, offset, length, position, (err, bytesWritten) => done(err, { bytesWritten })));
  }

  datasync(): Promise<void> {
    return callback<void>((done) => fs.fdatasync(this.fd, (err) => done(err, undefined)));
  }

  sync(): Promise<void> {
    return callback<void>((done) => fs.fsync(this.fd, (err) => done(err, undefined)));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return now(() => fs.closeSync(this.fd));
  }
}

/**
 * open(2), on the event loop (O_CREAT and O_EXCL included: no data is touched).
 * Always O_NONBLOCK, which regular files ignore: a FIFO put in place of a file
 * behind the server's back must not stop the event loop in open().
 */
function open(p: string, flags: number, mode?: number): Promise<Fd> {
  // (O_CREAT too: measured, creates on the thread pool ran at 60 to 75 % of the rate of these)
  return now(() => new Fd(fs.openSync(p, flags | fs.constants.O_NONBLOCK, mode)));
}

/** Lets the event loop run other work (long synchronous stretches, such as the start-up walk, call it between batches). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The store's system calls, called through this object (never imported one by
 * one) so that tests can hold a call behind a gate to probe the store's
 * locking at the points where operations interleave.
 */
export const sys = { lstat, open, unlink, rmdir, mkdir, rename, link, symlink, readlink, lchown, chmod, lutimes, turn };
