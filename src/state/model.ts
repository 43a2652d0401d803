/**
 * In-memory state records. Plain objects with explicit links; the tables
 * (clients.ts, session-table.ts, stateid-table.ts, owners.ts, files.ts) keep
 * the indexes, and the state layer is the only code that creates or destroys them.
 */
import type { Identity, OpenFile } from '../store/types.js';
import type { NfsError } from '../protocol/status.js';
import type { SessionImpl } from './sessions.js';

/** 4.0 owner-seqid replay cache: the last outcome of a seqid-mutating op. */
export type OwnerReply = { op: string; ok: true; value: unknown } | { op: string; ok: false; err: NfsError };

export interface Client {
  /** clientid4 (8 bytes). */
  readonly id: Buffer;
  /** 24-bit counter from the id, embedded in stateids. */
  readonly counter: number;
  readonly minor: 0 | 1;
  /** co_ownerid / nfs_client_id4.id (copied). */
  readonly owner: Buffer;
  /** Persistence key: "<minor>:<base64 owner>". */
  readonly ownerKey: string;
  verifier: Buffer;
  /** Who created the record (flavor:uid:gid): EXCHANGE_ID/SETCLIENTID principal checks. */
  principal: string;
  confirmed: boolean;
  /** ms timestamp of the last renewal. */
  lastRenew: number;
  /** Destroyed (expired, purged or replaced): any reference still held is stale. */
  dead: boolean;

  // --- 4.1
  /** CREATE_SESSION sequence: the last csa_sequence seen, and its cached outcome. */
  csSeq: number;
  csReply?: OwnerReply;
  sessions: Set<SessionImpl>;
  reclaimComplete: boolean;

  // --- 4.0
  /** setclientid_confirm verifier of this record. */
  confirmVerifier?: Buffer;
  /** Pending callback update (SETCLIENTID case 2) awaiting SETCLIENTID_CONFIRM with this verifier. */
  pendingConfirm?: Buffer;
  /** Callback address, reported with NFS4ERR_CLID_INUSE. Never dialled. */
  cbNetid: string;
  cbAddr: string;

  /** May reclaim (CLAIM_PREVIOUS, reclaim LOCK): known from before the restart and grace still on. */
  reclaimable: boolean;

  openOwners: Map<string, OpenOwner>;
  lockOwners: Map<string, LockOwner>;
  openCount: number;
  lockCount: number;
  lockStateCount: number;
}

export interface OpenOwner {
  readonly client: Client;
  readonly owner: Buffer;
  readonly key: string;
  /** 4.0: last seqid processed, and its reply. */
  seqid: number;
  lastReply?: OwnerReply;
  /** 4.0: seqid of the request being processed, if any. */
  pending?: number;
  /** 4.0: an OPEN_CONFIRM has been done (4.1 owners are born confirmed). */
  confirmed: boolean;
  opens: Map<number, OpenState>;
  /** 4.0: the last state this owner closed (a retransmitted CLOSE replays). */
  lastClosed?: OpenState;
  /** ms timestamp since which the owner has had no state (for the idle reaper), or 0. */
  idleSince: number;
}

export interface LockOwner {
  readonly client: Client;
  readonly owner: Buffer;
  readonly key: string;
  seqid: number;
  lastReply?: OwnerReply;
  pending?: number;
  states: Map<number, LockState>;
  idleSince: number;
}

interface StateBase {
  readonly other: Buffer;
  /** Map key: the state counter embedded in other. */
  readonly counter: number;
  seqid: number;
  readonly client: Client;
  readonly ino: number;
  readonly file: FileState;
  dead: boolean;
}

export const ACCESS_READ = 1;
export const ACCESS_WRITE = 2;

export interface OpenState extends StateBase {
  readonly kind: 'open';
  readonly owner: OpenOwner;
  /** Current share access (1 read, 2 write, 3 both). */
  access: number;
  /** Bitmap of share_access values this open has been opened with (bit 1<<access), for OPEN_DOWNGRADE. */
  accessSeen: number;
  /** The private fd; reopened read-write on upgrade. */
  openFile: OpenFile;
  /** Earlier fds replaced by an upgrade (a READ may still use one): closed with the state. */
  retired: OpenFile[];
  /** The identity whose OPEN granted the access (the latest one on upgrades). */
  openedBy?: Identity;
  locks: Set<LockState>;
}

export interface LockState extends StateBase {
  readonly kind: 'lock';
  readonly owner: LockOwner;
  readonly open: OpenState;
  /** Number of ranges this state holds in file.locks. */
  held: number;
}

export type State = OpenState | LockState;

export interface LockRange {
  readonly state: LockState;
  start: number;
  /** Exclusive; Infinity = to end of file. */
  end: number;
  write: boolean;
}

export interface FileState {
  readonly ino: number;
  opens: Set<OpenState>;
  locks: LockRange[];
}
