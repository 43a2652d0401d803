import { createHash } from 'node:crypto';
/**
 * Duplicate request cache for NFSv4.0 (4.1 has the session slot cache
 * instead). A 4.0 client that loses its connection resends its requests
 * with the same xid on a new connection (from a new port); without this
 * cache a retransmitted CREATE or REMOVE that already succeeded would now
 * fail (EEXIST, ENOENT). Replies of compounds that changed something are
 * kept, keyed by client address, xid and a fingerprint of the request;
 * a retransmission that arrives while the original still runs is dropped
 * (the client will retransmit again and get the cached reply).
 * Bounded by entry count and reply size; counters for hits and misses.
 */
export const DRC_MAX_ENTRIES = 1024;
/** Larger replies (READ data, big READDIRs) belong to idempotent ops and are never kept. */
export const DRC_MAX_REPLY = 4096;

export type DrcLookup = { kind: 'new' } | { kind: 'replay'; reply: Buffer } | { kind: 'in-progress' };

export class DuplicateRequestCache {
  private readonly done = new Map<string, Buffer>();
  private readonly running = new Set<string>();
  hits = 0;
  misses = 0;
  dropped = 0;

  constructor(private readonly maxEntries = DRC_MAX_ENTRIES) {}

  /** The fingerprint (up to 516 bytes of the request) is hashed: keys stay short in a cache of many entries. */
  static key(address: string, xid: number, fingerprint: Buffer): string {
    return `${address}|${xid}|${createHash('sha1').update(fingerprint).digest('base64')}`;
  }

  begin(key: string): DrcLookup {
    const reply = this.done.get(key);
    if (reply) {
      this.hits++;
      return { kind: 'replay', reply };
    }
    if (this.running.has(key)) {
      this.dropped++;
      return { kind: 'in-progress' };
    }
    this.misses++;
    this.running.add(key);
    return { kind: 'new' };
  }

  /** Ends a request; `reply` (the COMPOUND4res bytes, copied here) is kept when given and small enough. */
  end(key: string, reply: Buffer | undefined): void {
    this.running.delete(key);
    if (!reply || reply.length > DRC_MAX_REPLY) return;
    if (this.done.size >= this.maxEntries) {
      const oldest = this.done.keys().next().value;
      if (oldest !== undefined) this.done.delete(oldest);
    }
    this.done.set(key, Buffer.from(reply));
  }

  get size(): number {
    return this.done.size;
  }
}
