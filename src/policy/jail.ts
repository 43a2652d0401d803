import type { Logger } from 'pino';
import type { AccessPoint } from '../model/types.js';
import type { Stat, Store } from '../store/types.js';
import { ensureAccessPointRoot } from './access-point.js';

/** Objects whose refusal one connection logs (further refusals of them are not logged again). */
const MAX_LOGGED_REFUSALS = 64;

/**
 * The access-point jail of one connection: every handle it uses must name an
 * object below the access point's root directory *now*, not only when the
 * handle was issued (another client may have moved the directory out since).
 * The dispatcher asks `admits` for every op that takes a handle, so no op can
 * forget it; LOOKUPP stops at `rootIno`. An object outside answers as EFS
 * answers a handle it does not serve (the caller raises NFS4ERR_STALE), and
 * the refusal is audited once per object and connection.
 */
export class Jail {
  private root: Stat | undefined;
  private readonly logged = new Set<number>();

  constructor(
    readonly accessPoint: AccessPoint,
    /** Export index the connection's handles carry (handles of other exports are refused). */
    readonly exportIndex: number,
    private readonly store: Store,
    private readonly audit: Logger,
  ) {}

  /**
   * The access point's root directory, created at first use with its
   * CreationInfo as EFS does (ENOENT without CreationInfo). Resolved again
   * on each call: it may have been removed or replaced since.
   */
  async resolveRoot(): Promise<Stat> {
    this.root = await ensureAccessPointRoot(this.store, this.accessPoint);
    return this.root;
  }

  /** Inode of the root as last resolved (resolving it on first use). */
  async rootIno(): Promise<number> {
    return (this.root ?? (await this.resolveRoot())).ino;
  }

  /** Whether a handle of this export index may be used through this access point at all. */
  admitsExport(exportIndex: number): boolean {
    return exportIndex === this.exportIndex;
  }

  /**
   * Whether `ino` lies below the access point's root right now; a refusal is audited. The root
   * is the one PUTROOTFH last resolved (a root replaced since makes the old handles stale anyway).
   */
  async admits(ino: number): Promise<boolean> {
    if (this.store.isBelow(ino, await this.rootIno())) return true;
    if (!this.logged.has(ino) && this.logged.size < MAX_LOGGED_REFUSALS) {
      this.logged.add(ino);
      this.audit.warn(
        { event: 'AccessPointJail', accessPointId: this.accessPoint.accessPointId, ino, rootDirectory: this.accessPoint.rootDirectory.path },
        'handle outside the access point refused (the object was moved out of its root, or never was in it)',
      );
    }
    return false;
  }
}
