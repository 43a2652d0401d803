/**
 * The 4.1 sessions by sessionid: opening one for a client (CREATE_SESSION's
 * last step), DESTROY_SESSION, BIND_CONN_TO_SESSION, and SEQUENCE with the
 * end of the slot's request. A session's own channels and slot table are
 * sessions.ts.
 */
import { randomInt } from 'node:crypto';
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import { SessionImpl, SlotImpl, checkSlot, finishSlot } from './sessions.js';
import { makeSessionId } from './stateids.js';
import type { Lease } from './lease.js';
import type { Client } from './model.js';
import type { ChannelAttrs, SequenceArgs, SequenceOutcome, Session, Slot } from './types.js';

export const MAX_SESSIONS_PER_CLIENT = 16;

export class SessionTable {
  private readonly sessions = new Map<string, SessionImpl>();
  private counter = 0;

  constructor(private readonly lease: Lease) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session of `c` with the negotiated channels (the caller checked MAX_SESSIONS_PER_CLIENT). */
  open(c: Client, fore: ChannelAttrs, back: ChannelAttrs, flags: number): SessionImpl {
    this.counter = (this.counter + 1) >>> 0;
    const id = makeSessionId(c.id, this.counter, randomInt(0, 0xffffffff));
    const s = new SessionImpl(id, c, fore, back, flags);
    this.sessions.set(id.toString('hex'), s);
    c.sessions.add(s);
    return s;
  }

  sessionById(id: Buffer): SessionImpl | undefined {
    const s = this.sessions.get(id.toString('hex'));
    return s && !s.dead ? s : undefined;
  }

  destroySession(id: Buffer): void {
    const s = this.sessionById(id);
    if (!s) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    s.dead = true;
    this.sessions.delete(id.toString('hex'));
    s.client.sessions.delete(s);
    this.lease.renew(s.client);
  }

  /** Ends every session of a client being destroyed. */
  dropAllOf(c: Client): void {
    for (const s of c.sessions) {
      s.dead = true;
      this.sessions.delete(s.id.toString('hex'));
    }
    c.sessions.clear();
  }

  bindConnToSession(id: Buffer): SessionImpl {
    const s = this.sessionById(id);
    if (!s) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    this.lease.renew(s.client);
    return s;
  }

  /** The client a 4.1 session belongs to. */
  sessionClient(session: Session | undefined): Client {
    const c = (session as SessionImpl | undefined)?.client;
    if (!c || c.dead) throw new NfsError(N.NFS4ERR_BADSESSION, 'no session');
    return c;
  }

  sequence(args: SequenceArgs, fingerprint: Buffer): SequenceOutcome {
    const s = this.sessionById(args.sa_sessionid);
    if (!s || s.client.dead) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    const d = checkSlot(s, args.sa_slotid, args.sa_sequenceid, fingerprint);
    if (d.kind === 'replay') return d;
    this.lease.renew(s.client);
    const resok = {
      sr_sessionid: s.id,
      sr_sequenceid: args.sa_sequenceid,
      sr_slotid: args.sa_slotid,
      sr_highest_slotid: s.highestSlot,
      sr_target_highest_slotid: s.highestSlot,
      sr_status_flags: 0,
    };
    if (d.kind === 'uncached') return { kind: 'uncached', resok };
    return { kind: 'run', session: s, slot: d.slot, resok };
  }

  completeSlot(session: Session, slot: Slot, reply: Buffer, cacheThis: boolean): void {
    const s = session as SessionImpl;
    finishSlot(s, slot as SlotImpl, reply, cacheThis);
    if (!s.client.dead) this.lease.renew(s.client);
  }
}
