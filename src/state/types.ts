/**
 * The contract between the COMPOUND dispatcher / op handlers and the state
 * layer (clients, sessions, slots, stateids, opens, locks, leases, grace).
 * The state layer never touches the file system itself; it holds OpenFile
 * objects the store handed out and gives them back to the store (via the
 * `release` callback it was built with) when state ends or a lease expires.
 */
import type { Identity, OpenFile } from '../store/types.js';

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

export interface StateManager {
  /**
   * SEQUENCE (RFC 8881 18.46): validates the session and slot. Throws NfsError
   * (BADSESSION, BADSLOT, SEQ_MISORDERED, SEQ_FALSE_RETRY, DELAY, ...) without
   * touching the slot. `fingerprint` identifies the request (e.g. a hash of the
   * compound args) so a reused seqid with different content answers SEQ_FALSE_RETRY.
   */
  sequence(args: SequenceArgs, fingerprint: Buffer, connId: number): SequenceOutcome;
  /** Ends the slot's request: caches `reply` (the COMPOUND4res bytes) when sa_cachethis asked for it. */
  completeSlot(session: Session, slot: Slot, reply: Buffer, cacheThis: boolean): void;

  /**
   * READ/WRITE/SETATTR(size): resolves a stateid to the file to do I/O on.
   * Special stateids (all zeros / all ones) use the store's shared fd cache.
   * Checks the stateid belongs to `ino`, is current (OLD_STATEID / BAD_STATEID /
   * EXPIRED / ADMIN_REVOKED) and grants the access (OPENMODE). Renews the lease.
   */
  resolveIo(stateid: { seqid: number; other: Buffer }, ino: number, forWrite: boolean, minorVersion: number): Promise<IoTarget>;

  /** True while the grace period after a restart lasts (OPEN non-reclaim, LOCK non-reclaim get NFS4ERR_GRACE). */
  inGrace(): boolean;

  /** Stops timers, closes every open file. */
  shutdown(): Promise<void>;
}
