/**
 * Shared helpers of the EFS management API tests: a test server with the API
 * on, EFSClients (the real @aws-sdk/client-efs) pointed at it, error checks,
 * a small SigV4 signer for hand-made requests, TCP probes and the API audit
 * lines.
 */
import { expect } from 'vitest';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EFSClient, EFSServiceException } from '@aws-sdk/client-efs';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsClient, NfsStatusError } from '../../src/client/nfs-client.js';
import type { Credential, ModelConfig } from '../../src/model/types.js';
import { startTestServer, type TestServer } from './harness.js';
import { makeClientCert } from '../helpers/efs-client-cert.js';
import { queryString, sdkSign } from '../helpers/sdk-signer.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
export const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;
export const FS_ID = /^fs-[0-9a-f]{17}$/;
export const AP_ID = /^fsap-[0-9a-f]{17}$/;
export const MT_ID = /^fsmt-[0-9a-f]{17}$/;
/** Subnets: any subnet-[0-9a-f]{8,40} exists, each one its own Availability Zone. */
export const SUBNET_A = 'subnet-0123456789abcdef0';
export const SUBNET_B = 'subnet-0123456789abcdef1';
export const SUBNET_C = 'subnet-0123456789abcdef2';
export const SUBNET_D = 'subnet-0123456789abcdef3';
/** A well-formed id nothing carries. */
export const NO_FS = 'fs-0000000000000000f';
export const NO_AP = 'fsap-0000000000000000f';
export const NO_MT = 'fsmt-0000000000000000f';

export const fsArn = (id: string, account = ACCOUNT): string => `arn:aws:elasticfilesystem:${REGION}:${account}:file-system/${id}`;
export const apArn = (id: string, account = ACCOUNT): string => `arn:aws:elasticfilesystem:${REGION}:${account}:access-point/${id}`;

/** A test server with the management API on (apiEndpoint 'http://127.0.0.1:PORT'; fileSystemId = the default file system). */
export type ApiTestServer = TestServer;

export interface ApiServerOptions {
  credentials?: Map<string, Credential>;
  config?: ModelConfig;
  /** Every pino JSON line of the server is pushed here. */
  logLines?: string[];
}

export async function startApiServer(o: ApiServerOptions = {}): Promise<ApiTestServer> {
  const ts = await startTestServer({ api: true, ...o });
  if (!ts.apiEndpoint.startsWith('http://')) throw new Error('the test server runs no management API');
  return ts;
}

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const TEST_KEYS: Keys = { accessKeyId: 'test', secretAccessKey: 'test' };

/** An EFSClient for the server's API endpoint (read at call time, so after restart() make a new one). No retries: a 429 or 5xx is the answer under test. */
export function efsClient(ts: ApiTestServer, credentials: Keys = TEST_KEYS): EFSClient {
  return new EFSClient({ endpoint: ts.apiEndpoint, region: REGION, credentials, maxAttempts: 1 });
}

/** The EFS error a call failed with (fails the test if it succeeded or failed otherwise). */
export async function rejection(p: Promise<unknown>): Promise<EFSServiceException> {
  let result: unknown;
  try {
    result = await p;
  } catch (err) {
    if (err instanceof EFSServiceException) return err;
    throw err;
  }
  throw new Error(`expected the call to fail, it succeeded with ${JSON.stringify(result)}`);
}

type ErrorClass<T> = abstract new (...args: never[]) => T;

/** Checks that the call fails with the given modeled exception class and HTTP status, and returns the exception. */
export async function expectError<T extends EFSServiceException>(p: Promise<unknown>, cls: ErrorClass<T>, status: number): Promise<T> {
  const err = await rejection(p);
  const what = `${err.name} (${err.$metadata.httpStatusCode}): ${err.message}`;
  expect(err, what).toBeInstanceOf(cls);
  expect(err.$metadata.httpStatusCode, what).toBe(status);
  // the modeled ErrorCode member comes from the JSON body
  expect((err as unknown as { ErrorCode?: string }).ErrorCode, what).toBe(err.name);
  return err as T;
}

/** Checks an error by its code (for codes the EFS model does not declare, e.g. the authentication ones). */
export async function expectErrorCode(p: Promise<unknown>, code: string, status: number): Promise<EFSServiceException> {
  const err = await rejection(p);
  const what = `${err.name} (${err.$metadata.httpStatusCode}): ${err.message}`;
  expect(err.name, what).toBe(code);
  expect(err.$metadata.httpStatusCode, what).toBe(status);
  return err;
}

export const token = (prefix = 't'): string => `${prefix}-${randomUUID()}`;

// ---------------------------------------------------------------------------
// NFS side
// ---------------------------------------------------------------------------

/** NFS4_OK if the promise resolves, else the NFS status it failed with. */
export async function nfsStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return N.NFS4_OK;
  } catch (err) {
    if (err instanceof NfsStatusError) return err.status;
    throw err;
  }
}

/** Outcome of a TCP connect. */
export function tcpProbe(host: string, port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ECONNRESET') resolve('refused');
      else reject(err);
    });
  });
}

/** An NFS client to host:port (plain AUTH_SYS root unless told), closed by the caller's list. */
export async function nfsClient(
  host: string,
  port: number,
  opened: NfsClient[],
  opts: { tls?: { caFile: string; fsId: string; accessPoint?: string }; uid?: number; timeoutMs?: number } = {},
): Promise<NfsClient> {
  const tls = opts.tls
    ? {
        ca: readFileSync(opts.tls.caFile),
        servername: 'localhost',
        ...makeClientCert({ fsId: opts.tls.fsId, ...(opts.tls.accessPoint ? { ap: opts.tls.accessPoint } : {}) }),
      }
    : undefined;
  const c = await NfsClient.connect({
    host,
    port,
    timeoutMs: opts.timeoutMs ?? 20000,
    ...(tls ? { tls } : {}),
    ...(opts.uid !== undefined ? { cred: { flavor: 'sys' as const, uid: opts.uid, gid: opts.uid, gids: [], machinename: 'api-test' } } : {}),
  });
  opened.push(c);
  return c;
}

export async function closeAll(clients: NfsClient[]): Promise<void> {
  for (const c of clients.splice(0)) await c.disconnect().catch(() => undefined);
}

/** The local CA the server made under DATA/tls/ (what efs-utils is given as cafile=). */
export const caFileOf = (ts: TestServer): string => path.join(ts.dataDir, 'tls', 'ca.pem');

// ---------------------------------------------------------------------------
// Hand-made requests (SigV4 signed or not)
// ---------------------------------------------------------------------------

export interface RawRequest {
  method: string;
  /** Path below the endpoint, already URI-encoded, e.g. '/2015-02-01/file-systems'. */
  path: string;
  query?: Record<string, string | string[]>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sign with these keys (SigV4, service elasticfilesystem); unsigned when absent. */
  sign?: Keys & { region?: string; date?: Date };
  /** Changes the request after it was signed (to check that the signature covers it). */
  afterSign?: (req: { url: string; headers: Record<string, string>; body: string }) => void;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Sends a request with fetch, optionally signed by the SDK's SigV4 signer. */
export async function rawRequest(ts: ApiTestServer, r: RawRequest): Promise<RawResponse> {
  const url = new URL(ts.apiEndpoint);
  const query = queryString(r.query ?? {});
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  const headers: Record<string, string> = { ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(r.headers ?? {}) };
  let pathAndQuery = r.path + (query ? `?${query}` : '');
  if (r.sign) {
    const signed = await sdkSign({
      method: r.method,
      host: url.host,
      path: r.path,
      ...(r.query ? { query: r.query } : {}),
      ...(r.body !== undefined ? { body } : {}),
      headers,
      accessKeyId: r.sign.accessKeyId,
      secretAccessKey: r.sign.secretAccessKey,
      ...(r.sign.sessionToken ? { sessionToken: r.sign.sessionToken } : {}),
      ...(r.sign.region ? { region: r.sign.region } : {}),
      ...(r.sign.date ? { date: r.sign.date } : {}),
    });
    pathAndQuery = signed.rawUrl;
    Object.assign(headers, signed.headers);
    delete headers['host']; // fetch sets it
  }
  const req = { url: `${ts.apiEndpoint}${pathAndQuery}`, headers, body };
  r.afterSign?.(req);
  const res = await fetch(req.url, {
    method: r.method,
    headers: req.headers,
    ...(req.body !== '' ? { body: req.body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// ---------------------------------------------------------------------------
// Audit lines of API calls
// ---------------------------------------------------------------------------

export interface ApiAudit {
  part: 'audit';
  msg: 'api call';
  eventName: string;
  eventSource: string;
  requestID: string;
  requestParameters?: unknown;
  responseElements?: unknown;
  errorCode?: string;
  sourceIPAddress: string;
  userIdentity: { type: string; arn: string; accountId: string; accessKeyId: string };
  [k: string]: unknown;
}

export function apiAudits(lines: string[]): ApiAudit[] {
  const out: ApiAudit[] = [];
  for (const line of lines) {
    if (!line.includes('"api call"')) continue;
    const rec = JSON.parse(line) as ApiAudit;
    if (rec.part === 'audit' && rec.msg === 'api call') out.push(rec);
  }
  return out;
}

/** The audit lines of one request, once the server has written at least one (log lines may arrive a moment after the response). */
export async function auditOf(lines: string[], requestId: string | undefined): Promise<ApiAudit[]> {
  expect(requestId, 'the response carries x-amzn-RequestId').toMatch(/\S/);
  for (let i = 0; i < 200; i++) {
    const found = apiAudits(lines).filter((a) => a.requestID === requestId);
    if (found.length > 0) {
      await new Promise((r) => setTimeout(r, 20));
      return apiAudits(lines).filter((a) => a.requestID === requestId);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return [];
}
