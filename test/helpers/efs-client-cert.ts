/**
 * Makes a client certificate the way efs-utils does (self-signed, with the
 * private extensions naming the file system and access point), for tests
 * that connect over TLS as the mount helper's stunnel or efs-proxy would.
 */
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { OID_EFS_ACCESS_POINT, OID_EFS_CLIENT_AUTH, OID_EFS_CLIENT_INFO, OID_EFS_FILE_SYSTEM } from '../../src/transport/efs-cert.js';
import { signConnectRequest } from '../../src/transport/sigv4.js';

export interface IamSigning {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  signingTime?: Date;
}

export function makeClientCert(opts: { fsId?: string; ap?: string; iam?: IamSigning }): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  c.serialNumber = '00';
  const now = Date.now();
  c.validity.notBefore = new Date(now - 15 * 60_000);
  c.validity.notAfter = new Date(now + 3 * 3600_000);
  c.setSubject([{ name: 'commonName', value: 'forgehost' }]);
  c.setIssuer([{ name: 'commonName', value: 'forgehost' }]);
  const utf8 = (s: string): string => forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.UTF8, false, s)).getBytes();
  const exts: Array<Record<string, unknown>> = [{ name: 'subjectKeyIdentifier' }];
  if (opts.ap) exts.push({ id: OID_EFS_ACCESS_POINT, value: utf8(opts.ap) });
  if (opts.fsId) exts.push({ id: OID_EFS_FILE_SYSTEM, value: utf8(opts.fsId) });
  if (opts.iam) {
    // the SigV4 Connect token, signed with this certificate's public key hash as efs-utils does
    const signingTime = opts.iam.signingTime ?? new Date(Math.floor(Date.now() / 1000) * 1000);
    const publicKeyHash = forge.pki.getPublicKeyFingerprint(c.publicKey, { type: 'RSAPublicKey', md: forge.md.sha1.create(), encoding: 'hex' }) as string;
    const signature = signConnectRequest({ ...opts.iam, signingTime, publicKeyHash, fileSystemId: opts.fsId ?? '' });
    const A = forge.asn1;
    exts.push({
      id: OID_EFS_CLIENT_AUTH,
      value: A.toDer(
        A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
          A.create(A.Class.UNIVERSAL, A.Type.UTF8, false, opts.iam.accessKeyId),
          A.create(A.Class.UNIVERSAL, A.Type.OCTETSTRING, false, signature),
          A.create(A.Class.UNIVERSAL, A.Type.UTCTIME, false, A.dateToUtcTime(signingTime)),
        ]),
      ).getBytes(),
    });
  }
  exts.push({
    id: OID_EFS_CLIENT_INFO,
    value: forge.asn1
      .toDer(
        forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
          forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.UTF8, false, 'test'),
          forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.UTF8, false, '3.2.0'),
        ]),
      )
      .getBytes(),
  });
  c.setExtensions(exts);
  c.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), key: keyPem };
}
