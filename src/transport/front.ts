import net from 'node:net';
import tls from 'node:tls';
import { constants as cryptoConstants } from 'node:crypto';
import type { Logger } from 'pino';
import type { Admission } from '../rpc/connection-table.js';
import { tryParseEfsClientCert, type EfsClientCert } from './efs-cert.js';
import {
  fileSystemIdFromEfsName,
  regionFromEfsName,
  verifyConnectToken,
  type CredentialLookup,
  type TokenCheckResult,
} from './sigv4.js';

/**
 * The port-2049 front end (shared spec efs-utils.md §1.7, §8): one TCP
 * listener carrying both plain ONC-RPC and TLS. The first byte decides:
 * 0x16 (TLS handshake record) -> TLS server side; anything else -> plain
 * (an RPC record mark starts 0x80 for a last fragment, 0x00 otherwise; the
 * RPC layer deals with garbage). A connection that closes without sending
 * anything (the helper's pre-mount probe) is dropped silently; one that
 * sends nothing for `firstByteTimeoutMs` is destroyed.
 *
 * TLS: 1.2 and 1.3, a CertificateRequest is sent, any client certificate is
 * accepted at TLS level (efs-utils' are self-signed), no renegotiation. SNI
 * may be absent, an IP literal or the EFS DNS name; it is recorded, never
 * required. After the handshake the client certificate is parsed and, when
 * it carries the `.7.2` IAM token, verified (region: from SNI when it is an
 * EFS name, else the configured regions).
 */

export interface PeerIdentity {
  secure: boolean;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** SNI as sent by the client (TLS only). */
  servername?: string;
  /** File system id / region when the SNI is an EFS name `[az.]fs-….efs.<region>.…`. */
  sniFileSystemId?: string;
  sniRegion?: string;
  /** Negotiated protocol, e.g. `TLSv1.3`, and cipher name. */
  tlsProtocol?: string;
  tlsCipher?: string;
  /** Parsed client certificate (TLS with a certificate that parsed). */
  clientCert?: EfsClientCert;
  /** Set when the client sent a certificate that could not be parsed. */
  certError?: string;
  /**
   * Result of verifying the IAM token, present when the certificate has a
   * `.7.2` extension (well-formed or not) or could not be parsed at all
   * (then `{ ok: false, reason: 'malformed' }`). Absent = anonymous.
   */
  tokenCheck?: TokenCheckResult;
}

export interface FrontTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** Chain/extra CA certificates sent with the server certificate (optional). */
  ca?: string | Buffer;
}

export interface FrontVerifyOptions {
  credentials?: CredentialLookup;
  /** Configured regions (tried when SNI carries none). Default ['us-east-1']. */
  regions?: readonly string[];
  defaultAccount?: string;
  clockSkewSeconds?: number;
  now?(): Date;
}

export interface FrontListenerOptions {
  /** Without it, TLS connections are refused (destroyed after their first byte). */
  tls?: FrontTlsOptions;
  /** Accept plaintext RPC (default true). */
  plain?: boolean;
  /** A connection ready for RPC; `admission` is its place in the connection table (when `admit` is given). */
  onConnection(socket: net.Socket | tls.TLSSocket, peer: PeerIdentity, admission: Admission | undefined): void;
  /** Source allow-list, checked before anything is read (localAddress: where the client connected to). */
  allow?(remoteAddress: string, localAddress: string): boolean;
  /** Connection caps, checked after the allow-list: undefined refuses the connection. */
  admit?(remoteAddress: string): Admission | undefined;
  verify?: FrontVerifyOptions;
  log?: Pick<Logger, 'info' | 'debug' | 'warn'>;
  firstByteTimeoutMs?: number;
  handshakeTimeoutMs?: number;
}

export interface FrontServer extends net.Server {
  /** Destroys connections still being sniffed or handshaking (the caller owns the handed-on ones). */
  destroyPending(): void;
}

const TLS_HANDSHAKE = 0x16;

function normaliseAddress(a: string | undefined): string {
  return a ?? '';
}

export function createFrontListener(opts: FrontListenerOptions): FrontServer {
  const log = opts.log;
  const firstByteTimeoutMs = opts.firstByteTimeoutMs ?? 30_000;
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 20_000;
  const allowPlain = opts.plain ?? true;
  const pending = new Set<net.Socket>();

  let secureContext: tls.SecureContext | undefined;
  if (opts.tls) {
    secureContext = tls.createSecureContext({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      secureOptions:
        (cryptoConstants.SSL_OP_NO_RENEGOTIATION ?? 0) | (cryptoConstants.SSL_OP_CIPHER_SERVER_PREFERENCE ?? 0),
    });
  }

  const baseIdentity = (s: net.Socket): PeerIdentity => ({
    secure: false,
    remoteAddress: normaliseAddress(s.remoteAddress),
    remotePort: s.remotePort ?? 0,
    localAddress: normaliseAddress(s.localAddress),
    localPort: s.localPort ?? 0,
  });

  function startTls(socket: net.Socket, base: PeerIdentity, admission: Admission | undefined): void {
    const ts = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: secureContext!,
      requestCert: true,
      rejectUnauthorized: false,
    });
    // tls_wrap takes over the TCP handle and first consumes what we unshifted into the raw socket.
    pending.delete(socket);
    pending.add(ts);
    const tag = `${base.remoteAddress}:${base.remotePort}`;
    const timer = setTimeout(() => {
      log?.info({ peer: tag }, 'TLS handshake timed out');
      ts.destroy();
    }, handshakeTimeoutMs);
    const onEarlyError = (err: Error): void => {
      clearTimeout(timer);
      log?.info({ err: err.message, peer: tag }, 'TLS handshake failed');
      ts.destroy();
    };
    ts.on('error', onEarlyError);
    ts.on('close', () => {
      clearTimeout(timer);
      pending.delete(ts);
    });
    ts.once('secure', () => {
      clearTimeout(timer);
      pending.delete(ts);
      ts.off('error', onEarlyError);
      ts.on('error', (err) => log?.debug({ err: err.message, peer: tag }, 'TLS socket error'));
      if (ts.destroyed) return;
      onSecure(ts, base, admission);
    });
  }

  function onSecure(ts: tls.TLSSocket, base: PeerIdentity, admission: Admission | undefined): void {
    ts.disableRenegotiation();
    const peer: PeerIdentity = { ...base, secure: true };
    const sni = (ts as tls.TLSSocket & { servername?: string | false }).servername;
    if (typeof sni === 'string' && sni.length > 0) {
      peer.servername = sni;
      const fsId = fileSystemIdFromEfsName(sni);
      const region = regionFromEfsName(sni);
      if (fsId) peer.sniFileSystemId = fsId;
      if (region) peer.sniRegion = region;
    }
    const proto = ts.getProtocol();
    if (proto) peer.tlsProtocol = proto;
    const cipher = ts.getCipher();
    if (cipher) peer.tlsCipher = cipher.name;
    const x = ts.getPeerX509Certificate();
    if (x) {
      const parsed = tryParseEfsClientCert(x.raw);
      if (parsed.ok) {
        peer.clientCert = parsed.cert;
        if (parsed.cert.clientAuth || parsed.cert.clientAuthError) {
          const v = opts.verify ?? {};
          peer.tokenCheck = verifyConnectToken({
            cert: parsed.cert,
            ...(v.credentials ? { credentials: v.credentials } : {}),
            now: v.now ? v.now() : new Date(),
            ...(peer.sniRegion ? { region: peer.sniRegion } : {}),
            ...(v.regions ? { regions: v.regions } : {}),
            ...(v.defaultAccount ? { defaultAccount: v.defaultAccount } : {}),
            ...(v.clockSkewSeconds !== undefined ? { clockSkewSeconds: v.clockSkewSeconds } : {}),
          });
        }
      } else {
        peer.certError = parsed.error;
        peer.tokenCheck = { ok: false, reason: 'malformed', detail: `client certificate: ${parsed.error}` };
      }
    }
    log?.info(
      {
        peer: `${peer.remoteAddress}:${peer.remotePort}`,
        sni: peer.servername,
        proto: peer.tlsProtocol,
        fs: peer.clientCert?.fileSystemId,
        ap: peer.clientCert?.accessPointId,
        principal: peer.tokenCheck?.ok ? peer.tokenCheck.principal.arn : undefined,
        tokenFailure: peer.tokenCheck && !peer.tokenCheck.ok ? `${peer.tokenCheck.reason}: ${peer.tokenCheck.detail}` : undefined,
        certError: peer.certError,
      },
      'TLS connection',
    );
    handOn(ts, peer, admission);
  }

  function handOn(socket: net.Socket | tls.TLSSocket, peer: PeerIdentity, admission: Admission | undefined): void {
    try {
      opts.onConnection(socket, peer, admission);
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'connection handler failed');
      socket.destroy();
    }
  }

  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const remote = normaliseAddress(socket.remoteAddress);
    if (opts.allow) {
      let ok = false;
      try {
        ok = opts.allow(remote, normaliseAddress(socket.localAddress));
      } catch {
        ok = false;
      }
      if (!ok) {
        log?.info({ peer: `${remote}:${socket.remotePort}` }, 'connection refused: no security group rule of the mount target (nor its allowedCidrs) admits this address');
        socket.destroy();
        return;
      }
    }
    let admission: Admission | undefined;
    if (opts.admit) {
      admission = opts.admit(remote);
      if (!admission) {
        socket.destroy();
        return;
      }
      socket.once('close', () => admission!.release());
    }
    pending.add(socket);
    socket.setNoDelay(true);
    const peer = baseIdentity(socket);
    const onError = (err: Error): void => {
      log?.debug({ err: err.message, peer: `${remote}:${peer.remotePort}` }, 'socket error before hand-off');
    };
    socket.on('error', onError);
    socket.on('close', () => pending.delete(socket));
    socket.setTimeout(firstByteTimeoutMs, () => {
      log?.debug({ peer: `${remote}:${peer.remotePort}` }, 'no data: closing');
      socket.destroy();
    });
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(chunk);
      const first = chunk[0]!;
      if (first === TLS_HANDSHAKE) {
        if (!secureContext) {
          log?.info({ peer: `${remote}:${peer.remotePort}` }, 'TLS connection but TLS is not configured: closing');
          socket.destroy();
          return;
        }
        startTls(socket, peer, admission);
        return;
      }
      if (!allowPlain) {
        log?.info({ peer: `${remote}:${peer.remotePort}` }, 'plaintext connection refused (TLS required)');
        socket.destroy();
        return;
      }
      pending.delete(socket);
      socket.off('error', onError);
      socket.on('error', () => undefined); // the consumer adds its own handler; never let an early error crash us
      handOn(socket, peer, admission);
      socket.resume();
    });
    socket.resume();
  });

  const front = server as FrontServer;
  front.destroyPending = () => {
    for (const s of pending) s.destroy();
    pending.clear();
  };
  return front;
}

// ---------------------------------------------------------------------------------------------
// CIDR matching (mount-target source allow-lists)

