/**
 * SigV4 for API requests (the `Authorization: AWS4-HMAC-SHA256 ...` header the
 * AWS CLI and SDKs send). Without known credentials any well-formed signature
 * is accepted, as local clouds do; with them the signature is recomputed and
 * compared. Failures carry the error AWS answers with.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { deriveSigningKey, EFS_SIGV4_SERVICE, type CredentialEntry } from '../transport/sigv4.js';
import { ApiError } from './errors.js';
import { REGION_RE } from '../model/types.js';

export interface SignedRequest {
  method: string;
  /** Path and query exactly as on the wire (still percent-encoded). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SignatureInfo {
  accessKeyId: string;
  region: string;
  /** `YYYYMMDD` of the credential scope. */
  date: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;
/** How far the request time may be from ours (AWS: 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;

/** RFC 3986 unreserved characters stay; everything else is %XX over UTF-8 (SigV4's UriEncode). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `service`: the signing name the credential scope must carry (EFS's, or `ec2` for the EC2 calls on the same endpoint). */
export function parseAuthorization(headers: IncomingHttpHeaders, service: string = EFS_SIGV4_SERVICE): SignatureInfo {
  const auth = headers.authorization;
  if (auth === undefined) throw new ApiError('MissingAuthenticationToken', 'Missing Authentication Token');
  const m = AUTH_RE.exec(auth.trim());
  if (!m) {
    throw new ApiError(
      'IncompleteSignatureException',
      'Authorization header requires Credential, SignedHeaders and Signature parameters in AWS4-HMAC-SHA256 format.',
    );
  }
  const scope = m[1]!.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]!) || scope[0] === '') {
    throw new ApiError('IncompleteSignatureException', `Credential '${m[1]!}' is not of the form ACCESSKEY/YYYYMMDD/REGION/SERVICE/aws4_request.`);
  }
  if (scope[3] !== service) {
    throw new ApiError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`);
  }
  return { accessKeyId: scope[0]!, date: scope[1]!, region: scope[2]!, service: scope[3]!, signedHeaders: m[2]!.split(';'), signature: m[3]! };
}

/** The canonical request of SigV4 for a non-S3 service (path segments encoded twice). */
export function canonicalRequest(req: SignedRequest, signedHeaders: string[]): string {
  const q = req.rawUrl.indexOf('?');
  const rawPath = q < 0 ? req.rawUrl : req.rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : req.rawUrl.slice(q + 1);
  const path = rawPath.split('/').map((seg) => uriEncode(seg)).join('/') || '/';
  const pairs = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const query = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  const headerLines = signedHeaders.map((name) => {
    const v = req.headers[name];
    const value = (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
    return `${name}:${value}\n`;
  });
  // Always the body's own hash: a declared x-amz-content-sha256 that differs fails the comparison.
  const payloadHash = createHash('sha256').update(req.body).digest('hex');
  return [req.method, path, query, headerLines.join(''), signedHeaders.join(';'), payloadHash].join('\n');
}

export interface VerifyOptions {
  /** Known credentials; undefined = accept any well-formed signature. Every region is served. */
  lookup?: (accessKeyId: string) => CredentialEntry | undefined;
  /** The signing name the request must be scoped to (default EFS's, `elasticfilesystem`). */
  service?: string;
  now?: () => number;
}

/** Checks a request's signature; returns what it says, or throws the AWS error. */
export function verifyRequest(req: SignedRequest, opts: VerifyOptions): SignatureInfo {
  const info = parseAuthorization(req.headers, opts.service);
  const amzDate = req.headers['x-amz-date'];
  const when = typeof amzDate === 'string' ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate) : null;
  if (!when) throw new ApiError('IncompleteSignatureException', 'The request must carry an X-Amz-Date header of the form YYYYMMDDTHHMMSSZ.');
  if (!info.signedHeaders.includes('host') || !info.signedHeaders.includes('x-amz-date')) {
    throw new ApiError('IncompleteSignatureException', 'SignedHeaders must include host and x-amz-date.');
  }
  const t = Date.UTC(+when[1]!, +when[2]! - 1, +when[3]!, +when[4]!, +when[5]!, +when[6]!);
  const now = (opts.now ?? Date.now)();
  if (Math.abs(now - t) > MAX_SKEW_MS) {
    throw new ApiError(
      'InvalidSignatureException',
      `Signature expired: ${amzDate as string} is now earlier or later than the server time ${new Date(now).toISOString()} allows (15 minutes).`,
    );
  }
  const declared = req.headers['x-amz-content-sha256'];
  if (typeof declared === 'string' && declared !== createHash('sha256').update(req.body).digest('hex')) {
    throw new ApiError('SignatureDoesNotMatch', "The provided 'x-amz-content-sha256' header does not match the SHA-256 of the request body.");
  }
  if (!REGION_RE.test(info.region)) {
    throw new ApiError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${info.region}'.`);
  }
  if (!opts.lookup) return info;
  const cred = opts.lookup(info.accessKeyId);
  if (!cred) throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  const scope = `${info.date}/${info.region}/${info.service}/aws4_request`;
  const hash = createHash('sha256').update(canonicalRequest(req, info.signedHeaders), 'utf8').digest('hex');
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate as string}\n${scope}\n${hash}`;
  const day = new Date(Date.UTC(+info.date.slice(0, 4), +info.date.slice(4, 6) - 1, +info.date.slice(6, 8)));
  const key = deriveSigningKey(cred.secretAccessKey, day, info.region, info.service);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(info.signature, 'hex'))) {
    throw new ApiError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  if (cred.sessionToken !== undefined && req.headers['x-amz-security-token'] !== cred.sessionToken) {
    throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  return info;
}
