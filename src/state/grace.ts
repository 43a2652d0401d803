/**
 * Durable client records for reboot recovery (RFC 8881 8.4.2.1, RFC 7530 9.6.3):
 * the owner strings of confirmed clients and the boot epoch live in
 * `<metaDir>/nfs4-clients.json`, replaced atomically (temp file + fsync +
 * rename + directory fsync). On start the previous boot's owners are the
 * clients allowed to reclaim during the grace period.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';

export const CLIENTS_FILE = 'nfs4-clients.json';

interface OnDisk {
  version: 1;
  epoch: number;
  owners: string[];
}

export class ClientRecords {
  private readonly file: string;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private snapshot: () => string[] = () => [];
  private epoch = 0;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.file = path.join(dir, CLIENTS_FILE);
  }

  /** Reads the previous boot's records and commits the new epoch synchronously (startup only). */
  start(): { epoch: number; previousOwners: string[] } {
    fs.mkdirSync(this.dir, { recursive: true });
    let prev: OnDisk | undefined;
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<OnDisk>;
      if (parsed && typeof parsed.epoch === 'number' && Array.isArray(parsed.owners)) {
        prev = { version: 1, epoch: parsed.epoch, owners: parsed.owners.filter((o): o is string => typeof o === 'string') };
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'unreadable client records; starting without grace');
    }
    const now = Math.floor(Date.now() / 1000);
    this.epoch = Math.max(now, (prev?.epoch ?? 0) + 1) >>> 0;
    if (this.epoch === 0) this.epoch = 1;
    const owners = prev?.owners ?? [];
    this.writeSync({ version: 1, epoch: this.epoch, owners });
    return { epoch: this.epoch, previousOwners: owners };
  }

  /** The function the writer calls to get the owners to persist (evaluated at write time). */
  setSource(fn: () => string[]): void {
    this.snapshot = fn;
  }

  /** Schedules a rewrite; resolves once a write that started after this call has completed. */
  save(): Promise<void> {
    this.dirty = true;
    if (!this.writing) this.writing = this.loop();
    return this.writing;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        try {
          await this.writeAsync({ version: 1, epoch: this.epoch, owners: this.snapshot() });
        } catch (err) {
          this.log.error({ err, file: this.file }, 'cannot persist client records');
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private writeSync(data: OnDisk): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(data));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    try {
      const dfd = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      /* directory fsync is best effort on some file systems */
    }
  }

  private async writeAsync(data: OnDisk): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file);
    try {
      const dh = await fsp.open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* best effort */
    }
  }
}

/**
 * The grace period after a restart: lasts one lease period, or until every
 * client known from the previous boot has sent RECLAIM_COMPLETE (4.1).
 */
export class Grace {
  private active: boolean;
  private readonly pending: Set<string>;
  readonly previous: ReadonlySet<string>;

  constructor(
    previousOwners: string[],
    private readonly endsAt: number,
    private readonly now: () => number,
    private readonly onEnd: () => void,
  ) {
    this.previous = new Set(previousOwners);
    this.pending = new Set(previousOwners);
    this.active = this.pending.size > 0;
  }

  inGrace(): boolean {
    if (this.active && (this.now() >= this.endsAt || this.pending.size === 0)) {
      this.active = false;
      this.onEnd();
    }
    return this.active;
  }

  /** Whether a client with this owner key may reclaim now. */
  mayReclaim(ownerKey: string): boolean {
    return this.inGrace() && this.previous.has(ownerKey);
  }

  /** A known client finished reclaiming (RECLAIM_COMPLETE). */
  complete(ownerKey: string): void {
    this.pending.delete(ownerKey);
    this.inGrace();
  }

  get remainingMs(): number {
    return this.active ? Math.max(0, this.endsAt - this.now()) : 0;
  }
}
