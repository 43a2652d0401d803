import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import {
  EfsCertError,
  OID_EFS_ACCESS_POINT,
  OID_EFS_CLIENT_AUTH,
  OID_EFS_CLIENT_INFO,
  OID_EFS_FILE_SYSTEM,
  parseEfsClientCert,
  pemToDer,
  tryParseEfsClientCert,
  type EfsClientCert,
} from '../../src/transport/efs-cert.js';
import {
  buildCanonicalRequest,
  buildStringToSign,
  signConnectRequest,
  verifyConnectToken,
  type CredentialLookup,
} from '../../src/transport/sigv4.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'efs-utils');
const SAMPLES = ['iam-ap', 'iam-token', 'tls-only'] as const;

interface Expected {
  serialHex: string;
  publicKeyHash: string;
  ski: string;
  extnDer: Map<string, string>;
  accessPointId?: string;
  fileSystemId?: string;
  clientInfo?: string[];
  auth?: { accessKeyId: string; signature: string; dateRaw: string; token?: string };
  canonicalRequest?: string;
  stringToSign?: string;
}

function parseExpected(text: string): Expected {
  const lines = text.split('\n');
  const get = (re: RegExp): RegExpExecArray | undefined => {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    return undefined;
  };
  const head = get(/^serial bytes: ([0-9a-f]+)\s+PublicKeyHash\(.*\): ([0-9a-f]{40})/)!;
  const e: Expected = {
    serialHex: head[1]!,
    publicKeyHash: head[2]!,
    ski: get(/^SubjectKeyIdentifier: ([0-9a-f]{40})/)![1]!,
    extnDer: new Map(),
  };
  for (const l of lines) {
    const m = /^(1\.3\.6\.1\.4\.1\.4843\.7\.\d) extnValue DER: ([0-9a-f]+)$/.exec(l);
    if (m) e.extnDer.set(m[1]!, m[2]!);
  }
  const ap = get(/access point = (\S+)/);
  if (ap) e.accessPointId = ap[1];
  const fs = get(/\.7\.3 tag 0c file system id = (\S+)/);
  if (fs) e.fileSystemId = fs[1];
  const ci = get(/\.7\.4 tag 30 SEQUENCE of \[(.*)\]/);
  if (ci) e.clientInfo = [...ci[1]!.matchAll(/'0xc', '([^']*)'/g)].map((m) => m[1]!);
  const a = get(/accessKeyId=(\S+) signature\(len 64 ascii hex\)=([0-9a-f]{64}) sigv4DateTime=(\S+) token=(.*)$/);
  if (a) e.auth = { accessKeyId: a[1]!, signature: a[2]!, dateRaw: a[3]!, ...(a[4] !== 'None' ? { token: a[4]! } : {}) };
  const block = (title: string, lineCount: number): string | undefined => {
    const i = lines.indexOf(title);
    return i < 0 ? undefined : lines.slice(i + 1, i + 1 + lineCount).join('\n');
  };
  e.canonicalRequest = block('canonical request:', 6);
  e.stringToSign = block('string to sign:', 4);
  return e;
}

function parseCredentials(text: string): { accessKeyId: string; secret: string; token?: string } {
  const val = (k: string): string | undefined => new RegExp(`^${k}\\s*=\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const token = val('aws_session_token');
  return { accessKeyId: val('aws_access_key_id')!, secret: val('aws_secret_access_key')!, ...(token ? { token } : {}) };
}

function load(name: string): { cert: EfsClientCert; der: Buffer; expected: Expected; creds?: ReturnType<typeof parseCredentials> } {
  const pem = readFileSync(path.join(FIX, name, 'certificate.pem'), 'utf8');
  const der = pemToDer(pem);
  const expected = parseExpected(readFileSync(path.join(FIX, name, 'expected.txt'), 'utf8'));
  let creds;
  try {
    creds = parseCredentials(readFileSync(path.join(FIX, name, 'credentials'), 'utf8'));
  } catch {
    creds = undefined;
  }
  return { cert: parseEfsClientCert(der), der, expected, ...(creds ? { creds } : {}) };
}

function lookupFor(creds: { accessKeyId: string; secret: string; token?: string }): CredentialLookup {
  return (id) =>
    id === creds.accessKeyId
      ? {
          secretAccessKey: creds.secret,
          principalArn: 'arn:aws:iam::111122223333:user/efs-tester',
          accountId: '111122223333',
          ...(creds.token ? { sessionToken: creds.token } : {}),
        }
      : undefined;
}

/** UTCTime `YYMMDDHHMMSSZ` -> Date (20YY). */
function utc(raw: string): Date {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(raw)!;
  return new Date(Date.UTC(2000 + Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

describe('efs-utils client certificates (real samples)', () => {
  for (const name of SAMPLES) {
    it(`${name}: parses to the decoded expectations`, () => {
      const { cert, der, expected } = load(name);
      expect(cert.version).toBe(3);
      expect(cert.serialHex).toBe(expected.serialHex);
      expect(cert.publicKeyHash).toBe(expected.publicKeyHash);
      expect(cert.subjectKeyIdentifier).toBe(expected.ski);
      expect(cert.subjectCommonName).toBe('efsguest');
      expect(cert.selfIssued).toBe(true);
      // same input as Node's own parser, as X509Certificate
      expect(parseEfsClientCert(new X509Certificate(der)).publicKeyHash).toBe(expected.publicKeyHash);
      const x = new X509Certificate(der);
      expect(cert.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
      expect(cert.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
      // every private extension's DER byte for byte, and nothing else private
      const priv = cert.extensions.filter((e) => e.oid.startsWith('1.3.6.1.4.1.4843.7.'));
      expect(new Map(priv.map((e) => [e.oid, e.value.toString('hex')]))).toEqual(expected.extnDer);
      expect(cert.extensions.every((e) => !e.critical)).toBe(true);
      expect(cert.accessPointId).toBe(expected.accessPointId);
      expect(cert.fileSystemId).toBe(expected.fileSystemId);
      expect(cert.clientInfo?.values).toEqual(expected.clientInfo);
      expect(cert.clientInfo?.source).toBe('unknown');
      expect(cert.clientInfo?.efsUtilsVersion).toBe('3.2.0');
      if (expected.auth) {
        expect(cert.clientAuth).toBeDefined();
        expect(cert.clientAuth!.accessKeyId).toBe(expected.auth.accessKeyId);
        expect(cert.clientAuth!.signature).toBe(expected.auth.signature);
        expect(cert.clientAuth!.sigv4DateTimeRaw).toBe(expected.auth.dateRaw);
        expect(cert.clientAuth!.sigv4DateTime.getTime()).toBe(utc(expected.auth.dateRaw).getTime());
        expect(cert.clientAuth!.sessionToken).toBe(expected.auth.token);
      } else {
        expect(cert.clientAuth).toBeUndefined();
        expect(cert.extensions.some((e) => e.oid === OID_EFS_CLIENT_AUTH)).toBe(false);
      }
      expect(cert.clientAuthError).toBeUndefined();
    });
  }

  for (const name of ['iam-ap', 'iam-token'] as const) {
    describe(`${name} token`, () => {
      const { cert, expected, creds } = load(name);
      const signedAt = cert.clientAuth!.sigv4DateTime;
      const at = (deltaMs: number): Date => new Date(signedAt.getTime() + deltaMs);

      it('canonical request and string to sign match the independent derivation', () => {
        const params = {
          publicKeyHash: cert.publicKeyHash,
          signingTime: signedAt,
          accessKeyId: cert.clientAuth!.accessKeyId,
          region: 'us-east-1',
          fileSystemId: cert.fileSystemId!,
          ...(cert.clientAuth!.sessionToken ? { sessionToken: cert.clientAuth!.sessionToken } : {}),
        };
        const cr = buildCanonicalRequest(params);
        expect(cr).toBe(expected.canonicalRequest);
        expect(buildStringToSign(cr, signedAt, 'us-east-1')).toBe(expected.stringToSign);
        expect(signConnectRequest({ ...params, secretAccessKey: creds!.secret })).toBe(expected.auth!.signature);
      });

      it('verifies with its credentials at signing time', () => {
        const r = verifyConnectToken({ cert, credentials: lookupFor(creds!), now: at(60_000), regions: ['us-east-1'] });
        expect(r).toMatchObject({
          ok: true,
          region: 'us-east-1',
          signatureChecked: true,
          principal: { arn: 'arn:aws:iam::111122223333:user/efs-tester', accountId: '111122223333', accessKeyId: creds!.accessKeyId },
        });
      });

      it('finds the region among several configured ones, and prefers the SNI region', () => {
        const r = verifyConnectToken({ cert, credentials: lookupFor(creds!), now: at(0), regions: ['eu-west-1', 'us-east-1'] });
        expect(r).toMatchObject({ ok: true, region: 'us-east-1' });
        const wrong = verifyConnectToken({ cert, credentials: lookupFor(creds!), now: at(0), region: 'eu-west-1', regions: ['eu-west-2'] });
        expect(wrong).toMatchObject({ ok: false, reason: 'bad-signature' });
      });

      it('altered signature -> bad-signature', () => {
        const sig = cert.clientAuth!.signature;
        const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
        const bad: EfsClientCert = { ...cert, clientAuth: { ...cert.clientAuth!, signature: flipped } };
        expect(verifyConnectToken({ cert: bad, credentials: lookupFor(creds!), now: at(0) })).toMatchObject({ ok: false, reason: 'bad-signature' });
      });

      it('wrong secret -> bad-signature', () => {
        const r = verifyConnectToken({ cert, credentials: lookupFor({ ...creds!, secret: 'x' + creds!.secret }), now: at(0) });
        expect(r).toMatchObject({ ok: false, reason: 'bad-signature' });
      });

      it('unknown key', () => {
        const r = verifyConnectToken({ cert, credentials: () => undefined, now: at(0) });
        expect(r).toMatchObject({ ok: false, reason: 'unknown-key' });
      });

      it('expired after 24 h (+ skew), not yet valid before signing time - skew', () => {
        const day = 86400_000;
        const skew = 15 * 60_000;
        const lookup = lookupFor(creds!);
        expect(verifyConnectToken({ cert, credentials: lookup, now: at(day + skew - 1000) }).ok).toBe(true);
        expect(verifyConnectToken({ cert, credentials: lookup, now: at(day + skew + 1000) })).toMatchObject({ ok: false, reason: 'expired' });
        expect(verifyConnectToken({ cert, credentials: lookup, now: at(-skew + 1000) }).ok).toBe(true);
        expect(verifyConnectToken({ cert, credentials: lookup, now: at(-skew - 1000) })).toMatchObject({ ok: false, reason: 'not-yet-valid' });
      });

      it('token moved onto another key -> key-mismatch', () => {
        const moved: EfsClientCert = { ...cert, publicKeyHash: '9e5ff495b5568ca6dd765d70f715b7efb26e83d9' };
        expect(verifyConnectToken({ cert: moved, credentials: lookupFor(creds!), now: at(0) })).toMatchObject({
          ok: false,
          reason: 'key-mismatch',
        });
      });

      it('without a credentials file: accepted as the default account root', () => {
        const r = verifyConnectToken({ cert, now: at(0) });
        expect(r).toMatchObject({
          ok: true,
          signatureChecked: false,
          principal: { arn: 'arn:aws:iam::000000000000:root', accountId: '000000000000', accessKeyId: creds!.accessKeyId },
        });
        expect(verifyConnectToken({ cert, now: at(0), defaultAccount: '123456789012' })).toMatchObject({
          ok: true,
          principal: { arn: 'arn:aws:iam::123456789012:root' },
        });
        expect(verifyConnectToken({ cert, now: at(3 * 86400_000) })).toMatchObject({ ok: false, reason: 'expired' });
      });
    });
  }

  it('iam-token: a credentials entry with a different session token is refused', () => {
    const { cert, creds } = load('iam-token');
    const r = verifyConnectToken({ cert, credentials: lookupFor({ ...creds!, token: 'other' }), now: cert.clientAuth!.sigv4DateTime });
    expect(r).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('tls-only: no token -> verify says malformed (callers treat the absence as anonymous)', () => {
    const { cert } = load('tls-only');
    expect(verifyConnectToken({ cert, now: cert.notBefore })).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

// ---------------------------------------------------------------------------------------------
// Synthesised certificates: extension variants and malformed DER

const clientKey = forge.pki.privateKeyFromPem(readFileSync(path.join(FIX, 'client-key.pem'), 'utf8'));
const clientPub = forge.pki.setRsaPublicKey((clientKey as forge.pki.rsa.PrivateKey).n, (clientKey as forge.pki.rsa.PrivateKey).e);

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else len = Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const utf8s = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));

function makeCert(exts: Array<{ id: string; der: Buffer }>): Buffer {
  const c = forge.pki.createCertificate();
  c.publicKey = clientPub;
  c.serialNumber = '00';
  c.validity.notBefore = new Date(Date.UTC(2026, 10, 23, 4, 0, 0));
  c.validity.notAfter = new Date(Date.UTC(2026, 10, 23, 7, 0, 0));
  c.setSubject([{ name: 'commonName', value: 'synth' }]);
  c.setIssuer([{ name: 'commonName', value: 'synth' }]);
  c.setExtensions([{ name: 'subjectKeyIdentifier' }, ...exts.map((e) => ({ id: e.id, value: e.der.toString('binary') }))]);
  c.sign(clientKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
}

describe('efs-cert parser on synthesised certificates', () => {
  it('parses extensions built the efs-utils way (renewed-cert spaces trimmed)', () => {
    const auth = tlv(
      0x30,
      Buffer.concat([
        utf8s('AKIDEXAMPLE'),
        tlv(0x04, Buffer.from('a'.repeat(64))),
        tlv(0x17, Buffer.from('000101120000Z')),
        tlv(0xa0, utf8s('FAKE/SESSION+TOKEN==')),
      ]),
    );
    const der = makeCert([
      { id: OID_EFS_ACCESS_POINT, der: utf8s('fsap-0123456789abcdef0') },
      { id: OID_EFS_CLIENT_AUTH, der: auth },
      { id: OID_EFS_FILE_SYSTEM, der: utf8s('fs-deadbeef') },
      { id: OID_EFS_CLIENT_INFO, der: tlv(0x30, Buffer.concat([utf8s(' unknown'), utf8s(' 3.2.0')])) },
    ]);
    const c = parseEfsClientCert(der);
    expect(c.serialHex).toBe('00');
    expect(c.accessPointId).toBe('fsap-0123456789abcdef0');
    expect(c.fileSystemId).toBe('fs-deadbeef');
    expect(c.clientInfo).toEqual({ source: 'unknown', efsUtilsVersion: '3.2.0', values: ['unknown', '3.2.0'] });
    expect(c.clientAuth).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      signature: 'a'.repeat(64),
      sigv4DateTime: new Date(Date.UTC(2000, 0, 1, 12, 0, 0)),
      sigv4DateTimeRaw: '000101120000Z',
      sessionToken: 'FAKE/SESSION+TOKEN==',
    });
    expect(c.subjectKeyIdentifier).toBe(c.publicKeyHash);
  });

  it('long session tokens use long-form lengths', () => {
    const token = 'T'.repeat(900);
    const auth = tlv(
      0x30,
      Buffer.concat([utf8s('ASIAX'), tlv(0x04, Buffer.from('b'.repeat(64))), tlv(0x17, Buffer.from('261123045715Z')), tlv(0xa0, utf8s(token))]),
    );
    const c = parseEfsClientCert(makeCert([{ id: OID_EFS_CLIENT_AUTH, der: auth }]));
    expect(c.clientAuth?.sessionToken).toBe(token);
  });

  const badAuth: Array<[string, Buffer]> = [
    ['signature as raw 32 bytes', tlv(0x30, Buffer.concat([utf8s('AK'), tlv(0x04, Buffer.alloc(32, 1)), tlv(0x17, Buffer.from('000101120000Z'))]))],
    ['missing date', tlv(0x30, Buffer.concat([utf8s('AK'), tlv(0x04, Buffer.from('c'.repeat(64)))]))],
    ['date as GeneralizedTime', tlv(0x30, Buffer.concat([utf8s('AK'), tlv(0x04, Buffer.from('c'.repeat(64))), tlv(0x18, Buffer.from('20000101120000Z'))]))],
    ['token not [0]', tlv(0x30, Buffer.concat([utf8s('AK'), tlv(0x04, Buffer.from('c'.repeat(64))), tlv(0x17, Buffer.from('000101120000Z')), utf8s('tok')]))],
    ['akid as OCTET STRING', tlv(0x30, Buffer.concat([tlv(0x04, Buffer.from('AK')), tlv(0x04, Buffer.from('c'.repeat(64))), tlv(0x17, Buffer.from('000101120000Z'))]))],
    ['bad date', tlv(0x30, Buffer.concat([utf8s('AK'), tlv(0x04, Buffer.from('c'.repeat(64))), tlv(0x17, Buffer.from('001301120000Z'))]))],
    ['not a sequence', utf8s('AK')],
  ];
  for (const [what, der] of badAuth) {
    it(`malformed .7.2 (${what}) -> clientAuthError, verify says malformed`, () => {
      const c = parseEfsClientCert(makeCert([{ id: OID_EFS_CLIENT_AUTH, der }, { id: OID_EFS_FILE_SYSTEM, der: utf8s('fs-1') }]));
      expect(c.clientAuth).toBeUndefined();
      expect(c.clientAuthError).toMatch(/\.7\.2/);
      expect(verifyConnectToken({ cert: c, credentials: () => undefined })).toMatchObject({ ok: false, reason: 'malformed' });
    });
  }

  it('malformed .7.3 / .7.1 / .7.4 throw EfsCertError', () => {
    for (const [id, der] of [
      [OID_EFS_FILE_SYSTEM, tlv(0x04, Buffer.from('fs-1'))],
      [OID_EFS_ACCESS_POINT, Buffer.concat([utf8s('fsap-1'), Buffer.from([0])])],
      [OID_EFS_CLIENT_INFO, utf8s('x')],
      [OID_EFS_FILE_SYSTEM, tlv(0x0c, Buffer.from([0xff, 0xfe]))],
    ] as const) {
      expect(() => parseEfsClientCert(makeCert([{ id, der }]))).toThrow(EfsCertError);
    }
  });

  it('rejects garbage, truncation and oversized input without crashing', () => {
    const good = pemToDer(readFileSync(path.join(FIX, 'iam-ap', 'certificate.pem'), 'utf8'));
    const inputs: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0x30]),
      Buffer.from([0x30, 0x80, 0, 0]),
      Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]),
      Buffer.from([0x1f, 0x01, 0x00]),
      Buffer.concat([good, Buffer.from([0])]),
      Buffer.alloc(70_000, 0x30),
    ];
    for (let cut = 1; cut < good.length; cut += 37) inputs.push(good.subarray(0, cut));
    // random single-byte corruptions: never anything but EfsCertError (or a successful parse)
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good);
      b[rnd(b.length)] = rnd(256);
      inputs.push(b);
    }
    for (const input of inputs) {
      try {
        parseEfsClientCert(input);
      } catch (err) {
        expect(err).toBeInstanceOf(EfsCertError);
      }
      const r = tryParseEfsClientCert(input);
      if (!r.ok) expect(r.error).not.toMatch(/^unexpected/);
    }
  });

  it('accepts a plain (non-efs-utils) certificate: no private extensions', () => {
    const c = parseEfsClientCert(makeCert([]));
    expect(c.fileSystemId).toBeUndefined();
    expect(c.clientAuth).toBeUndefined();
    expect(c.accessPointId).toBeUndefined();
  });
});
