/**
 * Starts everything: the model (saved state merged with --config), the
 * file systems and their mount-target listeners (fleet.ts), and the EFS
 * management API. The data directory's own file system is the default one;
 * it always has a mount target on --host unless the config declares its
 * mount targets.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { emptyConfig, resolveModel } from './model/config.js';
import { loadSavedModel, mergeSaved, saveModel } from './model/persist.js';
import {
  derivedId,
  newMountTarget,
  type Credential,
  type Model,
  type ModelConfig,
  type MountTarget,
} from './model/types.js';
import { ensureTlsMaterial } from './transport/ca.js';
import { Fleet, loadIdentity } from './fleet.js';
import { ControlPlane } from './api/control-plane.js';
import { createApiServer } from './api/http.js';
import { AWS_REGIONS } from './protocol/aws-regions.js';
import { createApiListener, type ApiListener } from './api/listener.js';
import { adoptUnknownSecurityGroups } from './model/security-groups.js';
import type { ConnectionTableStats } from './rpc/connection-table.js';
import { readFdLimits, resolveLimits, type ResolvedLimits } from './limits.js';
import { isWildcard } from './util/cidr.js';

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
  /** Serve the EFS management API here (`--api-host`, `--api-port`); port 0 picks a free one. */
  api?: { host: string; port: number };
  /** Allow POST /_localefs/reset (`--enable-reset`). */
  enableReset?: boolean;
}

export interface RunningServer {
  readonly fileSystemId: string;
  /** The local CA that signed the server certificate: what efs-utils needs as cafile= / stunnel_cafile. */
  readonly caFile: string;
  /** NFS port and the address of the first mount target. */
  readonly port: number;
  readonly host: string;
  /** `http://host:port` of the management API, when it is served. */
  readonly apiEndpoint?: string;
  readonly model: Model;
  /** The resource limits in force. */
  readonly limits: ResolvedLimits;
  /** Client connections: open, refused, evicted, timed out. */
  connectionStats(): ConnectionTableStats;
  close(): Promise<void>;
}

/**
 * The address a wildcard listener reports as its mount target's IpAddress: the machine's
 * first external IPv4 address (a container's address on its network, what a compose file
 * fixes), else loopback. 0.0.0.0 is no address a client or DescribeMountTargets can use.
 */
export function advertisedAddress(host: string): string {
  if (!isWildcard(host)) return host;
  const v6 = host === '::';
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return v6 ? '::1' : '127.0.0.1';
}

/** The default file system's mount target on --host (its id is stable across restarts). */
function defaultMountTarget(model: Model, fileSystemId: string, host: string): MountTarget {
  const mountTargetId = derivedId('fsmt', `${fileSystemId}/default`);
  const mt = newMountTarget(model, { mountTargetId, fileSystemId, ipAddress: advertisedAddress(host), allowedCidrs: ['0.0.0.0/0', '::/0'] });
  if (isWildcard(host)) mt.listenAddress = host;
  return mt;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { log } = opts;
  await mkdir(opts.dataDir, { recursive: true });
  const identity = await loadIdentity(opts.dataDir);
  const defaultFsId = identity.fileSystemId;
  const config = opts.config ?? emptyConfig();
  const readLimits = readFdLimits();
  if (!readLimits) log.warn('cannot read /proc/self/limits; assuming 1024 open files');
  const fd = readLimits ?? { soft: 1024, hard: 1024 };
  const limits = resolveLimits(config.limits ?? {}, opts.leaseSeconds, fd.soft);
  log.info(
    {
      fdLimit: fd.soft,
      maxConnections: limits.connections.maxConnections,
      maxConnectionsPerSource: limits.connections.maxConnectionsPerSource,
      recordTimeoutSeconds: limits.connections.recordTimeoutMs / 1000,
      idleTimeoutSeconds: limits.connections.idleTimeoutMs / 1000,
      openFileDescriptors: limits.openFileDescriptors,
      maxOpensPerClient: limits.maxOpensPerClient,
      maxOpens: limits.maxOpens,
    },
    'limits in force (set them in the config file, section limits)',
  );

  // The model: the config's declarations, then what the API saved.
  const model = resolveModel(config, { defaultFileSystemId: defaultFsId, ...(opts.credentials ? { credentials: opts.credentials } : {}) });
  const stateFile = path.join(opts.dataDir, 'model.json');
  // Targets the operator named (--host, --config) must come up; API-made ones may have lost their address.
  const required = new Set(model.mountTargets.keys());
  mergeSaved(model, await loadSavedModel(stateFile), config, { defaultFileSystemId: defaultFsId });
  for (const groupId of adoptUnknownSecurityGroups(model)) {
    log.warn({ groupId }, 'a mount target names a security group this data directory did not hold (saved before security groups filtered connections); it now exists and admits all traffic, as before: change its rules with aws ec2 authorize/revoke-security-group-ingress');
  }
  const declaresDefaultTargets = config.mountTargets.some((d) => (d.fileSystemId ?? defaultFsId) === defaultFsId);
  if (!declaresDefaultTargets) {
    const mt = defaultMountTarget(model, defaultFsId, opts.host);
    const taken = [...model.mountTargets.values()].find((m) => m.mountTargetId !== mt.mountTargetId && (m.ipAddress === mt.ipAddress || m.ipv6Address === mt.ipAddress || m.ipAddress === opts.host));
    if (taken) log.warn({ mountTargetId: taken.mountTargetId, host: opts.host }, 'another mount target has the --host address; the default file system gets no mount target there');
    else {
      model.mountTargets.set(mt.mountTargetId, mt);
      required.add(mt.mountTargetId);
    }
  }

  const tlsFiles = await ensureTlsMaterial({
    dir: path.join(opts.dataDir, 'tls'),
    regions: [...new Set([model.region, ...AWS_REGIONS])],
    // the *.efs.<region> wildcard covers every other file system, also those the API makes later;
    // naming them all would re-issue the certificate at each start after a CreateFileSystem
    fileSystemIds: [defaultFsId],
    log: log.child({ part: 'tls' }),
  });
  const fleet = new Fleet({
    dataDir: opts.dataDir,
    defaultFileSystemId: defaultFsId,
    model,
    port: opts.port,
    leaseSeconds: opts.leaseSeconds,
    tls: { cert: tlsFiles.cert, key: tlsFiles.key },
    limits,
    log,
  });
  await fleet.collectGarbage();
  let savedText: string;
  try {
    // The default file system's targets first, so that with --port 0 they pick the port the others share.
    const targets = [...model.mountTargets.values()].sort((a, b) => Number(b.fileSystemId === defaultFsId) - Number(a.fileSystemId === defaultFsId));
    for (const mt of targets) {
      try {
        await fleet.openMountTarget(mt);
      } catch (err) {
        if (required.has(mt.mountTargetId)) throw err;
        log.error({ err, mountTargetId: mt.mountTargetId, ipAddress: mt.ipAddress }, 'mount target could not listen; delete it or free its address');
      }
    }
    savedText = await saveModel(stateFile, model);
  } catch (err) {
    await fleet.close();
    throw err;
  }

  let api: http.Server | undefined;
  let apiListener: ApiListener | undefined;
  let apiEndpoint: string | undefined;
  if (opts.api) {
    const cp = new ControlPlane({ model, stateFile, savedText, effects: fleet, log: log.child({ part: 'api' }) });
    api = createApiServer({ cp, credentials: model.credentials, log, health: { model, defaultFileSystemId: defaultFsId, listening: () => fleet.listening() }, ...(opts.enableReset ? { enableReset: true } : {}) });
    // HTTP and HTTPS on the one port (src/api/listener.ts)
    const server = createApiListener({ http: api, tls: { cert: tlsFiles.cert, key: tlsFiles.key }, log: log.child({ part: 'api' }) });
    apiListener = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.api!.port, opts.api!.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await fleet.close();
      throw Object.assign(err as Error, { apiListen: true });
    }
    const a = server.address() as net.AddressInfo;
    apiEndpoint = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  const first = fleet.firstAddress();
  return {
    fileSystemId: defaultFsId,
    port: first?.port ?? fleet.port,
    host: first?.address ?? opts.host,
    caFile: tlsFiles.caFile,
    model,
    limits,
    connectionStats: () => fleet.connections.stats(),
    ...(apiEndpoint ? { apiEndpoint } : {}),
    async close() {
      if (api && apiListener) {
        const s = api;
        const l = apiListener;
        await new Promise<void>((resolve) => {
          l.close(() => resolve());
          s.closeAllConnections();
          l.destroyAll();
        });
      }
      await fleet.close();
    },
  };
}
