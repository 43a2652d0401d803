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
import { NfsClient, NfsStatusError, type NfsClientOptions } from '../../src/client/nfs-client.js';
import { RpcClient } from '../../src/client/rpc-client.js';
import type { Credential, ModelConfig } from '../../src/model/types.js';

export interface TestServer {
  dataDir: string;
  /** The default file system (the data directory's own). */
  fileSystemId: string;
  /** `http://127.0.0.1:PORT` of the management API (with `api: true`; the same port after restart()). */
  apiEndpoint: string;
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

export interface TestServerOptions {
  leaseSeconds?: number;
  logLevel?: string;
  /** Serve the management API on a free loopback port. */
  api?: boolean;
  config?: ModelConfig;
  credentials?: Map<string, Credential>;
  /** Receives every server log line (JSON text); the level is then at least info. */
  logLines?: string[];
}

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'localefs-it-'));
  const leaseSeconds = o.leaseSeconds ?? 30;
  const lines = o.logLines;
  const level = o.logLevel ?? process.env.LOCALEFS_TEST_LOG ?? (lines ? 'info' : 'silent');
  const log = lines ? pino({ level }, { write: (s: string) => void lines.push(s) }) : pino({ level });
  let apiPort = 0;
  const start = () =>
    startServer({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      leaseSeconds,
      log,
      ...(o.api ? { api: { host: '127.0.0.1', port: apiPort } } : {}),
      ...(o.config ? { config: o.config } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
    });
  let running: Awaited<ReturnType<typeof startServer>> | undefined = await start();
  if (running.apiEndpoint) apiPort = Number(new URL(running.apiEndpoint).port);
  const clients: { close(): Promise<void> | void }[] = [];
  const ts: TestServer = {
    dataDir,
    fileSystemId: running.fileSystemId,
    apiEndpoint: running.apiEndpoint ?? '',
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
      running = await start();
      ts.port = running.port;
      ts.fileSystemId = running.fileSystemId;
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

/** 'OK', or the NFS status name an operation failed with (other errors are thrown). */
export async function statusOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (err instanceof NfsStatusError) return err.statusName;
    throw err;
  }
}
