/**
 * Identifier layouts (all minted by this server, all O(1) to resolve):
 *
 *   clientid4 (8 bytes):  [0..3] boot epoch  [4..7] client counter (24-bit, never 0)
 *   sessionid4 (16 bytes): [0..7] clientid   [8..11] session counter  [12..15] random
 *   stateid4.other (12 bytes):
 *       [0..3] boot epoch
 *       [4]    type tag (1 = open, 2 = lock)
 *       [5..7] client counter (24-bit): tells EXPIRED (client gone) from BAD_STATEID
 *       [8..11] state counter (u32, never 0): the map key
 *
 * The boot epoch changes on every start (persisted, strictly increasing), so an
 * identifier from a previous boot is recognisably stale (STALE_CLIENTID /
 * STALE_STATEID) rather than merely unknown.
 */
import type { StateidRef } from './types.js';

export const TAG_OPEN = 1;
export const TAG_LOCK = 2;

export const STATEID_OTHER_LEN = 12;
const ZERO_OTHER = Buffer.alloc(STATEID_OTHER_LEN, 0);
const ONES_OTHER = Buffer.alloc(STATEID_OTHER_LEN, 0xff);
export const UINT32_MAX = 0xffffffff;

/** RFC 8881 8.2.3 special stateids. */
export function isAnonymousStateid(s: StateidRef): boolean {
  return s.seqid === 0 && s.other.equals(ZERO_OTHER);
}
export function isBypassStateid(s: StateidRef): boolean {
  return s.seqid === UINT32_MAX && s.other.equals(ONES_OTHER);
}
/** 4.1 "current stateid": seqid 1, other all zeros. */
export function isCurrentStateid(s: StateidRef): boolean {
  return s.seqid === 1 && s.other.equals(ZERO_OTHER);
}
/** Any stateid whose other is all zeros or all ones (special, never minted by us). */
export function isSpecialOther(other: Buffer): boolean {
  return other.equals(ZERO_OTHER) || other.equals(ONES_OTHER);
}

/** The anonymous or the READ-bypass stateid (RFC 8881 8.2.3): they name no state of ours. */
export function isSpecialStateid(sid: StateidRef): boolean {
  return isAnonymousStateid(sid) || isBypassStateid(sid);
}

/** The invalid special stateid RFC 8881 recommends returning from CLOSE in 4.1. */
export function invalidStateid(): StateidRef {
  return { seqid: UINT32_MAX, other: Buffer.alloc(STATEID_OTHER_LEN, 0) };
}

export function nextSeqid(seqid: number): number {
  // stateid seqids wrap from UINT32_MAX to 1 (0 is special in 4.1)
  return seqid >= UINT32_MAX ? 1 : seqid + 1;
}

export function makeClientId(epoch: number, counter: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(epoch >>> 0, 0);
  b.writeUInt32BE(counter >>> 0, 4);
  return b;
}

export function parseClientId(id: Buffer): { epoch: number; counter: number } | undefined {
  if (id.length !== 8) return undefined;
  return { epoch: id.readUInt32BE(0), counter: id.readUInt32BE(4) };
}

export function makeStateOther(epoch: number, tag: number, clientCounter: number, stateCounter: number): Buffer {
  const b = Buffer.alloc(STATEID_OTHER_LEN);
  b.writeUInt32BE(epoch >>> 0, 0);
  b[4] = tag;
  b.writeUIntBE(clientCounter & 0xffffff, 5, 3);
  b.writeUInt32BE(stateCounter >>> 0, 8);
  return b;
}

export function parseStateOther(other: Buffer): { epoch: number; tag: number; clientCounter: number; stateCounter: number } | undefined {
  if (other.length !== STATEID_OTHER_LEN) return undefined;
  return {
    epoch: other.readUInt32BE(0),
    tag: other[4]!,
    clientCounter: other.readUIntBE(5, 3),
    stateCounter: other.readUInt32BE(8),
  };
}

export function makeSessionId(clientId: Buffer, counter: number, random: number): Buffer {
  const b = Buffer.alloc(16);
  clientId.copy(b, 0, 0, 8);
  b.writeUInt32BE(counter >>> 0, 8);
  b.writeUInt32BE(random >>> 0, 12);
  return b;
}
