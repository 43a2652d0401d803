/**
 * The API's SigV4 check against requests signed by the AWS SDK's own signer
 * (@smithy/signature-v4, what @aws-sdk/client-efs signs with).
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { verifyRequest, type SignedRequest } from '../../src/api/sigv4.js';
import { ApiError } from '../../src/api/errors.js';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): Buffer | string => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

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

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const lookup = (key: string) => (key === 'AKIDLOCAL' ? { secretAccessKey: SECRET, principalArn: 'arn:aws:iam::111122223333:role/admin', accountId: '111122223333' } : undefined);

async function signed(o: { method: string; path: string; query?: Record<string, string | string[]>; body?: string; secret?: string; key?: string; service?: string; region?: string }): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: o.service ?? 'elasticfilesystem',
    region: o.region ?? 'us-east-1',
    credentials: { accessKeyId: o.key ?? 'AKIDLOCAL', secretAccessKey: o.secret ?? SECRET },
    sha256: Sha256,
  });
  const headers: Record<string, string> = { host: '127.0.0.1:8049', ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) };
  const req = await signer.sign({ method: o.method, protocol: 'http:', hostname: '127.0.0.1', port: 8049, path: o.path, query: o.query ?? {}, headers, ...(o.body !== undefined ? { body: o.body } : {}) });
  // the query string as the SDK's HTTP handler writes it
  const qs = Object.entries(o.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`))
    .join('&');
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers as Record<string, string>)) lower[k.toLowerCase()] = v;
  return { method: o.method, rawUrl: o.path + (qs ? `?${qs}` : ''), headers: lower, body: Buffer.from(o.body ?? '') };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('API SigV4 verification', () => {
  it('accepts what the SDK signs: ARN labels, repeated and spaced query values, JSON bodies', async () => {
    const arn = encodeURIComponent('arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/fs-0123456789abcdef0');
    const untag = await signed({ method: 'DELETE', path: `/2015-02-01/resource-tags/${arn}`, query: { tagKeys: ['a b', 'c:d', 'e/f+g'] } });
    expect(verifyRequest(untag, { lookup }).accessKeyId).toBe('AKIDLOCAL');
    const put = await signed({ method: 'PUT', path: '/2015-02-01/file-systems/fs-0123456789abcdef0/policy', body: JSON.stringify({ Policy: '{"Statement":[]}' }) });
    expect(verifyRequest(put, { lookup }).region).toBe('us-east-1');
    const list = await signed({ method: 'GET', path: '/2015-02-01/file-systems', query: { MaxItems: '2', Marker: 'eyJzIjoiZnMifQ' } });
    expect(codeOf(() => verifyRequest(list, { lookup }))).toBe('ok');
  });

  it('refuses a wrong secret, an unknown key, a changed body or query, another service', async () => {
    const bad = await signed({ method: 'GET', path: '/2015-02-01/file-systems', secret: 'not-the-secret' });
    expect(codeOf(() => verifyRequest(bad, { lookup }))).toBe('SignatureDoesNotMatch');
    const unknown = await signed({ method: 'GET', path: '/2015-02-01/file-systems', key: 'AKIDOTHER' });
    expect(codeOf(() => verifyRequest(unknown, { lookup }))).toBe('UnrecognizedClientException');
    const body = await signed({ method: 'POST', path: '/2015-02-01/file-systems', body: '{"CreationToken":"a"}' });
    expect(codeOf(() => verifyRequest({ ...body, body: Buffer.from('{"CreationToken":"b"}') }, { lookup }))).toBe('SignatureDoesNotMatch');
    const query = await signed({ method: 'GET', path: '/2015-02-01/file-systems', query: { MaxItems: '1' } });
    expect(codeOf(() => verifyRequest({ ...query, rawUrl: '/2015-02-01/file-systems?MaxItems=2' }, { lookup }))).toBe('SignatureDoesNotMatch');
    const s3 = await signed({ method: 'GET', path: '/2015-02-01/file-systems', service: 's3' });
    expect(codeOf(() => verifyRequest(s3, { lookup }))).toBe('InvalidSignatureException');
    const elsewhere = await signed({ method: 'GET', path: '/2015-02-01/file-systems', region: 'eu-west-1' });
    expect(codeOf(() => verifyRequest(elsewhere, { lookup, region: 'us-east-1' }))).toBe('InvalidSignatureException');
    expect(codeOf(() => verifyRequest(elsewhere, { lookup, region: 'eu-west-1' }))).toBe('ok');
  });

  it('without credentials accepts any well-formed signature, still checks the form and the clock', async () => {
    const any = await signed({ method: 'GET', path: '/2015-02-01/file-systems', secret: 'whatever', key: 'test' });
    expect(verifyRequest(any, {}).accessKeyId).toBe('test');
    expect(codeOf(() => verifyRequest({ ...any, headers: { ...any.headers, authorization: undefined } }, {}))).toBe('MissingAuthenticationToken');
    expect(codeOf(() => verifyRequest({ ...any, headers: { ...any.headers, authorization: 'Bearer abc' } }, {}))).toBe('IncompleteSignatureException');
    const later = Date.now() + 20 * 60 * 1000;
    expect(codeOf(() => verifyRequest(any, { now: () => later }))).toBe('InvalidSignatureException');
  });
});
