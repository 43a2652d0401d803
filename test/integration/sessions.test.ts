import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { XdrReader } from '../../src/xdr/reader.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR, NfsClient, op } from '../../src/client/nfs-client.js';
import { startTestServer, type TestServer } from './harness.js';

function encodeCompound(minorversion: number, argarray: N.nfs_argop4[]): Buffer {
  const w = new XdrWriter(512);
  N.encode_COMPOUND4args(w, { tag: 'sessions-test', minorversion, argarray });
  return Buffer.from(w.finish());
}

describe('sessions (RFC 8881 2.10)', () => {
  let srv: TestServer;
  let c: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('replays the cached reply for a retransmission on the same slot and seqid', async () => {
    const slot = await c.acquireSlot();
    try {
      const args = encodeCompound(1, [
        c.sequenceOp(slot, { sa_cachethis: true }),
        op.putrootfh(),
        op.create({ type: N.NF4DIR }, 'replayed-dir', { mode: 0o755 }),
        op.getfh(),
      ]);
      const first = await c.compoundBytes(args);
      expect(first.status).toBe(N.NFS4_OK);
      // the same request again: the server must not run CREATE again (that would be EXIST)
      const second = await c.compoundBytes(args);
      expect(second.status).toBe(N.NFS4_OK);
      expect(second.resarray.length).toBe(first.resarray.length);
      expect(second.resarray[3]!.opgetfh!.resok4!.object.equals(first.resarray[3]!.opgetfh!.resok4!.object)).toBe(true);
      expect(second.resarray[2]!.opcreate!.resok4!.cinfo).toEqual(first.resarray[2]!.opcreate!.resok4!.cinfo);
      slot.seqid++;
      // a new seqid on the slot runs the request for real
      const third = await c.compoundBytes(
        encodeCompound(1, [c.sequenceOp(slot, { sa_cachethis: true }), op.putrootfh(), op.create({ type: N.NF4DIR }, 'replayed-dir', { mode: 0o755 })]),
      );
      expect(third.resarray[0]!.opsequence!.sr_status).toBe(N.NFS4_OK);
      expect(third.status).toBe(N.NFS4ERR_EXIST);
      slot.seqid++;
    } finally {
      c.releaseSlot(slot);
    }
    // the client's own bookkeeping still works
    expect((await c.getattr('/replayed-dir', [FATTR.TYPE])).type).toBe(N.NF4DIR);
  });

  // RFC 8881 2.10.6.1.3 and 18.46.3: the server keeps only sa_cachethis replies, but SEQUENCE's own
  // result follows from the slot, so the retry gets SEQUENCE NFS4_OK and NFS4ERR_RETRY_UNCACHED_REP on
  // the op after it (as Linux nfsd does): never a replay, never an error on SEQUENCE itself
  it('answers a retransmission of an uncached request with RETRY_UNCACHED_REP on the op after SEQUENCE', async () => {
    const slot = await c.acquireSlot();
    try {
      const args = encodeCompound(1, [c.sequenceOp(slot, { sa_cachethis: false }), op.putrootfh(), op.getattr([FATTR.TYPE])]);
      expect((await c.compoundBytes(args)).status).toBe(N.NFS4_OK);
      const second = await c.compoundBytes(args);
      expect(second.status).toBe(N.NFS4ERR_RETRY_UNCACHED_REP);
      expect(second.resarray.length).toBe(2);
      expect(second.resarray[0]!.opsequence!.sr_status).toBe(N.NFS4_OK);
      expect(second.resarray[0]!.opsequence!.sr_resok4!.sr_sequenceid).toBe(slot.seqid);
      expect(second.resarray[1]!.resop).toBe(N.OP_PUTROOTFH);
    } finally {
      slot.seqid++;
      c.releaseSlot(slot);
    }
  });

  it('answers SEQ_MISORDERED for a seqid that skips ahead', async () => {
    const slot = await c.acquireSlot();
    try {
      const res = await c.compound([c.sequenceOp(slot, { sa_sequenceid: slot.seqid + 5 }), op.putrootfh()], { sequence: false });
      expect(res.status).toBe(N.NFS4ERR_SEQ_MISORDERED);
      expect(res.resarray.length).toBe(1);
      expect(res.resarray[0]!.resop).toBe(N.OP_SEQUENCE);
      // an old seqid (two behind) is misordered too
      const old = await c.compound([c.sequenceOp(slot, { sa_sequenceid: (slot.seqid - 2) >>> 0 }), op.putrootfh()], { sequence: false });
      expect(old.status).toBe(N.NFS4ERR_SEQ_MISORDERED);
    } finally {
      c.releaseSlot(slot);
    }
    // the slot is still usable with the right seqid
    await expect(c.getattr('/', [FATTR.TYPE])).resolves.toMatchObject({ type: N.NF4DIR });
  });

  it('answers SEQ_FALSE_RETRY for a different request reusing a seqid', async () => {
    const slot = await c.acquireSlot();
    try {
      const a = await c.compound([c.sequenceOp(slot, { sa_cachethis: true }), op.putrootfh(), op.getattr([FATTR.TYPE])], { sequence: false });
      expect(a.status).toBe(N.NFS4_OK);
      const b = await c.compound([c.sequenceOp(slot, { sa_cachethis: true }), op.putrootfh(), op.lookup('replayed-dir'), op.getfh()], {
        sequence: false,
      });
      expect(b.status).toBe(N.NFS4ERR_SEQ_FALSE_RETRY);
      slot.seqid++;
    } finally {
      c.releaseSlot(slot);
    }
  });

  it('answers BADSESSION for an unknown session and BADSLOT for a slot beyond the table', async () => {
    const res = await c.compound(
      [op.sequence({ sa_sessionid: randomBytes(16), sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }), op.putrootfh()],
      { sequence: false },
    );
    expect(res.status).toBe(N.NFS4ERR_BADSESSION);
    const nslots = c.session!.fore.ca_maxrequests;
    const bad = await c.compound(
      [op.sequence({ sa_sessionid: c.sessionId!, sa_sequenceid: 1, sa_slotid: nslots + 3, sa_highest_slotid: nslots + 3, sa_cachethis: false })],
      { sequence: false },
    );
    expect(bad.status).toBe(N.NFS4ERR_BADSLOT);
  });

  it('answers SEQUENCE_POS when SEQUENCE is not the first op', async () => {
    const slot = await c.acquireSlot();
    try {
      const res = await c.compound([c.sequenceOp(slot), op.putrootfh(), c.sequenceOp(slot)], { sequence: false });
      slot.seqid++;
      expect(res.status).toBe(N.NFS4ERR_SEQUENCE_POS);
      expect(res.resarray.length).toBe(3);
      expect(res.resarray[2]!.resop).toBe(N.OP_SEQUENCE);
    } finally {
      c.releaseSlot(slot);
    }
  });

  it('answers OP_NOT_IN_SESSION for ops without SEQUENCE', async () => {
    const res = await c.compound([op.putrootfh(), op.getfh()], { sequence: false });
    expect(res.status).toBe(N.NFS4ERR_OP_NOT_IN_SESSION);
    expect(res.resarray.length).toBe(1);
  });

  it('answers TOO_MANY_OPS above the session limit', async () => {
    const maxOps = c.session!.fore.ca_maxoperations;
    const ops = Array.from({ length: maxOps }, () => op.putrootfh());
    const res = await c.compound(ops); // + SEQUENCE = maxOps + 1
    expect(res.status).toBe(N.NFS4ERR_TOO_MANY_OPS);
    expect(res.resarray[0]!.opsequence!.sr_status).toBe(N.NFS4_OK);
    // exactly maxOps (SEQUENCE included) is fine
    const ok = await c.compound(ops.slice(1));
    expect(ok.status).toBe(N.NFS4_OK);
  });

  it('answers MINOR_VERS_MISMATCH for minor version 2', async () => {
    const res = await c.compound([op.putrootfh()], { minorVersion: 2, sequence: false });
    expect(res.status).toBe(N.NFS4ERR_MINOR_VERS_MISMATCH);
    expect(res.resarray.length).toBe(0);
  });

  it('answers OP_ILLEGAL for an unknown opcode', async () => {
    const res = await c.compound([op.putrootfh(), op.raw(99)]);
    expect(res.status).toBe(N.NFS4ERR_OP_ILLEGAL);
    const last = res.resarray[res.resarray.length - 1]!;
    expect(last.resop).toBe(N.OP_ILLEGAL);
    expect(last.opillegal!.status).toBe(N.NFS4ERR_OP_ILLEGAL);
    // opcodes 0..2 are illegal too
    const zero = await c.compound([op.raw(0)]);
    expect(zero.status).toBe(N.NFS4ERR_OP_ILLEGAL);
  });

  it('answers NOT_ONLY_OP for EXCHANGE_ID with other ops and no SEQUENCE', async () => {
    const res = await c.compound(
      [
        {
          argop: N.OP_EXCHANGE_ID,
          opexchange_id: {
            eia_clientowner: { co_verifier: randomBytes(8), co_ownerid: Buffer.from('not-only-op') },
            eia_flags: 0,
            eia_state_protect: { spa_how: N.SP4_NONE },
            eia_client_impl_id: [],
          },
        },
        op.putrootfh(),
      ],
      { sequence: false },
    );
    expect(res.status).toBe(N.NFS4ERR_NOT_ONLY_OP);
  });

  it('runs many compounds in flight across slots', async () => {
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, () => c.getattr('/', [FATTR.FILEID])));
    expect(new Set(results.map((r) => r.fileid)).size).toBe(1);
    for (const s of c.session!.slots) expect(s.busy).toBe(false);
    expect(c.session!.slots.some((s) => s.seqid > 2)).toBe(true);
  });

  it('answers REP_TOO_BIG_TO_CACHE for a large reply the client asks to cache', async () => {
    const fh = await c.writeFile('/cache-me.bin', Buffer.alloc(256 * 1024, 7));
    const cached = c.session!.fore.ca_maxresponsesize_cached;
    expect(cached).toBeLessThan(256 * 1024);
    const res = await c.compound([op.putfh(fh), op.read({ seqid: 0, other: Buffer.alloc(12) }, 0, 256 * 1024)], { cachethis: true });
    // either refused, or a short read that fits the cache (READ may return fewer bytes than asked)
    if (res.status === N.NFS4_OK) {
      const data = res.resarray[2]!.opread!.resok4!.data;
      expect(data.length).toBeGreaterThan(0);
      expect(data.length).toBeLessThanOrEqual(cached);
      expect(res.resarray[2]!.opread!.resok4!.eof).toBe(false);
    } else {
      expect(res.status).toBe(N.NFS4ERR_REP_TOO_BIG_TO_CACHE);
    }
    // a reply that cannot be shortened: two READLINKs of a 4000-byte target
    const link = await c.symlink('/long-link', 't'.repeat(4000));
    const rl = await c.compound([op.putfh(link), op.readlink(), op.readlink()], { cachethis: true });
    expect(rl.status).toBe(N.NFS4ERR_REP_TOO_BIG_TO_CACHE);
    const rl2 = await c.compound([op.putfh(link), op.readlink(), op.readlink()]);
    expect(rl2.status).toBe(N.NFS4_OK);
    // the same read uncached is fine
    const ok = await c.compound([op.putfh(fh), op.read({ seqid: 0, other: Buffer.alloc(12) }, 0, 256 * 1024)]);
    expect(ok.status).toBe(N.NFS4_OK);
    expect(ok.resarray[2]!.opread!.resok4!.data.length).toBe(256 * 1024);
  });

  it('answers REQ_TOO_BIG for a request above the session limit and GARBAGE_ARGS above the record limit', async () => {
    const fh = await c.lookupPath('/cache-me.bin');
    const big = Buffer.alloc(c.session!.fore.ca_maxrequestsize + 4096, 1);
    const res = await c.compound([op.putfh(fh), op.write({ seqid: 0, other: Buffer.alloc(12) }, 0, big, N.UNSTABLE4)]);
    expect(res.status).toBe(N.NFS4ERR_REQ_TOO_BIG);
    const huge = Buffer.alloc(3 * 1024 * 1024, 2);
    const slot = await c.acquireSlot();
    try {
      const rep = await c.rpc.callRaw(100003, 4, 1, encodeCompound(1, [c.sequenceOp(slot), op.putfh(fh), op.write({ seqid: 0, other: Buffer.alloc(12) }, 0, huge, 0)]));
      expect(rep.acceptStat).toBe(4); // GARBAGE_ARGS
    } finally {
      c.releaseSlot(slot);
    }
    // the connection and the session keep working; nothing was written
    const a = await c.getattr(fh, [FATTR.SIZE]);
    expect(a.size).toBe(256 * 1024);
  });

  it('lets a second connection use the session (nconnect)', async () => {
    const rpc2 = await srv.rpc();
    const slot = await c.acquireSlot();
    try {
      const body = await rpc2.call(100003, 4, 1, encodeCompound(1, [c.sequenceOp(slot), op.putrootfh(), op.getattr([FATTR.TYPE])]));
      const res = N.decode_COMPOUND4res(new XdrReader(body));
      expect(res.status).toBe(N.NFS4_OK);
      slot.seqid++;
    } finally {
      c.releaseSlot(slot);
    }
    expect((await c.getattr('/', [FATTR.TYPE])).type).toBe(N.NF4DIR);
  });

  it('replays CREATE_SESSION for the same sequence id and refuses a skipped one', async () => {
    const d = await srv.client({ setup: false });
    await d.exchangeId();
    const seq = d.clientSequence;
    const args = (sequence: number): N.nfs_argop4 => ({
      argop: N.OP_CREATE_SESSION,
      opcreate_session: {
        csa_clientid: d.clientId!,
        csa_sequence: sequence,
        csa_flags: 0,
        csa_fore_chan_attrs: {
          ca_headerpadsize: 0,
          ca_maxrequestsize: 65536,
          ca_maxresponsesize: 65536,
          ca_maxresponsesize_cached: 4096,
          ca_maxoperations: 8,
          ca_maxrequests: 4,
          ca_rdma_ird: [],
        },
        csa_back_chan_attrs: {
          ca_headerpadsize: 0,
          ca_maxrequestsize: 4096,
          ca_maxresponsesize: 4096,
          ca_maxresponsesize_cached: 0,
          ca_maxoperations: 2,
          ca_maxrequests: 1,
          ca_rdma_ird: [],
        },
        csa_cb_program: 0x40000000,
        csa_sec_parms: [{ cb_secflavor: N.AUTH_NONE }],
      },
    });
    const first = await d.compound([args(seq)], { sequence: false });
    expect(first.status).toBe(N.NFS4_OK);
    const again = await d.compound([args(seq)], { sequence: false });
    expect(again.status).toBe(N.NFS4_OK);
    expect(again.resarray[0]!.opcreate_session!.csr_resok4!.csr_sessionid.equals(first.resarray[0]!.opcreate_session!.csr_resok4!.csr_sessionid)).toBe(true);
    const skipped = await d.compound([args((seq + 2) >>> 0)], { sequence: false });
    expect(skipped.status).toBe(N.NFS4ERR_SEQ_MISORDERED);
    // an unknown client ID is STALE_CLIENTID
    const stale = await d.compound([{ ...args(1), opcreate_session: { ...args(1).opcreate_session!, csa_clientid: Buffer.alloc(8, 0xee) } }], {
      sequence: false,
    });
    expect(stale.status).toBe(N.NFS4ERR_STALE_CLIENTID);
  });

  it('EXCHANGE_ID of a confirmed client with the same verifier returns the same client ID, confirmed', async () => {
    const again = await c.exchangeId();
    expect((again.eir_flags & N.EXCHGID4_FLAG_CONFIRMED_R) >>> 0).toBe(N.EXCHGID4_FLAG_CONFIRMED_R);
    expect(again.eir_clientid.equals(c.clientId!)).toBe(true);
    // the session is untouched
    expect((await c.getattr('/', [FATTR.TYPE])).type).toBe(N.NF4DIR);
  });

  it('a destroyed session answers BADSESSION', async () => {
    const other = await srv.client();
    const sid = other.sessionId!;
    await other.run([{ argop: N.OP_DESTROY_SESSION, opdestroy_session: { dsa_sessionid: sid } }], { sequence: false });
    const res = await c.compound(
      [op.sequence({ sa_sessionid: sid, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }), op.putrootfh()],
      { sequence: false },
    );
    expect(res.status).toBe(N.NFS4ERR_BADSESSION);
  });

  it('keeps decoding the raw reply the same way as the generated codec', async () => {
    const body = await c.rpc.call(100003, 4, 1, encodeCompound(2, []));
    const r = new XdrReader(body);
    expect(r.u32()).toBe(N.NFS4ERR_MINOR_VERS_MISMATCH);
    expect(r.string()).toBe('sessions-test');
    expect(r.u32()).toBe(0);
    expect(r.remaining).toBe(0);
  });
});
