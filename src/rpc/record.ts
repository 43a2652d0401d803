/**
 * RFC 5531 section 11 record marking: each fragment is a 4-byte header
 * (last-fragment bit + 31-bit length) followed by its bytes. A record whose
 * bytes lie in one socket chunk is handed out as a view (no copy); a record
 * spanning chunks is kept as views of the chunks it came in and joined once
 * (one copy) when it is complete.
 *
 * Memory follows the bytes a peer has actually sent, not what its headers
 * claim nor how finely it slices a record. Socket chunks are sized to what
 * each read returned, so a view holds no more than was sent; but each view
 * costs ~120 bytes of heap, so only pieces of MIN_VIEW bytes or more are
 * kept as views (at most 3 % overhead) and smaller ones are copied together
 * into buffers of up to COALESCE bytes. (One view per fragment cost ~250 MB
 * for a 2 MiB record sent in 1-byte fragments.) A header claiming 2 MiB
 * allocates nothing before the bytes come.
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
/** Pieces at least this long are kept as views of their socket chunk. */
const MIN_VIEW = 4096;
/** Smaller pieces are copied together into buffers of up to this size. */
const COALESCE = 16 * 1024;

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
  /** The record being assembled: views of socket chunks and coalesced copies, `assembled` bytes in all. */
  private parts: Buffer[] = [];
  private assembled = 0;
  /** The buffer small pieces are being copied into (not yet in parts), and the bytes used of it. */
  private small: Buffer | undefined;
  private smallUsed = 0;
  /** Size the record may reach: its exact size once its last fragment's header is read, else maxRecord. */
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

  /** Bytes of memory currently held for an incomplete record (views and copy buffers). */
  get buffered(): number {
    return this.assembled - this.smallUsed + (this.small?.length ?? 0);
  }

  /** Buffers held for an incomplete record (diagnostics): views of chunks and copy buffers. */
  get heldChunks(): number {
    return this.parts.length + (this.small ? 1 : 0);
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
      this.sealSmall();
      for (const p of this.parts) this.keepHead(p);
      this.dropAssembly();
    } else {
      this.assemblyLimit = this.lastFragment ? this.assembled + this.fragmentLength : this.maxRecord;
    }
    if (this.fragmentLength === 0) this.endFragment();
  }

  /** Adds a piece of the record: a large one as a view, a small one copied into the current copy buffer. */
  private append(piece: Buffer): void {
    if (piece.length >= MIN_VIEW) {
      this.sealSmall();
      this.parts.push(piece);
      this.assembled += piece.length;
      return;
    }
    const need = this.smallUsed + piece.length;
    if (!this.small || need > this.small.length) {
      // grow by doubling up to COALESCE (never past the record's limit): at most twice what it holds
      const fits = need <= COALESCE;
      if (!fits) this.sealSmall();
      const content = fits ? need : piece.length;
      const room = this.assemblyLimit - (this.assembled - this.smallUsed);
      const grown = Buffer.allocUnsafe(Math.max(content, Math.min(COALESCE, room, 2 * content)));
      if (this.small) this.small.copy(grown, 0, 0, this.smallUsed);
      this.small = grown;
    }
    piece.copy(this.small, this.smallUsed);
    this.smallUsed += piece.length;
    this.assembled += piece.length;
  }

  /** Moves the copy buffer's used part into parts. */
  private sealSmall(): void {
    if (!this.small) return;
    this.parts.push(this.small.subarray(0, this.smallUsed));
    this.small = undefined;
    this.smallUsed = 0;
  }

  private dropAssembly(): void {
    this.parts = [];
    this.assembled = 0;
    this.small = undefined;
    this.smallUsed = 0;
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
    this.sealSmall();
    const record = this.parts.length === 0 ? NO_BYTES : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.assembled);
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
