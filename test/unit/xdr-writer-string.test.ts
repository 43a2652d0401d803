import { describe, expect, it } from 'vitest';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrReader } from '../../src/xdr/reader.js';

// XdrWriter.string has an ASCII fast path for short strings: its bytes must be
// exactly those of the general path (length, UTF-8 bytes, zero padding to 4).
function expected(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(4 + ((bytes.length + 3) & ~3));
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

describe('XdrWriter.string', () => {
  it('writes length, UTF-8 bytes and zero padding for every length around the fast path, ASCII or not', () => {
    const samples: string[] = [];
    for (let n = 0; n <= 70; n++) {
      samples.push('a'.repeat(n), 'x'.repeat(Math.max(0, n - 1)) + 'é', 'ü'.repeat(n), '\u007f'.repeat(n));
    }
    samples.push('65534', '0', 'f0000123', '日本語のファイル名');
    for (const s of samples) {
      // a dirty slab big enough for every sample (no growth into fresh memory): padding must be written, not assumed zero
      const w = new XdrWriter(256);
      w.buf.fill(0xee);
      w.u32(0xabcdef01);
      w.string(s);
      const got = Buffer.from(w.buf.subarray(4, w.length));
      expect(got.equals(expected(s))).toBe(true);
      expect(new XdrReader(got).string(1024)).toBe(s);
    }
  });
});
