import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { RpcConnection, type CallHandler } from '../../src/rpc/connection.js';
import { testConnectionContext } from '../helpers/connection-context.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { beginAcceptedReply, finishRecord, type CallHeader } from '../../src/rpc/message.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2);
}

describe('reply batching (src/rpc/connection.ts)', () => {
  function callRecord(xid: number): Buffer {
    const w = new XdrWriter(64);
    w.reserveU32();
    for (const v of [xid, 0, 2, 100003, 4, 0, 0, 0, 0, 0]) w.u32(v); // CALL rpcvers 2, prog/vers/proc, AUTH_NONE cred and verf
    return finishRecord(w);
  }

  async function serve(handler: CallHandler, limits?: ConstructorParameters<typeof RpcConnection>[3]) {
    const conns: RpcConnection[] = [];
    const server = net.createServer((sock) => conns.push(new RpcConnection(sock, handler, testConnectionContext(), limits)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    return { server, client, conns };
  }

  /** Splits the byte stream into reply records; returns xid and length of each. */
  function replies(buf: Buffer): Array<{ xid: number; len: number }> {
    const out: Array<{ xid: number; len: number }> = [];
    let at = 0;
    while (at + 4 <= buf.length) {
      const len = buf.readUInt32BE(at) & 0x7fffffff;
      if (at + 4 + len > buf.length) break;
      out.push({ xid: buf.readUInt32BE(at + 4), len });
      at += 4 + len;
    }
    return out;
  }

  function reply(xid: number, pad: number): Buffer {
    const w = new XdrWriter(64 + pad);
    beginAcceptedReply(w, xid, 0);
    w.fixedOpaque(Buffer.alloc(pad, xid & 0xff));
    return finishRecord(w);
  }

  it('replies finishing in one loop turn leave in one batch, intact and all answered', async () => {
    const handler: CallHandler = { handleCall: async (call: CallHeader) => reply(call.xid, 100) };
    const { server, client, conns } = await serve(handler);
    try {
      let got = Buffer.alloc(0);
      client.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
      });
      const n = 50;
      // count what reaches the socket's handle: one _write or _writev per flush
      await until(() => conns.length === 1);
      const sock = conns[0]!.socket as unknown as Record<string, (...a: unknown[]) => unknown>;
      let flushes = 0;
      for (const m of ['_write', '_writev']) {
        const orig = sock[m]!;
        sock[m] = function (this: unknown, ...a: unknown[]) {
          flushes++;
          return orig.apply(this, a);
        };
      }
      client.write(Buffer.concat(Array.from({ length: n }, (_, i) => callRecord(i + 1))));
      for (let i = 0; i < 200 && replies(got).length < n; i++) await sleep(5);
      const r = replies(got);
      expect(r.map((x) => x.xid).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (const x of r) expect(x.len).toBe(24 + 100);
      const ws = conns[0]!.writeStats;
      expect(ws.replies).toBe(n);
      expect(ws.batches).toBeGreaterThanOrEqual(1);
      expect(ws.batches).toBeLessThan(n / 2);
      expect(flushes).toBeLessThan(n / 2); // one write per reply without batching
    } finally {
      client.destroy();
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });

  it('keeps its backpressure: a client that does not read pauses the connection, which resumes and finishes', async () => {
    const handler: CallHandler = { handleCall: async (call: CallHeader) => reply(call.xid, 1024 * 1024) };
    const { server, client, conns } = await serve(handler, { maxRecord: 1 << 20, maxInFlight: 64, maxQueuedReplyBytes: 512 * 1024 });
    try {
      client.pause();
      const n = 40; // 40 MiB of replies
      client.write(Buffer.concat(Array.from({ length: n }, (_, i) => callRecord(i + 1))));
      await sleep(200);
      const conn = conns[0]!;
      expect(conn.socket.isPaused()).toBe(true); // reading paused: too many reply bytes queued
      expect(conn.isClosed).toBe(false);
      const chunks: Buffer[] = [];
      let bytes = 0;
      client.on('data', (c: Buffer) => {
        chunks.push(c);
        bytes += c.length;
      });
      client.resume();
      const total = n * (4 + 24 + 1024 * 1024);
      for (let i = 0; i < 1000 && bytes < total; i++) await sleep(5);
      expect(bytes).toBe(total);
      expect(replies(Buffer.concat(chunks)).map((x) => x.xid).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(conn.isClosed).toBe(false);
    } finally {
      client.destroy();
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });
});

