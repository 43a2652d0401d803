import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { XdrError } from '../xdr/errors.js';

/**
 * ONC RPC v2 call and reply headers (RFC 5531). Hand-written because they sit
 * on every request; the generated codecs in src/xdr/gen/rpc.ts describe the
 * same layout and are used by the test client.
 */
export const RPC_VERSION = 2;
export const MSG_CALL = 0;
export const MSG_REPLY = 1;
export const MSG_ACCEPTED = 0;
export const MSG_DENIED = 1;

export const ACCEPT_SUCCESS = 0;
export const ACCEPT_PROG_UNAVAIL = 1;
export const ACCEPT_PROG_MISMATCH = 2;
export const ACCEPT_PROC_UNAVAIL = 3;
export const ACCEPT_GARBAGE_ARGS = 4;
export const ACCEPT_SYSTEM_ERR = 5;

export const REJECT_RPC_MISMATCH = 0;
export const REJECT_AUTH_ERROR = 1;

export const AUTH_NONE = 0;
export const AUTH_SYS = 1;
export const AUTH_BADCRED = 1;
export const AUTH_REJECTEDCRED = 2;
export const AUTH_TOOWEAK = 5;

const MAX_AUTH_BODY = 400;
const MAX_MACHINENAME = 255;
const MAX_GIDS = 16;

export interface AuthSys {
  stamp: number;
  machinename: string;
  uid: number;
  gid: number;
  gids: number[];
}

export interface CallHeader {
  xid: number;
  rpcvers: number;
  prog: number;
  vers: number;
  proc: number;
  credFlavor: number;
  /** Set when credFlavor is AUTH_SYS and its body decoded. */
  authsys: AuthSys | undefined;
  /** The credential body could not be decoded: answer AUTH_ERROR / AUTH_BADCRED. */
  badCred: boolean;
  /** Offset of the procedure arguments within the record. */
  argsAt: number;
}

/** Decodes the call header. Throws XdrError for a malformed header (the caller answers GARBAGE_ARGS if it has an xid). */
export function decodeCall(r: XdrReader): CallHeader {
  const xid = r.u32();
  const mtype = r.u32();
  if (mtype !== MSG_CALL) throw new XdrError(`not a call (msg_type ${mtype})`);
  const rpcvers = r.u32();
  const prog = r.u32();
  const vers = r.u32();
  const proc = r.u32();
  const credFlavor = r.u32();
  const credBody = r.opaque(MAX_AUTH_BODY);
  r.u32(); // verifier flavor: ignored for AUTH_NONE/AUTH_SYS
  r.opaque(MAX_AUTH_BODY);
  let authsys: AuthSys | undefined;
  let badCred = false;
  if (credFlavor === AUTH_SYS) {
    try {
      authsys = decodeAuthSys(credBody);
    } catch (err) {
      if (!(err instanceof XdrError)) throw err;
      badCred = true;
    }
  }
  return { xid, rpcvers, prog, vers, proc, credFlavor, authsys, badCred, argsAt: r.pos };
}

function decodeAuthSys(body: Buffer): AuthSys {
  const cr = new XdrReader(body);
  const stamp = cr.u32();
  const machinename = cr.string(MAX_MACHINENAME);
  const uid = cr.u32();
  const gid = cr.u32();
  const n = cr.length(MAX_GIDS, 4);
  const gids: number[] = new Array(n);
  for (let i = 0; i < n; i++) gids[i] = cr.u32();
  if (cr.remaining !== 0) throw new XdrError('trailing bytes in AUTH_SYS credential');
  return { stamp, machinename, uid, gid, gids };
}

/** Starts a reply record: reserves the record mark and writes an accepted-reply header. Returns the writer positioned at the results. */
export function beginAcceptedReply(w: XdrWriter, xid: number, acceptStat: number): void {
  w.reserveU32(); // record mark, patched by finishRecord
  w.u32(xid);
  w.u32(MSG_REPLY);
  w.u32(MSG_ACCEPTED);
  w.u32(AUTH_NONE); // verifier
  w.u32(0);
  w.u32(acceptStat);
}

export function writeProgMismatch(w: XdrWriter, xid: number, low: number, high: number): void {
  beginAcceptedReply(w, xid, ACCEPT_PROG_MISMATCH);
  w.u32(low);
  w.u32(high);
}

export function writeRpcMismatch(w: XdrWriter, xid: number): void {
  w.reserveU32();
  w.u32(xid);
  w.u32(MSG_REPLY);
  w.u32(MSG_DENIED);
  w.u32(REJECT_RPC_MISMATCH);
  w.u32(RPC_VERSION);
  w.u32(RPC_VERSION);
}

export function writeAuthError(w: XdrWriter, xid: number, authStat: number): void {
  w.reserveU32();
  w.u32(xid);
  w.u32(MSG_REPLY);
  w.u32(MSG_DENIED);
  w.u32(REJECT_AUTH_ERROR);
  w.u32(authStat);
}

/** Back-fills the record mark of a reply that starts at offset 0 of the writer. */
export function finishRecord(w: XdrWriter): Buffer {
  w.patchU32(0, (0x80000000 | (w.length - 4)) >>> 0);
  return w.finish();
}
