/**
 * 64-bit values the protocol treats as opaque tokens (nfs_cookie4,
 * changeid4) are bigints end to end: XdrReader/XdrWriter.u64big, the
 * generated codecs (the `bigint` overrides in scripts/xdrgen/overrides.ts)
 * and the client's READDIR paging and change attribute. Values above 2^53
 * would round as numbers; 2^53 + 1 and 2^53 are one number apart as bigints
 * and the same number as JS numbers.
 */
import { describe, expect, it } from 'vitest';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrError } from '../../src/xdr/errors.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsClient, FATTR } from '../../src/client/nfs-client.js';
import { bitmapOf } from '../../src/client/attrs.js';
import type { RpcClient } from '../../src/client/rpc-client.js';
import { dec, enc, hex } from './xdr-helpers.js';
import { emitTs } from '../../scripts/xdrgen/emit.js';
import { parse } from '../../scripts/xdrgen/parser.js';

const TOP = 0xfffffffffffffffen; // 2^64 - 2
const ALL_ONES = 0xffffffffffffffffn;
const ABOVE_53 = 2n ** 53n + 1n; // Number() rounds it to 2^53


describe('XdrReader/XdrWriter u64big', () => {
  it('round trips every 64-bit value exactly, big-endian', () => {
    for (const v of [0n, 1n, 3n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, ABOVE_53, TOP, ALL_ONES]) {
      const b = enc((w, x: bigint) => w.u64big(x), v);
      expect(b.toString('hex')).toBe(v.toString(16).padStart(16, '0'));
      expect(dec((r) => r.u64big(), b)).toBe(v);
    }
  });

  it('refuses values outside 0..2^64-1 instead of wrapping, and short input', () => {
    const w = new XdrWriter(16);
    expect(() => w.u64big(-1n)).toThrow(RangeError);
    expect(() => w.u64big(2n ** 64n)).toThrow(RangeError);
    expect(w.length).toBe(0);
    expect(() => new XdrReader(hex('ffffffff fffffff')).u64big()).toThrow(XdrError);
  });

  it('u64() (numbers, for sizes and offsets) still rounds: the reason for u64big', () => {
    const b = enc((w, x: bigint) => w.u64big(x), ABOVE_53);
    expect(new XdrReader(b).u64()).toBe(2 ** 53);
  });
});

describe('generated codecs: nfs_cookie4 and changeid4 are bigint', () => {
  it('READDIR4args carries a cookie of 2^64 - 2 exactly', () => {
    const args: N.READDIR4args = { cookie: TOP, cookieverf: hex('0102030405060708'), dircount: 8192, maxcount: 32768, attr_request: [1 << FATTR.TYPE] };
    const b = enc(N.encode_READDIR4args, args);
    expect(b.subarray(0, 8).toString('hex')).toBe('fffffffffffffffe');
    expect(dec(N.decode_READDIR4args, b)).toEqual(args);
    expect(dec(N.decode_READDIR4args, b).cookie).toBe(TOP);
    // and the nfs_cookie4 codec on its own
    expect(dec(N.decode_nfs_cookie4, enc(N.encode_nfs_cookie4, TOP))).toBe(TOP);
  });

  it('READDIR4resok entry cookies above 2^53 round trip exactly', () => {
    const empty: N.fattr4 = { attrmask: [], attr_vals: Buffer.alloc(0) };
    const value: N.READDIR4resok = {
      cookieverf: Buffer.alloc(8),
      reply: { entries: [{ cookie: ABOVE_53, name: 'a', attrs: empty }, { cookie: TOP, name: 'b', attrs: empty }], eof: true },
    };
    const bytes = hex(`
      0000000000000000
      00000001 0020000000000001 00000001 61000000 00000000 00000000
      00000001 fffffffffffffffe 00000001 62000000 00000000 00000000
      00000000 00000001`);
    expect(enc(N.encode_READDIR4resok, value).equals(bytes)).toBe(true);
    const got = dec(N.decode_READDIR4resok, bytes);
    expect(got.reply.entries.map((e) => e.cookie)).toEqual([ABOVE_53, TOP]);
  });

  it('change_info4 and fattr4_change above 2^53 decode exactly', () => {
    const bytes = hex('00000001 0020000000000000 0020000000000001');
    const ci = dec(N.decode_change_info4, bytes);
    expect(ci).toEqual({ atomic: true, before: 2n ** 53n, after: ABOVE_53 });
    // as numbers these two would be equal and hide the change
    expect(ci.after).not.toBe(ci.before);
    expect(enc(N.encode_change_info4, ci).equals(bytes)).toBe(true);
    expect(dec(N.decode_change_info4, hex('00000000 fffffffffffffffe ffffffffffffffff'))).toEqual({ atomic: false, before: TOP, after: ALL_ONES });
    expect(dec(N.decode_fattr4_change, hex('fffffffffffffffe'))).toBe(TOP);
    expect(dec(N.decode_changeid4, enc(N.encode_changeid4, ABOVE_53))).toBe(ABOVE_53);
  });

  it('other 64-bit integers stay numbers (offsets, sizes)', () => {
    const b = enc(N.encode_READ4args, { stateid: { seqid: 0, other: Buffer.alloc(12) }, offset: 4096, count: 10 });
    expect(typeof dec(N.decode_READ4args, b).offset).toBe('number');
  });
});

describe('xdrgen bigint override', () => {
  const src = `typedef unsigned hyper tok; typedef tok tok2; typedef unsigned hyper plain;
    struct s { tok a; tok2 b; tok c<4>; tok d[2]; tok *e; plain f; };`;
  const gen = (type: string) => emitTs(parse(src), { sourceName: 't', overrides: [{ kind: 'bigint', type, why: 'test' }] });

  it('reaches aliases, arrays and optionals of the typedef, and nothing else', () => {
    const text = gen('tok');
    expect(text).toContain('export type tok = bigint;');
    expect(text).toContain('export type tok2 = tok;');
    expect(text).toContain('export type plain = number;');
    const body = (fn: string) => text.slice(text.indexOf(`export function ${fn}(`), text.indexOf('\n}\n', text.indexOf(`export function ${fn}(`)));
    // a, b, c[], d[], e: five reads and five writes; f stays a number
    expect(body('decode_s').match(/r\.u64big\(\)/g)).toHaveLength(5);
    expect(body('decode_s')).toContain('const f_f = r.u64();');
    expect(body('encode_s').match(/w\.u64big\(/g)).toHaveLength(5);
    expect(body('encode_s')).toContain('w.u64(v.f);');
    expect(body('decode_tok2')).toContain('return r.u64big();');
  });

  it('is refused on anything but a scalar uint64_t typedef', () => {
    expect(() => gen('tok2')).toThrow(/not a typedef of a scalar uint64_t/);
    expect(() => gen('s')).toThrow(/not a typedef of a scalar uint64_t/);
    expect(() => emitTs(parse('typedef hyper h;'), { sourceName: 't', overrides: [{ kind: 'bigint', type: 'h', why: 'signed' }] })).toThrow(/uint64_t/);
    expect(() => emitTs(parse('typedef unsigned hyper v<>;'), { sourceName: 't', overrides: [{ kind: 'bigint', type: 'v', why: 'array' }] })).toThrow(/uint64_t/);
  });
});

/** An RpcClient stand-in that answers COMPOUNDs from a script and keeps what it was sent. */
function fakeRpc(answer: (args: N.COMPOUND4args) => N.COMPOUND4res): { rpc: RpcClient; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const rpc = {
    async call(_prog: number, _vers: number, _proc: number, args: Uint8Array): Promise<Buffer> {
      const bytes = Buffer.from(args);
      sent.push(bytes);
      const w = new XdrWriter(1024);
      N.encode_COMPOUND4res(w, answer(dec(N.decode_COMPOUND4args, bytes)));
      return Buffer.from(w.finish());
    },
  };
  return { rpc: rpc as unknown as RpcClient, sent };
}

/** attr_vals of TYPE (regular file) and CHANGE. */
function entryAttrs(change: bigint): N.fattr4 {
  const w = new XdrWriter(16);
  w.u32(N.NF4REG);
  w.u64big(change);
  return { attrmask: bitmapOf([FATTR.TYPE, FATTR.CHANGE]), attr_vals: Buffer.from(w.finish()) };
}

describe('client READDIR paging with 64-bit cookies', () => {
  it('sends back exactly the last cookie of the page, 2^64 - 2 included', async () => {
    // a foreign server's pages: cookies anywhere in 64 bits
    const pages: N.entry4[][] = [
      [
        { cookie: ABOVE_53, name: 'one', attrs: entryAttrs(ABOVE_53) },
        { cookie: TOP, name: 'two', attrs: entryAttrs(TOP) },
      ],
      [{ cookie: ALL_ONES, name: 'three', attrs: entryAttrs(3n) }],
    ];
    const byCookie = new Map<bigint, number>([
      [0n, 0],
      [TOP, 1],
    ]);
    const asked: bigint[] = [];
    const { rpc, sent } = fakeRpc((args) => {
      const rd = args.argarray[1]!.opreaddir!;
      asked.push(rd.cookie);
      const i = byCookie.get(rd.cookie);
      const res: N.nfs_resop4[] = [{ resop: N.OP_PUTFH, opputfh: { status: N.NFS4_OK } }];
      if (i === undefined) res.push({ resop: N.OP_READDIR, opreaddir: { status: N.NFS4ERR_BAD_COOKIE } });
      else
        res.push({
          resop: N.OP_READDIR,
          opreaddir: { status: N.NFS4_OK, resok4: { cookieverf: hex('0000000000000007'), reply: { entries: pages[i]!, eof: i === pages.length - 1 } } },
        });
      return { status: res[1]!.opreaddir!.status, tag: '', resarray: res };
    });
    const c = await NfsClient.connect({ host: 'unused', port: 0, rpc, setup: false, minorVersion: 0 });

    const entries = await c.readdir(Buffer.from('dirfh'), { attrs: [FATTR.TYPE, FATTR.CHANGE] });
    expect(entries.map((e) => e.name)).toEqual(['one', 'two', 'three']);
    expect(entries.map((e) => e.cookie)).toEqual([ABOVE_53, TOP, ALL_ONES]);
    expect(entries.map((e) => e.attrs.change)).toEqual([ABOVE_53, TOP, 3n]);
    expect(asked).toEqual([0n, TOP]);
    // on the wire: the second READDIR's first 8 argument bytes are the cookie, bit for bit
    expect(sent).toHaveLength(2);
    expect(sent[1]!.includes(hex('fffffffffffffffe 0000000000000007'))).toBe(true);
  });
});
