/**
 * Requests signed by the AWS SDK's own SigV4 signer (@smithy/signature-v4,
 * what @aws-sdk/client-efs signs with), for tests that build requests by hand.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): Buffer | string => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** node:crypto as the signer's hash constructor. */
class Sha256 {
  private h;
  constructor(private readonly secret?: Data) {
    this.h = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(d: Data): void {
    this.h.update(bytes(d));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.secret ? createHmac('sha256', bytes(this.secret)) : createHash('sha256');
  }
}

export interface SignInput {
  method: string;
  /** host:port the request goes to. */
  host: string;
  /** Path, already URI-encoded as the SDK sends it. */
  path: string;
  query?: Record<string, string | string[]>;
  body?: string;
  headers?: Record<string, string>;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region?: string;
  service?: string;
  date?: Date;
}

/**
 * Signs a request; returns its headers (lower-case, with host) and the path
 * and query as the SDK's HTTP handler writes them.
 */
export async function sdkSign(o: SignInput): Promise<{ rawUrl: string; headers: Record<string, string> }> {
  const signer = new SignatureV4({
    service: o.service ?? 'elasticfilesystem',
    region: o.region ?? 'us-east-1',
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) },
    sha256: Sha256,
  });
  const [hostname, port] = o.host.split(':');
  const req = await signer.sign(
    {
      method: o.method,
      protocol: 'http:',
      hostname: hostname!,
      ...(port ? { port: Number(port) } : {}),
      path: o.path,
      query: o.query ?? {},
      headers: { host: o.host, ...(o.headers ?? {}) },
      ...(o.body !== undefined ? { body: o.body } : {}),
    },
    o.date ? { signingDate: o.date } : {},
  );
  const qs = queryString(o.query ?? {});
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers as Record<string, string>)) headers[k.toLowerCase()] = v;
  return { rawUrl: o.path + (qs ? `?${qs}` : ''), headers };
}

/** A query string as the SDK's HTTP handler writes it (repeated keys for lists). */
export function queryString(query: Record<string, string | string[]>): string {
  return Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`))
    .join('&');
}
