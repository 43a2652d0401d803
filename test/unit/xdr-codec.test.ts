import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrError } from '../../src/xdr/errors.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import * as R from '../../src/xdr/gen/rpc.js';
import { generateFromSource } from '../../scripts/xdrgen/gen.js';
import { parse } from '../../scripts/xdrgen/parser.js';
import { dec, enc, golden, hex } from './xdr-helpers.js';

const OTHER = hex('0102030405060708090a0b0c');
const SESSION = hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
const CLIENTID = hex('c0c1c2c3c4c5c6c7');

describe('nfs4 golden bytes', () => {
  it('stateid4', () => {
    golden(N.encode_stateid4, N.decode_stateid4, { seqid: 1, other: OTHER }, hex('00000001 0102030405060708090a0b0c'));
  });

  it('SEQUENCE4args', () => {
    golden(
      N.encode_SEQUENCE4args,
      N.decode_SEQUENCE4args,
      { sa_sessionid: SESSION, sa_sequenceid: 5, sa_slotid: 0, sa_highest_slotid: 7, sa_cachethis: true },
      hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 00000005 00000000 00000007 00000001'),
    );
  });

  it('OPEN4args with CLAIM_NULL + OPEN4_CREATE/UNCHECKED4', () => {
    const value: N.OPEN4args = {
      seqid: 0,
      share_access: N.OPEN4_SHARE_ACCESS_BOTH,
      share_deny: N.OPEN4_SHARE_DENY_NONE,
      owner: { clientid: CLIENTID, owner: Buffer.from('own') },
      openhow: {
        opentype: N.OPEN4_CREATE,
        how: { mode: N.UNCHECKED4, createattrs: { attrmask: [1 << N.FATTR4_SIZE, 1 << (N.FATTR4_MODE - 32)], attr_vals: hex('0000000000000000 000001a4') } },
      },
      claim: { claim: N.CLAIM_NULL, file: 'f.txt' },
    };
    const bytes = hex(`
      00000000 00000003 00000000
      c0c1c2c3c4c5c6c7 00000003 6f776e00
      00000001 00000000
        00000002 00000010 00000002
        0000000c 0000000000000000 000001a4
      00000000 00000005 662e747874000000`);
    golden(N.encode_OPEN4args, N.decode_OPEN4args, value, bytes);
  });

  it('COMPOUND4args with SEQUENCE, PUTROOTFH, GETFH', () => {
    const value: N.COMPOUND4args = {
      tag: 'x',
      minorversion: 1,
      argarray: [
        { argop: N.OP_SEQUENCE, opsequence: { sa_sessionid: SESSION, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false } },
        { argop: N.OP_PUTROOTFH },
        { argop: N.OP_GETFH },
      ],
    };
    const bytes = hex(`
      00000001 78000000 00000001 00000003
      00000035 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 00000001 00000000 00000000 00000000
      00000018
      0000000a`);
    golden(N.encode_COMPOUND4args, N.decode_COMPOUND4args, value, bytes);
  });

  it('COMPOUND4res with status arms and default (void) arms', () => {
    const value: N.COMPOUND4res = {
      status: N.NFS4ERR_NOENT,
      tag: '',
      resarray: [
        { resop: N.OP_PUTFH, opputfh: { status: N.NFS4_OK } },
        { resop: N.OP_GETFH, opgetfh: { status: N.NFS4_OK, resok4: { object: hex('0102') } } },
        { resop: N.OP_LOOKUP, oplookup: { status: N.NFS4ERR_NOENT } },
        { resop: N.OP_OPEN, opopen: { status: N.NFS4ERR_ACCESS } },
      ],
    };
    const bytes = hex(`
      00000002 00000000 00000004
      00000016 00000000
      0000000a 00000000 00000002 01020000
      0000000f 00000002
      00000012 0000000d`);
    golden(N.encode_COMPOUND4res, N.decode_COMPOUND4res, value, bytes);
  });

  it('union default arm: secinfo4 AUTH_SYS, settime4 SET_TO_SERVER_TIME4, createtype4 NF4DIR', () => {
    golden(N.encode_secinfo4, N.decode_secinfo4, { flavor: N.AUTH_SYS }, hex('00000001'));
    golden(
      N.encode_secinfo4,
      N.decode_secinfo4,
      { flavor: N.RPCSEC_GSS, flavor_info: { oid: hex('2a'), qop: 0, service: N.RPC_GSS_SVC_NONE } },
      hex('00000006 00000001 2a000000 00000000 00000001'),
    );
    golden(N.encode_settime4, N.decode_settime4, { set_it: N.SET_TO_SERVER_TIME4 }, hex('00000000'));
    golden(N.encode_settime4, N.decode_settime4, { set_it: N.SET_TO_CLIENT_TIME4, time: { seconds: 1_700_000_000, nseconds: 5 } }, hex('00000001 000000006553f100 00000005'));
    golden(N.encode_createtype4, N.decode_createtype4, { type: N.NF4DIR }, hex('00000002'));
    golden(N.encode_createtype4, N.decode_createtype4, { type: N.NF4LNK, linkdata: 'tgt' }, hex('00000005 00000003 74677400'));
    // createtype4 default arm accepts an unknown type (server answers BADTYPE)
    expect(dec(N.decode_createtype4, hex('00000063'))).toEqual({ type: 99 });
  });

  it('union bool discriminant: locker4', () => {
    golden(
      N.encode_locker4,
      N.decode_locker4,
      { new_lock_owner: false, lock_owner: { lock_stateid: { seqid: 2, other: OTHER }, lock_seqid: 9 } },
      hex('00000000 00000002 0102030405060708090a0b0c 00000009'),
    );
  });

  it('nfs_argop4: undeclared op numbers decode to the bare op (default: void)', () => {
    expect(dec(N.decode_nfs_argop4, hex('00000032'))).toEqual({ argop: N.OP_LAYOUTGET });
    expect(dec(N.decode_nfs_argop4, hex('0000ffff'))).toEqual({ argop: 0xffff });
  });

  it('unknown discriminant without default arm -> XdrError', () => {
    expect(() => dec(N.decode_open_claim4, hex('00000063'))).toThrow(XdrError);
    expect(() => dec(N.decode_nfs_resop4, hex('00000001 00000000'))).toThrow(XdrError);
  });

  it('encoding a union whose selected arm is missing throws', () => {
    expect(() => enc(N.encode_open_claim4, { claim: N.CLAIM_NULL })).toThrow(/arm 'file' missing/);
    expect(() => enc(N.encode_open_claim4, { claim: 99 })).toThrow(XdrError);
  });

  it('64-bit numbers', () => {
    golden(N.encode_fsid4, N.decode_fsid4, { major: 2 ** 40 + 3, minor: 0 }, hex('0000010000000003 0000000000000000'));
    golden(N.encode_nfstime4, N.decode_nfstime4, { seconds: -1, nseconds: 0 }, hex('ffffffffffffffff 00000000'));
  });

  it('READDIR4resok with 3 entries round trips (XDR linked list)', () => {
    const attrs = (size: number): N.fattr4 => ({ attrmask: [1 << N.FATTR4_SIZE], attr_vals: hex('00000000' + size.toString(16).padStart(8, '0')) });
    const value: N.READDIR4resok = {
      cookieverf: hex('0000000000000001'),
      reply: {
        entries: [
          { cookie: 3n, name: 'a', attrs: attrs(1) },
          { cookie: 4n, name: 'bb', attrs: attrs(2) },
          { cookie: 5n, name: 'ccc', attrs: attrs(3) },
        ],
        eof: true,
      },
    };
    const entry = (cookie: string, name: string, size: string) =>
      `00000001 00000000000000${cookie} ${name} 00000001 00000010 00000008 00000000${size}`;
    const bytes = hex(`
      0000000000000001
      ${entry('03', '00000001 61000000', '00000001')}
      ${entry('04', '00000002 62620000', '00000002')}
      ${entry('05', '00000003 63636300', '00000003')}
      00000000 00000001`);
    golden(N.encode_READDIR4resok, N.decode_READDIR4resok, value, bytes);
    // empty directory
    golden(N.encode_dirlist4, N.decode_dirlist4, { entries: [], eof: true }, hex('00000000 00000001'));
  });

  it('dirlist4 with 20,000 entries decodes without stack overflow', () => {
    const entries: N.entry4[] = [];
    for (let i = 0; i < 20_000; i++) entries.push({ cookie: BigInt(i + 3), name: `file-${i}`, attrs: { attrmask: [], attr_vals: Buffer.alloc(0) } });
    const bytes = enc(N.encode_dirlist4, { entries, eof: false });
    const got = dec(N.decode_dirlist4, bytes);
    expect(got.entries.length).toBe(20_000);
    expect(got.entries[19_999]).toEqual({ cookie: 20_002n, name: 'file-19999', attrs: { attrmask: [], attr_vals: Buffer.alloc(0) } });
    expect(got.eof).toBe(false);
  });
});

describe('bounds and hostile input', () => {
  it('bounded array exceeding its bound -> XdrError (decode and encode)', () => {
    const gids = Array.from({ length: 17 }, (_, i) => i);
    const w = new XdrWriter();
    w.u32(0);
    w.string('host');
    w.u32(0);
    w.u32(0);
    w.u32(17);
    for (const g of gids) w.u32(g);
    expect(() => dec(R.decode_authsys_parms, Buffer.from(w.finish()))).toThrow(XdrError);
    expect(() => enc(R.encode_authsys_parms, { stamp: 0, machinename: 'h', uid: 0, gid: 0, gids })).toThrow(XdrError);
    // channel_attrs4.ca_rdma_ird<1>
    expect(() => dec(N.decode_channel_attrs4, hex('00000000'.repeat(6) + '00000002 00000000 00000000'))).toThrow(/exceeds bound 1/);
  });

  it('bounded opaque exceeding its bound -> XdrError', () => {
    const fh = Buffer.alloc(129);
    const w = new XdrWriter();
    w.opaque(fh);
    expect(() => dec(N.decode_nfs_fh4, Buffer.from(w.finish()))).toThrow(XdrError);
    expect(() => enc(N.encode_nfs_fh4, fh)).toThrow(XdrError);
  });

  it('hostile length 0xFFFFFFF0 -> XdrError without allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    // COMPOUND4args: tag "", minorversion 1, argarray count 0xFFFFFFF0
    expect(() => dec(N.decode_COMPOUND4args, hex('00000000 00000001 fffffff0 00000018'))).toThrow(XdrError);
    // bitmap4 count
    expect(() => dec(N.decode_bitmap4, hex('fffffff0'))).toThrow(XdrError);
    // unbounded opaque (WRITE data)
    expect(() => dec(N.decode_WRITE4args, hex('00000000 0102030405060708090a0b0c 0000000000000000 00000002 fffffff0'))).toThrow(XdrError);
    // count that fits the global cap but not the bytes present
    expect(() => dec(N.decode_TEST_STATEID4args, hex('00010000 00000000'))).toThrow(/exceeds remaining/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('truncated input -> XdrError', () => {
    expect(() => dec(N.decode_stateid4, hex('00000001 0102'))).toThrow(XdrError);
  });
});

describe('rpc golden bytes', () => {
  it('CALL with AUTH_SYS credential', () => {
    const cred = enc(R.encode_authsys_parms, { stamp: 7, machinename: 'ab', uid: 1000, gid: 100, gids: [100, 4] });
    expect(cred.toString('hex')).toBe(hex('00000007 00000002 61620000 000003e8 00000064 00000002 00000064 00000004').toString('hex'));
    const msg: R.rpc_msg = {
      xid: 0x01020304,
      body: {
        mtype: R.CALL,
        cbody: {
          rpcvers: 2,
          prog: 100003,
          vers: 4,
          proc: 1,
          cred: { flavor: R.AUTH_SYS, body: cred },
          verf: { flavor: R.AUTH_NONE, body: Buffer.alloc(0) },
        },
      },
    };
    const bytes = hex(`01020304 00000000 00000002 000186a3 00000004 00000001
      00000001 00000020 ${cred.toString('hex')}
      00000000 00000000`);
    golden(R.encode_rpc_msg, R.decode_rpc_msg, msg, bytes);
  });

  it('accepted reply PROG_MISMATCH and denied reply AUTH_ERROR', () => {
    golden(
      R.encode_rpc_msg,
      R.decode_rpc_msg,
      {
        xid: 9,
        body: {
          mtype: R.REPLY,
          rbody: {
            stat: R.MSG_ACCEPTED,
            areply: { verf: { flavor: R.AUTH_NONE, body: Buffer.alloc(0) }, reply_data: { stat: R.PROG_MISMATCH, mismatch_info: { low: 4, high: 4 } } },
          },
        },
      },
      hex('00000009 00000001 00000000 00000000 00000000 00000002 00000004 00000004'),
    );
    golden(
      R.encode_rpc_msg,
      R.decode_rpc_msg,
      { xid: 9, body: { mtype: R.REPLY, rbody: { stat: R.MSG_DENIED, rreply: { stat: R.AUTH_ERROR, why: R.AUTH_TOOWEAK } } } },
      hex('00000009 00000001 00000001 00000001 00000005'),
    );
    // SUCCESS: results follow, not part of the header
    golden(
      R.encode_accepted_reply,
      R.decode_accepted_reply,
      { verf: { flavor: R.AUTH_NONE, body: Buffer.alloc(0) }, reply_data: { stat: R.SUCCESS } },
      hex('00000000 00000000 00000000'),
    );
  });
});

describe('name tables', () => {
  it('op and status names', () => {
    expect(N.NFS_OPNUM_NAMES[N.OP_ACCESS]).toBe('ACCESS');
    expect(N.NFS_OPNUM_NAMES[N.OP_RECLAIM_COMPLETE]).toBe('RECLAIM_COMPLETE');
    expect(N.NFS_OPNUM_NAMES[10044]).toBe('ILLEGAL');
    expect(N.NFSSTAT4_NAMES[N.NFS4ERR_NOENT]).toBe('NFS4ERR_NOENT');
    expect(N.NFSSTAT4_NAMES[10087]).toBe('NFS4ERR_DELEG_REVOKED');
    expect(Object.keys(N.NFS_OPNUM_NAMES).length).toBe(57);
  });
});

describe('generator on a small .x (optional data, fixed arrays, hex consts)', () => {
  const src = `
    % passthrough lines are ignored
    const MAXN = 0x3;   // line comment
    typedef int triple[MAXN];
    struct node { unsigned hyper v; node *next; string label<MAXN>; };
    struct holder { node *head; triple t; bool b; };
    union u switch (unsigned int k) { case 1: case 2: int x; case 3: void; default: opaque rest<>; };
  `;

  it('parses and rejects unsupported constructs with a useful message', () => {
    expect(parse(src).map((d) => d.kind)).toEqual(['const', 'typedef', 'struct', 'struct', 'union']);
    expect(() => parse('struct s { float f; };')).toThrow(/floating point/);
    expect(() => parse('struct s { opaque o; };')).toThrow(/needs a \[n\] or <n> size/);
    expect(() => generateFromSource('t', 'struct s { nope x; };')).toThrow(/unknown type nope/);
  });

  it('emits working codecs', async () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const text = generateFromSource('t', src).replace(/'\.\.\/(reader|writer|errors)\.js'/g, (_m, f: string) => `'${pathToFileURL(join(root, 'src', 'xdr', `${f}.ts`)).href}'`);
    const dir = mkdtempSync(join(tmpdir(), 'xdrgen-'));
    try {
      const file = join(dir, 't.ts');
      writeFileSync(file, text);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const m: any = await import(pathToFileURL(file).href);
      expect(m.MAXN).toBe(3);
      const v = { head: { v: 2 ** 40, next: { v: 1, next: undefined, label: 'ab' }, label: '' }, t: [1, -1, 3], b: true };
      const bytes = enc(m.encode_holder, v);
      expect(bytes.toString('hex')).toBe(
        hex(`00000001 0000010000000000 00000001 0000000000000001 00000000 00000002 61620000 00000000
             00000001 ffffffff 00000003 00000001`).toString('hex'),
      );
      expect(dec(m.decode_holder, bytes)).toEqual(v);
      expect(() => enc(m.encode_holder, { ...v, t: [1, 2] })).toThrow(/fixed array needs 3/);
      expect(() => enc(m.encode_node, { v: 0, next: undefined, label: 'abcd' })).toThrow(/exceeds bound 3/);
      golden(m.encode_u, m.decode_u, { k: 2, x: -2 }, hex('00000002 fffffffe'));
      golden(m.encode_u, m.decode_u, { k: 3 }, hex('00000003'));
      golden(m.encode_u, m.decode_u, { k: 9, rest: hex('aa') }, hex('00000009 00000001 aa000000'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
