/**
 * Open and lock states by stateid: minting the counters their stateids
 * carry, resolving a stateid to its state with the checks every op makes
 * (epoch, type, owning client, seqid, lease), and TEST_STATEID.
 */
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import { TAG_LOCK, TAG_OPEN, isSpecialOther, isSpecialStateid, parseStateOther } from './stateids.js';
import type { Client, LockState, OpenState, State } from './model.js';
import type { FindOptions, StateidRef } from './types.js';

/** What a stateid lookup needs of the client records (clients.ts). */
export interface StateClients {
  /** Whether the client with this counter still exists: a state of a client that is gone answers NFS4ERR_EXPIRED. */
  exists(counter: number): boolean;
  /** 4.0: using a state renews its client's lease, unless the lease ran out (the client goes: NFS4ERR_EXPIRED). */
  renewByState(client: Client): void;
}

export class StateidTable {
  private readonly states = new Map<number, State>();
  private counter = 0;

  constructor(
    private readonly epoch: number,
    private readonly clients: StateClients,
  ) {}

  /** A state counter no live state uses (never 0). */
  nextCounter(): number {
    for (;;) {
      this.counter = this.counter >= 0xffffffff ? 1 : this.counter + 1;
      if (!this.states.has(this.counter)) return this.counter;
    }
  }

  add(st: State): void {
    this.states.set(st.counter, st);
  }

  remove(st: State): void {
    this.states.delete(st.counter);
  }

  /** The open states still alive. */
  *liveOpens(): Iterable<OpenState> {
    for (const st of this.states.values()) if (st.kind === 'open' && !st.dead) yield st;
  }

  get size(): number {
    return this.states.size;
  }

  /**
   * Finds the state a (non-special) stateid names. `client` (4.1: the
   * session's client) must own it. Checks the seqid (4.1: 0 = current),
   * the epoch (STALE_STATEID in 4.0), the lease (EXPIRED), and renews
   * the lease of a 4.0 client.
   */
  find(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): State {
    const p = parseStateOther(sid.other);
    if (!p || isSpecialOther(sid.other)) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not a stateid of an open or lock');
    if (p.epoch !== this.epoch) {
      // an earlier boot's epoch is STALE (4.0); anything else is not ours at all
      const stale = minor === 0 && p.epoch !== 0 && p.epoch < this.epoch;
      throw new NfsError(stale ? N.NFS4ERR_STALE_STATEID : N.NFS4ERR_BAD_STATEID, 'stateid from another server instance');
    }
    if (p.tag !== TAG_OPEN && p.tag !== TAG_LOCK) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'unknown stateid type');
    const st = this.states.get(p.stateCounter);
    if (!st || st.dead || !st.other.equals(sid.other)) {
      if (!this.clients.exists(p.clientCounter)) throw new NfsError(N.NFS4ERR_EXPIRED, 'state of a client that is gone');
      throw new NfsError(N.NFS4ERR_BAD_STATEID, 'unknown stateid');
    }
    if (client && st.client !== client) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'stateid of another client');
    if (st.client.dead) throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    if (opts?.seqid !== false) this.checkSeqid(st, sid, minor);
    if (st.client.minor === 0) this.clients.renewByState(st.client);
    return st;
  }

  /** The stateid's seqid against the state's (4.1: 0 means "the current one"). */
  checkSeqid(st: State, sid: StateidRef, minor: number): void {
    if (st.dead) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'state is gone');
    if (minor >= 1 && sid.seqid === 0) return;
    if (sid.seqid < st.seqid) throw new NfsError(N.NFS4ERR_OLD_STATEID, `stateid seqid ${sid.seqid} < ${st.seqid}`);
    if (sid.seqid > st.seqid) throw new NfsError(N.NFS4ERR_BAD_STATEID, `stateid seqid ${sid.seqid} > ${st.seqid}`);
  }

  findOpen(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): OpenState {
    const st = this.find(sid, minor, client, opts);
    if (st.kind !== 'open') throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not an open stateid');
    return st;
  }

  findLock(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): LockState {
    const st = this.find(sid, minor, client, opts);
    if (st.kind !== 'lock') throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not a lock stateid');
    return st;
  }

  /** TEST_STATEID for one stateid of `client`. */
  test(client: Client, sid: StateidRef): number {
    if (isSpecialStateid(sid)) return N.NFS4ERR_BAD_STATEID;
    try {
      this.find(sid, 1, client);
      return N.NFS4_OK;
    } catch (err) {
      if (err instanceof NfsError) return err.status;
      throw err;
    }
  }
}
