import { describe, expect, it } from 'vitest';
import { createPublicKey, createHash } from 'node:crypto';
import {
  amzDate,
  buildCanonicalRequest,
  buildStringToSign,
  calculateSignature,
  credentialScope,
  fileSystemIdFromEfsName,
  quotePlus,
  regionFromEfsName,
  signConnectRequest,
  verifyConnectToken,
} from '../../src/transport/sigv4.js';
import type { EfsClientCert } from '../../src/transport/efs-cert.js';

// Test vectors of aws/efs-utils test/mount_common_test/test_create_self_signed_cert.py (spec efs-utils.md §6).
const FIXED_DT = new Date(Date.UTC(2000, 0, 1, 12, 0, 0));
const REGION = 'us-east-1';
const FS_ID = 'fs-deadbeef';
const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'FAKE_AWS_SECRET_ACCESS_KEY';
const SESSION_TOKEN = 'FAKEwJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY';
const PUBLIC_KEY_PEM = [
  '-----BEGIN PUBLIC KEY-----',
  'MIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEArGJgJTTwefL+jHV8A9EM',
  'pX56n3ZJczM+4iPPSnledJzBcUO1VF+j6TOzy39BWBtvRjSs0nqd5wqw+1xHawhh',
  'dJF5KsqMNGcP/y9fLi9Bm1vInHfQVan4NhXWh8SNbRZM1tNZV5/k+VnFur6ACHwq',
  'eWppGXkGBASL0zG0MiCbOVMkwfv/E69APVC6ljnPXBWaDuggAClYheTv5RIU4wD1',
  'c1nohRb0ZHyfZjELjnqLfY0eOqY+msQXzP0eUmZXCMvUkGxi5DJnNVKhw5y96QbB',
  'RFO5ImQXpNsQmp8F9Ih1RIxNsl4csaEuK+/ZoJ68vR47oQNtPp1PjdIwcnQ3cOvO',
  'HMxulMX21Fd/e9TsnqISOTOyebmYFgaHczg4JVu5lV699+7QWJm1a7M4ab0WgVVR',
  'z27J0Lx/691MZB4TbGoEIFza30/sk6uTPxAzebzCaroXzT7uA6TIRtRpxt4X9a+4',
  '6GhfgR5RJfFMb8rPGmaKWqA2YkTsZzRGHhbAzsJ/nEstAgMBAAE=',
  '-----END PUBLIC KEY-----',
].join('\n');

/** PublicKeyHash the way the verifier computes it from a certificate: SHA-1 of the BIT STRING contents. */
function publicKeyHashOfSpki(spki: Buffer): string {
  // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }; walk the two top-level TLVs
  const len = (p: number): [number, number] => {
    const b = spki[p]!;
    if (b < 0x80) return [b, p + 1];
    const n = b & 0x7f;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + spki[p + 1 + i]!;
    return [v, p + 1 + n];
  };
  const [, seqBody] = len(1);
  const [algLen, algBody] = len(seqBody + 1);
  const bitAt = algBody + algLen;
  expect(spki[bitAt]).toBe(0x03);
  const [bitLen, bitBody] = len(bitAt + 1);
  return createHash('sha1').update(spki.subarray(bitBody + 1, bitBody + bitLen)).digest('hex');
}

describe('SigV4 Connect token (efs-utils test vectors)', () => {
  it('test_get_public_key_sha1', () => {
    const spki = createPublicKey(PUBLIC_KEY_PEM).export({ type: 'spki', format: 'der' });
    expect(publicKeyHashOfSpki(spki)).toBe('d9c2a68f2c4de49982e310d95e539a89abd6bc13');
  });

  it('test_create_canonical_request_without_token', () => {
    expect(
      buildCanonicalRequest({ publicKeyHash: 'fake_public_key_hash', signingTime: FIXED_DT, accessKeyId: ACCESS_KEY_ID, region: REGION, fileSystemId: FS_ID }),
    ).toBe(
      'GET\n/\nAction=Connect&PublicKeyHash=fake_public_key_hash&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=' +
        'AKIAIOSFODNN7EXAMPLE%2F20000101%2Fus-east-1%2Felasticfilesystem%2Faws4_request&X-Amz-Date=20000101T120000Z&' +
        'X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:fs-deadbeef\nhost\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('test_create_canonical_request_with_token', () => {
    expect(
      buildCanonicalRequest({
        publicKeyHash: 'fake_public_key_hash',
        signingTime: FIXED_DT,
        accessKeyId: ACCESS_KEY_ID,
        region: REGION,
        fileSystemId: FS_ID,
        sessionToken: SESSION_TOKEN,
      }),
    ).toBe(
      'GET\n/\nAction=Connect&PublicKeyHash=fake_public_key_hash&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=' +
        'AKIAIOSFODNN7EXAMPLE%2F20000101%2Fus-east-1%2Felasticfilesystem%2Faws4_request&X-Amz-Date=20000101T120000Z&' +
        'X-Amz-Expires=86400&X-Amz-Security-Token=FAKEwJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY&X-Amz-SignedHeaders=host' +
        '\nhost:fs-deadbeef\nhost' +
        '\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('test_create_string_to_sign', () => {
    expect(buildStringToSign('canonical_request', FIXED_DT, REGION)).toBe(
      'AWS4-HMAC-SHA256\n20000101T120000Z\n20000101/us-east-1/elasticfilesystem/aws4_request\n' +
        '572b1e335109068b81e4def81524c5fe5d0e385143b5656cbf2f7c88e5c1a51e',
    );
  });

  it('test_calculate_signature', () => {
    expect(calculateSignature('string_to_sign', FIXED_DT, SECRET, REGION)).toBe(
      '6aa643803d4a1b07c5ac87bff96347ef28dab1cb5a5c5d63969c90ca11454c4a',
    );
  });
});

describe('SigV4 helpers', () => {
  it('quotePlus behaves like Python quote_plus', () => {
    expect(quotePlus('AKID/20000101/us-east-1/elasticfilesystem/aws4_request')).toBe('AKID%2F20000101%2Fus-east-1%2Felasticfilesystem%2Faws4_request');
    expect(quotePlus('a b+c=d/e~f_g.h-i')).toBe('a+b%2Bc%3Dd%2Fe~f_g.h-i');
    expect(quotePlus('é')).toBe('%C3%A9');
    expect(quotePlus('20000101T120000Z')).toBe('20000101T120000Z');
  });

  it('dates and scope', () => {
    expect(amzDate(FIXED_DT)).toBe('20000101T120000Z');
    expect(credentialScope(FIXED_DT, 'eu-west-1')).toBe('20000101/eu-west-1/elasticfilesystem/aws4_request');
  });

  it('region and file system id from an EFS name (SNI)', () => {
    expect(regionFromEfsName('fs-0123456789abcdef0.efs.us-east-1.amazonaws.com')).toBe('us-east-1');
    expect(regionFromEfsName('us-east-1a.fs-0123.efs.eu-west-2.amazonaws.com')).toBe('eu-west-2');
    expect(regionFromEfsName('fs-0123.efs.us-local-1.localhost')).toBe('us-local-1');
    expect(regionFromEfsName('10.0.2.100')).toBeUndefined();
    expect(regionFromEfsName(undefined)).toBeUndefined();
    expect(fileSystemIdFromEfsName('use1-az1.fs-0123abc.efs.us-east-1.amazonaws.com')).toBe('fs-0123abc');
    expect(fileSystemIdFromEfsName('example.com')).toBeUndefined();
  });

  it('round trip: signConnectRequest output verifies; other service/region does not', () => {
    const pkh = 'd9c2a68f2c4de49982e310d95e539a89abd6bc13';
    const sig = signConnectRequest({
      publicKeyHash: pkh,
      signingTime: FIXED_DT,
      accessKeyId: ACCESS_KEY_ID,
      region: 'ap-south-1',
      fileSystemId: FS_ID,
      secretAccessKey: SECRET,
      sessionToken: 'tok/with+chars=',
    });
    const cert = {
      publicKeyHash: pkh,
      fileSystemId: FS_ID,
      clientAuth: { accessKeyId: ACCESS_KEY_ID, signature: sig, sigv4DateTime: FIXED_DT, sigv4DateTimeRaw: '000101120000Z', sessionToken: 'tok/with+chars=' },
    } as unknown as EfsClientCert;
    const lookup = () => ({ secretAccessKey: SECRET, principalArn: 'arn:aws:iam::123456789012:user/u', accountId: '123456789012' });
    expect(verifyConnectToken({ cert, credentials: lookup, now: FIXED_DT, regions: ['us-east-1', 'ap-south-1'] })).toMatchObject({
      ok: true,
      region: 'ap-south-1',
    });
    expect(verifyConnectToken({ cert, credentials: lookup, now: FIXED_DT, regions: ['us-east-1'] })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verifyConnectToken({ cert, credentials: lookup, now: FIXED_DT, regions: ['ap-south-1'], service: 's3files' })).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    const noFs = { ...cert, fileSystemId: undefined } as EfsClientCert;
    expect(verifyConnectToken({ cert: noFs, credentials: lookup, now: FIXED_DT })).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
