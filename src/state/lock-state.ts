/**
 * Lock state: the lock stateids (one per lock-owner and file, under an open)
 * and what LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER and FREE_STATEID do with
 * them, within the EFS limits. The byte-range arithmetic is locks.ts.
 */
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import { applyLock, applyUnlock, findConflict, lockRange, rangeLength, releaseAll } from './locks.js';
import { TAG_LOCK, makeStateOther, nextSeqid } from './stateids.js';
import { ACCESS_READ, ACCESS_WRITE, type Client, type LockRange, type LockState, type OpenState } from './model.js';
import type { FileTable } from './files.js';
import type { OwnerTable } from './owners.js';
import type { StateidTable } from './stateid-table.js';
import type { LockDenied, StateidRef } from './types.js';

/** EFS limits. */
export const MAX_LOCKS_PER_FILE = 512;
export const MAX_LOCKS_PER_CLIENT = 8192;
/** Lock stateids (lock-owner x file) per client. */
export const MAX_LOCK_STATES_PER_CLIENT = 65536;

export function isWriteLock(locktype: number): boolean {
  return locktype === N.WRITE_LT || locktype === N.WRITEW_LT;
}

function denied(r: LockRange): LockDenied {
  return {
    offset: r.start,
    length: rangeLength(r),
    locktype: r.write ? N.WRITE_LT : N.READ_LT,
    owner: { clientid: r.state.client.id, owner: r.state.owner.owner },
  };
}

export class LockStates {
  constructor(
    private readonly epoch: number,
    private readonly stateids: StateidTable,
    private readonly files: FileTable,
    private readonly owners: OwnerTable,
  ) {}

  /**
   * The lock state for (lock-owner, file of `open`), creating owner and state
   * as needed (LOCK with open_to_lock_owner4).
   */
  lockStateFor(open: OpenState, ownerBytes: Buffer, lockSeqid: number): LockState {
    const client = open.client;
    const lo = this.owners.lockOwnerFor(client, ownerBytes, lockSeqid);
    let ls = lo.states.get(open.ino);
    if (ls && !ls.dead) {
      if (ls.open !== open) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'lock-owner already locks this file under another open');
      return ls;
    }
    if (client.lockStateCount >= MAX_LOCK_STATES_PER_CLIENT) {
      this.owners.idle(lo);
      throw new NfsError(N.NFS4ERR_DQUOT, 'too many lock-owners for this client');
    }
    const counter = this.stateids.nextCounter();
    ls = {
      kind: 'lock',
      other: makeStateOther(this.epoch, TAG_LOCK, client.counter, counter),
      counter,
      seqid: 0,
      client,
      ino: open.ino,
      file: open.file,
      dead: false,
      owner: lo,
      open,
      held: 0,
    };
    this.stateids.add(ls);
    lo.states.set(open.ino, ls);
    open.locks.add(ls);
    client.lockStateCount++;
    this.owners.idle(lo);
    return ls;
  }

  /** Undoes lockStateFor when the LOCK that created the state failed. */
  discardIfUnused(ls: LockState): void {
    if (ls.seqid === 0 && ls.held === 0) {
      this.drop(ls);
      this.owners.idle(ls.owner);
    }
  }

  /**
   * LOCK with open_to_lock_owner4: `fn` (the LOCK) runs on the lock state,
   * which goes again if `fn` fails before it ever held a lock. 4.0: the
   * lock-owner's sequence continues from lockSeqid whatever the outcome
   * (DENIED etc. advance it too).
   */
  withNewLockOwner<T>(open: OpenState, ownerBytes: Buffer, lockSeqid: number, minor: number, fn: (ls: LockState) => T): T {
    const ls = this.lockStateFor(open, ownerBytes, lockSeqid);
    const lo = ls.owner;
    let value: T;
    try {
      value = fn(ls);
    } catch (err) {
      this.discardIfUnused(ls);
      if (minor === 0 && err instanceof NfsError) this.owners.recordReply(lo, lockSeqid, { op: 'LOCK', ok: false, err });
      throw err;
    }
    if (minor === 0) this.owners.recordReply(lo, lockSeqid, { op: 'LOCK', ok: true, value });
    return value;
  }

  /**
   * LOCK on an existing lock state. Throws NFS4ERR_DENIED with a LOCK4denied
   * body, NFS4ERR_OPENMODE, NFS4ERR_INVAL (range), NFS4ERR_DQUOT (limits).
   */
  lock(ls: LockState, locktype: number, offset: number, length: number): void {
    const write = isWriteLock(locktype);
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const open = ls.open;
    if (write && !(open.access & ACCESS_WRITE)) throw new NfsError(N.NFS4ERR_OPENMODE, 'write lock on a read-only open');
    if (!write && !(open.access & ACCESS_READ)) throw new NfsError(N.NFS4ERR_OPENMODE, 'read lock on a write-only open');
    const conflict = findConflict(ls.file, (r) => r.state === ls, range.start, range.end, write);
    if (conflict) {
      const d = denied(conflict);
      throw new NfsError(N.NFS4ERR_DENIED, 'lock conflict', (w) => N.encode_LOCK4denied(w, d));
    }
    const before = ls.file.locks;
    const heldBefore = ls.held;
    const delta = applyLock(ls.file, ls, range.start, range.end, write, MAX_LOCKS_PER_FILE);
    if (delta === undefined) throw new NfsError(N.NFS4ERR_DQUOT, 'too many locks on this file');
    if (delta > 0 && ls.client.lockCount + delta > MAX_LOCKS_PER_CLIENT) {
      ls.file.locks = before;
      ls.held = heldBefore;
      throw new NfsError(N.NFS4ERR_DQUOT, 'too many locks for this client');
    }
    ls.client.lockCount += delta;
    ls.seqid = nextSeqid(ls.seqid);
    this.owners.idle(ls.owner);
  }

  /** LOCKT: the conflicting lock, if any, for a (possibly unknown) owner of `client`. */
  testLock(client: Client, ownerBytes: Buffer, ino: number, locktype: number, offset: number, length: number): LockDenied | undefined {
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const f = this.files.get(ino);
    if (!f) return undefined;
    const key = ownerBytes.toString('hex');
    const conflict = findConflict(
      f,
      (r) => r.state.client === client && r.state.owner.key === key,
      range.start,
      range.end,
      isWriteLock(locktype),
    );
    return conflict ? denied(conflict) : undefined;
  }

  /** LOCKU. */
  unlock(ls: LockState, offset: number, length: number): void {
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const delta = applyUnlock(ls.file, ls, range.start, range.end);
    ls.client.lockCount += delta;
    ls.seqid = nextSeqid(ls.seqid);
    this.files.dropIfUnused(ls.file);
  }

  /** RELEASE_LOCKOWNER (4.0). */
  releaseLockOwner(client: Client, ownerBytes: Buffer): void {
    const lo = this.owners.lockOwner(client, ownerBytes);
    if (!lo) return;
    for (const ls of lo.states.values()) if (ls.held > 0) throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'lock-owner still holds locks');
    for (const ls of [...lo.states.values()]) this.drop(ls);
    this.owners.forget(lo);
  }

  /** FREE_STATEID: frees a lock stateid that holds no locks. */
  freeStateid(client: Client, sid: StateidRef): void {
    const st = this.stateids.find(sid, 1, client);
    if (st.kind === 'open') throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'open stateids are freed by CLOSE');
    if (st.held > 0) throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'lock stateid still holds locks');
    this.drop(st);
    this.owners.idle(st.owner);
  }

  /** Ends a lock state with its ranges (the owner's idling is the caller's business). */
  drop(ls: LockState): void {
    if (ls.dead) return;
    const n = releaseAll(ls.file, ls);
    ls.client.lockCount -= n;
    ls.dead = true;
    ls.client.lockStateCount--;
    this.stateids.remove(ls);
    ls.open.locks.delete(ls);
    if (ls.owner.states.get(ls.ino) === ls) ls.owner.states.delete(ls.ino);
    this.files.dropIfUnused(ls.file);
  }

  /** Ends every lock state of a client being destroyed. */
  dropAllOf(c: Client): void {
    for (const lo of c.lockOwners.values()) for (const ls of [...lo.states.values()]) this.drop(ls);
  }
}
