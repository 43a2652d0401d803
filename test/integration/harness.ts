/**
 * Shared setup of the integration tests: a server started in-process on
 * 127.0.0.1 (port 0) with its own temporary data directory, and clients
 * connected to it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pino from 'pino';
import { startServer } from '../../src/server.js';
import { NfsClient, type NfsClientOptions } from '../../src/client/nfs-client.js';
import { RpcClient } from '../../src/client/rpc-client.js';

export interface TestServer {
  dataDir: string;
  host: string;
  port: number;
  leaseSeconds: number;
  /** Connects an NFS client (4.1 with a session unless told otherwise). */
  client(opts?: Partial<NfsClientOptions>): Promise<NfsClient>;
  /** A bare RPC connection. */
  rpc(): Promise<RpcClient>;
  /** Stops the server (the data directory stays). */
  stop(): Promise<void>;
  /** Starts a new server on the same data directory (after stop). */
  restart(): Promise<void>;
  /** Stops the server, closes every client and removes the data directory. */
  cleanup(): Promise<void>;
}

export async function startTestServer(o: { leaseSeconds?: number; logLevel?: string } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'localefs-it-'));
  const leaseSeconds = o.leaseSeconds ?? 30;
  const log = pino({ level: o.logLevel ?? process.env.LOCALEFS_TEST_LOG ?? 'silent' });
  let running: Awaited<ReturnType<typeof startServer>> | undefined = await startServer({ dataDir, host: '127.0.0.1', port: 0, leaseSeconds, log });
  const clients: { close(): Promise<void> | void }[] = [];
  const ts: TestServer = {
    dataDir,
    host: '127.0.0.1',
    port: running.port,
    leaseSeconds,
    async client(opts = {}) {
      const c = await NfsClient.connect({ host: '127.0.0.1', port: ts.port, timeoutMs: 20000, ...opts });
      clients.push({ close: () => c.disconnect() });
      return c;
    },
    async rpc() {
      const r = await RpcClient.connect({ host: '127.0.0.1', port: ts.port, timeoutMs: 10000 });
      clients.push({ close: () => r.destroy() });
      return r;
    },
    async stop() {
      const r = running;
      running = undefined;
      if (r) await r.close();
    },
    async restart() {
      if (running) await ts.stop();
      running = await startServer({ dataDir, host: '127.0.0.1', port: 0, leaseSeconds, log });
      ts.port = running.port;
    },
    async cleanup() {
      for (const c of clients) {
        try {
          await c.close();
        } catch {
          /* already closed */
        }
      }
      await ts.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return ts;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function randomData(n: number): Buffer {
  return randomBytes(n);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}
