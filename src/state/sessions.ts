/**
 * NFSv4.1 sessions: the channels CREATE_SESSION grants, and the fore
 * channel's slot table and reply cache (RFC 8881 2.10.6). Only sa_cachethis
 * replies are kept, as the encoded COMPOUND4res bytes, together with a
 * request fingerprint so a reused seqid carrying a different request answers
 * SEQ_FALSE_RETRY. Errors never advance a slot or touch its cache.
 */
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import type { ChannelAttrs, Session, Slot } from './types.js';
import { MAX_IO_BYTES } from '../protocol/efs-limits.js';
import type { Client } from './model.js';

/** Channel limits we grant: EFS's 1 MiB of data plus room for the rest of a COMPOUND. */
export const MAX_REQUEST_SIZE = MAX_IO_BYTES + 16384;
export const MAX_RESPONSE_SIZE = MAX_IO_BYTES + 16384;
export const MAX_RESPONSE_SIZE_CACHED = 64 * 1024;
export const MAX_OPERATIONS = 16;
export const MAX_REQUESTS = 64;
/** Smallest ca_maxrequestsize / ca_maxresponsesize that can carry a SEQUENCE (else NFS4ERR_TOOSMALL). */
export const MIN_CHANNEL_MESSAGE = 128;

/**
 * The channels granted for what CREATE_SESSION asked: the fore channel
 * within our limits, the back channel as asked (it is never used) with at
 * most 16 slots. NFS4ERR_TOOSMALL for a channel on which no request or reply
 * could ever fit (RFC 8881 18.36.3).
 */
export function negotiateChannels(f: ChannelAttrs, b: ChannelAttrs): { fore: ChannelAttrs; back: ChannelAttrs } {
  if (f.ca_maxrequests < 1 || f.ca_maxoperations < 1) throw new NfsError(N.NFS4ERR_TOOSMALL, 'fore channel without slots or ops');
  if (f.ca_maxrequestsize < MIN_CHANNEL_MESSAGE || f.ca_maxresponsesize < MIN_CHANNEL_MESSAGE) {
    throw new NfsError(N.NFS4ERR_TOOSMALL, 'fore channel message size too small');
  }
  if (b.ca_maxrequestsize < MIN_CHANNEL_MESSAGE || b.ca_maxresponsesize < MIN_CHANNEL_MESSAGE) {
    throw new NfsError(N.NFS4ERR_TOOSMALL, 'back channel message size too small');
  }
  const fore: ChannelAttrs = {
    ca_headerpadsize: 0,
    ca_maxrequestsize: Math.min(f.ca_maxrequestsize, MAX_REQUEST_SIZE),
    ca_maxresponsesize: Math.min(f.ca_maxresponsesize, MAX_RESPONSE_SIZE),
    ca_maxresponsesize_cached: Math.min(f.ca_maxresponsesize_cached, MAX_RESPONSE_SIZE_CACHED),
    ca_maxoperations: Math.min(f.ca_maxoperations, MAX_OPERATIONS),
    ca_maxrequests: Math.min(f.ca_maxrequests, MAX_REQUESTS),
    ca_rdma_ird: [],
  };
  const back: ChannelAttrs = {
    ca_headerpadsize: 0,
    ca_maxrequestsize: b.ca_maxrequestsize,
    ca_maxresponsesize: b.ca_maxresponsesize,
    ca_maxresponsesize_cached: b.ca_maxresponsesize_cached,
    ca_maxoperations: b.ca_maxoperations,
    ca_maxrequests: Math.max(1, Math.min(b.ca_maxrequests, 16)),
    ca_rdma_ird: [],
  };
  return { fore, back };
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
