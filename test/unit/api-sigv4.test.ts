/**
 * The API's SigV4 check against requests signed by the AWS SDK's own signer
 * (@smithy/signature-v4, what @aws-sdk/client-efs signs with).
 */
import { describe, expect, it } from 'vitest';
import { verifyRequest, type SignedRequest } from '../../src/api/sigv4.js';
import { ApiError } from '../../src/api/errors.js';
import { sdkSign } from '../helpers/sdk-signer.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const lookup = (key: string) => (key === 'AKIDLOCAL' ? { secretAccessKey: SECRET, principalArn: 'arn:aws:iam::111122223333:role/admin', accountId: '111122223333' } : undefined);

async function signed(o: { method: string; path: string; query?: Record<string, string | string[]>; body?: string; secret?: string; key?: string; service?: string; region?: string }): Promise<SignedRequest> {
  const { rawUrl, headers } = await sdkSign({
    ...o,
    host: '127.0.0.1:8049',
    accessKeyId: o.key ?? 'AKIDLOCAL',
    secretAccessKey: o.secret ?? SECRET,
    ...(o.body !== undefined ? { headers: { 'content-type': 'application/json' } } : {}),
  });
  return { method: o.method, rawUrl, headers, body: Buffer.from(o.body ?? '') };
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
    // every region is served (the request acts in the region of its scope); a scope that is no region is refused
    const elsewhere = await signed({ method: 'GET', path: '/2015-02-01/file-systems', region: 'eu-west-1' });
    expect(codeOf(() => verifyRequest(elsewhere, { lookup }))).toBe('ok');
    expect(verifyRequest(elsewhere, { lookup }).region).toBe('eu-west-1');
    const nowhere = await signed({ method: 'GET', path: '/2015-02-01/file-systems', region: 'moon' });
    expect(codeOf(() => verifyRequest(nowhere, { lookup }))).toBe('InvalidSignatureException');
    expect(codeOf(() => verifyRequest(nowhere, {}))).toBe('InvalidSignatureException');
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
