import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Nfs4Program, nfs4RpcProgram } from '../../src/nfs4/dispatcher.js';
import { RpcRouter } from '../../src/rpc/router.js';
import { testConnectionContext } from '../helpers/connection-context.js';
import { NEEDS_CFH, SELF_ENCODES, SOLO_WITHOUT_SEQUENCE, V40_ONLY, type OpSpec } from '../../src/nfs4/optable-types.js';
import { NfsError } from '../../src/protocol/status.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrReader } from '../../src/xdr/reader.js';
import { decodeCall } from '../../src/rpc/message.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import type { ServerCtx } from '../../src/nfs4/context.js';
import type { Session, StateManager } from '../../src/state/types.js';

// A unit test of the dispatcher's cross-cutting rules: the ops here are tiny
// stand-ins; the real ops are exercised by the integration and e2e suites.
const session: Session = { id: Buffer.alloc(16, 1), clientId: Buffer.alloc(8), maxOps: 4, maxRequestSize: 4096, maxResponseSize: 300, maxResponseSizeCached: 100 };
const completed: { cached: Buffer; cacheThis: boolean }[] = [];
let replayNext: Buffer | undefined;

const state = {
  sequence(args: N.SEQUENCE4args) {
    if (replayNext) return { kind: 'replay', reply: replayNext };
    if (!args.sa_sessionid.equals(session.id)) throw new NfsError(N.NFS4ERR_BADSESSION);
    return { kind: 'run', session, slot: { index: 0 }, resok: { sr_sessionid: session.id, sr_sequenceid: args.sa_sequenceid, sr_slotid: 0, sr_highest_slotid: 0, sr_target_highest_slotid: 0, sr_status_flags: 0 } };
  },
  completeSlot(_s: Session, _slot: unknown, cached: Buffer, cacheThis: boolean) {
    completed.push({ cached, cacheThis });
  },
} as unknown as StateManager;

const server = { state, log: pino({ level: 'silent' }) } as unknown as ServerCtx;
const conn = testConnectionContext();

const none = () => undefined;
const fakeFh = { ino: 1, gen: 0, fh: Buffer.alloc(4), stat: {} as never };
const OPS: OpSpec[] = [
  { op: N.OP_PUTROOTFH, name: 'PUTROOTFH', flags: 0, decode: none, run: (ctx) => void (ctx.cfh = fakeFh) },
  { op: N.OP_GETFH, name: 'GETFH', flags: NEEDS_CFH, decode: none, run: (ctx) => ctx.cfh!.fh, encode: (w, fh: Buffer) => w.opaque(fh) },
  { op: N.OP_RENEW, name: 'RENEW', flags: V40_ONLY, decode: (r) => r.fixedOpaque(8), run: none },
  { op: N.OP_EXCHANGE_ID, name: 'EXCHANGE_ID', flags: SOLO_WITHOUT_SEQUENCE, decode: none, run: none },
  // READ stand-in: writes 150 bytes of its own into the reply
  { op: N.OP_READ, name: 'READ', flags: SELF_ENCODES, decode: none, run: (ctx) => ctx.reply.opaque(Buffer.alloc(150, 1)) },
];
const program = new RpcRouter([nfs4RpcProgram(new Nfs4Program(server, OPS))]);

type Op = [number, (w: XdrWriter) => void] | number;
function seq(w: XdrWriter, id = session.id, seqid = 1, cacheThis = false) {
  N.encode_SEQUENCE4args(w, { sa_sessionid: id, sa_sequenceid: seqid, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: cacheThis });
}

async function call(minor: number, ops: Op[], opts: { tag?: string } = {}) {
  const w = new XdrWriter();
  for (const v of [7, 0, 2, 100003, 4, 1, 0, 0, 0, 0]) w.u32(v); // xid, CALL, rpcvers, prog, vers, COMPOUND, AUTH_NONE cred + verf
  w.string(opts.tag ?? 'tag');
  w.u32(minor);
  w.u32(ops.length);
  for (const op of ops) {
    if (typeof op === 'number') w.u32(op);
    else {
      w.u32(op[0]);
      op[1](w);
    }
  }
  const record = Buffer.from(w.finish());
  const header = decodeCall(new XdrReader(record));
  const reply = (await program.handleCall(header, record, conn))!;
  const r = new XdrReader(reply, 4 + 24); // record mark + accepted-reply header
  const status = r.u32();
  const tag = r.string();
  const n = r.u32();
  const results: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const opcode = r.u32();
    const st = r.u32();
    results.push([opcode, st]);
    if (st !== N.NFS4_OK) break;
    if (opcode === N.OP_SEQUENCE) N.decode_SEQUENCE4resok(r);
    if (opcode === N.OP_GETFH || opcode === N.OP_READ) r.opaque();
  }
  return { status, tag, results, reply };
}

describe('COMPOUND dispatcher rules', () => {
  it('echoes the tag and runs ops in order (4.0)', async () => {
    const res = await call(0, [N.OP_PUTROOTFH, N.OP_GETFH], { tag: 'hello' });
    expect(res.tag).toBe('hello');
    expect(res.status).toBe(N.NFS4_OK);
    expect(res.results).toEqual([[N.OP_PUTROOTFH, 0], [N.OP_GETFH, 0]]);
  });
  it('answers NOFILEHANDLE when an op needs a current filehandle and there is none, and stops there', async () => {
    const res = await call(0, [N.OP_GETFH, N.OP_PUTROOTFH]);
    expect(res.status).toBe(N.NFS4ERR_NOFILEHANDLE);
    expect(res.results).toEqual([[N.OP_GETFH, N.NFS4ERR_NOFILEHANDLE]]);
  });
  it('minor version 2 gets MINOR_VERS_MISMATCH with no results', async () => {
    const res = await call(2, [N.OP_PUTROOTFH]);
    expect(res.status).toBe(N.NFS4ERR_MINOR_VERS_MISMATCH);
    expect(res.results).toEqual([]);
  });
  it('unknown opcodes are OP_ILLEGAL; unimplemented ops of the version are NOTSUPP', async () => {
    expect((await call(0, [9999])).results).toEqual([[N.OP_ILLEGAL, N.NFS4ERR_OP_ILLEGAL]]);
    expect((await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], N.OP_LAYOUTGET])).results[1]).toEqual([N.OP_LAYOUTGET, N.NFS4ERR_NOTSUPP]);
    expect((await call(0, [N.OP_EXCHANGE_ID])).results).toEqual([[N.OP_ILLEGAL, N.NFS4ERR_OP_ILLEGAL]]);
  });
  it('4.0-only ops are NOTSUPP in 4.1', async () => {
    const res = await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], [N.OP_RENEW, (w) => w.fixedOpaque(Buffer.alloc(8))]]);
    expect(res.results[1]).toEqual([N.OP_RENEW, N.NFS4ERR_NOTSUPP]);
  });
  it('4.0 compounds with too many ops get RESOURCE', async () => {
    const res = await call(0, Array.from({ length: 500 }, () => N.OP_PUTROOTFH));
    expect(res.status).toBe(N.NFS4ERR_RESOURCE);
  });
  it('4.1 position rules: op without SEQUENCE, SEQUENCE not first, solo ops not alone', async () => {
    expect((await call(1, [N.OP_PUTROOTFH])).results).toEqual([[N.OP_PUTROOTFH, N.NFS4ERR_OP_NOT_IN_SESSION]]);
    expect((await call(1, [N.OP_PUTROOTFH, [N.OP_SEQUENCE, (w) => seq(w)]])).results[0]![1]).toBe(N.NFS4ERR_OP_NOT_IN_SESSION);
    expect((await call(1, [N.OP_EXCHANGE_ID])).results).toEqual([[N.OP_EXCHANGE_ID, N.NFS4_OK]]);
    expect((await call(1, [N.OP_EXCHANGE_ID, N.OP_PUTROOTFH])).results).toEqual([[N.OP_EXCHANGE_ID, N.NFS4ERR_NOT_ONLY_OP]]);
    const res = await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], [N.OP_SEQUENCE, (w) => seq(w)]]);
    expect(res.results[1]).toEqual([N.OP_SEQUENCE, N.NFS4ERR_SEQUENCE_POS]);
  });
  it('4.1: more ops than the session allows -> TOO_MANY_OPS', async () => {
    const res = await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], N.OP_PUTROOTFH, N.OP_PUTROOTFH, N.OP_PUTROOTFH, N.OP_PUTROOTFH]);
    expect(res.status).toBe(N.NFS4ERR_TOO_MANY_OPS);
    expect(res.results[0]).toEqual([N.OP_SEQUENCE, N.NFS4_OK]);
  });
  it('4.1: SEQUENCE errors come back as the SEQUENCE status', async () => {
    const res = await call(1, [[N.OP_SEQUENCE, (w) => seq(w, Buffer.alloc(16, 9))], N.OP_PUTROOTFH]);
    expect(res.results).toEqual([[N.OP_SEQUENCE, N.NFS4ERR_BADSESSION]]);
  });
  it('4.1: a reply over the session budget gets REP_TOO_BIG, over the cache budget REP_TOO_BIG_TO_CACHE', async () => {
    const ok = await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], N.OP_READ]);
    expect(ok.status).toBe(N.NFS4_OK);
    const big = await call(1, [[N.OP_SEQUENCE, (w) => seq(w)], N.OP_READ, N.OP_READ]);
    expect(big.results[2]).toEqual([N.OP_READ, N.NFS4ERR_REP_TOO_BIG]);
    const cached = await call(1, [[N.OP_SEQUENCE, (w) => seq(w, session.id, 1, true)], N.OP_READ]);
    expect(cached.results[1]).toEqual([N.OP_READ, N.NFS4ERR_REP_TOO_BIG_TO_CACHE]);
  });
  it('4.1: completes the slot with the reply bytes when cachethis, and replays cached bytes', async () => {
    completed.length = 0;
    const first = await call(1, [[N.OP_SEQUENCE, (w) => seq(w, session.id, 5, true)], N.OP_PUTROOTFH, N.OP_GETFH]);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.cacheThis).toBe(true);
    replayNext = completed[0]!.cached;
    try {
      const again = await call(1, [[N.OP_SEQUENCE, (w) => seq(w, session.id, 5, true)], N.OP_PUTROOTFH, N.OP_GETFH]);
      expect(again.reply.subarray(28)).toEqual(first.reply.subarray(28));
    } finally {
      replayNext = undefined;
    }
  });
});
