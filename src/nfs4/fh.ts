import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * File handle layout (32 bytes), derived only from durable facts so handles
 * survive restarts:
 *   0      version (1)
 *   1..3   reserved (0)
 *   4..7   export index (0 = the file system root; access points later)
 *   8..15  inode number (u64)
 *   16..19 generation (u32)
 *   20..31 MAC: HMAC-SHA256(secret, bytes 0..19) truncated to 12 bytes
 * The MAC makes handles unforgeable: a client cannot name an inode it was never given.
 *
 * Two bounded caches spare the HMAC on hot paths (PUTFH of the same
 * directory, GETFH of files just looked up): encode remembers the handle it
 * made for (ino, gen, export); decode remembers handles it verified (or that
 * encode made), one per inode number, and answers from the cache only when
 * all 32 bytes are equal to the remembered ones. A hit only ever returns
 * what the HMAC computed for exactly those inputs, so bytes and verdicts are
 * the same as without the caches; a forged or damaged handle never equals a
 * remembered one and goes through the full check.
 */
export const FH_VERSION = 1;
export const FH_LENGTH = 32;
const MAC_AT = 20;
const DEFAULT_CACHE = 4096;

export interface DecodedFh {
  exportIndex: number;
  ino: number;
  gen: number;
}

export interface FhCacheStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
  evictions: number;
}

/**
 * A bounded map (oldest entry evicted first) with counters. Keyed by inode
 * number: no key string to build per lookup; the entry holds the full handle
 * bytes, which a hit must match exactly.
 */
class BoundedCache<V> {
  private readonly map = new Map<number, V>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly capacity: number) {}

  get(key: number): V | undefined {
    return this.map.get(key);
  }

  set(key: number, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key); // re-insert: newest last
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const first = this.map.keys().next();
      if (!first.done) {
        this.map.delete(first.value);
        this.evictions++;
      }
    }
  }

  stats(): FhCacheStats {
    return { size: this.map.size, capacity: this.capacity, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}

interface Encoded {
  gen: number;
  exportIndex: number;
  /** Never handed out: callers get a copy. */
  fh: Buffer;
}

interface Verified {
  /** The exact 32 bytes that were verified (a private copy). */
  fh: Buffer;
  exportIndex: number;
  ino: number;
  gen: number;
}

export class FhCodec {
  /** ino -> the handle made for it last (with its generation and export). */
  private readonly encoded: BoundedCache<Encoded>;
  /** ino (as read from the handle) -> the last handle verified for it. */
  private readonly verified: BoundedCache<Verified>;

  constructor(
    private readonly secret: Buffer,
    cacheSize = DEFAULT_CACHE,
  ) {
    const n = Math.max(0, Math.floor(cacheSize));
    this.encoded = new BoundedCache(n);
    this.verified = new BoundedCache(n);
  }

  encode(ino: number, gen: number, exportIndex = 0): Buffer {
    const g = gen >>> 0;
    const x = exportIndex >>> 0;
    const hit = this.encoded.get(ino);
    if (hit && hit.gen === g && hit.exportIndex === x) {
      this.encoded.hits++;
      return Buffer.from(hit.fh);
    }
    this.encoded.misses++;
    const fh = Buffer.alloc(FH_LENGTH);
    fh[0] = FH_VERSION;
    fh.writeUInt32BE(x, 4);
    fh.writeUInt32BE(Math.floor(ino / 4294967296), 8);
    fh.writeUInt32BE(ino >>> 0, 12);
    fh.writeUInt32BE(g, 16);
    this.mac(fh).copy(fh, MAC_AT, 0, FH_LENGTH - MAC_AT);
    const copy = Buffer.from(fh);
    this.encoded.set(ino, { gen: g, exportIndex: x, fh: copy });
    // a handle we made is valid: its first PUTFH need not verify it again
    this.verified.set(readIno(copy), { fh: copy, exportIndex: x, ino: readIno(copy), gen: g });
    return fh;
  }

  /** Returns undefined for a handle we did not make (wrong length, version or MAC): NFS4ERR_BADHANDLE. */
  decode(fh: Buffer): DecodedFh | undefined {
    if (fh.length !== FH_LENGTH || fh[0] !== FH_VERSION) return undefined;
    const ino = readIno(fh);
    const hit = this.verified.get(ino);
    // all 32 bytes must match a handle verified before (compared in constant time, like the MAC)
    if (hit && timingSafeEqual(hit.fh, fh)) {
      this.verified.hits++;
      return { exportIndex: hit.exportIndex, ino: hit.ino, gen: hit.gen };
    }
    this.verified.misses++;
    const expected = this.mac(fh).subarray(0, FH_LENGTH - MAC_AT);
    if (!timingSafeEqual(expected, fh.subarray(MAC_AT))) return undefined;
    const d: Verified = { fh: Buffer.from(fh), exportIndex: fh.readUInt32BE(4), ino, gen: fh.readUInt32BE(16) };
    this.verified.set(ino, d);
    return { exportIndex: d.exportIndex, ino: d.ino, gen: d.gen };
  }

  /** Cache counters (diagnostics and tests). */
  cacheStats(): { encode: FhCacheStats; decode: FhCacheStats } {
    return { encode: this.encoded.stats(), decode: this.verified.stats() };
  }

  private mac(fh: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(fh.subarray(0, MAC_AT)).digest();
  }
}

function readIno(fh: Buffer): number {
  return fh.readUInt32BE(8) * 4294967296 + fh.readUInt32BE(12);
}
