/**
 * The EFS management API over HTTP (REST-JSON under /2015-02-01/): routes a
 * request to its operation, reads a bounded body, checks the SigV4 signature,
 * runs the handler, answers with AWS's success or error format, and writes
 * one CloudTrail-shaped audit record per call.
 */
import http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ModelValidationError } from '../model/validate.js';
import { PolicyError } from '../model/policy-document.js';
import type { Credential } from '../model/types.js';
import { AUDIT_ERROR_CODE, ApiError } from './errors.js';
import { accessDeniedMessage, authorizeOperation } from '../policy/api-authz.js';
import type { Caller, ControlPlane } from './control-plane.js';
import type { ApiOperation, ApiRequest } from './operation.js';
import { BodyTooLarge, MAX_BODY_BYTES, auditRecord, authenticate, readBody } from './request-common.js';
import { FILE_SYSTEM_OPS } from './ops/file-systems.js';
import { ACCESS_POINT_OPS } from './ops/access-points.js';
import { MOUNT_TARGET_OPS } from './ops/mount-targets.js';
import { POLICY_OPS } from './ops/policies.js';
import { TAG_OPS } from './ops/tags.js';
import { handleLocalEndpoint, type HealthSource } from './local-endpoints.js';
import { createEc2Handler, isEc2Path } from './ec2/handler.js';

export const API_PREFIX = '/2015-02-01';
export const ALL_OPERATIONS: ApiOperation[] = [...FILE_SYSTEM_OPS, ...ACCESS_POINT_OPS, ...MOUNT_TARGET_OPS, ...POLICY_OPS, ...TAG_OPS];

interface Route {
  op: ApiOperation;
  /** Literal segments, or `{Label}`. */
  segments: string[];
  literals: number;
}

const segmentsOf = (path: string): string[] => path.split('/').filter((s) => s !== '');

function compileRoutes(ops: ApiOperation[]): Route[] {
  const routes = ops.map((op) => {
    const segments = segmentsOf(op.path);
    return { op, segments, literals: segments.filter((s) => !s.startsWith('{')).length };
  });
  // `/file-systems/replication-configurations` must win over `/file-systems/{FileSystemId}`
  return routes.sort((a, b) => b.literals - a.literals);
}

function match(routes: Route[], method: string, rawSegments: string[]): { op: ApiOperation; labels: Record<string, string> } | 'method' | undefined {
  let pathMatched = false;
  for (const r of routes) {
    if (r.segments.length !== rawSegments.length) continue;
    const labels: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < r.segments.length && ok; i++) {
      const seg = r.segments[i]!;
      const raw = rawSegments[i]!;
      if (seg.startsWith('{')) {
        try {
          labels[seg.slice(1, -1)] = decodeURIComponent(raw);
        } catch {
          ok = false;
        }
      } else ok = seg === raw;
    }
    if (!ok) continue;
    pathMatched = true;
    if (r.op.method === method) return { op: r.op, labels };
  }
  return pathMatched ? 'method' : undefined;
}

function parseQuery(rawQuery: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(rawQuery.replace(/\+/g, '%2B'))) {
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/** CloudTrail's requestParameters: path labels, query and body members, in lowerCamel. */
function requestParameters(labels: Record<string, string>, query: Map<string, string[]>, body: unknown): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(labels)) out[lowerFirst(k)] = v;
  for (const [k, v] of query) out[lowerFirst(k)] = v.length === 1 ? v[0] : v;
  if (body && typeof body === 'object' && !Array.isArray(body)) for (const [k, v] of Object.entries(body)) out[lowerFirst(k)] = v;
  return Object.keys(out).length ? out : null;
}

export interface ApiServerOptions {
  cp: ControlPlane;
  /** Known access keys: signatures are verified. Empty = any well-formed signature, caller = the account root. */
  credentials: Map<string, Credential>;
  log: Logger;
  /** What GET /_localefs/health reports about the NFS side. */
  health?: HealthSource;
  /** POST /_localefs/reset allowed (--enable-reset). */
  enableReset?: boolean;
}

export function createApiServer(o: ApiServerOptions): http.Server {
  const routes = compileRoutes(ALL_OPERATIONS);
  const { cp } = o;
  const audit = o.log.child({ part: 'audit' });
  const resetSource = o.health
    ? { cp, defaultFileSystemId: o.health.defaultFileSystemId, enabled: o.enableReset === true, credentialsConfigured: o.credentials.size > 0 }
    : undefined;
  // with credentials, IAM decides every call; without, every caller is the account root
  const enforce = o.credentials.size > 0;
  const ec2 = createEc2Handler({ cp, credentials: o.credentials, log: o.log });

  /** IAM for the call (identity policies of the caller, the operation's condition keys); throws AccessDeniedException. */
  function authorize(region: string, op: ApiOperation, apiReq: ApiRequest, identityPolicies: Credential['identityPolicies'], sourceIp: string, secureTransport: boolean): void {
    const d = authorizeOperation(op, apiReq, {
      enforce,
      callerArn: apiReq.caller.arn,
      callerAccountId: apiReq.caller.accountId,
      ...(identityPolicies ? { identityPolicies } : {}),
      model: cp.model,
      region,
      sourceIp,
      secureTransport,
      nowMs: Date.now(),
    });
    if (d.allowed) return;
    throw new ApiError('AccessDeniedException', accessDeniedMessage(apiReq.caller.arn, d.action, d.resourceArn, d.reason));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (handleLocalEndpoint(req, res, rawPath, o.health, resetSource)) return;
    // the EC2 security group calls (query protocol at the root) share the endpoint, as `aws ec2 --endpoint-url` expects
    if (isEc2Path(rawPath)) return ec2(req, res, requestId);
    const query = parseQuery(q < 0 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';
    const rawSegments = segmentsOf(rawPath);
    const found = rawSegments[0] === API_PREFIX.slice(1) ? match(routes, method, rawSegments.slice(1)) : undefined;
    const op = typeof found === 'object' ? found.op : undefined;
    const labels = typeof found === 'object' ? found.labels : {};
    let body: unknown;
    let caller: Caller | undefined;
    let region = cp.model.region;
    let accessKeyId: string | undefined;
    let status = 500;
    let result: Record<string, unknown> | undefined;
    let error: ApiError | undefined;
    try {
      let raw: Buffer;
      try {
        raw = await readBody(req, MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw new ApiError('RequestEntityTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
        throw err;
      }
      // any region: the request acts in the one its signature is scoped to (ControlPlane.inRegion)
      const auth = authenticate({ method, rawUrl, headers: req.headers, body: raw }, o.credentials, cp.model.accountId);
      region = auth.info.region;
      accessKeyId = auth.info.accessKeyId;
      caller = auth.caller;
      const cred = auth.credential;
      if (!op) {
        if (found === 'method') throw new ApiError('BadRequest', `${method} is not allowed on ${rawPath}.`);
        throw new ApiError('UnknownOperationException', `No EFS operation at ${method} ${rawPath}; paths start with ${API_PREFIX}/.`);
      }
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new ApiError('BadRequest', 'The request body is not valid JSON.');
        }
      }
      const apiReq: ApiRequest = { labels, query, body, caller };
      // the API port answers HTTPS too (listener.ts): a TLS socket is aws:SecureTransport
      authorize(region, op, apiReq, cred?.identityPolicies, req.socket.remoteAddress ?? '', (req.socket as TLSSocket).encrypted === true);
      result = await op.handler(cp.inRegion(region), apiReq);
      status = op.status;
    } catch (err) {
      error = toApiError(err, o.log, op?.name);
      status = error.status;
    }
    const headers: Record<string, string> = { 'x-amzn-RequestId': requestId, 'Content-Type': 'application/json' };
    let payload = '';
    if (error) {
      headers['x-amzn-ErrorType'] = error.code;
      payload = JSON.stringify({ ErrorCode: error.code, Message: error.message, ...error.extra });
    } else if (result !== undefined) payload = JSON.stringify(result);
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    if (error?.code === 'RequestEntityTooLarge') headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(payload);
    audit.info(
      auditRecord({
        caller,
        accessKeyId,
        eventSource: 'elasticfilesystem.amazonaws.com',
        eventName: op?.name ?? 'Unknown',
        region,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: req.headers['user-agent'] ?? '',
        requestParameters: requestParameters(labels, query, body),
        responseElements: error ? null : (result ?? null),
        ...(error ? { error: { code: AUDIT_ERROR_CODE[error.code] ?? error.code, message: error.message } } : {}),
        requestId,
        readOnly: op?.readOnly ?? true,
        accountId: cp.model.accountId,
        httpStatus: status,
      }),
      'api call',
    );
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log.error({ err }, 'API request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  return server;
}

function toApiError(err: unknown, log: Logger, opName: string | undefined): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ModelValidationError) return new ApiError('BadRequest', err.message);
  if (err instanceof PolicyError) return new ApiError(err.code, err.message);
  log.error({ err, operation: opName }, 'internal error in an API operation');
  return new ApiError('InternalServerError', `Internal error in ${opName ?? 'the request'}: ${(err as Error).message ?? String(err)}. The server log has details.`);
}
