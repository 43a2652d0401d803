import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/server.js';
import { parseConfig } from '../../src/model/config.js';
import { NfsClient } from '../../src/client/nfs-client.js';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Connects from `localAddress`, sends an RPC NULL call, and says whether any byte came back before the server closed. */
function nullCallFrom(host: string, port: number, localAddress: string): Promise<'answered' | 'closed'> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    const call = Buffer.alloc(44);
    call.writeUInt32BE(0x80000028, 0);
    call.writeUInt32BE(1, 4); // xid
    call.writeUInt32BE(2, 12); // rpcvers
    call.writeUInt32BE(100003, 16);
    call.writeUInt32BE(4, 20);
    s.on('connect', () => s.write(call));
    s.on('data', () => {
      s.destroy();
      resolve('answered');
    });
    s.on('close', () => resolve('closed'));
    s.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve('closed') : reject(err)));
  });
}

describe('mount targets', () => {
  let server: RunningServer;
  let dataDir: string;
  let port: number;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'localefs-mt-'));
    port = await freePort();
    const config = await parseConfig({ mountTargets: [{ listen: `127.0.0.5:${port}`, allowedCidrs: ['127.0.0.1/32'] }] }, '(test)', dataDir);
    server = await startServer({ dataDir, host: '127.0.0.1', port, leaseSeconds: 30, log: pino({ level: 'silent' }), config });
  });
  afterAll(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on the mount target address instead of --host', async () => {
    expect(server.host).toBe('127.0.0.5');
    const c = await NfsClient.connect({ host: '127.0.0.5', port });
    expect((await c.rootFh()).length).toBeGreaterThan(0);
    await c.disconnect();
    await expect(nullCallFrom('127.0.0.1', port, '127.0.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('answers clients in its allow-list and never answers one outside it', async () => {
    expect(await nullCallFrom('127.0.0.5', port, '127.0.0.1')).toBe('answered');
    expect(await nullCallFrom('127.0.0.5', port, '127.0.0.9')).toBe('closed');
  });
});
