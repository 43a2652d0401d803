import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import * as N from '../../src/xdr/gen/nfs4.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { parseConfig } from '../../src/model/config.js';
import { FATTR, NfsClient } from '../../src/client/nfs-client.js';
import type { LimitsConfig } from '../../src/model/types.js';

// Issue 8, item 2: half records and silent connections must not hold places
// forever, and neither one address nor many may lock other clients out.

interface Running {
  server: RunningServer;
  dataDir: string;
  logs: Record<string, unknown>[];
  sockets: net.Socket[];
  clients: NfsClient[];
}
let running: Running | undefined;

async function serve(limits: LimitsConfig): Promise<Running> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'localefs-limits-'));
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const config = await parseConfig({ limits }, '(test)', dataDir);
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, leaseSeconds: 30, log, config });
  running = { server, dataDir, logs, sockets: [], clients: [] };
  return running;
}

afterEach(async () => {
  if (!running) return;
  for (const s of running.sockets) s.destroy();
  for (const c of running.clients) await c.disconnect().catch(() => undefined);
  await running.server.close();
  await rm(running.dataDir, { recursive: true, force: true });
  running = undefined;
});

/** A raw connection from `localAddress` (any 127.x address is this machine's). */
function connectFrom(r: Running, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port: r.server.port, localAddress }, () => resolve(s));
    s.on('error', () => undefined);
    s.once('error', reject);
    r.sockets.push(s);
  });
}

/** Resolves when the server has closed the socket. */
function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
}

/** The start of a record that claims 100 bytes and never brings them (slowloris). */
const HALF_RECORD = Buffer.concat([Buffer.from([0x80, 0, 0, 100]), Buffer.alloc(10, 7)]);

/** A whole RPC NULL call to the NFS program (AUTH_NONE). */
function nullCall(xid: number): Buffer {
  const b = Buffer.alloc(4 + 40);
  b.writeUInt32BE((0x80000000 | 40) >>> 0, 0);
  [xid, 0, 2, 100003, 4, 0, 0, 0, 0, 0].forEach((v, i) => b.writeUInt32BE(v, 4 + i * 4));
  return b;
}

async function mountAndStat(r: Running): Promise<number> {
  const c = await NfsClient.connect({ host: '127.0.0.1', port: r.server.port, timeoutMs: 20_000 });
  r.clients.push(c);
  return (await c.getattr('/', [FATTR.TYPE])).type!;
}

describe('connection limits', () => {
  it('one address at its cap is refused (logged once) while a client from another address mounts', async () => {
    const r = await serve({ maxConnectionsPerSource: 4, maxConnections: 100 });
    const held: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await connectFrom(r, '127.0.0.2');
      s.write(HALF_RECORD);
      held.push(s);
    }
    // six more from the same address: each is closed at once
    for (let i = 0; i < 6; i++) await closed(await connectFrom(r, '127.0.0.2'));
    expect(await mountAndStat(r)).toBe(N.NF4DIR);
    const stats = r.server.connectionStats();
    expect(stats.refusedPerSource).toBe(6);
    expect(held.every((s) => !s.closed)).toBe(true);
    const refusals = r.logs.filter((l) => l.msg?.toString().startsWith('connection refused') && l.source === '127.0.0.2');
    expect(refusals).toHaveLength(1);
    // once the address is below its cap again it gets in, and the count of what was refused is logged
    held[0]!.destroy();
    await closed(held[0]!);
    while (r.server.connectionStats().open > 4) await new Promise((res) => setImmediate(res));
    const again = await connectFrom(r, '127.0.0.2');
    again.write(nullCall(1));
    await new Promise<void>((res) => again.once('data', () => res()));
    expect(r.logs.find((l) => l.msg === 'connections from this address are accepted again')).toMatchObject({ source: '127.0.0.2', refused: 6 });
  });

  it('at the global cap a new client takes the place of a stalled connection', async () => {
    const r = await serve({ maxConnectionsPerSource: 5, maxConnections: 10, evictIdleSeconds: 0 });
    const stalled: net.Socket[] = [];
    for (const from of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 5; i++) {
        const s = await connectFrom(r, from);
        s.write(HALF_RECORD);
        stalled.push(s);
      }
    }
    while (r.server.connectionStats().carryingRpc < 10) await new Promise((res) => setImmediate(res));
    expect(await mountAndStat(r)).toBe(N.NF4DIR);
    const stats = r.server.connectionStats();
    expect(stats.evicted).toBe(1);
    expect(stats.refusedGlobal).toBe(0);
    // the one evicted is the stalled connection that waited longest: the first one opened
    await closed(stalled[0]!);
    expect(stalled.slice(1).every((s) => !s.closed)).toBe(true);
  });

  it('closes a connection whose record does not complete in time, and one that stays silent', async () => {
    const r = await serve({ recordTimeoutSeconds: 1, idleTimeoutSeconds: 2 });
    const half = await connectFrom(r, '127.0.0.2');
    half.write(HALF_RECORD);
    const silent = await connectFrom(r, '127.0.0.3');
    silent.write(nullCall(7));
    await new Promise<void>((res) => silent.once('data', () => res()));
    await closed(half);
    await closed(silent);
    const stats = r.server.connectionStats();
    expect(stats.closedRecordTimeout).toBe(1);
    expect(stats.closedIdle).toBe(1);
    expect(r.logs.some((l) => l.msg === 'closing connection' && String(l.reason).startsWith('a record was not completed within 1 s'))).toBe(true);
    expect(r.logs.some((l) => l.msg === 'closing connection' && l.reason === 'no call for 2 s')).toBe(true);
    expect(await mountAndStat(r)).toBe(N.NF4DIR);
  });

  it('gives the place of every closed connection back, plain and TLS', async () => {
    const r = await serve({ maxConnectionsPerSource: 2, maxConnections: 2 });
    for (let i = 0; i < 4; i++) {
      const c = await NfsClient.connect({ host: '127.0.0.1', port: r.server.port, ...(i % 2 ? { tls: { ca: readFileSync(r.server.caFile), servername: 'localhost' } } : {}) });
      await c.rootFh();
      await c.disconnect();
      while (r.server.connectionStats().open > 0) await new Promise((res) => setImmediate(res));
    }
    expect(r.server.connectionStats()).toMatchObject({ open: 0, admitted: 4, refusedPerSource: 0, refusedGlobal: 0 });
  });

  it('says at start which limits are in force', async () => {
    const r = await serve({ maxConnections: 77 });
    const line = r.logs.find((l) => String(l.msg).startsWith('limits in force'));
    expect(line).toMatchObject({ maxConnections: 77, maxConnectionsPerSource: 77, recordTimeoutSeconds: 30, idleTimeoutSeconds: 45 });
    expect(line!.fdLimit).toBe(r.server.limits.fdLimit);
    expect(r.server.limits.openFileDescriptors).toBeLessThan(r.server.limits.fdLimit);
  });
});
