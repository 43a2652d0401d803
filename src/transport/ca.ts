import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file.js';

/**
 * Local TLS material for the EFS front end (shared spec efs-utils.md §5.4):
 * a local CA (created once, never replaced silently) and a server
 * certificate signed by it whose SANs cover what the mount helper checks
 * (`checkHost = fs-….efs.<region>.<suffix>`): `*.efs.<region>.<suffix>` per
 * configured region, `fs-<id>.efs.<region>.<suffix>` per known file system,
 * plus localhost / 127.0.0.1 / ::1 and any extra names.
 *
 * Files in `dir` (dir 0700, keys 0600):
 *   ca.pem, ca-key.pem          the CA (give ca.pem to the helper as cafile=/stunnel_cafile)
 *   server.pem, server-key.pem  the server certificate (chain: server only; the CA is the trust anchor)
 *
 * The server certificate is re-issued when its SAN set differs from the
 * wanted one, when it expires within RENEW_BEFORE_DAYS, when it was not
 * issued by the current CA, or when its key file does not match.
 */

export interface TlsMaterialOptions {
  dir: string;
  /** Regions whose `*.efs.<region>.<suffix>` the certificate covers. Default ['us-east-1']. */
  regions?: readonly string[];
  /** Known file systems (`fs-…`), each gets `fs-<id>.efs.<region>.<suffix>` for every region. */
  fileSystemIds?: readonly string[];
  /** DNS suffix, default `amazonaws.com` (cn regions: `amazonaws.com.cn`). */
  dnsSuffix?: string;
  /** Extra SAN entries: DNS names or IP literals. */
  extraNames?: readonly string[];
  log?: Pick<Logger, 'info' | 'warn'>;
  /** For tests. */
  now?: Date;
}

export interface TlsMaterial {
  /** Path of ca.pem (what the client needs as cafile=). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** PEM texts, ready for tls.createSecureContext. */
  ca: string;
  cert: string;
  key: string;
  /** The server certificate's SANs. */
  names: string[];
  /** What this call created. */
  created: { ca: boolean; server: boolean };
}

const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 397;
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86400_000;

async function exists(file: string): Promise<boolean> {
  try {
    await readFile(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function newRsaKey(): forge.pki.rsa.KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { privateKey: priv, publicKey: pub };
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  if (b[0] === 0) b[0] = 1; // minimal encoding
  return b.toString('hex');
}

/** The SAN set for a configuration, normalised (lowercase, deduplicated, sorted). */
export function wantedNames(opts: Pick<TlsMaterialOptions, 'regions' | 'fileSystemIds' | 'dnsSuffix' | 'extraNames'>): string[] {
  const suffix = (opts.dnsSuffix ?? 'amazonaws.com').toLowerCase();
  const regions = opts.regions && opts.regions.length > 0 ? opts.regions : ['us-east-1'];
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  for (const r of regions) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(r)) throw new Error(`invalid region ${JSON.stringify(r)}`);
    names.add(`*.efs.${r}.${suffix}`);
    for (const fs of opts.fileSystemIds ?? []) {
      if (!/^fs-[0-9a-f]+$/.test(fs)) throw new Error(`invalid file system id ${JSON.stringify(fs)}`);
      names.add(`${fs}.efs.${r}.${suffix}`);
    }
  }
  for (const n of opts.extraNames ?? []) names.add(isIP(n) ? n : n.toLowerCase());
  return [...names].sort();
}

function sanList(names: string[]): Array<{ type: number; value?: string; ip?: string }> {
  return names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }));
}

function makeCa(now: Date): { certPem: string; keyPem: string } {
  const keys = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS);
  const attrs = [
    { name: 'commonName', value: `localefs local CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'localefs' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

function makeServerCert(caCertPem: string, caKeyPem: string, names: string[], now: Date): { certPem: string; keyPem: string } {
  const caCert = forge.pki.certificateFromPem(caCertPem);
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);
  const keys = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS);
  const cn = names.find((n) => n.startsWith('*.efs.')) ?? names[0]!;
  cert.setSubject([
    { name: 'commonName', value: cn },
    { name: 'organizationName', value: 'localefs' },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: sanList(names) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** SANs of a certificate as our normalised strings. */
function namesOf(x: X509Certificate): string[] {
  const san = x.subjectAltName ?? '';
  const out: string[] = [];
  for (const part of san.split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.*)$/.exec(part.trim());
    if (!m) continue;
    let v = m[2]!;
    if (m[1] === 'IP Address') {
      // node prints IPv6 in full/compressed forms depending on version; normalise
      if (v.includes(':')) v = normaliseV6(v);
    } else v = v.toLowerCase();
    out.push(v);
  }
  return out.sort();
}

function normaliseV6(v: string): string {
  try {
    return new URL(`http://[${v}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return v.toLowerCase();
  }
}

function sameNames(a: string[], b: string[]): boolean {
  const na = a.map((n) => (isIP(n) === 6 ? normaliseV6(n) : n)).sort();
  const nb = b.map((n) => (isIP(n) === 6 ? normaliseV6(n) : n)).sort();
  return na.length === nb.length && na.every((n, i) => n === nb[i]);
}

function keyMatchesCert(keyPem: string, cert: X509Certificate): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

export async function ensureTlsMaterial(opts: TlsMaterialOptions): Promise<TlsMaterial> {
  const now = opts.now ?? new Date();
  const dir = opts.dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  const created = { ca: false, server: false };

  // --- CA: create only when neither file exists; anything else needs a human.
  let caPem: string;
  let caKeyPem: string;
  const haveCa = await exists(caFile);
  const haveCaKey = await exists(caKeyFile);
  if (!haveCa && !haveCaKey) {
    opts.log?.info({ caFile }, 'first start: creating a local TLS CA and server certificate (RSA keys, a second or two)');
    const ca = makeCa(now);
    await writeFileAtomic(caKeyFile, ca.keyPem, 0o600);
    await writeFileAtomic(caFile, ca.certPem, 0o644);
    caPem = ca.certPem;
    caKeyPem = ca.keyPem;
    created.ca = true;
    opts.log?.info({ caFile }, 'created local TLS CA');
  } else if (haveCa !== haveCaKey) {
    throw new Error(
      `${haveCa ? caKeyFile : caFile} is missing while ${haveCa ? caFile : caKeyFile} exists: restore it, or remove both to create a new CA (clients must then trust the new ca.pem)`,
    );
  } else {
    caPem = await readFile(caFile, 'utf8');
    caKeyPem = await readFile(caKeyFile, 'utf8');
    let caX: X509Certificate;
    try {
      caX = new X509Certificate(caPem);
    } catch (err) {
      throw new Error(`${caFile} is not a readable certificate: ${(err as Error).message}`);
    }
    if (!keyMatchesCert(caKeyPem, caX)) throw new Error(`${caKeyFile} does not belong to ${caFile}`);
    if (new Date(caX.validTo).getTime() < now.getTime()) {
      throw new Error(`the local CA ${caFile} expired on ${caX.validTo}: remove ca.pem and ca-key.pem to create a new one`);
    }
    if (new Date(caX.validTo).getTime() < now.getTime() + RENEW_BEFORE_DAYS * DAY_MS) {
      opts.log?.warn({ caFile, validTo: caX.validTo }, 'the local TLS CA expires soon');
    }
  }
  const caX = new X509Certificate(caPem);

  // --- Server certificate
  const names = wantedNames(opts);
  let certPem: string | undefined;
  let keyPem: string | undefined;
  let why = 'missing';
  if ((await exists(certFile)) && (await exists(keyFile))) {
    certPem = await readFile(certFile, 'utf8');
    keyPem = await readFile(keyFile, 'utf8');
    try {
      const x = new X509Certificate(certPem);
      if (!x.verify(caX.publicKey) || !x.checkIssued(caX)) why = 'not issued by the current CA';
      else if (!keyMatchesCert(keyPem, x)) why = 'key does not match';
      else if (new Date(x.validTo).getTime() < now.getTime() + RENEW_BEFORE_DAYS * DAY_MS) why = 'expires soon';
      else if (new Date(x.validFrom).getTime() > now.getTime()) why = 'not yet valid';
      else if (!sameNames(namesOf(x), names)) why = 'names changed';
      else why = '';
    } catch (err) {
      why = `unreadable (${(err as Error).message})`;
    }
  }
  if (why !== '') {
    const s = makeServerCert(caPem, caKeyPem, names, now);
    await writeFileAtomic(keyFile, s.keyPem, 0o600);
    await writeFileAtomic(certFile, s.certPem, 0o644);
    certPem = s.certPem;
    keyPem = s.keyPem;
    created.server = true;
    opts.log?.info({ certFile, names: names.length, reason: why }, 'issued TLS server certificate (localhost, 127.0.0.1, ::1 and *.efs.<region>.amazonaws.com for every region)');
  }
  return { caFile, certFile, keyFile, ca: caPem, cert: certPem!, key: keyPem!, names, created };
}
