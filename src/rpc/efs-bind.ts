import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { XdrError } from '../xdr/errors.js';
import {
  ACCEPT_GARBAGE_ARGS,
  ACCEPT_PROC_UNAVAIL,
  ACCEPT_SUCCESS,
  beginAcceptedReply,
  finishRecord,
  writeProgMismatch,
  type CallHeader,
} from './message.js';
import type { RpcProgram } from './router.js';

/**
 * efs-proxy's AWSFILE program (shared spec efs-utils.md §4): efs-utils v2+
 * sends `bind_client_to_partition` as the first call on every new server
 * connection and waits for the answer before relaying NFS.
 *
 * We answer READY with a partition id that is stable per file system:
 * SHA-512("localefs-partition\0" + fileSystemId), 64 bytes, so every
 * connection of one file system (also across restarts and across
 * multiplexed connections) reports the same partition. ScaleUpConfig keeps
 * multiplexing effectively off: max_multiplexed_connections 5 (never < 3,
 * the proxy would panic) and a threshold of 0x7fffffff bytes/s.
 */
export const AWSFILE_PROGRAM = 400123;
export const AWSFILE_VERSION = 1;
export const AWSFILE_PROC_NULL = 0;
export const AWSFILE_PROC_BIND_CLIENT_TO_PARTITION = 2;
/** S3 Files only; not sent for EFS mounts. Answered PROC_UNAVAIL (the proxy then uses defaults). */
export const AWSFILE_PROC_CHANNEL_INIT = 3;

export const BIND_RETRY = 0;
export const BIND_RETRY_LATER = 1;
export const BIND_PREFERRED = 2;
export const BIND_READY = 3;
export const BIND_ERROR = 4;

export const PARTITION_ID_BYTES = 64;
const PROXY_IDENTIFIER_MAX = 16;
const INCARNATION_MAX = 8;

export interface ScaleUpConfig {
  maxMultiplexedConnections: number;
  scaleUpBytesPerSecThreshold: number;
  scaleUpThresholdBreachedDurationSec: number;
  scaleUpLookbackWindowSizeSec: number;
}

export const DEFAULT_SCALE_UP_CONFIG: Readonly<ScaleUpConfig> = Object.freeze({
  maxMultiplexedConnections: 5,
  scaleUpBytesPerSecThreshold: 0x7fffffff,
  scaleUpThresholdBreachedDurationSec: 1,
  scaleUpLookbackWindowSizeSec: 1,
});

export interface BindRequest {
  /** ProxyIdentifier.identifier: the proxy process's UUIDv4 (16 bytes). */
  identifier: Buffer;
  /** ProxyIdentifier.incarnation: big-endian i64, counts NFS connections of that proxy. */
  incarnation: bigint;
}

export interface EfsBindOptions {
  /** File system the connection belongs to (from `.7.3`/SNI/local address); selects the partition id. */
  fileSystemId?: string;
  scaleUp?: ScaleUpConfig;
  log?: Pick<Logger, 'info' | 'debug' | 'warn'>;
  /** Called with the decoded request of every bind (to correlate a mount's reconnects). */
  onBind?(req: BindRequest): void;
}

/** Stable 64-byte partition id of a file system. */
export function partitionIdFor(fileSystemId: string | undefined): Buffer {
  return createHash('sha512')
    .update(`localefs-partition\0${fileSystemId ?? ''}`)
    .digest();
}

/** Decodes the bind_client_to_partition arguments (a ProxyIdentifier). Throws XdrError when malformed. */
export function decodeBindRequest(record: Buffer, argsAt: number): BindRequest {
  const r = new XdrReader(record, argsAt);
  const identifier = Buffer.from(r.opaque(PROXY_IDENTIFIER_MAX));
  const inc = r.opaque(INCARNATION_MAX);
  if (r.remaining !== 0) throw new XdrError('trailing bytes after ProxyIdentifier');
  let incarnation = 0n;
  for (const b of inc) incarnation = (incarnation << 8n) | BigInt(b);
  if (inc.length === INCARNATION_MAX) incarnation = BigInt.asIntN(64, incarnation);
  return { identifier, incarnation };
}

/** Formats a 16-byte identifier as a UUID string (other lengths: hex). */
export function formatProxyIdentifier(id: Buffer): string {
  const h = id.toString('hex');
  if (id.length !== 16) return h;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function writeBindReady(w: XdrWriter, partitionId: Buffer, scale: ScaleUpConfig): void {
  w.i32(BIND_READY);
  w.fixedOpaque(partitionId, PARTITION_ID_BYTES);
  // fewer than 3 makes efs-proxy's multiplexing bookkeeping panic
  w.i32(Math.max(3, scale.maxMultiplexedConnections));
  w.i32(scale.scaleUpBytesPerSecThreshold);
  w.i32(scale.scaleUpThresholdBreachedDurationSec);
  w.i32(scale.scaleUpLookbackWindowSizeSec);
}

/**
 * Answers one call to program 400123. Returns the complete reply record
 * (record mark included). The caller routes `call.prog === AWSFILE_PROGRAM`
 * here after checking the RPC version; any credential flavour is accepted
 * (the proxy sends AUTH_NONE).
 */
export function handleEfsBind(call: CallHeader, record: Buffer, opts: EfsBindOptions = {}): Buffer {
  const w = new XdrWriter(256);
  if (call.vers !== AWSFILE_VERSION) {
    writeProgMismatch(w, call.xid, AWSFILE_VERSION, AWSFILE_VERSION);
    return finishRecord(w);
  }
  if (call.proc === AWSFILE_PROC_NULL) {
    beginAcceptedReply(w, call.xid, ACCEPT_SUCCESS);
    return finishRecord(w);
  }
  if (call.proc !== AWSFILE_PROC_BIND_CLIENT_TO_PARTITION) {
    beginAcceptedReply(w, call.xid, ACCEPT_PROC_UNAVAIL);
    return finishRecord(w);
  }
  let req: BindRequest;
  try {
    req = decodeBindRequest(record, call.argsAt);
  } catch (err) {
    if (!(err instanceof XdrError)) throw err;
    opts.log?.warn({ xid: call.xid, err: err.message }, 'undecodable efs-proxy bind request');
    beginAcceptedReply(w, call.xid, ACCEPT_GARBAGE_ARGS);
    return finishRecord(w);
  }
  opts.log?.info(
    { proxyId: formatProxyIdentifier(req.identifier), incarnation: req.incarnation.toString(), fileSystemId: opts.fileSystemId },
    'efs-proxy bind_client_to_partition',
  );
  opts.onBind?.(req);
  beginAcceptedReply(w, call.xid, ACCEPT_SUCCESS);
  writeBindReady(w, partitionIdFor(opts.fileSystemId), opts.scaleUp ?? DEFAULT_SCALE_UP_CONFIG);
  return finishRecord(w);
}

/** Program 400123 for the RPC router: every connection of `fileSystemId` binds to its one partition. */
export function efsBindRpcProgram(fileSystemId: string): RpcProgram {
  return { prog: AWSFILE_PROGRAM, handle: (call, record, conn) => handleEfsBind(call, record, { fileSystemId, log: conn.log }) };
}
