const TWO_32 = 4294967296;
const ZERO_PAD = Buffer.alloc(4);
/** Strings up to this many characters take the ASCII fast path of string(). */
const SHORT_STRING = 64;

/**
 * Growable output slab for one reply. Supports reserving a 4-byte slot to
 * back-fill later (record mark, status, counts), marks for rollback when an
 * op fails after writing part of its result, and reserving opaque space that
 * a READ fills directly from the file (no intermediate buffer).
 */
export class XdrWriter {
  buf: Buffer;
  private view: DataView;
  pos = 0;

  constructor(initialSize = 8192) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  get length(): number {
    return this.pos;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v | 0);
    this.pos += 4;
  }

  /** Unsigned 64-bit from a number; values >= 2^64 (e.g. a rounded all-ones sentinel) clamp to all ones. */
  u64(v: number): void {
    this.ensure(8);
    if (v >= 18446744073709551615) {
      this.view.setUint32(this.pos, 0xffffffff);
      this.view.setUint32(this.pos + 4, 0xffffffff);
    } else {
      const hi = Math.floor(v / TWO_32);
      this.view.setUint32(this.pos, hi >>> 0);
      this.view.setUint32(this.pos + 4, (v - hi * TWO_32) >>> 0);
    }
    this.pos += 8;
  }

  /** Unsigned 64-bit from a bigint, exactly; outside 0..2^64-1 is a RangeError (never wrapped or clamped). */
  u64big(v: bigint): void {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`u64 out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
  }

  i64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.view.setInt32(this.pos, hi | 0);
    this.view.setUint32(this.pos + 4, (v - hi * TWO_32) >>> 0);
    this.pos += 8;
  }

  bool(v: boolean): void {
    this.u32(v ? 1 : 0);
  }

  fixedOpaque(data: Uint8Array, n = data.length): void {
    if (data.length !== n) throw new RangeError(`fixed opaque needs ${n} bytes, got ${data.length}`);
    const padded = (n + 3) & ~3;
    this.ensure(padded);
    this.buf.set(data, this.pos);
    if (padded > n) this.buf.fill(0, this.pos + n, this.pos + padded);
    this.pos += padded;
  }

  /** Appends bytes that are already XDR-encoded (e.g. a cached reply). */
  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  opaque(data: Uint8Array): void {
    this.u32(data.length);
    this.fixedOpaque(data);
  }

  string(s: string): void {
    // short ASCII strings (file names, numeric owners: most of a READDIR reply) are copied byte by
    // byte here: cheaper than the three native calls of the general path
    const len = s.length;
    if (len <= SHORT_STRING) {
      let i = 0;
      while (i < len && s.charCodeAt(i) < 0x80) i++;
      if (i === len) {
        const padded = (len + 3) & ~3;
        this.ensure(4 + padded);
        this.view.setUint32(this.pos, len);
        const buf = this.buf;
        let p = this.pos + 4;
        for (let k = 0; k < len; k++) buf[p++] = s.charCodeAt(k);
        for (const end = this.pos + 4 + padded; p < end; p++) buf[p] = 0;
        this.pos += 4 + padded;
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.u32(n);
    const padded = (n + 3) & ~3;
    this.ensure(padded);
    this.buf.write(s, this.pos, n, 'utf8');
    if (padded > n) this.buf.fill(0, this.pos + n, this.pos + padded);
    this.pos += padded;
  }

  /** Reserve a u32 slot; returns its offset for patchU32. */
  reserveU32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0);
  }

  mark(): number {
    return this.pos;
  }

  rollback(mark: number): void {
    this.pos = mark;
  }

  /**
   * Reserve an opaque of up to `max` bytes: writes a length placeholder and
   * returns a view the caller fills (e.g. a file read). Call finishOpaque
   * with the real length afterwards. The view is only valid until the next
   * write that may grow the slab, so fill it before writing anything else.
   */
  reserveOpaque(max: number): { lengthAt: number; view: Buffer } {
    this.ensure(4 + max + 3);
    const lengthAt = this.pos;
    this.pos += 4;
    return { lengthAt, view: this.buf.subarray(this.pos, this.pos + max) };
  }

  finishOpaque(lengthAt: number, actual: number): void {
    this.view.setUint32(lengthAt, actual);
    this.pos = lengthAt + 4 + actual;
    const pad = (4 - (actual & 3)) & 3;
    if (pad) {
      this.buf.set(ZERO_PAD.subarray(0, pad), this.pos);
      this.pos += pad;
    }
  }

  /** The bytes written so far (a view; valid until the writer is reused). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
