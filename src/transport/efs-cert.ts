import { createHash, X509Certificate } from 'node:crypto';

/**
 * Parser for the client certificates amazon-efs-utils presents on TLS mounts
 * (docs: shared spec efs-utils.md §3). Node's X509Certificate does not expose
 * unknown extensions, so this walks the DER itself. The walker is strict
 * (definite lengths only, no trailing bytes, bounded size; it descends a
 * fixed number of levels, never recursively on input) and
 * reports every problem as an EfsCertError; it never throws anything else
 * for bad input.
 *
 * Private extensions, arc 1.3.6.1.4.1.4843.7:
 *   .1 access point id      UTF8String
 *   .2 efs_client_auth      SEQUENCE { UTF8String accessKeyId, OCTET STRING (64 ASCII hex) signature,
 *                                      UTCTime sigv4DateTime, [0] EXPLICIT UTF8String sessionToken OPTIONAL }
 *   .3 file system id       UTF8String
 *   .4 client info          SEQUENCE OF UTF8String: source, efs_utils_version
 */

export const OID_EFS_ACCESS_POINT = '1.3.6.1.4.1.4843.7.1';
export const OID_EFS_CLIENT_AUTH = '1.3.6.1.4.1.4843.7.2';
export const OID_EFS_FILE_SYSTEM = '1.3.6.1.4.1.4843.7.3';
export const OID_EFS_CLIENT_INFO = '1.3.6.1.4.1.4843.7.4';
export const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const OID_COMMON_NAME = '2.5.4.3';

/** Certificates larger than this are refused before parsing (real ones are ~1.5 KiB). */
export const MAX_CERT_BYTES = 64 * 1024;
const MAX_EXTENSIONS = 64;
const MAX_STRING = 4096;
const MAX_TOKEN = 16 * 1024;

export class EfsCertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EfsCertError';
  }
}

export interface EfsClientAuth {
  accessKeyId: string;
  /** The signature as carried: 64 lowercase hex characters (ASCII inside the OCTET STRING). */
  signature: string;
  /** The signing time (UTCTime, two-digit year mapped per RFC 5280: 50-99 -> 19YY, else 20YY). */
  sigv4DateTime: Date;
  /** The UTCTime text as carried, e.g. `261123045646Z`. */
  sigv4DateTimeRaw: string;
  /** Raw (not URL-encoded) session token, when the credentials were temporary. */
  sessionToken?: string;
}

export interface EfsClientInfo {
  /** `[client-info] source` (trimmed; renewed certs carry a leading space). */
  source?: string;
  efsUtilsVersion?: string;
  /** Every string of the sequence, trimmed, in order. */
  values: string[];
}

export interface CertExtension {
  oid: string;
  critical: boolean;
  /** The extnValue contents (the DER inside the OCTET STRING). */
  value: Buffer;
}

export interface EfsClientCert {
  /** The whole certificate DER. */
  der: Buffer;
  version: number;
  /** Serial number as hex of its content bytes (efs-utils' first cert has serial `00`). */
  serialHex: string;
  /** Subject common name (efs-utils: the client's hostname), if present as a string. */
  subjectCommonName?: string;
  /** True when issuer and subject are byte-identical (efs-utils certs are self-signed). */
  selfIssued: boolean;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Buffer;
  /** SHA-1 of the subjectPublicKey BIT STRING contents (no unused-bits octet), lowercase hex = efs-utils' PublicKeyHash. */
  publicKeyHash: string;
  /** The SubjectKeyIdentifier extension's key id, lowercase hex, if present. */
  subjectKeyIdentifier?: string;
  extensions: CertExtension[];
  accessPointId?: string;
  fileSystemId?: string;
  clientAuth?: EfsClientAuth;
  /** Set instead of clientAuth when a `.7.2` extension is present but malformed. */
  clientAuthError?: string;
  clientInfo?: EfsClientInfo;
}

// ---------------------------------------------------------------------------------------------
// DER walker

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the contents. */
  contentStart: number;
  /** Offset just past the contents. */
  end: number;
}

function readTlv(buf: Buffer, pos: number, limit: number, what: string): Tlv {
  if (pos >= limit) throw new EfsCertError(`${what}: truncated (no tag)`);
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new EfsCertError(`${what}: multi-byte tags are not supported`);
  let p = pos + 1;
  if (p >= limit) throw new EfsCertError(`${what}: truncated (no length)`);
  const first = buf[p++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else if (first === 0x80) {
    throw new EfsCertError(`${what}: indefinite length is not DER`);
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new EfsCertError(`${what}: length of ${n} octets is too large`);
    if (p + n > limit) throw new EfsCertError(`${what}: truncated length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80 || (n > 1 && buf[p - n] === 0)) throw new EfsCertError(`${what}: non-minimal length encoding`);
  }
  if (p + len > limit) throw new EfsCertError(`${what}: length ${len} runs past its container`);
  return { tag, start: pos, contentStart: p, end: p + len };
}

function expectTlv(buf: Buffer, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, pos, limit, what);
  if (t.tag !== tag) throw new EfsCertError(`${what}: expected tag 0x${hex2(tag)}, got 0x${hex2(t.tag)}`);
  return t;
}

/** The children of a constructed TLV. */
function children(buf: Buffer, parent: Tlv, what: string, max = 256): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    if (out.length >= max) throw new EfsCertError(`${what}: more than ${max} elements`);
    const t = readTlv(buf, p, parent.end, what);
    out.push(t);
    p = t.end;
  }
  return out;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contentStart, t.end);
}

function decodeOid(bytes: Buffer, what: string): string {
  if (bytes.length === 0 || bytes.length > 64) throw new EfsCertError(`${what}: bad OID length ${bytes.length}`);
  const arcs: number[] = [];
  let v = 0;
  let started = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (!started && b === 0x80) throw new EfsCertError(`${what}: non-minimal OID arc`);
    started = true;
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new EfsCertError(`${what}: OID arc too large`);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
      started = false;
    }
  }
  if (started) throw new EfsCertError(`${what}: truncated OID`);
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer, what: string, max = MAX_STRING): string {
  if (bytes.length > max) throw new EfsCertError(`${what}: string of ${bytes.length} bytes is too long`);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new EfsCertError(`${what}: invalid UTF-8`);
  }
}

/** Strict UTF8String (tag 0x0C) at `t`. */
function utf8String(buf: Buffer, t: Tlv, what: string, max = MAX_STRING): string {
  if (t.tag !== 0x0c) throw new EfsCertError(`${what}: expected UTF8String (0x0c), got 0x${hex2(t.tag)}`);
  return decodeUtf8(content(buf, t), what, max);
}

/** A whole extnValue that must be exactly one UTF8String. */
function soleUtf8String(value: Buffer, what: string): string {
  const t = readTlv(value, 0, value.length, what);
  if (t.end !== value.length) throw new EfsCertError(`${what}: trailing bytes`);
  return utf8String(value, t, what);
}

function parseUtcTime(text: string, what: string): Date {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) throw new EfsCertError(`${what}: bad UTCTime ${JSON.stringify(text)}`);
  const yy = Number(m[1]);
  return makeDate(yy >= 50 ? 1900 + yy : 2000 + yy, m.slice(2), what);
}

function parseGeneralizedTime(text: string, what: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) throw new EfsCertError(`${what}: bad GeneralizedTime ${JSON.stringify(text)}`);
  return makeDate(Number(m[1]), m.slice(2), what);
}

function makeDate(year: number, parts: string[], what: string): Date {
  const [mo, d, h, mi, s] = parts.map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, s);
  const dt = new Date(ms);
  if (
    Number.isNaN(ms) ||
    dt.getUTCMonth() !== mo - 1 ||
    dt.getUTCDate() !== d ||
    dt.getUTCHours() !== h ||
    dt.getUTCMinutes() !== mi ||
    dt.getUTCSeconds() !== s
  ) {
    throw new EfsCertError(`${what}: invalid date`);
  }
  return dt;
}

function asciiOf(bytes: Buffer, what: string): string {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) throw new EfsCertError(`${what}: non-printable byte`);
  return bytes.toString('latin1');
}

function parseTime(buf: Buffer, t: Tlv, what: string): Date {
  const text = asciiOf(content(buf, t), what);
  if (t.tag === 0x17) return parseUtcTime(text, what);
  if (t.tag === 0x18) return parseGeneralizedTime(text, what);
  throw new EfsCertError(`${what}: expected a time, got tag 0x${hex2(t.tag)}`);
}

// ---------------------------------------------------------------------------------------------
// Private extensions

/** Decodes a `.7.2` extnValue. Exported for tests and diagnostics. */
export function parseClientAuth(value: Buffer): EfsClientAuth {
  const what = '.7.2 efs_client_auth';
  const seq = expectTlv(value, 0, value.length, 0x30, what);
  if (seq.end !== value.length) throw new EfsCertError(`${what}: trailing bytes`);
  const items = children(value, seq, what, 8);
  if (items.length < 3 || items.length > 4) throw new EfsCertError(`${what}: expected 3 or 4 fields, got ${items.length}`);
  const accessKeyId = utf8String(value, items[0]!, `${what} accessKeyId`, 128);
  if (!/^[A-Za-z0-9]{1,128}$/.test(accessKeyId)) throw new EfsCertError(`${what}: accessKeyId has unexpected characters`);
  if (items[1]!.tag !== 0x04) throw new EfsCertError(`${what}: signature must be an OCTET STRING (0x04), got 0x${hex2(items[1]!.tag)}`);
  const sigBytes = content(value, items[1]!);
  const signature = sigBytes.toString('latin1');
  if (!/^[0-9a-f]{64}$/.test(signature)) throw new EfsCertError(`${what}: signature is not 64 lowercase hex characters`);
  if (items[2]!.tag !== 0x17) throw new EfsCertError(`${what}: sigv4DateTime must be a UTCTime (0x17), got 0x${hex2(items[2]!.tag)}`);
  const sigv4DateTimeRaw = asciiOf(content(value, items[2]!), `${what} sigv4DateTime`);
  const sigv4DateTime = parseUtcTime(sigv4DateTimeRaw, `${what} sigv4DateTime`);
  const auth: EfsClientAuth = { accessKeyId, signature, sigv4DateTime, sigv4DateTimeRaw };
  if (items.length === 4) {
    const wrap = items[3]!;
    if (wrap.tag !== 0xa0) throw new EfsCertError(`${what}: session token must be [0] EXPLICIT (0xa0), got 0x${hex2(wrap.tag)}`);
    const inner = children(value, wrap, `${what} sessionToken`, 2);
    if (inner.length !== 1) throw new EfsCertError(`${what}: [0] must hold exactly one UTF8String`);
    const token = utf8String(value, inner[0]!, `${what} sessionToken`, MAX_TOKEN);
    if (token.length === 0) throw new EfsCertError(`${what}: empty session token`);
    auth.sessionToken = token;
  }
  return auth;
}

function parseClientInfo(value: Buffer): EfsClientInfo {
  const what = '.7.4 client info';
  const seq = expectTlv(value, 0, value.length, 0x30, what);
  if (seq.end !== value.length) throw new EfsCertError(`${what}: trailing bytes`);
  const values = children(value, seq, what, 16).map((t) => utf8String(value, t, what, 256).trim());
  const info: EfsClientInfo = { values };
  if (values[0] !== undefined) info.source = values[0];
  if (values[1] !== undefined) info.efsUtilsVersion = values[1];
  return info;
}

// ---------------------------------------------------------------------------------------------
// Certificate

function toDer(input: Buffer | Uint8Array | X509Certificate): Buffer {
  if (input instanceof X509Certificate) return input.raw;
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new EfsCertError('not a certificate (expected DER bytes or an X509Certificate)');
}

/** Decodes a PEM `CERTIFICATE` block to DER. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new EfsCertError('no PEM CERTIFICATE block');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

function commonNameOf(buf: Buffer, name: Tlv): string | undefined {
  // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue)
  for (const rdn of children(buf, name, 'subject', 64)) {
    if (rdn.tag !== 0x31) throw new EfsCertError('subject: RDN is not a SET');
    for (const atv of children(buf, rdn, 'subject', 16)) {
      if (atv.tag !== 0x30) throw new EfsCertError('subject: attribute is not a SEQUENCE');
      const [type, val] = children(buf, atv, 'subject', 2);
      if (!type || !val || type.tag !== 0x06) throw new EfsCertError('subject: malformed attribute');
      if (decodeOid(content(buf, type), 'subject') !== OID_COMMON_NAME) continue;
      // UTF8String, PrintableString, IA5String, T61String (as latin1)
      if (val.tag === 0x0c) return decodeUtf8(content(buf, val), 'subject CN', 1024);
      if (val.tag === 0x13 || val.tag === 0x16 || val.tag === 0x14) return content(buf, val).toString('latin1');
      return undefined;
    }
  }
  return undefined;
}

/**
 * Parses an efs-utils client certificate. Throws EfsCertError when the
 * certificate structure, or the `.7.1`/`.7.3`/`.7.4` extensions, are malformed.
 * A malformed `.7.2` does not throw: it is reported in `clientAuthError` so the
 * caller can refuse the identity while still seeing the rest.
 */
export function parseEfsClientCert(input: Buffer | Uint8Array | X509Certificate): EfsClientCert {
  const der = toDer(input);
  if (der.length === 0) throw new EfsCertError('empty certificate');
  if (der.length > MAX_CERT_BYTES) throw new EfsCertError(`certificate of ${der.length} bytes exceeds ${MAX_CERT_BYTES}`);
  const cert = expectTlv(der, 0, der.length, 0x30, 'Certificate');
  if (cert.end !== der.length) throw new EfsCertError('Certificate: trailing bytes after the certificate');
  const top = children(der, cert, 'Certificate', 4);
  if (top.length !== 3 || top[0]!.tag !== 0x30) throw new EfsCertError('Certificate: expected tbsCertificate, algorithm, signature');
  const tbs = children(der, top[0]!, 'tbsCertificate', 12);
  let i = 0;
  let version = 1;
  if (tbs[i]?.tag === 0xa0) {
    const [v] = children(der, tbs[i]!, 'version', 1);
    if (!v || v.tag !== 0x02 || v.end - v.contentStart !== 1) throw new EfsCertError('version: malformed');
    version = der[v.contentStart]! + 1;
    i++;
  }
  const serial = tbs[i++];
  if (!serial || serial.tag !== 0x02 || serial.end === serial.contentStart) throw new EfsCertError('serialNumber: malformed');
  if (serial.end - serial.contentStart > 40) throw new EfsCertError('serialNumber: too long');
  const sigAlg = tbs[i++];
  const issuer = tbs[i++];
  const validity = tbs[i++];
  const subject = tbs[i++];
  const spkiT = tbs[i++];
  for (const [t, name] of [
    [sigAlg, 'signature algorithm'],
    [issuer, 'issuer'],
    [validity, 'validity'],
    [subject, 'subject'],
    [spkiT, 'subjectPublicKeyInfo'],
  ] as const) {
    if (!t || t.tag !== 0x30) throw new EfsCertError(`${name}: missing or not a SEQUENCE`);
  }
  const times = children(der, validity!, 'validity', 2);
  if (times.length !== 2) throw new EfsCertError('validity: expected notBefore and notAfter');
  const notBefore = parseTime(der, times[0]!, 'notBefore');
  const notAfter = parseTime(der, times[1]!, 'notAfter');

  const spkiParts = children(der, spkiT!, 'subjectPublicKeyInfo', 2);
  if (spkiParts.length !== 2 || spkiParts[0]!.tag !== 0x30 || spkiParts[1]!.tag !== 0x03) {
    throw new EfsCertError('subjectPublicKeyInfo: expected algorithm and BIT STRING');
  }
  const bits = content(der, spkiParts[1]!);
  if (bits.length < 2 || bits[0] !== 0) throw new EfsCertError('subjectPublicKey: malformed BIT STRING');
  const publicKeyHash = createHash('sha1').update(bits.subarray(1)).digest('hex');

  const result: EfsClientCert = {
    der,
    version,
    serialHex: content(der, serial).toString('hex'),
    selfIssued: content(der, issuer!).equals(content(der, subject!)),
    notBefore,
    notAfter,
    spki: der.subarray(spkiT!.start, spkiT!.end),
    publicKeyHash,
    extensions: [],
  };
  const cn = commonNameOf(der, subject!);
  if (cn !== undefined) result.subjectCommonName = cn;

  // optional issuerUniqueID [1], subjectUniqueID [2], extensions [3]
  for (; i < tbs.length; i++) {
    const t = tbs[i]!;
    if (t.tag === 0x81 || t.tag === 0xa1 || t.tag === 0x82 || t.tag === 0xa2) continue;
    if (t.tag !== 0xa3) throw new EfsCertError(`tbsCertificate: unexpected field tag 0x${hex2(t.tag)}`);
    const [extsSeq, extra] = children(der, t, 'extensions', 2);
    if (!extsSeq || extra || extsSeq.tag !== 0x30) throw new EfsCertError('extensions: malformed [3] wrapper');
    for (const ext of children(der, extsSeq, 'extensions', MAX_EXTENSIONS)) {
      if (ext.tag !== 0x30) throw new EfsCertError('extension: not a SEQUENCE');
      const parts = children(der, ext, 'extension', 3);
      const oidT = parts[0];
      if (!oidT || oidT.tag !== 0x06) throw new EfsCertError('extension: missing OID');
      const oid = decodeOid(content(der, oidT), 'extension OID');
      let critical = false;
      let valT = parts[1];
      if (parts.length === 3) {
        if (valT!.tag !== 0x01 || valT!.end - valT!.contentStart !== 1) throw new EfsCertError(`extension ${oid}: bad critical flag`);
        critical = der[valT!.contentStart] !== 0;
        valT = parts[2];
      }
      if (!valT || valT.tag !== 0x04) throw new EfsCertError(`extension ${oid}: extnValue is not an OCTET STRING`);
      if (result.extensions.some((e) => e.oid === oid)) throw new EfsCertError(`extension ${oid}: duplicated`);
      result.extensions.push({ oid, critical, value: content(der, valT) });
    }
  }

  for (const ext of result.extensions) {
    switch (ext.oid) {
      case OID_EFS_ACCESS_POINT:
        result.accessPointId = soleUtf8String(ext.value, '.7.1 access point id').trim();
        break;
      case OID_EFS_FILE_SYSTEM:
        result.fileSystemId = soleUtf8String(ext.value, '.7.3 file system id').trim();
        break;
      case OID_EFS_CLIENT_INFO:
        result.clientInfo = parseClientInfo(ext.value);
        break;
      case OID_EFS_CLIENT_AUTH:
        try {
          result.clientAuth = parseClientAuth(ext.value);
        } catch (err) {
          if (!(err instanceof EfsCertError)) throw err;
          result.clientAuthError = err.message;
        }
        break;
      case OID_SUBJECT_KEY_IDENTIFIER: {
        const t = readTlv(ext.value, 0, ext.value.length, 'subjectKeyIdentifier');
        if (t.tag !== 0x04 || t.end !== ext.value.length) throw new EfsCertError('subjectKeyIdentifier: malformed');
        result.subjectKeyIdentifier = content(ext.value, t).toString('hex');
        break;
      }
      default:
        break;
    }
  }
  return result;
}

/** Like parseEfsClientCert but returns the error instead of throwing. */
export function tryParseEfsClientCert(
  input: Buffer | Uint8Array | X509Certificate,
): { ok: true; cert: EfsClientCert } | { ok: false; error: string } {
  try {
    return { ok: true, cert: parseEfsClientCert(input) };
  } catch (err) {
    if (err instanceof EfsCertError) return { ok: false, error: err.message };
    return { ok: false, error: `unexpected: ${(err as Error).message}` };
  }
}
