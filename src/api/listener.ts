/**
 * The API port speaks HTTP and HTTPS at once, as the NFS port takes plain and
 * TLS: the first byte of a connection says which (0x16 opens a TLS handshake).
 * HTTPS uses the server certificate of the local CA (DATA/tls/ca.pem), whose
 * names cover localhost, 127.0.0.1 and ::1, so
 * `aws --endpoint-url https://127.0.0.1:8049 --ca-bundle DATA/tls/ca.pem` works
 * and `aws:SecureTransport` is true for those calls.
 */
import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import type { Logger } from 'pino';

const TLS_HANDSHAKE = 0x16;
/** A client that connects and says nothing is closed after this long. */
const FIRST_BYTE_TIMEOUT_MS = 30_000;

export interface ApiListenerOptions {
  http: http.Server;
  tls: { cert: string; key: string };
  log: Logger;
}

/** A listener that can also cut every connection it accepted (plain, TLS, or still silent). */
export interface ApiListener extends net.Server {
  destroyAll(): void;
}

export function createApiListener(o: ApiListenerOptions): ApiListener {
  const secureContext = tls.createSecureContext({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' });
  const open = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(chunk);
      if (chunk[0] !== TLS_HANDSHAKE) {
        o.http.emit('connection', socket);
        socket.resume();
        return;
      }
      // tls_wrap takes over the TCP handle and first consumes what was unshifted; the raw
      // socket must not be resumed again, or it would read past the TLS layer
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      const handshake = setTimeout(() => secure.destroy(), FIRST_BYTE_TIMEOUT_MS);
      secure.on('error', (err) => {
        o.log.debug({ err: err.message, peer }, 'API TLS connection failed');
        secure.destroy();
      });
      secure.on('close', () => clearTimeout(handshake));
      secure.once('secure', () => {
        clearTimeout(handshake);
        o.http.emit('connection', secure);
      });
    });
    socket.resume();
  }) as ApiListener;
  server.destroyAll = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return server;
}
