import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { XdrReader } from '../../src/xdr/reader.js';
import { RpcClient, RpcClosedError, RpcError, RpcTimeoutError, authSys } from '../../src/client/rpc-client.js';

/** A scripted RPC peer: hands each call record to `onCall`, which decides what to send back. */
async function fakeServer(onCall: (sock: net.Socket, xid: number, rec: Buffer) => void): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    socks.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0) & 0x7fffffff;
        if (buf.length < 4 + len) break;
        const rec = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        onCall(sock, rec.readUInt32BE(0), Buffer.from(rec));
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** An accepted SUCCESS reply carrying `body`, split into fragments of `frag` bytes. */
function reply(xid: number, body: Buffer, frag = 1 << 30): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32BE(xid, 0);
  head.writeUInt32BE(1, 4); // REPLY
  head.writeUInt32BE(0, 8); // MSG_ACCEPTED
  head.writeUInt32BE(0, 12); // verf flavor
  head.writeUInt32BE(0, 16); // verf length
  head.writeUInt32BE(0, 20); // SUCCESS
  const rec = Buffer.concat([head, body]);
  const parts: Buffer[] = [];
  for (let off = 0; off < rec.length; off += frag) {
    const piece = rec.subarray(off, off + frag);
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE(((off + frag >= rec.length ? 0x80000000 : 0) | piece.length) >>> 0, 0);
    parts.push(mark, piece);
  }
  return Buffer.concat(parts);
}

describe('RpcClient', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0)) await f();
  });

  it('matches replies to calls by xid when they come back out of order, across fragments', async () => {
    const held: { sock: net.Socket; xid: number; rec: Buffer }[] = [];
    const srv = await fakeServer((sock, xid, rec) => {
      held.push({ sock, xid, rec });
      if (held.length === 3) {
        // answer in reverse order, echoing the procedure number, with tiny fragments
        for (const h of held.reverse()) h.sock.write(reply(h.xid, h.rec.subarray(20, 24), 3));
      }
    });
    cleanups.push(() => srv.close());
    const c = await RpcClient.connect({ host: '127.0.0.1', port: srv.port });
    cleanups.push(() => c.destroy());
    const [a, b, d] = await Promise.all([c.call(100003, 4, 11), c.call(100003, 4, 22), c.call(100003, 4, 33)]);
    expect(a.readUInt32BE(0)).toBe(11);
    expect(b.readUInt32BE(0)).toBe(22);
    expect(d.readUInt32BE(0)).toBe(33);
  });

  it('encodes AUTH_SYS credentials per call', async () => {
    const creds: { uid: number; gid: number; gids: number[]; machine: string }[] = [];
    const srv = await fakeServer((sock, xid, rec) => {
      const r = new XdrReader(rec, 24);
      expect(r.u32()).toBe(1); // AUTH_SYS
      const body = new XdrReader(r.opaque(400));
      body.u32();
      const machine = body.string();
      const uid = body.u32();
      const gid = body.u32();
      const n = body.u32();
      const gids: number[] = [];
      for (let i = 0; i < n; i++) gids.push(body.u32());
      creds.push({ uid, gid, gids, machine });
      sock.write(reply(xid, Buffer.alloc(0)));
    });
    cleanups.push(() => srv.close());
    const c = await RpcClient.connect({ host: '127.0.0.1', port: srv.port });
    cleanups.push(() => c.destroy());
    await c.call(1, 1, 0, Buffer.alloc(0), { cred: authSys(1000, 100, [4, 5], 'box') });
    await c.call(1, 1, 0);
    expect(creds[0]).toEqual({ uid: 1000, gid: 100, gids: [4, 5], machine: 'box' });
    expect(creds[1]!.uid).toBe(0);
  });

  it('times out a call that gets no answer, and fails pending calls when the peer goes away', async () => {
    let sockRef: net.Socket | undefined;
    const srv = await fakeServer((sock) => {
      sockRef = sock;
    });
    cleanups.push(() => srv.close());
    const c = await RpcClient.connect({ host: '127.0.0.1', port: srv.port });
    cleanups.push(() => c.destroy());
    await expect(c.call(1, 1, 0, Buffer.alloc(0), { timeoutMs: 100 })).rejects.toBeInstanceOf(RpcTimeoutError);
    const pending = c.call(1, 1, 0, Buffer.alloc(0), { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    sockRef!.destroy();
    await expect(pending).rejects.toBeInstanceOf(Error);
    await c.closed;
    await expect(c.call(1, 1, 0)).rejects.toBeInstanceOf(RpcClosedError);
  });

  it('reports non-SUCCESS replies as RpcError with the decoded header', async () => {
    const srv = await fakeServer((sock, xid) => {
      const rec = Buffer.alloc(28);
      rec.writeUInt32BE((0x80000000 | 24) >>> 0, 0);
      rec.writeUInt32BE(xid, 4);
      rec.writeUInt32BE(1, 8);
      rec.writeUInt32BE(1, 12); // MSG_DENIED
      rec.writeUInt32BE(0, 16); // RPC_MISMATCH
      rec.writeUInt32BE(2, 20);
      rec.writeUInt32BE(2, 24);
      sock.write(rec);
    });
    cleanups.push(() => srv.close());
    const c = await RpcClient.connect({ host: '127.0.0.1', port: srv.port });
    cleanups.push(() => c.destroy());
    const err = await c.call(1, 1, 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).reply.rejectStat).toBe(0);
    expect((err as RpcError).reply.mismatch).toEqual({ low: 2, high: 2 });
  });
});
