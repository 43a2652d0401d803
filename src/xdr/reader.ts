import { XdrError } from './errors.js';

const TWO_32 = 4294967296;
/** Largest length any single opaque/string/array may claim before we even look at the data. */
export const XDR_MAX_LENGTH = 64 * 1024 * 1024;

/**
 * Cursor over one RPC record. Opaque data comes back as views into the record
 * (no copy); callers that keep bytes past the request must copy them.
 * Every length is checked against the bytes actually present before anything
 * is allocated, so a hostile length can never make us allocate.
 */
export class XdrReader {
  readonly buf: Buffer;
  private readonly view: DataView;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw new XdrError(`truncated: need ${n} bytes at ${this.pos}, have ${this.end - this.pos}`);
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /**
   * Unsigned 64-bit as a number, for sizes, offsets and counts; values above
   * 2^53 lose precision (only "all ones" style sentinels get there). Opaque
   * 64-bit tokens use u64big.
   */
  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  /**
   * Unsigned 64-bit as a bigint, exactly. For values the protocol treats as
   * opaque tokens (READDIR cookies, change ids) where every bit matters.
   */
  u64big(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  i64(): number {
    this.need(8);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  bool(): boolean {
    const v = this.u32();
    if (v > 1) throw new XdrError(`invalid bool ${v}`);
    return v === 1;
  }

  /** Length prefix of an array/opaque/string, checked against max and what is left. */
  length(max: number, elementMinBytes = 1): number {
    const n = this.u32();
    if (n > max) throw new XdrError(`length ${n} exceeds bound ${max}`);
    if (n * elementMinBytes > this.end - this.pos) throw new XdrError(`length ${n} exceeds remaining ${this.end - this.pos}`);
    return n;
  }

  /** Fixed-size opaque: a view of n bytes plus padding. */
  fixedOpaque(n: number): Buffer {
    const padded = (n + 3) & ~3;
    this.need(padded);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.checkPadding(this.pos + n, this.pos + padded);
    this.pos += padded;
    return v;
  }

  /** Variable-length opaque<max>: a view into the record. */
  opaque(max = XDR_MAX_LENGTH): Buffer {
    const n = this.length(Math.min(max, XDR_MAX_LENGTH));
    return this.fixedOpaque(n);
  }

  string(max = XDR_MAX_LENGTH): string {
    const n = this.length(Math.min(max, XDR_MAX_LENGTH));
    const padded = (n + 3) & ~3;
    this.need(padded);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.checkPadding(this.pos + n, this.pos + padded);
    this.pos += padded;
    return s;
  }

  private checkPadding(from: number, to: number): void {
    for (let i = from; i < to; i++) if (this.buf[i] !== 0) throw new XdrError('non-zero XDR padding');
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}
