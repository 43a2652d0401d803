import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { ensureTlsMaterial, type TlsMaterial } from '../../src/transport/ca.js';
import { createFrontListener, type FrontServer, type PeerIdentity } from '../../src/transport/front.js';
import { makeClientCert } from '../helpers/efs-client-cert.js';
import { cidrAllowList, cidrContains, parseCidr } from '../../src/util/cidr.js';
import { RpcConnection, type CallHandler } from '../../src/rpc/connection.js';
import { testConnectionContext } from '../helpers/connection-context.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { ACCEPT_PROG_UNAVAIL, beginAcceptedReply, finishRecord } from '../../src/rpc/message.js';
import { AWSFILE_PROGRAM, handleEfsBind } from '../../src/rpc/efs-bind.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'efs-utils');
const FS_ID = 'fs-0123456789abcdef0';
const EFS_NAME = `${FS_ID}.efs.us-east-1.amazonaws.com`;
const log = pino({ level: 'silent' });

// ---------------------------------------------------------------------------------------------
// helpers

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** A call record (with mark) for prog/vers/proc with AUTH_NONE and the given args. */
function callRecord(xid: number, prog: number, vers: number, proc: number, args = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([u32(xid), u32(0), u32(2), u32(prog), u32(vers), u32(proc), Buffer.alloc(16), args]);
  return Buffer.concat([u32(0x80000000 | body.length), body]);
}

const BIND_ARGS = Buffer.concat([u32(16), Buffer.alloc(16, 0xab), u32(8), Buffer.from('0000000000000001', 'hex')]);

/** Reads one single-fragment reply record (without its mark). */
function readRecord(sock: net.Socket | tls.TLSSocket, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('timeout waiting for a reply')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4) {
        const len = buf.readUInt32BE(0) & 0x7fffffff;
        if (buf.length >= 4 + len) done(undefined, buf.subarray(4, 4 + len));
      }
    };
    const onClose = (): void => done(new Error('closed before a reply'));
    const done = (err?: Error, rec?: Buffer): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve(rec!);
    };
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

/** Resolves when the socket closes; records whether any data arrived. */
function closed(sock: net.Socket, timeoutMs = 5000): Promise<{ gotData: boolean }> {
  return new Promise((resolve, reject) => {
    let gotData = false;
    sock.on('data', () => (gotData = true));
    sock.on('error', () => undefined);
    const timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ gotData });
    });
  });
}

/** What the lead's program will look like: 400123 -> handleEfsBind, NFS elsewhere (PROG_UNAVAIL here). */
function testProgram(peers: Map<number, PeerIdentity>): CallHandler {
  return {
    async handleCall(call, record, conn) {
      if (call.prog === AWSFILE_PROGRAM) {
        const peer = peers.get(conn.id);
        return handleEfsBind(call, record, { fileSystemId: peer?.clientCert?.fileSystemId ?? FS_ID });
      }
      const w = new XdrWriter(64);
      beginAcceptedReply(w, call.xid, ACCEPT_PROG_UNAVAIL);
      return finishRecord(w);
    },
  };
}


// ---------------------------------------------------------------------------------------------

let dir: string;
let material: TlsMaterial;
let front: FrontServer;
let port: number;
const handed: PeerIdentity[] = [];
const peersByConn = new Map<number, PeerIdentity>();
let allow = true;
const sampleCert = readFileSync(path.join(FIX, 'iam-ap', 'certificate.pem'), 'utf8');
const sampleKey = readFileSync(path.join(FIX, 'client-key.pem'), 'utf8');
const sampleSigningTime = new Date(Date.UTC(2026, 10, 23, 4, 56, 46));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'localefs-tls-'));
  material = await ensureTlsMaterial({ dir: path.join(dir, 'tls'), regions: ['us-east-1'], fileSystemIds: [FS_ID] });
  const program = testProgram(peersByConn);
  front = createFrontListener({
    tls: { cert: material.cert, key: material.key },
    allow: () => allow,
    verify: {
      regions: ['us-east-1'],
      now: () => new Date(sampleSigningTime.getTime() + 60_000),
      credentials: (id) =>
        id === 'AKIAIOSFODNN7EXAMPLE'
          ? { secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', principalArn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' }
          : undefined,
    },
    firstByteTimeoutMs: 300,
    handshakeTimeoutMs: 500,
    log,
    onConnection(socket, peer) {
      handed.push(peer);
      const conn = new RpcConnection(socket, program, testConnectionContext({ log }));
      peersByConn.set(conn.ctx.id, peer);
    },
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as net.AddressInfo).port;
});

afterAll(async () => {
  front.destroyPending();
  await new Promise<void>((resolve) => {
    front.close(() => resolve());
    // handed-on sockets belong to the test: end them
    setTimeout(resolve, 200);
  });
  await rm(dir, { recursive: true, force: true });
});

function tlsConnect(extra: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: material.ca, ...extra }, () => resolve(s));
    s.once('error', reject);
  });
}

async function lastPeer(count: number): Promise<PeerIdentity> {
  for (let i = 0; i < 100 && handed.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  expect(handed.length).toBe(count);
  return handed[count - 1]!;
}

describe('front listener: plain and TLS on one port', () => {
  it('plain RPC: bind call answered through RpcConnection', async () => {
    const n = handed.length;
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(callRecord(0x42, AWSFILE_PROGRAM, 1, 2, BIND_ARGS));
    const rec = await readRecord(s);
    expect(rec.readUInt32BE(0)).toBe(0x42);
    expect(rec.readUInt32BE(20)).toBe(0); // SUCCESS
    expect(rec.readUInt32BE(24)).toBe(3); // READY
    // a second call on the same connection (NFS-ish traffic after bind)
    s.write(callRecord(0x43, 100003, 4, 0));
    expect((await readRecord(s)).readUInt32BE(20)).toBe(ACCEPT_PROG_UNAVAIL);
    const peer = await lastPeer(n + 1);
    expect(peer.secure).toBe(false);
    expect(peer.remoteAddress).toBe('127.0.0.1');
    expect(peer.localPort).toBe(port);
    expect(peer.clientCert).toBeUndefined();
    s.destroy();
  });

  it('plain RPC split into single bytes still works', async () => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    await new Promise((r) => s.once('connect', r));
    const rec = callRecord(0x77, AWSFILE_PROGRAM, 1, 0);
    for (const b of rec) {
      s.write(Buffer.from([b]));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect((await readRecord(s)).readUInt32BE(0)).toBe(0x77);
    s.destroy();
  });

  it('TLS 1.3 with the real efs-utils certificate (iam-ap): SNI = EFS name, token verified', async () => {
    const n = handed.length;
    const s = await tlsConnect({ servername: EFS_NAME, cert: sampleCert, key: sampleKey });
    expect(s.authorized).toBe(true); // server cert valid for the EFS name under our CA
    expect(s.getProtocol()).toBe('TLSv1.3');
    s.write(callRecord(0x51, AWSFILE_PROGRAM, 1, 2, BIND_ARGS));
    const rec = await readRecord(s);
    expect(rec.readUInt32BE(24)).toBe(3);
    const peer = await lastPeer(n + 1);
    expect(peer).toMatchObject({
      secure: true,
      servername: EFS_NAME,
      sniFileSystemId: FS_ID,
      sniRegion: 'us-east-1',
      tlsProtocol: 'TLSv1.3',
    });
    expect(peer.clientCert?.fileSystemId).toBe(FS_ID);
    expect(peer.clientCert?.accessPointId).toBe('fsap-0123456789abcdef0');
    expect(peer.tokenCheck).toMatchObject({
      ok: true,
      region: 'us-east-1',
      principal: { arn: 'arn:aws:iam::111122223333:user/alice', accessKeyId: 'AKIAIOSFODNN7EXAMPLE' },
    });
    s.destroy();
  });

  it('TLS 1.2 like stunnel (ECDHE-RSA-AES256-GCM-SHA384), SNI = IP literal', async () => {
    const n = handed.length;
    const s = await tlsConnect({
      servername: '127.0.0.1',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      cert: sampleCert,
      key: sampleKey,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    });
    expect(s.authorized).toBe(true);
    expect(s.getProtocol()).toBe('TLSv1.2');
    s.write(callRecord(0x52, AWSFILE_PROGRAM, 1, 0));
    expect((await readRecord(s)).readUInt32BE(0)).toBe(0x52);
    const peer = await lastPeer(n + 1);
    expect(peer.tlsProtocol).toBe('TLSv1.2');
    expect(peer.tlsCipher).toBe('ECDHE-RSA-AES256-GCM-SHA384');
    expect(peer.sniRegion).toBeUndefined();
    expect(peer.tokenCheck?.ok).toBe(true); // region from configuration
    s.destroy();
  });

  it('TLS without SNI and without a client certificate: anonymous', async () => {
    const n = handed.length;
    const s = await tlsConnect({ servername: '', checkServerIdentity: () => undefined });
    s.write(callRecord(0x53, AWSFILE_PROGRAM, 1, 0));
    await readRecord(s);
    const peer = await lastPeer(n + 1);
    expect(peer.secure).toBe(true);
    expect(peer.servername).toBeUndefined();
    expect(peer.clientCert).toBeUndefined();
    expect(peer.tokenCheck).toBeUndefined();
    s.destroy();
  });

  it('a node-forge client certificate with private extensions is parsed server-side', async () => {
    const n = handed.length;
    const { cert, key } = makeClientCert({ fsId: 'fs-abcdef', ap: 'fsap-00000000000000001' });
    const s = await tlsConnect({ servername: 'us-east-1a.fs-abcdef.efs.us-east-1.amazonaws.com', cert, key, checkServerIdentity: () => undefined });
    s.write(callRecord(0x54, AWSFILE_PROGRAM, 1, 2, BIND_ARGS));
    const rec = await readRecord(s);
    expect(rec.readUInt32BE(24)).toBe(3);
    const peer = await lastPeer(n + 1);
    expect(peer.sniFileSystemId).toBe('fs-abcdef');
    expect(peer.clientCert).toMatchObject({ fileSystemId: 'fs-abcdef', accessPointId: 'fsap-00000000000000001', subjectCommonName: 'forgehost' });
    expect(peer.clientCert?.clientInfo?.values).toEqual(['test', '3.2.0']);
    expect(peer.tokenCheck).toBeUndefined();
    s.destroy();
  });

  it('a ClientHello trickling in one byte at a time still completes the handshake', async () => {
    const raw = net.connect(port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.setNoDelay(true);
    // a duplex that forwards the first 200 bytes (inside the ClientHello) to the TCP socket one byte
    // per write, a little apart, then the rest as it comes (the server's handshake timeout is 500 ms)
    const { Duplex } = await import('node:stream');
    let trickle = 200;
    const slow = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        void (async () => {
          let i = 0;
          for (; i < chunk.length && trickle > 0; i++, trickle--) {
            raw.write(chunk.subarray(i, i + 1));
            await new Promise((r) => setTimeout(r, 1));
          }
          if (i < chunk.length) raw.write(chunk.subarray(i));
          cb();
        })();
      },
    });
    raw.on('data', (d) => slow.push(d));
    raw.on('close', () => slow.push(null));
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ socket: slow, ca: material.ca, servername: EFS_NAME, cert: sampleCert, key: sampleKey }, () => resolve(c));
      c.once('error', reject);
    });
    s.write(callRecord(0x57, AWSFILE_PROGRAM, 1, 0));
    expect((await readRecord(s)).readUInt32BE(0)).toBe(0x57);
    s.destroy();
    raw.destroy();
  });

  it('the pre-mount probe (connect + close) and then the real connection', async () => {
    const n = handed.length;
    const probe = net.connect(port, '127.0.0.1');
    await new Promise((r) => probe.once('connect', r));
    probe.end();
    await closed(probe);
    const s = await tlsConnect({ servername: EFS_NAME, cert: sampleCert, key: sampleKey });
    s.write(callRecord(0x55, AWSFILE_PROGRAM, 1, 0));
    await readRecord(s);
    expect(handed.length).toBe(n + 1);
    s.destroy();
  });

  it('a connection that sends nothing is closed after the first-byte timeout', async () => {
    const n = handed.length;
    const s = net.connect(port, '127.0.0.1');
    // the server closes it (the test never does), without answering and without handing it on
    const r = await closed(s, 3000);
    expect(r.gotData).toBe(false);
    expect(handed.length).toBe(n);
  });

  it('garbage after a TLS-looking first byte, and a stalled handshake, do not hurt the listener', async () => {
    const n = handed.length;
    const g = net.connect(port, '127.0.0.1');
    await new Promise((r) => g.once('connect', r));
    g.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]), Buffer.from('hello garbage garbage garbage')]));
    await closed(g);
    const slow = net.connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write(Buffer.from([0x16, 0x03]));
    await closed(slow, 3000); // handshake timeout
    const rnd = net.connect(port, '127.0.0.1');
    await new Promise((r) => rnd.once('connect', r));
    rnd.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    // plain path: the RPC layer gets an enormous "record"; we just close it
    await new Promise((r) => setTimeout(r, 50));
    rnd.destroy();
    expect(handed.length).toBe(n + 1); // only the HTTP one was handed on (as plain)
    // still serving
    const s = await tlsConnect({ servername: EFS_NAME });
    s.write(callRecord(0x56, AWSFILE_PROGRAM, 1, 0));
    expect((await readRecord(s)).readUInt32BE(0)).toBe(0x56);
    s.destroy();
  });

  it('a refused source address is closed before anything is read', async () => {
    const n = handed.length;
    allow = false;
    try {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => s.write(callRecord(1, AWSFILE_PROGRAM, 1, 0)));
      const r = await closed(s);
      expect(r.gotData).toBe(false);
      await expect(tlsConnect({ servername: EFS_NAME })).rejects.toThrow();
    } finally {
      allow = true;
    }
    expect(handed.length).toBe(n);
  });
});

describe('front listener options', () => {
  it('plain disabled: plaintext refused, TLS served', async () => {
    const seen: PeerIdentity[] = [];
    const f = createFrontListener({
      tls: { cert: material.cert, key: material.key },
      plain: false,
      log,
      onConnection(socket, peer) {
        seen.push(peer);
        socket.end();
      },
    });
    await new Promise<void>((resolve) => f.listen(0, '127.0.0.1', resolve));
    const p = (f.address() as net.AddressInfo).port;
    const s = net.connect(p, '127.0.0.1');
    s.on('connect', () => s.write(callRecord(1, AWSFILE_PROGRAM, 1, 0)));
    expect((await closed(s)).gotData).toBe(false);
    const t = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: p, ca: material.ca, servername: EFS_NAME }, () => resolve(c));
      c.once('error', reject);
    });
    await closed(t);
    expect(seen.map((x) => x.secure)).toEqual([true]);
    await new Promise<void>((resolve) => f.close(() => resolve()));
  });

  it('no TLS configured: TLS connections are closed', async () => {
    const f = createFrontListener({ log, onConnection: (s) => s.end() });
    await new Promise<void>((resolve) => f.listen(0, '127.0.0.1', resolve));
    const p = (f.address() as net.AddressInfo).port;
    await expect(
      new Promise((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port: p, rejectUnauthorized: false }, () => resolve(c));
        c.once('error', reject);
        c.once('close', () => reject(new Error('closed')));
      }),
    ).rejects.toThrow();
    await new Promise<void>((resolve) => f.close(() => resolve()));
  });
});

describe('cidrContains', () => {
  it('IPv4', () => {
    expect(cidrContains('10.0.0.0/8', '10.1.2.3')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '11.1.2.3')).toBe(false);
    expect(cidrContains('192.168.1.0/25', '192.168.1.127')).toBe(true);
    expect(cidrContains('192.168.1.0/25', '192.168.1.128')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(cidrContains('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(cidrContains('127.0.0.1/32', '127.0.0.2')).toBe(false);
  });

  it('IPv6 and IPv4-mapped IPv6', () => {
    expect(cidrContains('fd00::/8', 'fd12:3456::1')).toBe(true);
    expect(cidrContains('fd00::/8', 'fe80::1')).toBe(false);
    expect(cidrContains('::1/128', '::1')).toBe(true);
    expect(cidrContains('2001:db8::/32', '2001:db8:0:0:0:0:0:1')).toBe(true);
    expect(cidrContains('2001:db8::/33', '2001:db8:8000::1')).toBe(false);
    expect(cidrContains('fe80::/10', 'fe80::1%eth0')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '::ffff:10.9.8.7')).toBe(true);
    expect(cidrContains('::ffff:10.0.0.0/104', '10.9.8.7')).toBe(true);
    expect(cidrContains('::ffff:0:0/96', '1.2.3.4')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '::ffff:11.9.8.7')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '::a09:807')).toBe(false); // IPv4-compatible is not mapped
  });

  it('invalid input', () => {
    expect(cidrContains('10.0.0.0/8', 'not-an-ip')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '')).toBe(false);
    expect(() => parseCidr('10.0.0.0/33')).toThrow();
    expect(() => parseCidr('fd00::/129')).toThrow();
    expect(() => parseCidr('10.0.0/8')).toThrow();
    expect(() => parseCidr('10.0.0.0/')).toThrow();
    const allowList = cidrAllowList(['10.0.0.0/8', '::1']);
    expect(allowList('10.2.3.4')).toBe(true);
    expect(allowList('::1')).toBe(true);
    expect(allowList('127.0.0.1')).toBe(false);
    expect(cidrAllowList([])('1.2.3.4')).toBe(true);
  });
});

describe('ensureTlsMaterial', () => {
  it('creates CA and server cert with the EFS names, 0600 keys', async () => {
    expect(material.created).toEqual({ ca: true, server: true });
    const x = new X509Certificate(material.cert);
    const ca = new X509Certificate(material.ca);
    expect(x.checkIssued(ca)).toBe(true);
    expect(x.verify(ca.publicKey)).toBe(true);
    expect(x.checkHost(EFS_NAME)).toBeDefined();
    expect(x.subjectAltName).toContain(`DNS:${EFS_NAME}`);
    expect(x.subjectAltName).toContain('DNS:*.efs.us-east-1.amazonaws.com');
    expect(x.checkHost('fs-0abc.efs.us-east-1.amazonaws.com')).toBeDefined();
    expect(x.checkHost('fs-0abc.efs.eu-west-1.amazonaws.com')).toBeUndefined();
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkIP('::1')).toBeDefined();
    expect(ca.ca).toBe(true);
    for (const f of ['ca-key.pem', 'server-key.pem']) expect((await stat(path.join(dir, 'tls', f))).mode & 0o777).toBe(0o600);
    expect(material.caFile).toBe(path.join(dir, 'tls', 'ca.pem'));
  });

  it('reuses material; re-issues the server cert when names change; keeps the CA', async () => {
    const d = path.join(dir, 'tls');
    const again = await ensureTlsMaterial({ dir: d, regions: ['us-east-1'], fileSystemIds: [FS_ID] });
    expect(again.created).toEqual({ ca: false, server: false });
    expect(again.cert).toBe(material.cert);
    const more = await ensureTlsMaterial({ dir: d, regions: ['us-east-1', 'eu-west-1'], fileSystemIds: [FS_ID] });
    expect(more.created).toEqual({ ca: false, server: true });
    expect(more.ca).toBe(material.ca);
    expect(new X509Certificate(more.cert).checkHost('fs-1.efs.eu-west-1.amazonaws.com')).toBeDefined();
    // expiring soon -> re-issued
    const later = await ensureTlsMaterial({
      dir: d,
      regions: ['us-east-1', 'eu-west-1'],
      fileSystemIds: [FS_ID],
      now: new Date(Date.now() + 380 * 86400_000),
    });
    expect(later.created.server).toBe(true);
    expect(later.ca).toBe(material.ca);
  });

  it('never replaces the CA silently', async () => {
    const d = path.join(dir, 'tls2');
    const m = await ensureTlsMaterial({ dir: d });
    await unlink(path.join(d, 'ca-key.pem'));
    await expect(ensureTlsMaterial({ dir: d })).rejects.toThrow(/ca-key\.pem is missing/);
    const other = await ensureTlsMaterial({ dir: path.join(dir, 'tls3') });
    await writeFile(path.join(d, 'ca-key.pem'), await readFile(path.join(dir, 'tls3', 'ca-key.pem')));
    await expect(ensureTlsMaterial({ dir: d })).rejects.toThrow(/does not belong/);
    expect(m.ca).not.toBe(other.ca);
  });
});
