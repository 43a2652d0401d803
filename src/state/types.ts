/**
 * The contract between the COMPOUND dispatcher / op handlers and the state
 * layer (clients, sessions, slots, stateids, opens, locks, leases, grace):
 * `StateManager` is everything they call. The state layer never touches the
 * file system namespace; it holds OpenFile objects the store handed out and
 * gives them back to the store when state ends or a lease expires.
 */
import type { Identity, OpenFile } from '../store/types.js';
import type { Client, LockOwner, LockState, OpenOwner, OpenState, State } from './model.js';

/** stateid4 as the state layer reads it (the ops hand in decoded ones). */
export interface StateidRef {
  seqid: number;
  other: Buffer;
}

/** A session's negotiated fore channel and slot table (details are the state layer's). */
export interface Session {
  readonly id: Buffer;
  readonly clientId: Buffer;
  readonly maxOps: number;
  readonly maxRequestSize: number;
  readonly maxResponseSize: number;
  readonly maxResponseSizeCached: number;
}

export interface Slot {
  readonly index: number;
}

export interface SequenceArgs {
  sa_sessionid: Buffer;
  sa_sequenceid: number;
  sa_slotid: number;
  sa_highest_slotid: number;
  sa_cachethis: boolean;
}

export interface SequenceResok {
  sr_sessionid: Buffer;
  sr_sequenceid: number;
  sr_slotid: number;
  sr_highest_slotid: number;
  sr_target_highest_slotid: number;
  sr_status_flags: number;
}

export type SequenceOutcome =
  | { kind: 'run'; session: Session; slot: Slot; resok: SequenceResok }
  /** A retransmission of the slot's last request: send these cached COMPOUND4res bytes again. */
  | { kind: 'replay'; reply: Buffer }
  /**
   * A retransmission of a request sent with sa_cachethis false: SEQUENCE succeeds again (its
   * result follows from the slot) and the op after it gets NFS4ERR_RETRY_UNCACHED_REP
   * (RFC 8881 2.10.6.1.3, 18.46.3). The slot is not touched.
   */
  | { kind: 'uncached'; resok: SequenceResok };

export interface IoTarget {
  file: OpenFile;
  /** True when the store's shared fd cache owns `file` (anonymous/bypass stateid): do not close it. */
  shared: boolean;
  /**
   * For open/lock stateids: the identity whose OPEN granted the access. A
   * caller with another identity (a "stolen" stateid) should get the usual
   * permission check, as for the anonymous stateid.
   */
  openedBy?: Identity;
}

/** channel_attrs4. */
export interface ChannelAttrs {
  ca_headerpadsize: number;
  ca_maxrequestsize: number;
  ca_maxresponsesize: number;
  ca_maxresponsesize_cached: number;
  ca_maxoperations: number;
  ca_maxrequests: number;
  ca_rdma_ird: number[];
}

export interface ExchangeIdResult {
  clientid: Buffer;
  sequenceid: number;
  confirmed: boolean;
}

export interface CreateSessionRequest {
  clientid: Buffer;
  sequence: number;
  flags: number;
  fore: ChannelAttrs;
  back: ChannelAttrs;
  principal: string;
}

export interface CreateSessionResult {
  sessionid: Buffer;
  sequence: number;
  flags: number;
  fore: ChannelAttrs;
  back: ChannelAttrs;
}

/** LOCK4denied. */
export interface LockDenied {
  offset: number;
  length: number;
  locktype: number;
  owner: { clientid: Buffer; owner: Buffer };
}

export interface FindOptions {
  /** false: skip the stateid seqid check (the caller does it after the owner-seqid replay check). */
  seqid?: boolean;
}

/** SEQUENCE and the slot it holds (the dispatcher). */
export interface SlotService {
  /**
   * SEQUENCE (RFC 8881 18.46): validates the session and slot. Throws NfsError
   * (BADSESSION, BADSLOT, SEQ_MISORDERED, SEQ_FALSE_RETRY, DELAY, ...) without
   * touching the slot. `fingerprint` identifies the request (e.g. a hash of the
   * compound args) so a reused seqid with different content answers SEQ_FALSE_RETRY.
   */
  sequence(args: SequenceArgs, fingerprint: Buffer, connId: number): SequenceOutcome;
  /** Ends the slot's request: caches `reply` (the COMPOUND4res bytes) when sa_cachethis asked for it. */
  completeSlot(session: Session, slot: Slot, reply: Buffer, cacheThis: boolean): void;
}

/** Client IDs and sessions (EXCHANGE_ID ... DESTROY_CLIENTID, SETCLIENTID, RENEW). */
export interface ClientService {
  /** RFC 8881 18.35.5 (EXCHANGE_ID, without the update flag or with it). */
  exchangeId(owner: Buffer, verifier: Buffer, update: boolean, principal: string): ExchangeIdResult;
  /** RFC 8881 18.36: sequence check, confirmation, channel negotiation. */
  createSession(req: CreateSessionRequest): Promise<CreateSessionResult>;
  destroySession(id: Buffer): void;
  destroyClientId(id: Buffer, current: Session | undefined): void;
  bindConnToSession(id: Buffer): Session;
  /** The client a 4.1 session belongs to (NFS4ERR_BADSESSION without one). */
  sessionClient(session: Session | undefined): Client;
  /** RFC 7530 16.33.5. Returns the clientid and the confirm verifier. */
  setClientId(owner: Buffer, verifier: Buffer, principal: string, cbNetid: string, cbAddr: string): { clientid: Buffer; confirm: Buffer };
  /** RFC 7530 16.34. */
  setClientIdConfirm(id: Buffer, confirm: Buffer, principal: string): Promise<void>;
  /** A 4.0 clientid named by an op (OPEN, LOCKT, RELEASE_LOCKOWNER): confirmed and alive. Renews the lease. */
  confirmedClient40(id: Buffer): Client;
  renew(id: Buffer): void;
}

/** The grace period after a restart. */
export interface GraceService {
  /** True while the grace period lasts (non-reclaim LOCK gets NFS4ERR_GRACE). */
  inGrace(): boolean;
  /** Whether this client may reclaim (CLAIM_PREVIOUS, LOCK reclaim) now. */
  mayReclaim(client: Client): boolean;
  reclaimComplete(session: Session, oneFs: boolean): void;
}

/** Stateids: lookup, validation, TEST_STATEID, FREE_STATEID, and I/O through them. */
export interface StateidService {
  /**
   * The state a (non-special) stateid names. `client` (4.1: the session's
   * client) must own it. Checks seqid, epoch, lease; renews a 4.0 lease.
   */
  findState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): State;
  findOpenState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): OpenState;
  findLockState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): LockState;
  /** The stateid's seqid against the state's (4.1: 0 means "the current one"). */
  checkStateSeqid(st: State, sid: StateidRef, minor: number): void;
  /** 4.0: the open state a stateid named before CLOSE removed it (a retransmitted CLOSE replays). */
  closedState(sid: StateidRef): OpenState | undefined;
  /** TEST_STATEID for one stateid of `client`: its status. */
  testStateid(client: Client, sid: StateidRef): number;
  /** FREE_STATEID: frees a lock stateid that holds no locks. */
  freeStateid(client: Client, sid: StateidRef): void;
  /**
   * READ/WRITE/SETATTR(size): resolves a stateid to the file to do I/O on.
   * Special stateids (all zeros / all ones) use the store's shared fd cache.
   * Checks the stateid belongs to `ino`, is current (OLD_STATEID / BAD_STATEID /
   * EXPIRED / ADMIN_REVOKED) and grants the access (OPENMODE). Renews the lease.
   */
  resolveIo(stateid: StateidRef, ino: number, forWrite: boolean, minorVersion: number): Promise<IoTarget>;
}

/** Open- and lock-owners and their 4.0 seqids. */
export interface OwnerService {
  /**
   * Runs a seqid-mutating op for a 4.0 owner (RFC 7530 9.1.7): replays the
   * last reply, runs the next seqid, refuses others (NFS4ERR_BAD_SEQID).
   */
  withSeqid<T>(owner: OpenOwner | LockOwner, seqid: number, minor: number, op: string, fn: () => Promise<T> | T): Promise<T>;
  /** OPEN's open-owner (found, started over, or new) for `fn`, under the owner's seqid. */
  withOpenOwner<T>(client: Client, owner: Buffer, seqid: number, minor: number, fn: (owner: OpenOwner) => Promise<T>): Promise<T>;
}

/** Opens (OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE). */
export interface OpenService {
  /** Serializes async open-state work on one file. */
  withFile<T>(ino: number, fn: () => Promise<T>): Promise<T>;
  /** OPEN's state part (inside withFile): a new open state, or the owner's existing one upgraded. */
  openState(owner: OpenOwner, ino: number, access: number, openedBy?: Identity): Promise<OpenState>;
  /** 4.0: a reclaim OPEN confirms its open-owner (there was no OPEN_CONFIRM to send before the restart). */
  confirmReclaimedOwner(owner: OpenOwner): void;
  /** 4.0 OPEN_CONFIRM. */
  confirmOpen(st: OpenState): void;
  /** OPEN_DOWNGRADE. */
  downgrade(st: OpenState, access: number): void;
  /** CLOSE (inside withFile): releases the open, its lock states, and its fds. */
  close(st: OpenState): Promise<void>;
}

/** Byte-range locks (LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER). */
export interface LockService {
  /**
   * LOCK with open_to_lock_owner4: runs `fn` on the lock state of (lock-owner,
   * file of `open`), created as needed; 4.0: records the outcome as the
   * lock-owner's reply to lockSeqid.
   */
  withNewLockOwner<T>(open: OpenState, owner: Buffer, lockSeqid: number, minor: number, fn: (ls: LockState) => T): T;
  /** LOCK on an existing lock state (NFS4ERR_DENIED carries a LOCK4denied body). */
  lock(ls: LockState, locktype: number, offset: number, length: number): void;
  /** LOCKT: the conflicting lock, if any, for a (possibly unknown) owner of `client`. */
  testLock(client: Client, owner: Buffer, ino: number, locktype: number, offset: number, length: number): LockDenied | undefined;
  /** LOCKU. */
  unlock(ls: LockState, offset: number, length: number): void;
  /** RELEASE_LOCKOWNER (4.0). */
  releaseLockOwner(client: Client, owner: Buffer): void;
}

/** Everything the dispatcher and the op handlers call on the state layer. */
export interface StateManager extends SlotService, ClientService, GraceService, StateidService, OwnerService, OpenService, LockService {
  /** Stops timers, closes every open file. */
  shutdown(): Promise<void>;
}
