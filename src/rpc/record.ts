/**
 * RFC 5531 section 11 record marking: each fragment is a 4-byte header
 * (last-fragment bit + 31-bit length) followed by its bytes. A record whose
 * bytes lie in one socket chunk is handed out as a view (no copy); a record
 * spanning chunks is assembled once into a buffer of exactly its size.
 *
 * A record larger than `maxRecord` is not buffered: its first bytes (enough
 * for the xid) are kept, the rest is skipped as it arrives, and it is
 * reported through onOversized so the caller can answer with an error and
 * keep the connection.
 */
export interface RecordSink {
  onRecord(record: Buffer): void;
  /** `head` holds up to the first 8 bytes of the oversized record (xid and msg type). */
  onOversized(head: Buffer, claimedLength: number): void;
}

const LAST_FRAGMENT = 0x80000000;
const HEAD_KEEP = 8;

export class RecordReader {
  /** Fragments of the record being assembled (views into socket chunks or copies of partial pieces). */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Header bytes split across chunks. */
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** Bytes still expected for the current fragment. */
  private fragmentLeft = 0;
  private inFragment = false;
  private lastFragment = false;
  /** Oversized-record skip mode. */
  private skipping = false;
  private skipHead: Buffer[] = [];
  private skipHeadLength = 0;
  private skipClaimed = 0;

  constructor(
    private readonly sink: RecordSink,
    private readonly maxRecord: number,
  ) {}

  /** Bytes currently held for incomplete records (for memory accounting). */
  get buffered(): number {
    return this.partsLength;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (!this.inFragment) {
        // read the 4-byte fragment header, possibly across chunks
        const take = Math.min(4 - this.headerHave, chunk.length - off);
        chunk.copy(this.header, this.headerHave, off, off + take);
        this.headerHave += take;
        off += take;
        if (this.headerHave < 4) return;
        this.headerHave = 0;
        const word = this.header.readUInt32BE(0);
        this.lastFragment = (word & LAST_FRAGMENT) !== 0;
        this.fragmentLeft = word & 0x7fffffff;
        this.inFragment = true;
        if (!this.skipping && this.partsLength + this.fragmentLeft > this.maxRecord) {
          this.skipping = true;
          this.skipClaimed = this.partsLength + this.fragmentLeft;
          // keep what we already have of the head
          for (const p of this.parts) this.keepHead(p);
          this.parts = [];
          this.partsLength = 0;
        } else if (this.skipping) {
          this.skipClaimed += this.fragmentLeft;
        }
        if (this.fragmentLeft === 0) this.endFragment();
        continue;
      }
      const take = Math.min(this.fragmentLeft, chunk.length - off);
      const piece = chunk.subarray(off, off + take);
      off += take;
      this.fragmentLeft -= take;
      if (this.skipping) {
        this.keepHead(piece);
      } else if (this.fragmentLeft === 0 && this.lastFragment && this.parts.length === 0) {
        // whole record inside this chunk: hand out a view
        this.inFragment = false;
        this.sink.onRecord(piece);
        continue;
      } else {
        this.parts.push(piece);
        this.partsLength += take;
      }
      // pieces stay views: Node hands each socket read a fresh buffer, never reused
      if (this.fragmentLeft === 0) this.endFragment();
    }
  }

  private keepHead(piece: Buffer): void {
    if (this.skipHeadLength >= HEAD_KEEP) return;
    const take = Math.min(HEAD_KEEP - this.skipHeadLength, piece.length);
    this.skipHead.push(Buffer.from(piece.subarray(0, take)));
    this.skipHeadLength += take;
  }

  private endFragment(): void {
    this.inFragment = false;
    if (!this.lastFragment) return;
    if (this.skipping) {
      const head = Buffer.concat(this.skipHead, this.skipHeadLength);
      const claimed = this.skipClaimed;
      this.skipping = false;
      this.skipHead = [];
      this.skipHeadLength = 0;
      this.skipClaimed = 0;
      this.sink.onOversized(head, claimed);
      return;
    }
    const record = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsLength);
    this.parts = [];
    this.partsLength = 0;
    this.sink.onRecord(record);
  }
}

/** Frames a reply: returns the 4-byte record mark for a single-fragment record of `length` bytes. */
export function recordMark(length: number): number {
  return (LAST_FRAGMENT | length) >>> 0;
}
