import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { EfsClientCert } from './efs-cert.js';

/**
 * Verification of the IAM "Connect" token efs-utils puts in its client
 * certificate (extension 1.3.6.1.4.1.4843.7.2; shared spec efs-utils.md §3.4).
 *
 * The client signs, SigV4 presigned-URL style, a fake request
 *   GET / ?Action=Connect&PublicKeyHash=…&X-Amz-…  with header host:<fs-id>
 * for service `elasticfilesystem`, with one efs-utils quirk: a single newline
 * between the canonical header line and the signed-headers line.
 *
 * Region: it is not in the certificate. verifyConnectToken tries, in order,
 * the `region` argument (the front end passes the region from the SNI name
 * `[az.]fs-….efs.<region>.…` when the client sent one) and then every region
 * in `regions` (the server's configured regions, default `us-east-1`); the
 * first one under which the signature verifies wins and is reported.
 */

export const EFS_SIGV4_SERVICE = 'elasticfilesystem';
export const CONNECT_EXPIRES_SECONDS = 86400;
/** How far in the future a signing time may be (client clock ahead of ours). */
export const DEFAULT_CLOCK_SKEW_SECONDS = 15 * 60;
export const DEFAULT_ACCOUNT_ID = '000000000000';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ALGORITHM = 'AWS4-HMAC-SHA256';

/** Python's urllib.parse.quote_plus (safe=''): keep A-Z a-z 0-9 _ . - ~, space -> '+', the rest %XX over UTF-8. */
export function quotePlus(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      (b >= 0x30 && b <= 0x39) ||
      b === 0x5f ||
      b === 0x2e ||
      b === 0x2d ||
      b === 0x7e
    ) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) {
      out += '+';
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** `YYYYMMDDTHHMMSSZ` (UTC). */
export function amzDate(t: Date): string {
  return (
    `${t.getUTCFullYear()}${pad2(t.getUTCMonth() + 1)}${pad2(t.getUTCDate())}` +
    `T${pad2(t.getUTCHours())}${pad2(t.getUTCMinutes())}${pad2(t.getUTCSeconds())}Z`
  );
}

/** `YYYYMMDD` (UTC). */
export function dateStamp(t: Date): string {
  return amzDate(t).slice(0, 8);
}

export function credentialScope(t: Date, region: string, service = EFS_SIGV4_SERVICE): string {
  return `${dateStamp(t)}/${region}/${service}/aws4_request`;
}

export interface ConnectRequestParams {
  /** 40 lowercase hex SHA-1 of the subjectPublicKey bits (or anything, for test vectors). */
  publicKeyHash: string;
  signingTime: Date;
  accessKeyId: string;
  region: string;
  /** The `host` header value: the bare file system id. */
  fileSystemId: string;
  sessionToken?: string;
  service?: string;
}

export function canonicalQueryString(p: ConnectRequestParams): string {
  const params: [string, string][] = [
    ['Action', 'Connect'],
    ['PublicKeyHash', quotePlus(p.publicKeyHash)],
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', quotePlus(`${p.accessKeyId}/${credentialScope(p.signingTime, p.region, p.service)}`)],
    ['X-Amz-Date', quotePlus(amzDate(p.signingTime))],
    ['X-Amz-Expires', String(CONNECT_EXPIRES_SECONDS)],
  ];
  if (p.sessionToken !== undefined) params.push(['X-Amz-Security-Token', quotePlus(p.sessionToken)]);
  params.push(['X-Amz-SignedHeaders', 'host']);
  // sorted by key in byte order (the keys above are distinct ASCII)
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return params.map(([k, v]) => `${k}=${v}`).join('&');
}

/** The canonical request exactly as efs-utils builds it (note the single "\n" before "host"). */
export function buildCanonicalRequest(p: ConnectRequestParams): string {
  return ['GET', '/', canonicalQueryString(p), `host:${p.fileSystemId}`, 'host', EMPTY_SHA256].join('\n');
}

export function buildStringToSign(canonicalRequest: string, signingTime: Date, region: string, service = EFS_SIGV4_SERVICE): string {
  const hash = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  return `${ALGORITHM}\n${amzDate(signingTime)}\n${credentialScope(signingTime, region, service)}\n${hash}`;
}

export function deriveSigningKey(secretAccessKey: string, signingTime: Date, region: string, service = EFS_SIGV4_SERVICE): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(dateStamp(signingTime)).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** Lowercase hex signature of a string to sign. */
export function calculateSignature(
  stringToSign: string,
  signingTime: Date,
  secretAccessKey: string,
  region: string,
  service = EFS_SIGV4_SERVICE,
): string {
  return createHmac('sha256', deriveSigningKey(secretAccessKey, signingTime, region, service)).update(stringToSign, 'utf8').digest('hex');
}

/** Signs a Connect request like efs-utils would (used by tests and tooling). */
export function signConnectRequest(p: ConnectRequestParams & { secretAccessKey: string }): string {
  const service = p.service ?? EFS_SIGV4_SERVICE;
  const sts = buildStringToSign(buildCanonicalRequest(p), p.signingTime, p.region, service);
  return calculateSignature(sts, p.signingTime, p.secretAccessKey, p.region, service);
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface CredentialEntry {
  secretAccessKey: string;
  principalArn: string;
  accountId: string;
  /** When set, the certificate must carry exactly this session token. */
  sessionToken?: string;
}

export type CredentialLookup = (accessKeyId: string) => CredentialEntry | undefined;

export interface VerifiedPrincipal {
  arn: string;
  accountId: string;
  accessKeyId: string;
}

export type TokenFailureReason = 'unknown-key' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'key-mismatch' | 'malformed';

export type TokenCheckResult =
  | {
      ok: true;
      principal: VerifiedPrincipal;
      /** Region under which the signature verified (or the first candidate, without a credentials lookup). */
      region: string;
      /** False when no credentials lookup was configured and the signature could not be checked. */
      signatureChecked: boolean;
      signingTime: Date;
    }
  | { ok: false; reason: TokenFailureReason; detail: string };

export interface VerifyConnectTokenOptions {
  cert: EfsClientCert;
  /** Without it, any well-formed, in-window token is accepted as `arn:aws:iam::<defaultAccount>:root`. */
  credentials?: CredentialLookup;
  now?: Date;
  /** Preferred region (from SNI); tried first. */
  region?: string;
  /** Configured regions, tried after `region`. Default ['us-east-1']. */
  regions?: readonly string[];
  defaultAccount?: string;
  clockSkewSeconds?: number;
  /** Service name in the scope; `elasticfilesystem` for EFS. */
  service?: string;
}

/** Constant-time string comparison (the length is not secret). */
function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

const REGION_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export function verifyConnectToken(opts: VerifyConnectTokenOptions): TokenCheckResult {
  const { cert } = opts;
  if (cert.clientAuthError) return { ok: false, reason: 'malformed', detail: cert.clientAuthError };
  const auth = cert.clientAuth;
  if (!auth) return { ok: false, reason: 'malformed', detail: 'certificate has no .7.2 efs_client_auth extension' };
  if (!cert.fileSystemId) return { ok: false, reason: 'malformed', detail: 'certificate has no .7.3 file system id (needed as the signed host header)' };
  const service = opts.service ?? EFS_SIGV4_SERVICE;
  const candidates: string[] = [];
  for (const r of [opts.region, ...(opts.regions ?? ['us-east-1'])]) {
    if (r && REGION_RE.test(r) && !candidates.includes(r)) candidates.push(r);
  }
  if (candidates.length === 0) return { ok: false, reason: 'malformed', detail: 'no region to verify against' };

  const now = opts.now ?? new Date();
  const skewMs = (opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
  const signedAt = auth.sigv4DateTime.getTime();
  const timeCheck = (): TokenCheckResult | undefined => {
    if (signedAt > now.getTime() + skewMs) {
      return { ok: false, reason: 'not-yet-valid', detail: `signed at ${auth.sigv4DateTime.toISOString()}, now ${now.toISOString()}` };
    }
    if (now.getTime() > signedAt + CONNECT_EXPIRES_SECONDS * 1000 + skewMs) {
      return { ok: false, reason: 'expired', detail: `signed at ${auth.sigv4DateTime.toISOString()}, valid for ${CONNECT_EXPIRES_SECONDS}s` };
    }
    return undefined;
  };

  if (!opts.credentials) {
    const bad = timeCheck();
    if (bad) return bad;
    const account = opts.defaultAccount ?? DEFAULT_ACCOUNT_ID;
    return {
      ok: true,
      principal: { arn: `arn:aws:iam::${account}:root`, accountId: account, accessKeyId: auth.accessKeyId },
      region: candidates[0]!,
      signatureChecked: false,
      signingTime: auth.sigv4DateTime,
    };
  }

  const entry = opts.credentials(auth.accessKeyId);
  if (!entry) return { ok: false, reason: 'unknown-key', detail: `access key ${auth.accessKeyId} is not known` };

  const sign = (publicKeyHash: string, region: string): string =>
    signConnectRequest({
      publicKeyHash,
      signingTime: auth.sigv4DateTime,
      accessKeyId: auth.accessKeyId,
      region,
      fileSystemId: cert.fileSystemId!,
      sessionToken: auth.sessionToken,
      service,
      secretAccessKey: entry.secretAccessKey,
    });

  let region: string | undefined;
  for (const r of candidates) {
    if (constantTimeEqual(sign(cert.publicKeyHash, r), auth.signature)) {
      region = r;
      break;
    }
  }
  if (region === undefined) {
    // A genuine token bound to another key: the SubjectKeyIdentifier (which efs-utils sets to the
    // same hash) verifies where the actual key's hash does not.
    const ski = cert.subjectKeyIdentifier;
    if (ski && ski !== cert.publicKeyHash && candidates.some((r) => constantTimeEqual(sign(ski, r), auth.signature))) {
      return { ok: false, reason: 'key-mismatch', detail: 'the token was signed for a different public key than the certificate carries' };
    }
    return { ok: false, reason: 'bad-signature', detail: `signature does not verify for ${auth.accessKeyId} in ${candidates.join(', ')}` };
  }
  if (entry.sessionToken !== undefined && (auth.sessionToken === undefined || !constantTimeEqual(auth.sessionToken, entry.sessionToken))) {
    return { ok: false, reason: 'bad-signature', detail: 'session token does not match the credentials' };
  }
  const bad = timeCheck();
  if (bad) return bad;
  return {
    ok: true,
    principal: { arn: entry.principalArn, accountId: entry.accountId, accessKeyId: auth.accessKeyId },
    region,
    signatureChecked: true,
    signingTime: auth.sigv4DateTime,
  };
}

/** Region from an EFS DNS name `[az.]fs-<hex>.efs.<region>.<suffix>` (SNI), else undefined. */
export function regionFromEfsName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const m = /(?:^|\.)fs-[0-9a-f]+\.efs\.([a-z0-9-]+)\./i.exec(name);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** File system id from an EFS DNS name (SNI), else undefined. */
export function fileSystemIdFromEfsName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const m = /(?:^|\.)(fs-[0-9a-f]+)\.efs\./i.exec(name);
  return m ? m[1]!.toLowerCase() : undefined;
}
