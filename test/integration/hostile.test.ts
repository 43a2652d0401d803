import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { XdrWriter } from '../../src/xdr/writer.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR, NfsClient, bitmapHas, decodeAttrs, op } from '../../src/client/nfs-client.js';
import { ACCEPT_STAT, REJECT_STAT, RpcClient, buildCallRecord, describeReply, ROOT_CRED } from '../../src/client/rpc-client.js';
import { XdrReader } from '../../src/xdr/reader.js';
import { sleep, startTestServer, type TestServer } from './harness.js';

const NFS = 100003;

/** COMPOUND4args header + raw op bytes. */
function compoundArgs(minor: number, numOps: number, body: (w: XdrWriter) => void, tag = 'hostile'): Buffer {
  const w = new XdrWriter(1024);
  w.string(tag);
  w.u32(minor);
  w.u32(numOps);
  body(w);
  return Buffer.from(w.finish());
}

function decodeCompound(body: Buffer): N.COMPOUND4res {
  return N.decode_COMPOUND4res(new XdrReader(body));
}

async function stillServes(srv: TestServer): Promise<void> {
  const c = await srv.client();
  const a = await c.getattr('/', [FATTR.TYPE]);
  expect(a.type).toBe(N.NF4DIR);
  await c.disconnect();
}

function rawSocket(srv: TestServer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: srv.host, port: srv.port }, () => resolve(s));
    s.on('error', reject);
  });
}

function writeAsync(s: net.Socket, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(b, (err) => (err ? reject(err) : resolve())));
}

describe('hostile input', () => {
  let srv: TestServer;
  let c: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('survives truncated records and a connection closed mid-record', async () => {
    // record mark says 100 bytes, 20 arrive, then the peer leaves
    const s = await rawSocket(srv);
    const head = Buffer.alloc(24);
    head.writeUInt32BE((0x80000000 | 100) >>> 0, 0);
    head.writeUInt32BE(0x1234, 4);
    await writeAsync(s, head);
    s.destroy();
    // half a record mark
    const s2 = await rawSocket(srv);
    await writeAsync(s2, Buffer.from([0x80, 0x00]));
    s2.end();
    await stillServes(srv);
  });

  it('answers GARBAGE_ARGS for a call whose header is cut short and keeps the connection', async () => {
    const r = await srv.rpc();
    const xid = 0x0badf00d;
    const rec = Buffer.alloc(4 + 16);
    rec.writeUInt32BE((0x80000000 | 16) >>> 0, 0);
    rec.writeUInt32BE(xid, 4);
    rec.writeUInt32BE(0, 8); // CALL
    rec.writeUInt32BE(2, 12); // rpcvers
    rec.writeUInt32BE(NFS, 16); // prog, then nothing
    const wait = r.waitReply(xid, 5000);
    await r.sendRaw(rec);
    const rep = await wait;
    expect(rep.acceptStat).toBe(ACCEPT_STAT.GARBAGE_ARGS);
    // same connection still answers
    const ok = await r.callRaw(NFS, 4, 0);
    expect(ok.acceptStat).toBe(ACCEPT_STAT.SUCCESS);
  });

  it('skips a record claiming 2 GiB without buffering it, and keeps serving others', { timeout: 30000 }, async () => {
    const rssBefore = process.memoryUsage().rss;
    const s = await rawSocket(srv);
    s.on('error', () => undefined);
    const head = Buffer.alloc(12);
    head.writeUInt32BE(0xffffffff, 0); // last fragment, 2^31 - 1 bytes
    head.writeUInt32BE(0x77777777, 4); // xid
    head.writeUInt32BE(0, 8); // CALL
    await writeAsync(s, head);
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    let sent = 0;
    const sendFor = 256; // MiB
    const sender = (async () => {
      for (let i = 0; i < sendFor && !s.destroyed; i++) {
        await writeAsync(s, chunk);
        sent++;
      }
    })().catch(() => undefined);
    // meanwhile another client is served
    await stillServes(srv);
    await sender;
    await sleep(200);
    const rssAfter = process.memoryUsage().rss;
    expect(sent).toBeGreaterThan(0);
    expect(rssAfter - rssBefore).toBeLessThan(128 * 1024 * 1024);
    s.destroy();
    await stillServes(srv);
  });

  it('answers NFS4ERR_RESOURCE for a 4.0 compound of 500 ops', async () => {
    const args = compoundArgs(0, 500, (w) => {
      for (let i = 0; i < 500; i++) w.u32(N.OP_PUTROOTFH);
    });
    const res = decodeCompound(await c.rpc.call(NFS, 4, 1, args));
    expect(res.status).toBe(N.NFS4ERR_RESOURCE);
    expect(res.resarray.length).toBeLessThanOrEqual(1);
  });

  it('answers TOO_MANY_OPS for a 4.1 compound of 500 ops', async () => {
    const res = await c.compound(Array.from({ length: 499 }, () => op.putrootfh()));
    expect(res.status).toBe(N.NFS4ERR_TOO_MANY_OPS);
    expect(res.resarray.length).toBe(2);
  });

  it('answers BADXDR or GARBAGE_ARGS for lengths claiming gigabytes inside a compound', async () => {
    const cases: { name: string; ops: number; body: (w: XdrWriter) => void }[] = [
      { name: 'LOOKUP name of 3.75 GiB', ops: 2, body: (w) => (w.u32(N.OP_PUTROOTFH), w.u32(N.OP_LOOKUP), w.u32(0xf0000000)) },
      {
        name: 'WRITE data of 2 GiB',
        ops: 2,
        body: (w) => {
          w.u32(N.OP_PUTROOTFH);
          w.u32(N.OP_WRITE);
          w.u32(0);
          w.fixedOpaque(Buffer.alloc(12));
          w.u64(0);
          w.u32(N.UNSTABLE4);
          w.u32(0x80000000);
          w.fixedOpaque(Buffer.alloc(64));
        },
      },
      { name: 'GETATTR bitmap of 1G words', ops: 2, body: (w) => (w.u32(N.OP_PUTROOTFH), w.u32(N.OP_GETATTR), w.u32(0x40000000), w.u32(1)) },
      { name: 'PUTFH handle of 4 GiB', ops: 1, body: (w) => (w.u32(N.OP_PUTFH), w.u32(0xffffffff)) },
      { name: 'op count of 1G', ops: 0x40000000, body: (w) => w.u32(N.OP_PUTROOTFH) },
    ];
    for (const tc of cases) {
      const slot = await c.acquireSlot();
      try {
        const seq = new XdrWriter(128);
        N.encode_nfs_argop4(seq, c.sequenceOp(slot));
        const seqBytes = Buffer.from(seq.finish());
        const args = compoundArgs(1, tc.ops === 0x40000000 ? tc.ops : tc.ops + 1, (w) => {
          w.fixedOpaque(seqBytes);
          tc.body(w);
        });
        const rep = await c.rpc.callRaw(NFS, 4, 1, args);
        if (rep.acceptStat === ACCEPT_STAT.SUCCESS) {
          const res = decodeCompound(rep.body);
          if (res.resarray[0]?.opsequence?.sr_status === N.NFS4_OK) slot.seqid++;
          expect([N.NFS4ERR_BADXDR, N.NFS4ERR_REQ_TOO_BIG, N.NFS4ERR_TOO_MANY_OPS], tc.name).toContain(res.status);
        } else {
          expect(rep.acceptStat, tc.name).toBe(ACCEPT_STAT.GARBAGE_ARGS);
        }
      } finally {
        c.releaseSlot(slot);
      }
    }
    // a tag claiming 2 GiB: the header is undecodable
    const tagRep = await c.rpc.callRaw(NFS, 4, 1, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 1]));
    expect(tagRep.acceptStat).toBe(ACCEPT_STAT.GARBAGE_ARGS);
    await stillServes(srv);
  });

  it('ignores unknown attribute bits in GETATTR', async () => {
    const bitmap = [(1 << FATTR.TYPE) | (1 << FATTR.SIZE), 0, 0xfffff000 >>> 0, 0xffffffff, 0x1];
    const [, r] = await c.run([op.putrootfh(), op.getattrBitmap(bitmap)]);
    const fa = r!.opgetattr!.resok4!.obj_attributes;
    const a = decodeAttrs(fa);
    expect(a.type).toBe(N.NF4DIR);
    expect(a.undecoded).toEqual([]);
    expect(a.leftover).toBe(0);
    for (let n = 77; n < 5 * 32; n++) expect(bitmapHas(fa.attrmask, n)).toBe(false);
  });

  it('answers PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL and RPC_MISMATCH', async () => {
    const r = await srv.rpc();
    const prog = await r.callRaw(100005, 3, 0); // MOUNT: EFS has no NFSv3 side programs
    expect(prog.acceptStat).toBe(ACCEPT_STAT.PROG_UNAVAIL);
    // efs-proxy's program 400123 is answered (its bind procedure is covered in efs-bind.test.ts)
    expect((await r.callRaw(400123, 1, 0)).acceptStat).toBe(ACCEPT_STAT.SUCCESS);
    expect((await r.callRaw(400123, 2, 0)).acceptStat).toBe(ACCEPT_STAT.PROG_MISMATCH);
    const v3 = await r.callRaw(NFS, 3, 0);
    expect(v3.acceptStat).toBe(ACCEPT_STAT.PROG_MISMATCH);
    expect(v3.mismatch).toEqual({ low: 4, high: 4 });
    const proc = await r.callRaw(NFS, 4, 7);
    expect(proc.acceptStat).toBe(ACCEPT_STAT.PROC_UNAVAIL);
    const rpcv = await r.callRaw(NFS, 4, 0, Buffer.alloc(0), { rpcvers: 3 });
    expect(rpcv.rejectStat).toBe(REJECT_STAT.RPC_MISMATCH);
    expect(rpcv.mismatch).toEqual({ low: 2, high: 2 });
    // the connection keeps working after all of these
    expect((await r.callRaw(NFS, 4, 0)).acceptStat).toBe(ACCEPT_STAT.SUCCESS);
  });

  it('rejects a malformed AUTH_SYS credential with AUTH_BADCRED', async () => {
    const r = await srv.rpc();
    const xid = 0x5eed;
    const w = new XdrWriter(64);
    w.u32(0); // record mark placeholder
    w.u32(xid);
    w.u32(0);
    w.u32(2);
    w.u32(NFS);
    w.u32(4);
    w.u32(0);
    w.u32(1); // AUTH_SYS
    w.opaque(Buffer.from([0, 0, 0, 0, 0, 0, 0, 200])); // stamp, machinename claiming 200 bytes
    w.u32(0);
    w.u32(0);
    const rec = Buffer.from(w.finish());
    rec.writeUInt32BE((0x80000000 | (rec.length - 4)) >>> 0, 0);
    const wait = r.waitReply(xid, 5000);
    await r.sendRaw(rec);
    const rep = await wait;
    expect(describeReply(rep)).toBe('denied AUTH_ERROR 1');
    expect(rep.rejectStat).toBe(REJECT_STAT.AUTH_ERROR);
    expect(rep.authStat).toBe(1); // AUTH_BADCRED
  });

  it('ignores framed garbage on a connection and still serves it and others', async () => {
    const r = await srv.rpc();
    for (let i = 0; i < 20; i++) {
      const junk = randomBytes(40 + i * 13);
      junk.writeUInt32BE(1, 4); // msg_type REPLY: never a call, so never an answer
      const rec = Buffer.concat([Buffer.alloc(4), junk]);
      rec.writeUInt32BE((0x80000000 | junk.length) >>> 0, 0);
      await r.sendRaw(rec);
    }
    expect((await r.callRaw(NFS, 4, 0)).acceptStat).toBe(ACCEPT_STAT.SUCCESS);
    // unframed garbage on another connection (the server may drop it)
    const s = await rawSocket(srv);
    s.on('error', () => undefined);
    await writeAsync(s, randomBytes(64 * 1024)).catch(() => undefined);
    s.destroy();
    await stillServes(srv);
  });

  it('handles 100 connections opened and closed quickly', async () => {
    const socks = await Promise.all(Array.from({ length: 100 }, () => rawSocket(srv)));
    for (let i = 0; i < socks.length; i++) {
      const s = socks[i]!;
      s.on('error', () => undefined);
      if (i % 3 === 0) s.write(buildCallRecord(i + 1, NFS, 4, 0, Buffer.alloc(0), ROOT_CRED));
      if (i % 3 === 1) s.write(Buffer.from([0x80, 0, 0, 40, 1, 2]));
      if (i % 2 === 0) s.destroy();
      else s.end();
    }
    await sleep(100);
    await stillServes(srv);
    const clients = await Promise.all(Array.from({ length: 10 }, () => RpcClient.connect({ host: srv.host, port: srv.port })));
    const replies = await Promise.all(clients.map((r) => r.callRaw(NFS, 4, 0)));
    for (const rep of replies) expect(rep.acceptStat).toBe(ACCEPT_STAT.SUCCESS);
    for (const r of clients) r.destroy();
  });
});
