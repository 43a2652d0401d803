import { promises as fsp, constants as C } from 'node:fs';
import path from 'node:path';

/** Emulated ownership of one inode (non-root servers). */
export interface Owner {
  gen: number;
  uid: number;
  gid: number;
  /** 07777 bits */
  mode: number;
}

const JOURNAL = 'store-owners.journal';
const TMP = 'store-owners.journal.tmp';

/**
 * Crash-safe overlay of emulated uid/gid/mode per inode.
 *
 * On disk: `<metaDir>/store-owners.journal`, an append-only text journal, one record
 * per line, fdatasync'd after every record:
 *   `s <ino> <gen> <uid> <gid> <mode-octal>`   set
 *   `d <ino>`                                  drop
 * A torn last line (no newline, or malformed) is ignored on replay. The
 * journal is compacted (write temp + fsync + rename + fsync dir) at startup and
 * when it holds many more records than live entries.
 */
export class OwnerOverlay {
  private readonly map = new Map<number, Owner>();
  private fh: fsp.FileHandle | undefined;
  private records = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly metaDir: string) {}

  static async open(metaDir: string): Promise<OwnerOverlay> {
    const o = new OwnerOverlay(metaDir);
    await o.replay();
    return o;
  }

  get size(): number {
    return this.map.size;
  }

  get(ino: number): Owner | undefined {
    return this.map.get(ino);
  }

  entries(): IterableIterator<[number, Owner]> {
    return this.map.entries();
  }

  /** Sets (in memory at once; durable when the returned promise resolves). */
  set(ino: number, o: Owner): Promise<void> {
    const cur = this.map.get(ino);
    if (cur && cur.gen === o.gen && cur.uid === o.uid && cur.gid === o.gid && cur.mode === o.mode) {
      return this.chain;
    }
    this.map.set(ino, { ...o });
    return this.append(`s ${ino} ${o.gen >>> 0} ${o.uid >>> 0} ${o.gid >>> 0} ${(o.mode & 0o7777).toString(8)}\n`);
  }

  drop(ino: number): Promise<void> {
    if (!this.map.delete(ino)) return this.chain;
    return this.append(`d ${ino}\n`);
  }

  /** Drops entries the predicate rejects (dead inodes) in memory; call compact() after. */
  prune(keep: (ino: number, o: Owner) => boolean): number {
    let n = 0;
    for (const [ino, o] of this.map) {
      if (!keep(ino, o)) {
        this.map.delete(ino);
        n++;
      }
    }
    return n;
  }

  compact(): Promise<void> {
    return this.enqueue(() => this.doCompact());
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    this.closed = true;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private append(line: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.closed) throw new Error('owner overlay closed');
      if (!this.fh) this.fh = await fsp.open(path.join(this.metaDir, JOURNAL), C.O_WRONLY | C.O_APPEND | C.O_CREAT, 0o600);
      await this.fh.write(line);
      await this.fh.datasync();
      this.records++;
      if (this.records > 4 * this.map.size + 10_000) await this.doCompact();
    });
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async replay(): Promise<void> {
    let text = '';
    try {
      text = await fsp.readFile(path.join(this.metaDir, JOURNAL), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const lines = text.split('\n');
    // the last element is '' after a final newline, or a torn record: ignore it
    lines.pop();
    for (const line of lines) {
      const p = line.split(' ');
      if (p[0] === 's' && p.length === 6) {
        const [ino, gen, uid, gid] = p.slice(1, 5).map(Number);
        const mode = parseInt(p[5], 8);
        if ([ino, gen, uid, gid, mode].every(Number.isSafeInteger)) this.map.set(ino, { gen, uid, gid, mode });
      } else if (p[0] === 'd' && p.length === 2) {
        this.map.delete(Number(p[1]));
      }
      this.records++;
    }
  }

  private async doCompact(): Promise<void> {
    const tmp = path.join(this.metaDir, TMP);
    const fin = path.join(this.metaDir, JOURNAL);
    const parts: string[] = [];
    for (const [ino, o] of this.map) {
      parts.push(`s ${ino} ${o.gen >>> 0} ${o.uid >>> 0} ${o.gid >>> 0} ${(o.mode & 0o7777).toString(8)}\n`);
    }
    const fh = await fsp.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o600);
    try {
      await fh.writeFile(parts.join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    const old = this.fh;
    this.fh = undefined;
    await old?.close();
    await fsp.rename(tmp, fin);
    await fsyncDir(this.metaDir);
    this.records = parts.length;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
