import { describe, expect, it } from 'vitest';
import { RecordReader, recordMark } from '../../src/rpc/record.js';

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

  it('builds the last-fragment mark', () => {
    expect(recordMark(5)).toBe(0x80000005);
  });
});
