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

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  leaseSeconds: number;
  log: Logger;
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
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const conn = new RpcConnection(socket, program, log);
    conn.log.info('connection open');
    socket.on('close', () => {
      sockets.delete(socket);
      conn.log.info('connection closed');
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.port, opts.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', (err) => log.error({ err }, 'listener error'));
  const address = tcp.address() as net.AddressInfo;
  return {
    fileSystemId: identity.fileSystemId,
    port: address.port,
    host: opts.host,
    async close() {
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await state.shutdown();
      await store.shutdown();
    },
  };
}

export { writeFileAtomic };
