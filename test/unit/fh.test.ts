import { describe, expect, it } from 'vitest';
import { FhCodec, FH_LENGTH } from '../../src/nfs4/fh.js';

describe('file handles', () => {
  const codec = new FhCodec(Buffer.alloc(32, 9));
  it('round-trips inode numbers beyond 32 bits and the generation', () => {
    const fh = codec.encode(2 ** 40 + 12345, 0xfeedbeef, 3);
    expect(fh.length).toBe(FH_LENGTH);
    expect(codec.decode(fh)).toEqual({ ino: 2 ** 40 + 12345, gen: 0xfeedbeef, exportIndex: 3 });
  });
  it('is stable for the same secret (handles survive restarts) and differs for another secret', () => {
    expect(new FhCodec(Buffer.alloc(32, 9)).encode(77, 1)).toEqual(codec.encode(77, 1));
    expect(new FhCodec(Buffer.alloc(32, 8)).decode(codec.encode(77, 1))).toBeUndefined();
  });
  it('rejects forged or damaged handles', () => {
    const fh = codec.encode(77, 1);
    for (let i = 0; i < fh.length; i++) {
      const bad = Buffer.from(fh);
      bad[i] ^= 1;
      expect(codec.decode(bad)).toBeUndefined();
    }
    expect(codec.decode(fh.subarray(0, 31))).toBeUndefined();
    expect(codec.decode(Buffer.alloc(0))).toBeUndefined();
  });
});
