/**
 * localefs' own endpoints beside the EFS API, under /_localefs/ (the prefix
 * LocalStack users know as /_localstack/): no signature needed, never audited
 * as API calls. `GET /_localefs/health` is what a Docker HEALTHCHECK or a
 * compose `depends_on: condition: service_healthy` polls.
 */
import type http from 'node:http';
import { LOCALEFS_VERSION } from '../version.js';
import type { Model } from '../model/types.js';
import type { ControlPlane } from './control-plane.js';
import { resetToDefault } from './reset.js';

export const LOCAL_PREFIX = '/_localefs';

/** What the server tells the health endpoint about its NFS side. */
export interface HealthSource {
  model: Model;
  defaultFileSystemId: string;
  /** Addresses mount targets listen on now. */
  listening(): { mountTargetId: string; fileSystemId: string; address: string; port: number }[];
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  version: string;
  defaultFileSystemId: string;
  nfs: { status: 'running' | 'not listening'; listeners: { mountTargetId: string; fileSystemId: string; address: string; port: number }[] };
  api: { status: 'running' };
  fileSystems: { fileSystemId: string; name?: string; lifeCycleState: string; mountTargets: number }[];
}

export function healthReport(src: HealthSource): HealthReport {
  const listeners = src.listening();
  const targets = new Map<string, number>();
  for (const mt of src.model.mountTargets.values()) targets.set(mt.fileSystemId, (targets.get(mt.fileSystemId) ?? 0) + 1);
  const nfsUp = listeners.length > 0;
  return {
    status: nfsUp ? 'healthy' : 'unhealthy',
    version: LOCALEFS_VERSION,
    defaultFileSystemId: src.defaultFileSystemId,
    nfs: { status: nfsUp ? 'running' : 'not listening', listeners },
    api: { status: 'running' },
    fileSystems: [...src.model.fileSystems.values()].map((fs) => ({
      fileSystemId: fs.fileSystemId,
      ...(fs.name !== undefined ? { name: fs.name } : {}),
      lifeCycleState: fs.lifeCycleState,
      mountTargets: targets.get(fs.fileSystemId) ?? 0,
    })),
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) });
  res.end(payload);
}

/** POST /_localefs/reset: allowed only when the operator enabled it and no credentials are configured. */
export interface ResetSource {
  cp: ControlPlane;
  defaultFileSystemId: string;
  enabled: boolean;
  /** With credentials the API is meant to be guarded: an unsigned wipe would bypass IAM. */
  credentialsConfigured: boolean;
}

async function reset(res: http.ServerResponse, src: ResetSource | undefined): Promise<void> {
  if (!src?.enabled) {
    send(res, 403, { error: 'ResetDisabled', message: 'Reset is off: start localefs with --enable-reset (LOCALEFS_ENABLE_RESET=1) to allow POST /_localefs/reset.' });
    return;
  }
  if (src.credentialsConfigured) {
    send(res, 403, { error: 'ResetDisabled', message: 'Reset is refused while --credentials is set: it would wipe every file system without a signature.' });
    return;
  }
  const summary = await resetToDefault(src.cp, src.defaultFileSystemId);
  src.cp.log.warn({ ...summary }, 'reset: back to a single empty default file system');
  send(res, 200, { status: 'reset', defaultFileSystemId: src.defaultFileSystemId, ...summary });
}

/** Answers a /_localefs/ request; false when the path is not one of ours. */
export function handleLocalEndpoint(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rawPath: string,
  health: HealthSource | undefined,
  resetSource?: ResetSource,
): boolean {
  if (rawPath !== LOCAL_PREFIX && !rawPath.startsWith(`${LOCAL_PREFIX}/`)) return false;
  const method = req.method ?? 'GET';
  req.resume(); // no body is read from these endpoints
  if (rawPath === `${LOCAL_PREFIX}/health`) {
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, { error: 'MethodNotAllowed', message: `${method} is not allowed on ${rawPath}; use GET.` });
      return true;
    }
    if (!health) {
      send(res, 200, { status: 'healthy', version: LOCALEFS_VERSION, api: { status: 'running' } });
      return true;
    }
    const report = healthReport(health);
    send(res, report.status === 'healthy' ? 200 : 503, report);
    return true;
  }
  if (rawPath === `${LOCAL_PREFIX}/reset`) {
    if (method !== 'POST') {
      send(res, 405, { error: 'MethodNotAllowed', message: `${method} is not allowed on ${rawPath}; use POST.` });
      return true;
    }
    reset(res, resetSource).catch((err: unknown) => {
      resetSource?.cp.log.error({ err }, 'reset failed');
      if (!res.headersSent) send(res, 500, { error: 'ResetFailed', message: `Reset failed: ${(err as Error).message}. The server log has details.` });
    });
    return true;
  }
  send(res, 404, { error: 'NotFound', message: `No localefs endpoint at ${rawPath}; there are ${LOCAL_PREFIX}/health and ${LOCAL_PREFIX}/reset.` });
  return true;
}
