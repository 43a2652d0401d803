/**
 * Bringing a local store up: the checks on root and metaDir, the walk that
 * builds the inode index, and the pruning of the ownership overlay.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as fsWalk from '@nodelib/fs.walk';
import type { Logger } from 'pino';
import { StoreError } from '../types.js';
import { sys } from './sys.js';
import { InodeIndex } from './inode-index.js';
import { OwnerOverlay } from './overlay.js';
import { SpecialFiles } from './special-files.js';
import { genOf, inoOf, kindOf, spaceOf } from './stat.js';

/** A tree ready to serve. */
export interface StartedTree {
  /** Absolute paths. */
  root: string;
  rootDev: bigint;
  index: InodeIndex;
  /** Present when ownership is emulated. */
  overlay: OwnerOverlay | undefined;
  specials: SpecialFiles;
  /** The root directory was made just now. */
  created: boolean;
}

/**
 * Checks root and metaDir (metaDir never inside root, root a real directory,
 * made 0755 0:0 when missing), empties the staging directory, indexes the
 * tree and drops the overlay entries of inodes that no longer exist.
 */
export async function startTree(rootArg: string, metaDirArg: string, emulate: boolean, log: Logger): Promise<StartedTree> {
  const root = path.resolve(rootArg);
  const metaDir = path.resolve(metaDirArg);
  const rel = path.relative(root, metaDir);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
    throw new Error('localefs store: metaDir must not be inside root');
  }

  await fsp.mkdir(metaDir, { recursive: true, mode: 0o700 });
  const specials = await SpecialFiles.open(metaDir);

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
  return { root, rootDev: rootSt.dev, index, overlay, specials, created };
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
