/**
 * localefs as a library, for test suites: start a server on free ports, use
 * it, stop it.
 *
 *   import { startLocalEfs } from 'localefs';
 *   const efs = await startLocalEfs();            // ephemeral data, free ports
 *   // efs.nfsPort, efs.apiEndpoint, efs.fileSystemId, efs.caFile
 *   await efs.stop();                             // and the data is gone
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { startServer, type RunningServer } from './server.js';
import { loadConfig, loadCredentials } from './model/config.js';
import type { Credential, ModelConfig } from './model/types.js';

export { LOCALEFS_VERSION } from './version.js';

export interface LocalEfsOptions {
  /** Where the file systems live. Without it the data goes to a new temporary directory, removed by stop(). */
  dataDir?: string;
  /** Remove dataDir at stop() (default: true when dataDir is not given, else false). */
  ephemeral?: boolean;
  /** NFS address and port (default 127.0.0.1, 0 = a free port). */
  host?: string;
  port?: number;
  /** Serve the management API (default true) on apiHost:apiPort (default 127.0.0.1, 0 = a free port). */
  api?: boolean;
  apiHost?: string;
  apiPort?: number;
  leaseSeconds?: number;
  /** A config file's path, or the parsed config (docs/config.md). */
  config?: string | ModelConfig;
  /** A credentials file's path, or the keys. */
  credentials?: string | Map<string, Credential>;
  /** Allow POST /_localefs/reset. */
  enableReset?: boolean;
  /** Where the server logs (default: nowhere, or pino at logLevel on standard error). */
  logger?: Logger;
  logLevel?: string;
}

export interface LocalEfs {
  fileSystemId: string;
  region: string;
  dataDir: string;
  ephemeral: boolean;
  nfsHost: string;
  nfsPort: number;
  /** `http://host:port` of the API (it answers HTTPS on the same port); undefined with api: false. */
  apiEndpoint?: string;
  /** The local CA (efs-utils' cafile=, the AWS CLI's --ca-bundle). */
  caFile: string;
  server: RunningServer;
  /** Stops serving; removes the data when ephemeral. */
  stop(): Promise<void>;
}

export async function startLocalEfs(o: LocalEfsOptions = {}): Promise<LocalEfs> {
  const ephemeral = o.ephemeral ?? o.dataDir === undefined;
  const dataDir = o.dataDir !== undefined ? path.resolve(o.dataDir) : await mkdtemp(path.join(os.tmpdir(), 'localefs-'));
  const log = o.logger ?? pino({ level: o.logLevel ?? 'silent', base: { svc: 'localefs' } }, pino.destination(2));
  try {
    const config = typeof o.config === 'string' ? await loadConfig(o.config) : o.config;
    const credentials = typeof o.credentials === 'string' ? await loadCredentials(o.credentials) : o.credentials;
    const server = await startServer({
      dataDir,
      host: o.host ?? '127.0.0.1',
      port: o.port ?? 0,
      leaseSeconds: o.leaseSeconds ?? 90,
      log,
      ...(o.api === false ? {} : { api: { host: o.apiHost ?? '127.0.0.1', port: o.apiPort ?? 0 } }),
      ...(config ? { config } : {}),
      ...(credentials ? { credentials } : {}),
      ...(o.enableReset ? { enableReset: true } : {}),
    });
    let stopped: Promise<void> | undefined;
    return {
      fileSystemId: server.fileSystemId,
      region: server.model.region,
      dataDir,
      ephemeral,
      nfsHost: server.host,
      nfsPort: server.port,
      ...(server.apiEndpoint ? { apiEndpoint: server.apiEndpoint } : {}),
      caFile: server.caFile,
      server,
      stop() {
        stopped ??= (async () => {
          await server.close();
          if (ephemeral) await rm(dataDir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (err) {
    if (ephemeral) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
