import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, open as openFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { LocalStore } from './store/local/local-store.js';
import { NfsStateManager } from './state/manager.js';
import { FhCodec } from './nfs4/fh.js';
import { Nfs4Program } from './nfs4/dispatcher.js';
import { RpcConnection } from './rpc/connection.js';
import { FILE_OPS } from './nfs4/ops/file-ops.js';
import { ATTR_OPS } from './nfs4/ops/attr-ops.js';
import { STATE_OPS } from './nfs4/ops/state-ops.js';
import type { ServerCtx } from './nfs4/context.js';
import * as N from './xdr/gen/nfs4.js';
import { emptyConfig, resolveModel } from './model/config.js';
import type { Credential, ModelConfig } from './model/types.js';
import { ensureTlsMaterial } from './transport/ca.js';
import { createFrontListener, type FrontServer } from './transport/front.js';
import { cidrAllowList } from './util/cidr.js';
import { authorizeConnection } from './policy/authorizer.js';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  leaseSeconds: number;
  log: Logger;
  /** File systems' policies, access points, mount targets, credentials (`--config`); default: none. */
  config?: ModelConfig;
  /** Extra credentials (`--credentials`). */
  credentials?: Map<string, Credential>;
}

/** Durable identity of the default file system, kept in DATA/localefs.json. */
interface FsIdentity {
  fileSystemId: string;
  /** Hex secret keying file-handle MACs; must survive restarts so handles stay valid. */
  handleSecret: string;
  createdAt: string;
}

export interface RunningServer {
  readonly fileSystemId: string;
  /** The local CA that signed the server certificate: what efs-utils needs as cafile= / stunnel_cafile. */
  readonly caFile: string;
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await openFile(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

async function loadIdentity(dataDir: string): Promise<FsIdentity> {
  const file = path.join(dataDir, 'localefs.json');
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as FsIdentity;
    if (!/^fs-[0-9a-f]{17}$/.test(parsed.fileSystemId) || !/^[0-9a-f]{64}$/.test(parsed.handleSecret)) {
      throw new Error(`${file} is damaged: restore it from a backup or move the data directory away to start afresh`);
    }
    return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const identity: FsIdentity = {
    fileSystemId: `fs-${randomBytes(9).toString('hex').slice(0, 17)}`,
    handleSecret: randomBytes(32).toString('hex'),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(file, JSON.stringify(identity, null, 2) + '\n');
  return identity;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { log } = opts;
  await mkdir(opts.dataDir, { recursive: true });
  const identity = await loadIdentity(opts.dataDir);
  const hex = identity.fileSystemId.slice(3);
  const fsid = { major: parseInt(hex.slice(0, 8), 16), minor: parseInt(hex.slice(8, 16), 16) };
  const metaDir = path.join(opts.dataDir, 'meta');
  await mkdir(metaDir, { recursive: true, mode: 0o700 });
  const store = await LocalStore.open({ root: path.join(opts.dataDir, 'fs'), metaDir, fsid, log: log.child({ part: 'store' }) });
  const state = new NfsStateManager({ leaseSeconds: opts.leaseSeconds, store, metaDir, log: log.child({ part: 'state' }) });
  const server: ServerCtx = {
    store,
    state,
    fh: new FhCodec(Buffer.from(identity.handleSecret, 'hex')),
    config: {
      leaseSeconds: opts.leaseSeconds,
      fileSystemId: identity.fileSystemId,
      writeVerifier: randomBytes(8),
      serverOwner: `localefs-${identity.fileSystemId}`,
      serverScope: identity.fileSystemId,
      readOnlyStatus: N.NFS4ERR_ACCESS,
    },
    log,
  };
  const program = new Nfs4Program(server, [...FILE_OPS, ...ATTR_OPS, ...STATE_OPS]);

  // The EFS model: this data directory's file system, its policy, access points, mount targets, credentials.
  const model = resolveModel(opts.config ?? emptyConfig(), {
    defaultFileSystemId: identity.fileSystemId,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  const fileSystem = model.fileSystems.get(identity.fileSystemId)!;
  server.config.readOnlyStatus = model.options.readOnlyError === 'ROFS' ? N.NFS4ERR_ROFS : N.NFS4ERR_ACCESS;
  const tlsFiles = await ensureTlsMaterial({
    dir: path.join(opts.dataDir, 'tls'),
    regions: [model.region],
    fileSystemIds: [identity.fileSystemId],
    log: log.child({ part: 'tls' }),
  });
  const credentials = model.credentials;
  const audit = log.child({ part: 'audit' });
  const sockets = new Set<net.Socket>();

  // One listener per mount target of this file system; without any, one on --host:--port open to all.
  const targets = [...model.mountTargets.values()].filter((t) => t.fileSystemId === identity.fileSystemId);
  const listenOn = targets.length
    ? targets.map((t) => ({ host: t.ipAddress, port: t.port ?? opts.port, allow: cidrAllowList(t.allowedCidrs), mountTargetId: t.mountTargetId }))
    : [{ host: opts.host, port: opts.port, allow: undefined, mountTargetId: undefined }];
  const listeners: FrontServer[] = [];
  for (const target of listenOn) {
    const listener = createFrontListener({
      tls: { cert: tlsFiles.cert, key: tlsFiles.key },
      ...(target.allow ? { allow: target.allow } : {}),
      verify: {
        regions: [model.region],
        defaultAccount: model.accountId,
        ...(credentials.size ? { credentials: (key: string) => credentials.get(key) } : {}),
      },
      log: log.child({ part: 'front' }),
      onConnection(socket, peer) {
        sockets.add(socket);
        const conn = new RpcConnection(socket, program, log);
        const { grant, audit: record } = authorizeConnection(peer, fileSystem, model);
        program.setGrant(conn, grant);
        audit.info({ ...record, mountTargetId: target.mountTargetId }, 'mount decision');
        conn.log.info({ tls: peer.secure }, 'connection open');
        socket.on('close', () => {
          sockets.delete(socket);
          conn.log.info('connection closed');
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(target.port, target.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (err) => log.error({ err }, 'listener error'));
    listeners.push(listener);
  }
  const address = listeners[0]!.address() as net.AddressInfo;
  return {
    fileSystemId: identity.fileSystemId,
    port: address.port,
    host: address.address,
    caFile: tlsFiles.caFile,
    async close() {
      // close() waits for open connections, so they are destroyed right after asking
      const closed = listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
      for (const l of listeners) l.destroyPending();
      for (const s of sockets) s.destroy();
      await Promise.all(closed);
      await state.shutdown();
      await store.shutdown();
    },
  };
}

export { writeFileAtomic };
