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

describe('file-handle caches (src/nfs4/fh.ts)', () => {
  const secret = Buffer.alloc(32, 9);

  it('the same bytes and verdicts as without the caches', () => {
    const cached = new FhCodec(secret, 64);
    const plain = new FhCodec(secret, 0);
    const inputs: Array<[number, number, number]> = [];
    for (let i = 0; i < 200; i++) inputs.push([i * 7919 + (i % 3) * 2 ** 40, (i * 2654435761) >>> 0, i % 2]);
    for (let pass = 0; pass < 3; pass++) {
      for (const [ino, gen, exp] of inputs) {
        const fh = cached.encode(ino, gen, exp);
        expect(fh).toEqual(plain.encode(ino, gen, exp));
        expect(cached.decode(fh)).toEqual({ ino, gen, exportIndex: exp });
        expect(plain.decode(fh)).toEqual({ ino, gen, exportIndex: exp });
      }
    }
    const st = cached.cacheStats();
    expect(st.encode.size).toBeLessThanOrEqual(64);
    expect(st.decode.size).toBeLessThanOrEqual(64);
    expect(st.encode.evictions).toBeGreaterThan(0);
    expect(plain.cacheStats().encode).toMatchObject({ size: 0, hits: 0 });
    // repeated use of a few handles hits
    const hot = cached.encode(5, 6);
    const h0 = cached.cacheStats();
    for (let i = 0; i < 10; i++) {
      expect(cached.decode(Buffer.from(hot))).toEqual({ ino: 5, gen: 6, exportIndex: 0 });
      expect(cached.encode(5, 6)).toEqual(hot);
    }
    const h1 = cached.cacheStats();
    expect(h1.decode.hits - h0.decode.hits).toBe(10);
    expect(h1.encode.hits - h0.encode.hits).toBe(10);
  });

  it('a cached genuine handle does not make forged neighbours pass; returned buffers and objects are copies', () => {
    const codec = new FhCodec(secret);
    const fh = codec.encode(77, 1);
    expect(codec.decode(fh)).toEqual({ ino: 77, gen: 1, exportIndex: 0 });
    for (let i = 0; i < fh.length; i++) {
      const bad = Buffer.from(fh);
      bad[i] ^= 1;
      expect(codec.decode(bad)).toBeUndefined();
    }
    expect(codec.decode(fh.subarray(0, 31))).toBeUndefined();
    expect(new FhCodec(Buffer.alloc(32, 8)).decode(fh)).toBeUndefined();
    // callers scribbling on what they got do not poison the caches
    fh.fill(0);
    const again = codec.encode(77, 1);
    expect(again[0]).toBe(1);
    const d = codec.decode(again)!;
    d.ino = 1;
    expect(codec.decode(again)).toEqual({ ino: 77, gen: 1, exportIndex: 0 });
    expect(new FhCodec(secret, 0).decode(again)).toEqual({ ino: 77, gen: 1, exportIndex: 0 });
  });
});
