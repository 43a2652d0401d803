/**
 * Open- and lock-owners: their records per client, forgetting them once
 * they hold nothing (4.1 owners at once; 4.0 owners after a lease, since a
 * retransmission may still need their seqid and reply), and the 4.0 owner
 * seqids with their replay cache (RFC 7530 9.1.7), which includes each
 * open-owner's last closed state so a retransmitted CLOSE can replay.
 */
import * as N from '../xdr/gen/nfs4.js';
import { NfsError, SEQID_NEUTRAL } from '../protocol/status.js';
import { parseStateOther } from './stateids.js';
import type { Lease } from './lease.js';
import type { Client, LockOwner, OpenOwner, OpenState, OwnerReply } from './model.js';
import type { StateidRef } from './types.js';

export class OwnerTable {
  private readonly idleOwners = new Set<OpenOwner | LockOwner>();
  /** 4.0: each open-owner's last closed state, by state counter (CLOSE replay). */
  private readonly closed40 = new Map<number, OpenState>();

  constructor(
    private readonly epoch: number,
    private readonly lease: Lease,
  ) {}

  /** Call when an owner's state changed: an owner left holding nothing is forgotten (4.1) or starts idling (4.0). */
  idle(o: OpenOwner | LockOwner): void {
    const empty = 'opens' in o ? o.opens.size === 0 : o.states.size === 0;
    if (!empty) {
      o.idleSince = 0;
      this.idleOwners.delete(o);
      return;
    }
    if (o.client.minor === 1) {
      // 4.1 owners carry no seqid: forget them as soon as they hold nothing
      this.forget(o);
      return;
    }
    o.idleSince = this.lease.now();
    this.idleOwners.add(o);
  }

  forget(o: OpenOwner | LockOwner): void {
    this.idleOwners.delete(o);
    if ('opens' in o) {
      if (o.lastClosed) this.closed40.delete(o.lastClosed.counter);
      o.lastClosed = undefined;
      if (o.client.openOwners.get(o.key) === o) o.client.openOwners.delete(o.key);
    } else if (o.client.lockOwners.get(o.key) === o) o.client.lockOwners.delete(o.key);
  }

  /** Forgets every owner of a client being destroyed (after its states were dropped). */
  forgetAllOf(c: Client): void {
    for (const oo of c.openOwners.values()) {
      if (oo.lastClosed) this.closed40.delete(oo.lastClosed.counter);
      oo.lastClosed = undefined;
      this.idleOwners.delete(oo);
    }
    for (const lo of c.lockOwners.values()) this.idleOwners.delete(lo);
    c.openOwners.clear();
    c.lockOwners.clear();
  }

  /** Forgets 4.0 owners that have held nothing for more than a lease (the reaper). */
  forgetIdle(): void {
    const t = this.lease.now();
    for (const o of [...this.idleOwners]) {
      if (o.idleSince && t - o.idleSince > this.lease.ms) this.forget(o);
    }
  }

  get idleCount(): number {
    return this.idleOwners.size;
  }

  openOwner(client: Client, owner: Buffer): OpenOwner | undefined {
    return client.openOwners.get(owner.toString('hex'));
  }

  /** A new open-owner record expecting `seqid` next (the caller has dropped any earlier one). */
  addOpenOwner(client: Client, owner: Buffer, seqid: number): OpenOwner {
    const key = owner.toString('hex');
    const o: OpenOwner = {
      client,
      owner: Buffer.from(owner),
      key,
      seqid: (seqid - 1) >>> 0,
      confirmed: client.minor === 1,
      opens: new Map(),
      idleSince: 0,
    };
    client.openOwners.set(key, o);
    return o;
  }

  /** Drops an owner created for an OPEN that failed (it never held state). */
  discardOpenOwnerIfEmpty(o: OpenOwner): void {
    if (o.opens.size === 0) this.forget(o);
  }

  lockOwner(client: Client, owner: Buffer): LockOwner | undefined {
    return client.lockOwners.get(owner.toString('hex'));
  }

  /** The client's lock-owner, created expecting `seqid` next if it is new. */
  lockOwnerFor(client: Client, owner: Buffer, seqid: number): LockOwner {
    const key = owner.toString('hex');
    let o = client.lockOwners.get(key);
    if (!o) {
      o = { client, owner: Buffer.from(owner), key, seqid: (seqid - 1) >>> 0, states: new Map(), idleSince: 0 };
      client.lockOwners.set(key, o);
    }
    return o;
  }

  /** 4.0: the open-owner's last closed state is now `st` (a retransmitted CLOSE replays from it). */
  rememberClosed(st: OpenState): void {
    const prev = st.owner.lastClosed;
    if (prev) this.closed40.delete(prev.counter);
    st.owner.lastClosed = st;
    this.closed40.set(st.counter, st);
  }

  /**
   * 4.0: the open state a stateid named before CLOSE removed it, while it is
   * still its owner's last closed state (so a retransmitted CLOSE can replay).
   */
  closedState(sid: StateidRef): OpenState | undefined {
    const p = parseStateOther(sid.other);
    if (!p || p.epoch !== this.epoch) return undefined;
    const st = this.closed40.get(p.stateCounter);
    return st && st.other.equals(sid.other) && st.owner.lastClosed === st ? st : undefined;
  }

  /**
   * Runs a seqid-mutating op for a 4.0 owner (RFC 7530 9.1.7): the owner's
   * last seqid replays its cached reply; the next one runs `fn`; anything
   * else is NFS4ERR_BAD_SEQID. The outcome is cached unless it is one of the
   * errors that leave the seqid alone. A retransmission of a request still
   * in progress gets NFS4ERR_DELAY; a replayed seqid of another op kind,
   * NFS4ERR_BAD_SEQID. 4.1 ignores seqids.
   */
  async withSeqid<T>(owner: OpenOwner | LockOwner, seqid: number, minor: number, op: string, fn: () => Promise<T> | T): Promise<T> {
    if (minor >= 1) return fn();
    seqid >>>= 0;
    if (owner.pending === seqid) throw new NfsError(N.NFS4ERR_DELAY, `seqid ${seqid} still in progress`);
    if (seqid === owner.seqid && owner.lastReply) {
      const r = owner.lastReply;
      if (r.op !== op) throw new NfsError(N.NFS4ERR_BAD_SEQID, `seqid ${seqid} was used by ${r.op}`);
      if (r.ok) return r.value as T;
      throw r.err;
    }
    if (seqid !== ((owner.seqid + 1) >>> 0) || owner.pending !== undefined) {
      throw new NfsError(N.NFS4ERR_BAD_SEQID, `seqid ${seqid}, expected ${(owner.seqid + 1) >>> 0}`);
    }
    owner.pending = seqid;
    try {
      const v = await fn();
      this.recordReply(owner, seqid, { op, ok: true, value: v });
      return v;
    } catch (err) {
      if (err instanceof NfsError && !SEQID_NEUTRAL.has(err.status)) this.recordReply(owner, seqid, { op, ok: false, err });
      throw err;
    } finally {
      owner.pending = undefined;
    }
  }

  /** 4.0: `reply` is the owner's answer to `seqid` (replayed when the seqid comes again). */
  recordReply(owner: OpenOwner | LockOwner, seqid: number, reply: OwnerReply): void {
    owner.seqid = seqid >>> 0;
    owner.lastReply = reply;
  }
}
