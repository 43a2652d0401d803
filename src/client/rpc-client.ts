/**
 * ONC RPC v2 client over TCP (RFC 5531): record marking, xid allocation,
 * many calls in flight matched by xid, AUTH_NONE / AUTH_SYS credentials and
 * per-call timeouts. Besides ordinary calls it can send arbitrary programs
 * (`callRaw`) and raw bytes (`sendRaw`) so tests can probe a server with
 * hostile input.
 */
import net from 'node:net';
import tls from 'node:tls';
import { RecordReader } from '../rpc/record.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';

export const RPC_VERSION = 2;
const MSG_CALL = 0;
const MSG_REPLY = 1;
const MSG_ACCEPTED = 0;
const MSG_DENIED = 1;

export const ACCEPT_STAT = {
  SUCCESS: 0,
  PROG_UNAVAIL: 1,
  PROG_MISMATCH: 2,
  PROC_UNAVAIL: 3,
  GARBAGE_ARGS: 4,
  SYSTEM_ERR: 5,
} as const;

export const REJECT_STAT = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const;

export const AUTH_FLAVOR = { NONE: 0, SYS: 1 } as const;

const ACCEPT_NAMES = ['SUCCESS', 'PROG_UNAVAIL', 'PROG_MISMATCH', 'PROC_UNAVAIL', 'GARBAGE_ARGS', 'SYSTEM_ERR'];

/** Credential of one call. */
export type RpcCred =
  | { flavor: 'none' }
  | {
      flavor: 'sys';
      uid: number;
      gid: number;
      gids?: number[];
      machinename?: string;
      stamp?: number;
    };

export const ROOT_CRED: RpcCred = { flavor: 'sys', uid: 0, gid: 0, gids: [], machinename: 'localefs-test' };

export function authSys(uid: number, gid: number, gids: number[] = [], machinename = 'localefs-test'): RpcCred {
  return { flavor: 'sys', uid, gid, gids, machinename };
}

export interface CallOptions {
  cred?: RpcCred;
  timeoutMs?: number;
  /** RPC version in the call header (tests send 3 to provoke RPC_MISMATCH). */
  rpcvers?: number;
  /** Use this xid instead of allocating one. */
  xid?: number;
}

/** A decoded reply header plus the result bytes that follow it. */
export interface RpcReply {
  xid: number;
  replyStat: number; // MSG_ACCEPTED / MSG_DENIED
  /** Set for accepted replies. */
  acceptStat?: number;
  /** Set for denied replies. */
  rejectStat?: number;
  /** Set for AUTH_ERROR rejections. */
  authStat?: number;
  /** PROG_MISMATCH / RPC_MISMATCH range. */
  mismatch?: { low: number; high: number };
  verf?: { flavor: number; body: Buffer };
  /** Procedure results (only meaningful for SUCCESS). */
  body: Buffer;
  /** The whole reply record. */
  record: Buffer;
}

/** A call that did not end in an accepted SUCCESS reply. */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly reply: RpcReply,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export class RpcTimeoutError extends Error {
  constructor(
    readonly xid: number,
    readonly timeoutMs: number,
  ) {
    super(`RPC call xid ${xid} timed out after ${timeoutMs} ms`);
    this.name = 'RpcTimeoutError';
  }
}

export class RpcClosedError extends Error {
  constructor(message = 'RPC connection closed') {
    super(message);
    this.name = 'RpcClosedError';
  }
}

interface Pending {
  resolve(r: RpcReply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export interface RpcClientOptions {
  host: string;
  port: number;
  /** Default credential of every call. */
  cred?: RpcCred;
  /** Default per-call timeout (ms). */
  timeoutMs?: number;
  /** Largest reply record accepted. */
  maxRecord?: number;
  connectTimeoutMs?: number;
  /** Speak TLS (as stunnel / efs-proxy do towards EFS); the options go to tls.connect. */
  tls?: tls.ConnectionOptions;
}

/** Encodes the credential body of a call. */
function encodeCred(w: XdrWriter, cred: RpcCred): void {
  if (cred.flavor === 'none') {
    w.u32(AUTH_FLAVOR.NONE);
    w.u32(0);
    return;
  }
  const body = new XdrWriter(128);
  body.u32(cred.stamp ?? 0);
  body.string(cred.machinename ?? 'localefs-test');
  body.u32(cred.uid);
  body.u32(cred.gid);
  const gids = cred.gids ?? [];
  body.u32(gids.length);
  for (const g of gids) body.u32(g);
  w.u32(AUTH_FLAVOR.SYS);
  w.opaque(body.finish());
}

/** Builds one complete call record (record mark included). */
export function buildCallRecord(
  xid: number,
  prog: number,
  vers: number,
  proc: number,
  args: Uint8Array,
  cred: RpcCred,
  rpcvers = RPC_VERSION,
): Buffer {
  const w = new XdrWriter(64 + args.length);
  const markAt = w.reserveU32();
  w.u32(xid);
  w.u32(MSG_CALL);
  w.u32(rpcvers);
  w.u32(prog);
  w.u32(vers);
  w.u32(proc);
  encodeCred(w, cred);
  w.u32(AUTH_FLAVOR.NONE); // verifier
  w.u32(0);
  w.ensure(args.length);
  w.buf.set(args, w.pos);
  w.pos += args.length;
  w.patchU32(markAt, (0x80000000 | (w.length - 4)) >>> 0);
  return Buffer.from(w.finish());
}

/** Decodes a reply record. Throws on a malformed header. */
export function decodeReply(record: Buffer): RpcReply {
  const r = new XdrReader(record);
  const xid = r.u32();
  const mtype = r.u32();
  if (mtype !== MSG_REPLY) throw new Error(`not a reply (msg_type ${mtype})`);
  const replyStat = r.u32();
  const reply: RpcReply = { xid, replyStat, body: Buffer.alloc(0), record };
  if (replyStat === MSG_ACCEPTED) {
    const flavor = r.u32();
    const body = r.opaque(400);
    reply.verf = { flavor, body };
    reply.acceptStat = r.u32();
    if (reply.acceptStat === ACCEPT_STAT.PROG_MISMATCH) reply.mismatch = { low: r.u32(), high: r.u32() };
    reply.body = record.subarray(r.pos);
  } else if (replyStat === MSG_DENIED) {
    reply.rejectStat = r.u32();
    if (reply.rejectStat === REJECT_STAT.RPC_MISMATCH) reply.mismatch = { low: r.u32(), high: r.u32() };
    else if (reply.rejectStat === REJECT_STAT.AUTH_ERROR) reply.authStat = r.u32();
  } else {
    throw new Error(`bad reply_stat ${replyStat}`);
  }
  return reply;
}

export function describeReply(rep: RpcReply): string {
  if (rep.replyStat === MSG_ACCEPTED) return `accepted ${ACCEPT_NAMES[rep.acceptStat ?? -1] ?? rep.acceptStat}`;
  if (rep.rejectStat === REJECT_STAT.RPC_MISMATCH) return `denied RPC_MISMATCH ${rep.mismatch?.low}-${rep.mismatch?.high}`;
  return `denied AUTH_ERROR ${rep.authStat}`;
}

export class RpcClient {
  readonly host: string;
  readonly port: number;
  cred: RpcCred;
  timeoutMs: number;
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, Pending>();
  private nextXid: number;
  private closedErr: Error | undefined;
  /** Replies that matched no pending call (e.g. answers to sendRaw without a waiter). */
  readonly unmatched: RpcReply[] = [];
  /** Records that could not be decoded as replies. */
  readonly undecodable: Buffer[] = [];
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, opts: RpcClientOptions) {
    this.socket = socket;
    this.host = opts.host;
    this.port = opts.port;
    this.cred = opts.cred ?? ROOT_CRED;
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.nextXid = (Math.random() * 0x7fffffff) >>> 0;
    const reader = new RecordReader(
      {
        onRecord: (rec) => this.onRecord(Buffer.from(rec)),
        onOversized: () => {
          /* a reply above maxRecord: dropped (its caller times out) */
        },
      },
      opts.maxRecord ?? 64 * 1024 * 1024,
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    this.closed = new Promise<void>((resolve) => {
      socket.on('close', () => {
        this.failAll(this.closedErr ?? new RpcClosedError());
        resolve();
      });
    });
    socket.on('error', (err) => {
      this.closedErr = err;
    });
  }

  static connect(opts: RpcClientOptions): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({ host: opts.host, port: opts.port, ...opts.tls })
        : net.createConnection({ host: opts.host, port: opts.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${opts.host}:${opts.port} timed out`));
      }, opts.connectTimeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RpcClient(socket, opts));
      });
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  allocXid(): number {
    this.nextXid = (this.nextXid + 1) >>> 0;
    return this.nextXid;
  }

  private onRecord(record: Buffer): void {
    let reply: RpcReply;
    try {
      reply = decodeReply(record);
    } catch {
      this.undecodable.push(record);
      return;
    }
    const p = this.pending.get(reply.xid);
    if (!p) {
      this.unmatched.push(reply);
      return;
    }
    this.pending.delete(reply.xid);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(reply);
  }

  private failAll(err: Error): void {
    for (const [xid, p] of this.pending) {
      this.pending.delete(xid);
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  /**
   * Waits for the reply with this xid (for requests sent with sendRaw).
   * A reply that already arrived unmatched is returned at once.
   */
  waitReply(xid: number, timeoutMs = this.timeoutMs): Promise<RpcReply> {
    const idx = this.unmatched.findIndex((r) => r.xid === xid);
    if (idx >= 0) return Promise.resolve(this.unmatched.splice(idx, 1)[0]!);
    if (this.socket.destroyed) return Promise.reject(this.closedErr ?? new RpcClosedError());
    return new Promise<RpcReply>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(xid);
              reject(new RpcTimeoutError(xid, timeoutMs));
            }, timeoutMs)
          : undefined;
      this.pending.set(xid, { resolve, reject, timer });
    });
  }

  /** Sends a call and returns the decoded reply whatever its status. */
  callRaw(prog: number, vers: number, proc: number, args: Uint8Array = Buffer.alloc(0), opts: CallOptions = {}): Promise<RpcReply> {
    const xid = opts.xid ?? this.allocXid();
    const record = buildCallRecord(xid, prog, vers, proc, args, opts.cred ?? this.cred, opts.rpcvers ?? RPC_VERSION);
    const wait = this.waitReply(xid, opts.timeoutMs ?? this.timeoutMs);
    this.socket.write(record);
    return wait;
  }

  /** Sends a call; resolves with the result bytes of an accepted SUCCESS reply, rejects with RpcError otherwise. */
  async call(prog: number, vers: number, proc: number, args: Uint8Array = Buffer.alloc(0), opts: CallOptions = {}): Promise<Buffer> {
    const reply = await this.callRaw(prog, vers, proc, args, opts);
    if (reply.replyStat !== MSG_ACCEPTED || reply.acceptStat !== ACCEPT_STAT.SUCCESS) {
      throw new RpcError(`RPC call prog ${prog} vers ${vers} proc ${proc}: ${describeReply(reply)}`, reply);
    }
    return reply.body;
  }

  /** Writes raw bytes to the socket (no framing added). Resolves once handed to the kernel. */
  sendRaw(buf: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(this.closedErr ?? new RpcClosedError());
        return;
      }
      this.socket.write(buf, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Closes the connection; pending calls fail with RpcClosedError. */
  async close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 1000);
      await this.closed;
      clearTimeout(t);
    }
  }

  /** Drops the connection at once (RST-like). */
  destroy(): void {
    this.socket.destroy();
  }
}
