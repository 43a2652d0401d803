/**
 * NFSv4.1 sessions: the fore channel's slot table and reply cache
 * (RFC 8881 2.10.6). Only sa_cachethis replies are kept, as the encoded
 * COMPOUND4res bytes, together with a request fingerprint so a reused
 * seqid carrying a different request answers SEQ_FALSE_RETRY.
 * Errors never advance a slot or touch its cache.
 */
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../nfs4/status.js';
import type { Session, Slot } from './types.js';
import type { Client } from './model.js';

export interface ChannelAttrs {
  ca_headerpadsize: number;
  ca_maxrequestsize: number;
  ca_maxresponsesize: number;
  ca_maxresponsesize_cached: number;
  ca_maxoperations: number;
  ca_maxrequests: number;
  ca_rdma_ird: number[];
}

export class SlotImpl implements Slot {
  /** Last seqid accepted on this slot (0 = never used). */
  seqid = 0;
  /** A request on this slot has completed at least once. */
  used = false;
  inProgress = false;
  fingerprint: Buffer | undefined;
  /** Cached COMPOUND4res of the last request, when it asked for caching and fit. */
  reply: Buffer | undefined;
  constructor(readonly index: number) {}
}

export class SessionImpl implements Session {
  readonly slots: SlotImpl[];
  readonly maxOps: number;
  readonly maxRequestSize: number;
  readonly maxResponseSize: number;
  readonly maxResponseSizeCached: number;
  dead = false;

  constructor(
    readonly id: Buffer,
    readonly client: Client,
    readonly fore: ChannelAttrs,
    readonly back: ChannelAttrs,
    readonly flags: number,
  ) {
    this.maxOps = fore.ca_maxoperations;
    this.maxRequestSize = fore.ca_maxrequestsize;
    this.maxResponseSize = fore.ca_maxresponsesize;
    this.maxResponseSizeCached = fore.ca_maxresponsesize_cached;
    this.slots = [];
    for (let i = 0; i < fore.ca_maxrequests; i++) this.slots.push(new SlotImpl(i));
  }

  get clientId(): Buffer {
    return this.client.id;
  }

  get highestSlot(): number {
    return this.slots.length - 1;
  }

  /** Any slot with a request in progress. */
  busy(): boolean {
    for (const s of this.slots) if (s.inProgress) return true;
    return false;
  }

  /** Bytes held by the reply cache (for stats/tests). */
  cachedBytes(): number {
    let n = 0;
    for (const s of this.slots) n += s.reply?.length ?? 0;
    return n;
  }
}

export type SlotDecision = { kind: 'new'; slot: SlotImpl } | { kind: 'replay'; reply: Buffer } | { kind: 'uncached' };

/**
 * RFC 8881 2.10.6.1 slot checks. Throws NfsError without changing the slot.
 * On 'new' the slot is marked in progress with the new seqid and fingerprint.
 */
export function checkSlot(session: SessionImpl, slotId: number, seqid: number, fingerprint: Buffer): SlotDecision {
  const slot = session.slots[slotId];
  if (slot === undefined || slotId < 0) throw new NfsError(N.NFS4ERR_BADSLOT, `slot ${slotId} > ${session.highestSlot}`);
  if (slot.inProgress) throw new NfsError(N.NFS4ERR_DELAY, `slot ${slotId} busy`);
  if (seqid === slot.seqid && slot.used) {
    if (slot.fingerprint === undefined || !slot.fingerprint.equals(fingerprint)) {
      throw new NfsError(N.NFS4ERR_SEQ_FALSE_RETRY, `slot ${slotId} seqid ${seqid} reused with another request`);
    }
    // a retry of a request sent without sa_cachethis: SEQUENCE's own result is known, the rest is not
    if (slot.reply === undefined) return { kind: 'uncached' };
    return { kind: 'replay', reply: slot.reply };
  }
  const expected = slot.seqid === 0xffffffff ? 0 : slot.seqid + 1;
  if (seqid !== expected) throw new NfsError(N.NFS4ERR_SEQ_MISORDERED, `slot ${slotId}: got ${seqid}, expected ${expected}`);
  slot.seqid = seqid;
  slot.inProgress = true;
  slot.fingerprint = Buffer.from(fingerprint);
  slot.reply = undefined;
  return { kind: 'new', slot };
}

/** Ends the request on the slot; keeps a copy of the reply when asked to and when it fits. */
export function finishSlot(session: SessionImpl, slot: SlotImpl, reply: Buffer, cacheThis: boolean): void {
  slot.inProgress = false;
  slot.used = true;
  slot.reply = cacheThis && reply.length <= session.maxResponseSizeCached ? Buffer.from(reply) : undefined;
}
