import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAGMENTS, RecordReader, recordMark } from '../../src/rpc/record.js';

function collect(max = 1024) {
  const records: Buffer[] = [];
  const oversized: { head: Buffer; claimed: number }[] = [];
  const reader = new RecordReader(
    { onRecord: (r) => records.push(Buffer.from(r)), onOversized: (head, claimed) => oversized.push({ head, claimed }) },
    max,
  );
  return { reader, records, oversized };
}

function frag(payload: Buffer, last: boolean): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(((last ? 0x80000000 : 0) | payload.length) >>> 0);
  return Buffer.concat([h, payload]);
}

describe('record marking', () => {
  it('hands out a record that lies in one chunk as a view of that chunk', () => {
    const payload = Buffer.from('hello world!');
    const chunk = frag(payload, true);
    const views: Buffer[] = [];
    const reader = new RecordReader({ onRecord: (r) => views.push(r), onOversized: () => {} }, 1024);
    reader.push(chunk);
    expect(views).toHaveLength(1);
    expect(views[0]!.buffer).toBe(chunk.buffer);
    expect(views[0]!.toString()).toBe('hello world!');
  });

  it('reassembles fragments and records split at every byte boundary', () => {
    const a = Buffer.from('abcdefgh');
    const b = Buffer.from('ijkl');
    const c = Buffer.from('second record');
    const stream = Buffer.concat([frag(a, false), frag(b, true), frag(c, true)]);
    for (let split = 1; split < stream.length; split++) {
      const { reader, records } = collect();
      reader.push(stream.subarray(0, split));
      reader.push(stream.subarray(split));
      expect(records.map((r) => r.toString())).toEqual(['abcdefghijkl', 'second record']);
    }
    const { reader, records } = collect();
    for (const byte of stream) reader.push(Buffer.from([byte]));
    expect(records.map((r) => r.toString())).toEqual(['abcdefghijkl', 'second record']);
  });

  it('accepts an empty last fragment', () => {
    const { reader, records } = collect();
    reader.push(Buffer.concat([frag(Buffer.from('xy'), false), frag(Buffer.alloc(0), true)]));
    expect(records.map((r) => r.toString())).toEqual(['xy']);
  });

  it('skips an oversized record without buffering it, keeps its head, then continues', () => {
    const { reader, records, oversized } = collect(64);
    const big = Buffer.alloc(1000, 7);
    big.writeUInt32BE(0xdeadbeef, 0);
    const stream = Buffer.concat([frag(big, true), frag(Buffer.from('next'), true)]);
    for (let i = 0; i < stream.length; i += 100) reader.push(stream.subarray(i, i + 100));
    expect(oversized).toHaveLength(1);
    expect(oversized[0]!.claimed).toBe(1000);
    expect(oversized[0]!.head.readUInt32BE(0)).toBe(0xdeadbeef);
    expect(reader.buffered).toBe(0);
    expect(records.map((r) => r.toString())).toEqual(['next']);
  });

  it('does not allocate for a header claiming 2 GiB', () => {
    const { reader, oversized } = collect(1024);
    const h = Buffer.alloc(12);
    h.writeUInt32BE(0xffffffff);
    h.writeUInt32BE(42, 4);
    reader.push(h);
    expect(reader.buffered).toBe(0);
    expect(oversized).toHaveLength(0); // still waiting for the rest
  });

  it('fragments adding up past the limit are treated as oversized', () => {
    const { reader, records, oversized } = collect(16);
    reader.push(Buffer.concat([frag(Buffer.alloc(10, 1), false), frag(Buffer.alloc(10, 2), true), frag(Buffer.from('ok'), true)]));
    expect(oversized).toHaveLength(1);
    expect(oversized[0]!.claimed).toBe(20);
    expect(records.map((r) => r.toString())).toEqual(['ok']);
  });

  it('reassembles a record sent as many 1-byte fragments, byte-exactly', () => {
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31 + 7) & 0xff));
    const stream = Buffer.concat([
      ...Array.from(payload, (byte, i) => frag(Buffer.from([byte]), i === payload.length - 1)),
      frag(Buffer.from('next'), true),
    ]);
    // all in one chunk, and one byte per chunk
    for (const step of [stream.length, 1]) {
      const { reader, records } = collect(4096);
      for (let i = 0; i < stream.length; i += step) {
        reader.push(stream.subarray(i, i + step));
        expect(reader.heldChunks).toBeLessThanOrEqual(1);
      }
      expect(records).toHaveLength(2);
      expect(records[0]!.equals(payload)).toBe(true);
      expect(records[1]!.toString()).toBe('next');
      expect(reader.buffered).toBe(0);
    }
  });

  it(`accepts ${DEFAULT_MAX_FRAGMENTS} fragments by default and reports one more once through onFatal, then ignores all input`, () => {
    const run = (count: number) => {
      const records: Buffer[] = [];
      const fatal: string[] = [];
      const reader = new RecordReader(
        { onRecord: (r) => records.push(Buffer.from(r)), onOversized: () => fatal.push('oversized'), onFatal: (why) => fatal.push(why) },
        1024 * 1024,
      );
      const stream = Buffer.concat(Array.from({ length: count }, (_, i) => frag(Buffer.from([i & 0xff]), i === count - 1)));
      for (let i = 0; i < stream.length; i += 1000) reader.push(stream.subarray(i, i + 1000));
      reader.push(frag(Buffer.from('after'), true));
      reader.push(frag(Buffer.from('and more'), true));
      return { records, fatal, reader };
    };
    const ok = run(DEFAULT_MAX_FRAGMENTS);
    expect(ok.fatal).toEqual([]);
    expect(ok.records.map((r) => r.length)).toEqual([DEFAULT_MAX_FRAGMENTS, 5, 8]);
    const bad = run(DEFAULT_MAX_FRAGMENTS + 1);
    expect(bad.fatal).toHaveLength(1);
    expect(bad.fatal[0]).toMatch(/fragments/);
    expect(bad.records).toEqual([]);
    expect(bad.reader.buffered).toBe(0);
  });

  it('takes the fragment limit as an option and counts zero-length fragments', () => {
    const records: Buffer[] = [];
    let fatal = 0;
    const reader = new RecordReader(
      { onRecord: (r) => records.push(Buffer.from(r)), onOversized: () => {}, onFatal: () => fatal++ },
      1024,
      { maxFragments: 3 },
    );
    reader.push(Buffer.concat([frag(Buffer.alloc(0), false), frag(Buffer.alloc(0), false), frag(Buffer.from('ok'), true)]));
    expect(records.map((r) => r.toString())).toEqual(['ok']);
    reader.push(Buffer.concat([frag(Buffer.alloc(0), false), frag(Buffer.alloc(0), false), frag(Buffer.alloc(0), false)]));
    expect(fatal).toBe(0);
    reader.push(frag(Buffer.alloc(0), false)); // the fourth
    expect(fatal).toBe(1);
    reader.push(Buffer.concat([frag(Buffer.from('ignored'), true), frag(Buffer.alloc(0), false), frag(Buffer.alloc(0), false)]));
    reader.push(Buffer.concat([frag(Buffer.alloc(0), false), frag(Buffer.alloc(0), false)]));
    expect(fatal).toBe(1);
    expect(records).toHaveLength(1);
  });

  it('counts fragments of an oversized record being skipped', () => {
    const fatal: string[] = [];
    const oversized: number[] = [];
    const reader = new RecordReader(
      { onRecord: () => {}, onOversized: (_head, claimed) => oversized.push(claimed), onFatal: (why) => fatal.push(why) },
      16,
      { maxFragments: 100 },
    );
    reader.push(frag(Buffer.alloc(20, 1), false)); // past maxRecord: skip mode
    for (let i = 0; i < 200; i++) reader.push(frag(i % 2 ? Buffer.alloc(0) : Buffer.from([i]), false));
    expect(fatal).toHaveLength(1);
    expect(oversized).toEqual([]);
    expect(reader.buffered).toBe(0);
  });

  it('without onFatal just stops reading', () => {
    const records: Buffer[] = [];
    const reader = new RecordReader({ onRecord: (r) => records.push(r), onOversized: () => {} }, 1024, { maxFragments: 2 });
    reader.push(Buffer.concat([frag(Buffer.from('a'), false), frag(Buffer.from('b'), false), frag(Buffer.from('c'), true)]));
    reader.push(frag(Buffer.from('later'), true));
    expect(records).toEqual([]);
    expect(reader.buffered).toBe(0);
  });

  it('reports midRecord from the first header byte until the record is complete', () => {
    const { reader, records, oversized } = collect(64);
    expect(reader.midRecord).toBe(false);
    const two = Buffer.concat([frag(Buffer.from('abc'), false), frag(Buffer.from('de'), true)]);
    reader.push(two.subarray(0, 2)); // half a header
    expect(reader.midRecord).toBe(true);
    reader.push(two.subarray(2, 5)); // header done, one byte
    expect(reader.midRecord).toBe(true);
    reader.push(two.subarray(5, 7)); // first fragment done
    expect(reader.midRecord).toBe(true);
    reader.push(two.subarray(7, 12)); // second header and one byte
    expect(reader.midRecord).toBe(true);
    reader.push(two.subarray(12));
    expect(reader.midRecord).toBe(false);
    expect(records.map((r) => r.toString())).toEqual(['abcde']);
    // the one-chunk fast path leaves nothing pending
    reader.push(frag(Buffer.from('whole'), true));
    expect(reader.midRecord).toBe(false);
    // an empty record
    reader.push(frag(Buffer.alloc(0), true));
    expect(reader.midRecord).toBe(false);
    // an oversized record being skipped is pending until its end
    reader.push(frag(Buffer.alloc(100), false));
    expect(reader.midRecord).toBe(true);
    reader.push(frag(Buffer.alloc(1), true));
    expect(reader.midRecord).toBe(false);
    expect(oversized).toHaveLength(1);
    expect(records.map((r) => r.toString())).toEqual(['abcde', 'whole', '']);
  });

  it('holds at most twice the bytes received, in buffers of kilobytes, for a 2 MiB record in 4000 fragments', () => {
    const size = 2 * 1024 * 1024;
    const payload = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + (i >> 11)) & 0xff));
    const records: Buffer[] = [];
    const reader = new RecordReader({ onRecord: (r) => records.push(r), onOversized: () => {} }, size + 64 * 1024);
    const count = 4000;
    let received = 0;
    for (let i = 0; i < count; i++) {
      const from = Math.floor((size * i) / count);
      const to = Math.floor((size * (i + 1)) / count);
      const chunk = frag(payload.subarray(from, to), i === count - 1);
      reader.push(chunk);
      received += chunk.length;
      if (i < count - 1) {
        // fragments of ~500 bytes are copied together: never one buffer per fragment
        expect(reader.heldChunks).toBeLessThanOrEqual(1 + received / 4096);
        expect(reader.buffered).toBeGreaterThanOrEqual(to);
        expect(reader.buffered).toBeLessThanOrEqual(2 * received);
      }
    }
    expect(records).toHaveLength(1);
    expect(records[0]!.equals(payload)).toBe(true);
    expect(reader.heldChunks).toBe(0);
    expect(reader.buffered).toBe(0);
  });

  it('assembles a single fragment spanning chunks into one buffer of exactly its size, holding only what arrived', () => {
    const size = 1024 * 1024 + 3;
    const payload = Buffer.alloc(size, 0x5a);
    const records: Buffer[] = [];
    const reader = new RecordReader({ onRecord: (r) => records.push(r), onOversized: () => {} }, 2 * 1024 * 1024);
    const stream = frag(payload, true);
    reader.push(stream.subarray(0, 5)); // header claiming 1 MiB and one byte
    expect(reader.buffered).toBeLessThanOrEqual(2);
    let received = 5;
    for (let i = 5; i < stream.length; i += 64 * 1024) {
      const chunk = stream.subarray(i, i + 64 * 1024);
      reader.push(chunk);
      received += chunk.length;
      if (records.length === 0) expect(reader.buffered).toBeLessThanOrEqual(2 * received);
    }
    expect(records).toHaveLength(1);
    expect(records[0]!.equals(payload)).toBe(true);
    expect(records[0]!.buffer.byteLength).toBe(size);
  });

  it('builds the last-fragment mark', () => {
    expect(recordMark(5)).toBe(0x80000005);
  });
});
