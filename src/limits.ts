/**
 * The server's resource limits: what the config's `limits` section may set,
 * the defaults derived from the lease and the process's fd limit, and the
 * raising of that fd limit at start.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionTableLimits } from './rpc/connection-table.js';
import type { LimitsConfig } from './model/types.js';

export interface ResolvedLimits {
  connections: ConnectionTableLimits;
  openFileDescriptors: number;
  maxOpensPerClient: number;
  maxOpens: number;
  /** The process's fd limit in force (after raising the soft limit to the hard one). */
  fdLimit: number;
}

/** EFS's documented limits these defaults follow (connections per file system, open files per client). */
const EFS_MAX_CONNECTIONS = 25_000;
const EFS_MAX_OPENS_PER_CLIENT = 32_768;

/** Defaults from the lease and the fd limit; the config's values win. */
export function resolveLimits(config: LimitsConfig, leaseSeconds: number, fdLimit: number): ResolvedLimits {
  // connections take at most half the fds, each file system's store at most an eighth: the rest is headroom
  const maxConnections = config.maxConnections ?? Math.max(16, Math.min(EFS_MAX_CONNECTIONS, Math.floor(fdLimit / 2)));
  return {
    connections: {
      maxConnections,
      maxConnectionsPerSource: config.maxConnectionsPerSource ?? Math.min(256, maxConnections),
      recordTimeoutMs: (config.recordTimeoutSeconds ?? 30) * 1000,
      // a client holding a lease renews it within the lease; half a lease more of slack for slow clients
      idleTimeoutMs: (config.idleTimeoutSeconds ?? Math.ceil(leaseSeconds * 1.5)) * 1000,
      evictIdleAfterMs: (config.evictIdleSeconds ?? 10) * 1000,
    },
    openFileDescriptors: config.openFileDescriptors ?? Math.max(64, Math.min(4096, Math.floor(fdLimit / 8))),
    maxOpensPerClient: config.maxOpensPerClient ?? EFS_MAX_OPENS_PER_CLIENT,
    maxOpens: config.maxOpens ?? 262_144,
    fdLimit,
  };
}

/**
 * The soft and hard RLIMIT_NOFILE of this process (Linux /proc; elsewhere unknown). Node
 * itself raises the soft limit to the hard one when it starts, so there is nothing to raise.
 */
export function readFdLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line?.match(/^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/);
    if (!m) return undefined;
    const n = (v: string) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}
