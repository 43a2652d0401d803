/**
 * RFC 5531 section 11 record marking: each fragment is a 4-byte header
 * (last-fragment bit + 31-bit length) followed by its bytes. A record whose
 * bytes lie in one socket chunk is handed out as a view (no copy); a record
 * spanning chunks is copied, piece by piece as it arrives, into one buffer.
 *
 * Memory follows the bytes a peer has actually sent, not what its headers
 * claim nor how finely it slices a record: the assembly buffer grows by
 * doubling (up to the record's exact size once the last fragment's header has
 * told it, else up to maxRecord), so it never holds more than twice the
 * record bytes received, and a header claiming 2 MiB allocates nothing before
 * the bytes come. Keeping one view per fragment instead cost ~120 bytes of
 * heap per fragment: a 2 MiB record in 1-byte fragments took ~250 MB.
 *
 * Fragments are counted too. Real clients send one fragment per record, so a
 * record of more than `maxFragments` is hostile (each fragment costs a
 * header parse however small it is): the reader reports it once through
 * onFatal and ignores all further input, and the caller closes the
 * connection.
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
  /**
   * The peer broke the framing beyond recovery (too many fragments in one
   * record). Called once; the reader then ignores all input, so the
   * connection should be closed. Without it the reader just stops.
   */
  onFatal?(reason: string): void;
}

export interface RecordReaderOptions {
  /** Most fragments one record may have (zero-length ones count); one more is fatal. */
  maxFragments?: number;
}

/** Linux and every other real client send one fragment per record; this leaves ample room for odd ones. */
export const DEFAULT_MAX_FRAGMENTS = 4096;

const LAST_FRAGMENT = 0x80000000;
const HEAD_KEEP = 8;
const NO_BYTES = Buffer.alloc(0);

export class RecordReader {
  private readonly maxFragments: number;
  /** Header bytes split across chunks. */
  private readonly header = Buffer.alloc(4);
  private headerHave = 0;
  /** Fragment headers read for the current record (zero-length fragments included); 0 between records. */
  private fragments = 0;
  /** Length of the current fragment, and its bytes still expected. */
  private fragmentLength = 0;
  private fragmentLeft = 0;
  private inFragment = false;
  private lastFragment = false;
  /** The record being assembled: `assembled` bytes used of one buffer (absent until a piece needs copying). */
  private assembly: Buffer | undefined;
  private assembled = 0;
  /** Size the assembly may grow to: the record's exact size once its last fragment's header is read, else maxRecord. */
  private assemblyLimit = 0;
  /** Oversized-record skip mode: the first bytes are kept for the error reply, the rest dropped. */
  private skipping = false;
  private readonly skipHead = Buffer.alloc(HEAD_KEEP);
  private skipHeadLength = 0;
  private skipClaimed = 0;
  /** Set once the framing was found hostile: push() ignores everything from then on. */
  private failed = false;

  constructor(
    private readonly sink: RecordSink,
    private readonly maxRecord: number,
    options: RecordReaderOptions = {},
  ) {
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
  }

  /** Bytes of memory currently held for an incomplete record (the assembly buffer's size). */
  get buffered(): number {
    return this.assembly?.length ?? 0;
  }

  /** Buffers held for an incomplete record: 0 or 1, however many fragments it came in (diagnostics). */
  get heldChunks(): number {
    return this.assembly ? 1 : 0;
  }

  /**
   * Part of a record (even part of a fragment header) has arrived and the
   * record is not complete yet. Stays true after a fatal error: that record
   * never completes.
   */
  get midRecord(): boolean {
    return this.failed || this.headerHave > 0 || this.fragments > 0;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.failed) {
      if (!this.inFragment) {
        // read the 4-byte fragment header, possibly across chunks
        const take = Math.min(4 - this.headerHave, chunk.length - off);
        chunk.copy(this.header, this.headerHave, off, off + take);
        this.headerHave += take;
        off += take;
        if (this.headerHave < 4) return;
        this.headerHave = 0;
        this.beginFragment(this.header.readUInt32BE(0));
        continue;
      }
      const take = Math.min(this.fragmentLeft, chunk.length - off);
      const piece = chunk.subarray(off, off + take);
      off += take;
      this.fragmentLeft -= take;
      if (this.skipping) {
        this.keepHead(piece);
      } else if (this.lastFragment && this.assembled === 0 && take === this.fragmentLength) {
        // whole record inside this chunk: hand out a view
        this.inFragment = false;
        this.fragments = 0;
        this.sink.onRecord(piece);
        continue;
      } else {
        this.append(piece);
      }
      if (this.fragmentLeft === 0) this.endFragment();
    }
  }

  private beginFragment(word: number): void {
    this.fragments++;
    if (this.fragments > this.maxFragments) {
      this.fail(`RPC record of more than ${this.maxFragments} fragments`);
      return;
    }
    this.lastFragment = (word & LAST_FRAGMENT) !== 0;
    this.fragmentLength = word & 0x7fffffff;
    this.fragmentLeft = this.fragmentLength;
    this.inFragment = true;
    if (this.skipping) {
      this.skipClaimed += this.fragmentLength;
    } else if (this.assembled + this.fragmentLength > this.maxRecord) {
      this.skipping = true;
      this.skipClaimed = this.assembled + this.fragmentLength;
      // keep what we already have of the head
      if (this.assembly) this.keepHead(this.assembly.subarray(0, this.assembled));
      this.dropAssembly();
    } else {
      this.assemblyLimit = this.lastFragment ? this.assembled + this.fragmentLength : this.maxRecord;
    }
    if (this.fragmentLength === 0) this.endFragment();
  }

  /** Copies a piece into the assembly, doubling it when full: at most twice the bytes received, at most assemblyLimit. */
  private append(piece: Buffer): void {
    const needed = this.assembled + piece.length;
    if (!this.assembly || needed > this.assembly.length) {
      // needed <= assemblyLimit: beginFragment sent records that would pass maxRecord to skip mode
      const grown = Buffer.allocUnsafe(Math.min(this.assemblyLimit, 2 * needed));
      if (this.assembly) this.assembly.copy(grown, 0, 0, this.assembled);
      this.assembly = grown;
    }
    piece.copy(this.assembly, this.assembled);
    this.assembled = needed;
  }

  private dropAssembly(): void {
    this.assembly = undefined;
    this.assembled = 0;
  }

  private keepHead(piece: Buffer): void {
    if (this.skipHeadLength >= HEAD_KEEP) return;
    this.skipHeadLength += piece.copy(this.skipHead, this.skipHeadLength, 0, HEAD_KEEP - this.skipHeadLength);
  }

  private endFragment(): void {
    this.inFragment = false;
    if (!this.lastFragment) return;
    this.fragments = 0;
    if (this.skipping) {
      const head = Buffer.from(this.skipHead.subarray(0, this.skipHeadLength));
      const claimed = this.skipClaimed;
      this.skipping = false;
      this.skipHeadLength = 0;
      this.skipClaimed = 0;
      this.sink.onOversized(head, claimed);
      return;
    }
    const record = this.assembly ? this.assembly.subarray(0, this.assembled) : NO_BYTES;
    this.dropAssembly();
    this.sink.onRecord(record);
  }

  private fail(reason: string): void {
    this.failed = true;
    this.inFragment = false;
    this.skipping = false;
    this.dropAssembly();
    this.sink.onFatal?.(reason);
  }
}

/** Frames a reply: returns the 4-byte record mark for a single-fragment record of `length` bytes. */
export function recordMark(length: number): number {
  return (LAST_FRAGMENT | length) >>> 0;
}
