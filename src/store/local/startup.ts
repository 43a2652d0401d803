/**
 * Bringing a local store up: the checks on root and metaDir, the walk that
 * builds the inode index, and the pruning of the ownership overlay.
 *
 * The walk runs in the background: a data directory of a million files takes
 * seconds to walk, and clients need not wait for it. Meanwhile the index
 * learns names from LOOKUPs as usual, and a handle whose inode it has not met
 * yet answers "try again" (EAGAIN -> NFS4ERR_DELAY, which clients retry)
 * instead of "stale"; once the walk is done, an unknown inode is stale.
 */
import { lstatSync, promises as fsp, type Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
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
  /** Settles when the index walk is over (the index is then complete). */
  indexed: Promise<void>;
  /** Stops a walk still running (at shutdown). */
  stopIndexing(): void;
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
  if (overlay) {
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
  }
  index.complete = false;
  const walk = { stopped: false };
  const indexed = buildIndex(root, rootSt.dev, index, log, walk).then(async () => {
    index.complete = true;
    if (!overlay || walk.stopped) return;
    // only now is it known which inodes no longer exist
    const dropped = overlay.prune((ino, o) => {
      return index.genOf(ino) === o.gen;
    });
    await overlay.compact();
    if (dropped) log.info({ dropped }, 'ownership overlay: dropped entries of dead inodes');
  });
  indexed.catch((err: unknown) => {
    // (an unreadable tree, or inode numbers beyond 2^53): handles of what was not seen stay unknown
    index.complete = true;
    log.error({ err }, 'indexing the data directory failed: files it did not reach are found again by name (LOOKUP), not by old handles');
  });
  return {
    root,
    rootDev: rootSt.dev,
    index,
    overlay,
    specials,
    created,
    indexed: indexed.catch(() => undefined),
    stopIndexing: () => {
      walk.stopped = true;
    },
  };
}

/** Entries recorded between two turns of the event loop (each a synchronous lstat of a few µs). */
const WALK_BATCH = 128;

/**
 * Walks the tree once at startup and records every name the index does not
 * know yet (what LOOKUPs and changes recorded meanwhile is newer). lstat and
 * the record happen in one synchronous step, so no change of ours falls
 * between them; a name the listing still showed but that is gone fails its
 * lstat and is skipped. Depth first, one directory stream open per level
 * (memory stays small however large a directory is), and the event loop
 * turns after every WALK_BATCH entries, so clients are served meanwhile.
 */
async function buildIndex(root: string, rootDev: bigint, index: InodeIndex, log: Logger, walk: { stopped: boolean }): Promise<void> {
  const started = Date.now();
  let seen = 0;
  let sinceTurn = 0;
  const visit = async (dirPath: string, dirIno: number): Promise<void> => {
    let dir: Dir;
    try {
      dir = await opendir(dirPath, { bufferSize: 256 });
    } catch (err) {
      log.warn({ code: (err as NodeJS.ErrnoException).code }, 'index walk: skipping an unreadable directory');
      return;
    }
    const subdirs: Array<[string, number]> = [];
    // (the iterator closes the directory when the loop ends, returns early or throws)
    for await (const e of dir) {
      if (walk.stopped) return;
      const p = dirPath + '/' + e.name;
      // synchronous, and recorded at once: nothing of ours can change the entry in between
      const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
      if (!st || st.dev !== rootDev) continue; // (mount points inside the tree are not served)
      const ino = inoOf(st); // throws for inode numbers beyond 2^53
      const kind = kindOf(Number(st.mode));
      if (!index.has(ino)) index.add(ino, dirIno, e.name, genOf(st), kind, spaceOf(kind, st));
      if (kind === 'dir') subdirs.push([p, ino]);
      if (++seen % 100_000 === 0) log.info({ seen, elapsedMs: Date.now() - started }, 'indexing the tree');
      if (++sinceTurn >= WALK_BATCH) {
        sinceTurn = 0;
        // clients are being served meanwhile: let their requests in between batches
        await sys.turn();
      }
    }
    for (const [p, ino] of subdirs) {
      if (walk.stopped) return;
      await visit(p, ino);
    }
  };
  await visit(root, index.rootIno);
  if (!walk.stopped) log.info({ files: index.size, elapsedMs: Date.now() - started, indexBytes: index.heapBytes }, 'index built');
}
