/**
 * The file systems this server serves and the listeners of their mount
 * targets. Each file system has its own store, NFS state and handle key
 * (opened at its first mount target); each mount target is a front listener
 * (TLS or plain RPC) at its address on the NFS port whose connections are
 * authorized against that file system's current policy. The management API
 * drives it through ControlPlaneEffects.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import * as fsWalk from '@nodelib/fs.walk';
import type { Logger } from 'pino';
import { LocalStore } from './store/local/local-store.js';
import { NfsStateManager } from './state/manager.js';
import { FhCodec } from './nfs4/fh.js';
import { Nfs4Program, nfs4RpcProgram } from './nfs4/dispatcher.js';
import { RpcConnection } from './rpc/connection.js';
import { RpcRouter } from './rpc/router.js';
import { ConnectionTable } from './rpc/connection-table.js';
import { newConnectionId, type ConnectionContext } from './rpc/context.js';
import { efsBindRpcProgram } from './rpc/efs-bind.js';
import { Jail } from './policy/jail.js';
import type { ResolvedLimits } from './limits.js';
import { OP_SPECS } from './nfs4/optable.js';
import type { ServerCtx } from './nfs4/context.js';
import * as N from './xdr/gen/nfs4.js';
import type { FileSystem, Model, MountTarget } from './model/types.js';
import { createFrontListener, type FrontServer } from './transport/front.js';
import { securityGroupsAdmit } from './policy/security-groups.js';
import { cidrAllowList } from './util/cidr.js';
import { authorizeConnection } from './policy/authorizer.js';
import { writeFileAtomic } from './util/atomic-file.js';
import type { ControlPlaneEffects } from './api/control-plane.js';

/** Durable identity of a file system's data, kept in <dir>/localefs.json. */
interface FsIdentity {
  fileSystemId: string;
  /** Hex secret keying file-handle MACs; must survive restarts so handles stay valid. */
  handleSecret: string;
  createdAt: string;
}

/** Reads a data directory's identity, or makes one (a new id unless given). */
export async function loadIdentity(dir: string, fileSystemId?: string): Promise<FsIdentity> {
  const file = path.join(dir, 'localefs.json');
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as FsIdentity;
    if (!/^fs-[0-9a-f]{17}$/.test(parsed.fileSystemId) || !/^[0-9a-f]{64}$/.test(parsed.handleSecret)) {
      throw new Error(`${file} is damaged: restore it from a backup or move the data directory away to start afresh`);
    }
    return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true });
  const identity: FsIdentity = {
    fileSystemId: fileSystemId ?? `fs-${randomBytes(9).toString('hex').slice(0, 17)}`,
    handleSecret: randomBytes(32).toString('hex'),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(file, JSON.stringify(identity, null, 2) + '\n');
  return identity;
}

/** One served file system: its store, NFS state and the RPC programs its connections reach. */
interface FileSystemHost {
  fileSystemId: string;
  router: RpcRouter;
  store: LocalStore;
  state: NfsStateManager;
}

interface MountTargetListener {
  mountTargetId: string;
  /** Empty for a target served through a wildcard listener (routedByAddress). */
  servers: FrontServer[];
  sockets: Set<net.Socket>;
}

/** A mount target the wildcard listener serves: connections to its address go to its file system. */
interface RoutedTarget {
  mt: MountTarget;
  host: FileSystemHost;
  /** Its allowedCidrs (fixed when it is made), parsed once. */
  cidrsAllow: (address: string) => boolean;
}

interface Metered {
  value: number;
  timestamp: number;
  measuring: boolean;
  measured: boolean;
}

export interface FleetOptions {
  dataDir: string;
  /** Id of the file system kept directly in dataDir (fs/, meta/); the others live in dataDir/file-systems/<id>/. */
  defaultFileSystemId: string;
  model: Model;
  /** NFS port of every mount target without its own; 0 = pick one at the first listener. */
  port: number;
  leaseSeconds: number;
  tls: { cert: string; key: string };
  limits: ResolvedLimits;
  log: Logger;
}

/** Marks a file system directory whose deletion is under way (see collectGarbage). */
const DELETING_MARK = '.deleting';
/** Size EFS meters for an empty file system. */
const EMPTY_METERED_BYTES = 6144;
/** Metered sizes are refreshed at most this often (EFS: eventually, within hours). */
const METER_INTERVAL_SECONDS = 60;

export class Fleet implements ControlPlaneEffects {
  private readonly hosts = new Map<string, Promise<FileSystemHost>>();
  private readonly listeners = new Map<string, MountTargetListener>();
  private readonly metered = new Map<string, Metered>();
  private readonly audit: Logger;
  /** Every client connection of every mount target: caps, timeouts. */
  readonly connections: ConnectionTable;
  /** The NFS port in use (fixed once the first listener is bound when started with port 0). */
  port: number;

  constructor(private readonly o: FleetOptions) {
    this.port = o.port;
    this.audit = o.log.child({ part: 'audit' });
    this.connections = new ConnectionTable(o.limits.connections, o.log.child({ part: 'connections' }));
  }

  /** Where a file system's data lives. */
  dataDirOf(fileSystemId: string): string {
    return fileSystemId === this.o.defaultFileSystemId ? this.o.dataDir : path.join(this.o.dataDir, 'file-systems', fileSystemId);
  }

  private host(fileSystemId: string): Promise<FileSystemHost> {
    let h = this.hosts.get(fileSystemId);
    if (!h) {
      h = this.openHost(fileSystemId);
      this.hosts.set(fileSystemId, h);
      h.catch(() => this.hosts.delete(fileSystemId));
    }
    return h;
  }

  private async openHost(fileSystemId: string): Promise<FileSystemHost> {
    const dir = this.dataDirOf(fileSystemId);
    const identity = await loadIdentity(dir, fileSystemId);
    if (identity.fileSystemId !== fileSystemId) throw new Error(`${dir}/localefs.json belongs to ${identity.fileSystemId}, not ${fileSystemId}`);
    const log = this.o.log.child({ fileSystemId });
    const hex = fileSystemId.slice(3);
    const fsid = { major: parseInt(hex.slice(0, 8), 16), minor: parseInt(hex.slice(8, 16), 16) };
    const metaDir = path.join(dir, 'meta');
    await mkdir(metaDir, { recursive: true, mode: 0o700 });
    const { limits } = this.o;
    const store = await LocalStore.open({ root: path.join(dir, 'fs'), metaDir, fsid, log: log.child({ part: 'store' }), fdLimit: limits.openFileDescriptors });
    const state = new NfsStateManager({
      leaseSeconds: this.o.leaseSeconds,
      store,
      metaDir,
      log: log.child({ part: 'state' }),
      maxOpensPerClient: limits.maxOpensPerClient,
      maxOpens: limits.maxOpens,
    });
    const server: ServerCtx = {
      store,
      state,
      fh: new FhCodec(Buffer.from(identity.handleSecret, 'hex')),
      config: {
        leaseSeconds: this.o.leaseSeconds,
        fileSystemId,
        writeVerifier: randomBytes(8),
        serverOwner: `localefs-${fileSystemId}`,
        serverScope: fileSystemId,
        readOnlyStatus: this.o.model.options.readOnlyError === 'ROFS' ? N.NFS4ERR_ROFS : N.NFS4ERR_ACCESS,
      },
      log,
    };
    const program = new Nfs4Program(server, OP_SPECS);
    // efs-utils' efs-proxy binds each new connection to a partition before any NFS traffic
    const router = new RpcRouter([nfs4RpcProgram(program), efsBindRpcProgram(fileSystemId)]);
    return { fileSystemId, store, state, router };
  }

  /** Addresses a mount target listens on, with their port. */
  private endpoints(mt: MountTarget): { host: string; port: number }[] {
    const port = mt.port ?? this.port;
    if (mt.listenAddress !== undefined) return [{ host: mt.listenAddress, port }];
    return [mt.ipAddress, ...(mt.ipv6Address !== undefined ? [mt.ipv6Address] : [])].map((host) => ({ host, port }));
  }

  // -- ControlPlaneEffects ---------------------------------------------------

  async createFileSystemData(fs: FileSystem): Promise<void> {
    await loadIdentity(this.dataDirOf(fs.fileSystemId), fs.fileSystemId);
  }

  async markFileSystemDeleting(fs: FileSystem): Promise<void> {
    if (fs.fileSystemId === this.o.defaultFileSystemId) return; // the default one is always in the model again at start
    // a file system the config declared and nothing ever mounted has no directory yet
    const dir = this.dataDirOf(fs.fileSystemId);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, DELETING_MARK), `${new Date().toISOString()}\n`);
  }

  async removeFileSystemData(fs: FileSystem): Promise<void> {
    const id = fs.fileSystemId;
    const host = this.hosts.get(id);
    this.hosts.delete(id);
    this.metered.delete(id);
    if (host) {
      const h = await host.catch(() => undefined);
      if (h) {
        await h.state.shutdown();
        await h.store.shutdown();
      }
    }
    // Renames first (quick, atomic each), removal after: a crash leaves only trash.
    const trash = path.join(this.o.dataDir, 'trash', `${id}-${Date.now()}`);
    await mkdir(trash, { recursive: true });
    const dir = this.dataDirOf(id);
    const parts = id === this.o.defaultFileSystemId ? ['localefs.json', 'fs', 'meta'].map((p) => path.join(dir, p)) : [dir];
    for (const p of parts) {
      await rename(p, path.join(trash, path.basename(p))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    this.o.log.info({ fileSystemId: id }, 'file system data moved to trash; removing it');
    void rm(trash, { recursive: true, force: true }).then(
      () => this.o.log.info({ fileSystemId: id }, 'file system data removed'),
      (err: unknown) => this.o.log.error({ err, fileSystemId: id, trash }, 'could not remove a deleted file system\'s data; remove the folder by hand'),
    );
  }

  async emptyFileSystemData(fs: FileSystem): Promise<number> {
    const { store } = await this.host(fs.fileSystemId);
    // through the store, so its index, caches and open files stay consistent with the disk
    const emptyDir = async (dirIno: number): Promise<number> => {
      let removed = 0;
      for (;;) {
        const page = await store.readdir(dirIno, 0, 1024);
        if (page.entries.length === 0) return removed;
        for (const e of page.entries) {
          if (e.stat.kind === 'dir') removed += await emptyDir(e.stat.ino);
          await store.remove(dirIno, e.name);
          removed++;
        }
      }
    };
    const removed = await emptyDir(store.rootIno);
    this.o.log.info({ fileSystemId: fs.fileSystemId, removed }, 'file system emptied (reset)');
    return removed;
  }

  /**
   * With --host 0.0.0.0 (a container) the default mount target's listener holds the NFS
   * port on every address, so no other target can bind it: those are served by that
   * listener instead, by the address the client connected to. (Behind `docker run -p`
   * every client arrives at the container's address, so they reach the default file
   * system; inside the container, or with --network host, each address reaches its own.)
   */
  private readonly routedByAddress = new Map<string, RoutedTarget>();

  private wildcardHolds(port: number): boolean {
    for (const l of this.listeners.values()) {
      const mt = this.o.model.mountTargets.get(l.mountTargetId);
      if (mt?.listenAddress !== undefined && l.servers.length > 0 && (l.servers[0]!.address() as net.AddressInfo | null)?.port === port) return true;
    }
    return false;
  }

  private async routeThroughWildcard(mt: MountTarget, host: FileSystemHost): Promise<void> {
    const addresses = [mt.ipAddress, ...(mt.ipv6Address !== undefined ? [mt.ipv6Address] : [])];
    for (const a of addresses) {
      if (this.routedByAddress.has(a)) throw Object.assign(new Error(`${a} is already a mount target's address`), { code: 'EADDRINUSE' });
      if (!isLocalAddress(a)) throw Object.assign(new Error(`${a} is no address of this machine`), { code: 'EADDRNOTAVAIL' });
    }
    const routed: RoutedTarget = { mt, host, cidrsAllow: cidrAllowList(mt.allowedCidrs) };
    for (const a of addresses) this.routedByAddress.set(a, routed);
    this.listeners.set(mt.mountTargetId, { mountTargetId: mt.mountTargetId, servers: [], sockets: new Set() });
    this.o.log.info({ mountTargetId: mt.mountTargetId, fileSystemId: mt.fileSystemId, addresses }, 'mount target served through the listener on all addresses');
  }

  async openMountTarget(mt: MountTarget): Promise<void> {
    if (this.listeners.has(mt.mountTargetId)) return;
    const host = await this.host(mt.fileSystemId);
    if (mt.listenAddress === undefined && this.wildcardHolds(mt.port ?? this.port)) return this.routeThroughWildcard(mt, host);
    const entry: MountTargetListener = { mountTargetId: mt.mountTargetId, servers: [], sockets: new Set() };
    const { model } = this.o;
    /** The target a connection is for: a routed one by the address it reached, else this one. */
    const own: RoutedTarget = { mt, host, cidrsAllow: cidrAllowList(mt.allowedCidrs) };
    const targetFor = (local: string): RoutedTarget => (mt.listenAddress !== undefined ? this.routedByAddress.get(local) : undefined) ?? own;
    // The mount target's security groups as they are at each connection: a rule changed
    // through the API applies to the next connection, open ones are not cut (as on AWS).
    const allow = (remote: string, local: string): boolean => {
      const target = targetFor(local);
      if (!target.cidrsAllow(remote)) return false;
      const current = model.mountTargets.get(target.mt.mountTargetId) ?? target.mt;
      return securityGroupsAdmit(current.securityGroups, (id) => model.securityGroups.get(id), remote, model.instances).admitted;
    };
    const credentials = model.credentials;
    try {
      for (const ep of this.endpoints(mt)) {
        const listener = createFrontListener({
          tls: this.o.tls,
          allow,
          verify: {
            // IAM mounts sign for the file system's region (the API makes file systems in any)
            regions: [model.fileSystems.get(mt.fileSystemId)?.region ?? model.region],
            defaultAccount: model.accountId,
            ...(credentials.size ? { credentials: (key: string) => credentials.get(key) } : {}),
          },
          log: this.o.log.child({ part: 'front' }),
          admit: (remote) => this.connections.admit(remote),
          onConnection: (socket, peer, admission) => {
            const { mt: target, host: targetHost } = targetFor(peer.localAddress);
            const sockets = this.listeners.get(target.mountTargetId)?.sockets ?? entry.sockets;
            // The file system as it is now: a policy put through the API applies to the next mount.
            const fs = model.fileSystems.get(target.fileSystemId);
            if (!fs) {
              socket.destroy();
              return;
            }
            sockets.add(socket);
            const { grant, audit } = authorizeConnection(peer, fs, model);
            const id = newConnectionId();
            const log = this.o.log.child({ conn: id, peer: `${peer.remoteAddress}:${peer.remotePort}` });
            const ctx: ConnectionContext = {
              id,
              remoteAddress: peer.remoteAddress,
              remotePort: peer.remotePort,
              grant,
              jail: grant.accessPoint ? new Jail(grant.accessPoint, grant.exportIndex, targetHost.store, this.audit.child({ conn: id, sourceIPAddress: peer.remoteAddress })) : undefined,
              log,
              // a connection that never carries a call (efs-utils' probe of the TLS port) is no mount
              onFirstCall: () => this.audit.info({ ...audit, mountTargetId: target.mountTargetId }, 'mount decision'),
            };
            const conn = new RpcConnection(socket, targetHost.router, ctx);
            admission?.attach(conn);
            log.info({ tls: peer.secure, mountTargetId: target.mountTargetId }, 'connection open');
            socket.on('close', () => {
              sockets.delete(socket);
              log.info('connection closed');
            });
          },
        });
        await new Promise<void>((resolve, reject) => {
          listener.once('error', reject);
          listener.listen(ep.port, ep.host, () => {
            listener.off('error', reject);
            resolve();
          });
        });
        listener.on('error', (err) => this.o.log.error({ err, mountTargetId: mt.mountTargetId }, 'listener error'));
        entry.servers.push(listener);
        if (this.port === 0) this.port = (listener.address() as net.AddressInfo).port;
      }
    } catch (err) {
      await closeListener(entry);
      throw err;
    }
    this.listeners.set(mt.mountTargetId, entry);
    this.o.log.info({ mountTargetId: mt.mountTargetId, fileSystemId: mt.fileSystemId, addresses: this.endpoints(mt) }, 'mount target listening');
  }

  async closeMountTarget(mt: MountTarget): Promise<void> {
    const entry = this.listeners.get(mt.mountTargetId);
    if (!entry) return;
    this.listeners.delete(mt.mountTargetId);
    for (const [a, r] of this.routedByAddress) if (r.mt.mountTargetId === mt.mountTargetId) this.routedByAddress.delete(a);
    await closeListener(entry);
    this.o.log.info({ mountTargetId: mt.mountTargetId }, 'mount target closed');
  }

  meteredSize(fs: FileSystem): { value: number; timestamp: number } {
    const now = Date.now() / 1000;
    let m = this.metered.get(fs.fileSystemId);
    if (!m) {
      m = { value: EMPTY_METERED_BYTES, timestamp: Math.floor(now), measuring: false, measured: false };
      this.metered.set(fs.fileSystemId, m);
    }
    if (!m.measuring && (!m.measured || now - m.timestamp >= METER_INTERVAL_SECONDS)) this.measure(fs.fileSystemId, m);
    return { value: m.value, timestamp: m.timestamp };
  }

  /** Walk the tree in the background and sum the file sizes (never on the request's path). */
  private measure(fileSystemId: string, m: Metered): void {
    m.measuring = true;
    let total = 0;
    const stream = fsWalk.walkStream(path.join(this.dataDirOf(fileSystemId), 'fs'), { stats: true, errorFilter: () => true });
    stream.on('data', (e: fsWalk.Entry) => {
      if (e.stats?.isFile()) total += e.stats.size;
    });
    const done = () => {
      m.measuring = false;
      m.measured = true;
      m.value = EMPTY_METERED_BYTES + total;
      m.timestamp = Math.floor(Date.now() / 1000);
    };
    stream.on('end', done);
    stream.on('error', () => {
      m.measuring = false;
    });
  }

  /**
   * Finish what deletions left behind: the trash, and the data of a file system
   * whose deletion was saved but not yet removed (it carries the mark). Data
   * without the mark that model.json does not name is kept, and reported.
   */
  async collectGarbage(): Promise<void> {
    await rm(path.join(this.o.dataDir, 'trash'), { recursive: true, force: true });
    let names: string[] = [];
    try {
      names = await readdir(path.join(this.o.dataDir, 'file-systems'));
    } catch {
      return;
    }
    for (const name of names) {
      const dir = path.join(this.o.dataDir, 'file-systems', name);
      const marked = await access(path.join(dir, DELETING_MARK)).then(
        () => true,
        () => false,
      );
      if (this.o.model.fileSystems.has(name)) {
        // the deletion was never saved: the file system lives on
        if (marked) await rm(path.join(dir, DELETING_MARK), { force: true });
      } else if (marked) {
        this.o.log.info({ fileSystemId: name }, 'removing the data of a deleted file system');
        await rm(dir, { recursive: true, force: true });
      } else {
        this.o.log.warn({ dir }, 'data of a file system that model.json does not know: restore model.json from a backup, or remove the folder');
      }
    }
  }

  /** Every address a mount target listens on now (the health endpoint's view). */
  listening(): { mountTargetId: string; fileSystemId: string; address: string; port: number }[] {
    const out: { mountTargetId: string; fileSystemId: string; address: string; port: number }[] = [];
    for (const l of this.listeners.values()) {
      const fileSystemId = this.o.model.mountTargets.get(l.mountTargetId)?.fileSystemId ?? '';
      for (const s of l.servers) {
        const a = s.address();
        if (a && typeof a === 'object') out.push({ mountTargetId: l.mountTargetId, fileSystemId, address: a.address, port: a.port });
      }
    }
    return out;
  }

  /** Addresses of the first listener (what `npm start` reports). */
  firstAddress(): net.AddressInfo | undefined {
    for (const l of this.listeners.values()) {
      const a = l.servers[0]?.address();
      if (a && typeof a === 'object') return a;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.connections.close();
    await Promise.all([...this.listeners.values()].map((l) => closeListener(l)));
    this.listeners.clear();
    for (const h of this.hosts.values()) {
      const host = await h.catch(() => undefined);
      if (!host) continue;
      await host.state.shutdown();
      await host.store.shutdown();
    }
    this.hosts.clear();
  }
}

async function closeListener(entry: MountTargetListener): Promise<void> {
  // close() waits for open connections, so they are destroyed right after asking
  const closed = entry.servers.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
  for (const l of entry.servers) l.destroyPending();
  for (const s of entry.sockets) s.destroy();
  await Promise.all(closed);
}

/** Whether this machine has `address` (all of 127.0.0.0/8 is local on Linux). */
function isLocalAddress(address: string): boolean {
  if (/^127\./.test(address) || address === '::1') return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address));
}
