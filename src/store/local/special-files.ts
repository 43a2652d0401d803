/**
 * Fifos and sockets: made in a staging directory of metaDir
 * (metaDir/store-tmp, emptied at startup) outside the namespace lock, as
 * spawning mkfifo takes milliseconds, then linked into place.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { StoreError } from '../types.js';
import { sys } from './sys.js';
import { errnoOf, fail } from './errors.js';

export class SpecialFiles {
  private constructor(private readonly dir: string) {}

  /** Empties (or makes) metaDir's staging directory. */
  static async open(metaDir: string): Promise<SpecialFiles> {
    const dir = path.join(metaDir, 'store-tmp');
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir, { mode: 0o700 });
    return new SpecialFiles(dir);
  }

  /** Makes a fifo (with mkfifo(1)) or a socket (bind of a unix socket) under a random staging name. */
  async make(kind: 'fifo' | 'sock'): Promise<string> {
    const tmp = path.join(this.dir, (kind === 'fifo' ? 'f' : 's') + randomBytes(6).toString('hex'));
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
   * Puts a special file made by make() at `p` (EEXIST if the name is taken):
   * a hard link fails atomically on an existing name. With metaDir on another
   * file system, a fifo is made in place instead.
   */
  async place(kind: 'fifo' | 'sock', tmp: string, p: string): Promise<void> {
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
}
