import { expect } from 'vitest';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';

/** "00 00 00 01 ..." -> Buffer (whitespace ignored) */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

export function enc<T>(fn: (w: XdrWriter, v: T) => void, v: T): Buffer {
  const w = new XdrWriter(16);
  fn(w, v);
  return Buffer.from(w.finish());
}

/** Decodes all of b (nothing may be left over). */
export function dec<T>(fn: (r: XdrReader) => T, b: Buffer): T {
  const r = new XdrReader(b);
  const v = fn(r);
  expect(r.remaining).toBe(0);
  return v;
}

/** Golden bytes in both directions. */
export function golden<T>(encode: (w: XdrWriter, v: T) => void, decode: (r: XdrReader) => T, value: T, bytes: Buffer): void {
  expect(enc(encode, value).toString('hex')).toBe(bytes.toString('hex'));
  expect(dec(decode, bytes)).toEqual(value);
}
