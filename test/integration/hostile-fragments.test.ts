/**
 * RFC 5531 record marking lets a peer cut one record into as many fragments
 * as it likes. A 2 MiB record in 1-byte fragments must neither cost the
 * server memory out of proportion to the bytes sent (it once cost ~250 MB a
 * connection, and 32 such connections ended the process) nor be accepted:
 * the connection is closed once it passes the fragment limit, and the
 * server keeps serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR } from '../../src/client/nfs-client.js';
import { ACCEPT_STAT, buildCallRecord } from '../../src/client/rpc-client.js';
import { startTestServer, type TestServer } from './harness.js';

const NFS = 100003;
const CONNECTIONS = 32;
const RECORD_BYTES = 2 * 1024 * 1024;
const WRITE_CHUNK = 256 * 1024;

async function stillServes(srv: TestServer): Promise<void> {
  const c = await srv.client();
  const a = await c.getattr('/', [FATTR.TYPE]);
  expect(a.type).toBe(N.NF4DIR);
  await c.disconnect();
}

/** A NULL call (program NFS, version 4, procedure 0, AUTH_NONE) without its record mark. */
function nullCall(xid: number): Buffer {
  return buildCallRecord(xid, NFS, 4, 0, Buffer.alloc(0), { flavor: 'none' }).subarray(4);
}

/** `record` framed as fragments of the given sizes (which add up to its length). */
function fragmented(record: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  sizes.forEach((size, i) => {
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE(((i === sizes.length - 1 ? 0x80000000 : 0) | size) >>> 0);
    out.push(mark, record.subarray(at, at + size));
    at += size;
  });
  expect(at).toBe(record.length);
  return Buffer.concat(out);
}

/** A 2 MiB NULL call (padded with zeros) as 2 Mi 1-byte fragments: 5 wire bytes per record byte. */
function oneByteFragments(): Buffer {
  const record = Buffer.alloc(RECORD_BYTES);
  nullCall(0x0f0f0f0f).copy(record);
  const wire = Buffer.alloc(RECORD_BYTES * 5);
  for (let i = 0; i < RECORD_BYTES; i++) {
    const at = i * 5;
    wire[at + 3] = 1; // mark: length 1 (bytes 0-2 stay zero)
    wire[at + 4] = record[i]!;
  }
  wire[(RECORD_BYTES - 1) * 5] = 0x80; // last fragment
  return wire;
}

interface Outcome {
  /** The server ended or reset the connection (this side never ends or destroys it). */
  closed: boolean;
  error?: string;
}

/** Streams `wire` with backpressure until all is written or the socket closes; resolves on 'close'. */
function streamUntilClosed(srv: TestServer, wire: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { closed: false };
    const s = net.createConnection({ host: srv.host, port: srv.port });
    s.on('error', (err) => (outcome.error = (err as NodeJS.ErrnoException).code ?? err.message));
    s.on('close', () => {
      outcome.closed = true;
      resolve(outcome);
    });
    s.on('connect', () => {
      let at = 0;
      const pump = (): void => {
        while (at < wire.length && !s.destroyed) {
          const chunk = wire.subarray(at, at + WRITE_CHUNK);
          at += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}

describe('hostile record fragmentation', () => {
  let srv: TestServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    srv = await startTestServer({ logLines });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('answers a legitimate call sent as 64 fragments', async () => {
    const r = await srv.rpc();
    const xid = 0x64646464;
    const call = nullCall(xid); // 40 bytes: 40 one-byte fragments and 24 empty ones
    const sizes: number[] = Array.from({ length: 64 }, (_, i) => (i % 8 < 5 ? 1 : 0));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(call.length);
    const wait = r.waitReply(xid, 10000);
    await r.sendRaw(fragmented(call, sizes));
    const rep = await wait;
    expect(rep.acceptStat).toBe(ACCEPT_STAT.SUCCESS);
    // and the connection goes on with ordinary records
    expect((await r.callRaw(NFS, 4, 0)).acceptStat).toBe(ACCEPT_STAT.SUCCESS);
  });

  it(`closes ${CONNECTIONS} connections each streaming a 2 MiB record in 1-byte fragments, with bounded memory`, { timeout: 180_000 }, async () => {
    const wire = oneByteFragments(); // 10 MiB, shared by every connection (writes do not copy it)
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(Array.from({ length: CONNECTIONS }, () => streamUntilClosed(srv, wire)));
    } finally {
      clearInterval(sampler);
    }
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    expect(outcomes.filter((o) => o.closed)).toHaveLength(CONNECTIONS);
    // closed by the fragment limit, not by a timeout or anything else
    const reasons = logLines.filter((l) => l.includes('"msg":"closing connection"')).map((l) => (JSON.parse(l) as { reason: string }).reason);
    expect(reasons).toEqual(Array.from({ length: CONNECTIONS }, () => 'RPC record of more than 4096 fragments'));
    expect(rssPeak - rssBefore).toBeLessThan(200 * 1024 * 1024);
    await stillServes(srv);
  });
});
