/**
 * The op table: every NFSv4.0 and 4.1 operation (RFC 7530, RFC 8881) in
 * opcode order, with the needs the dispatcher enforces before running it
 * (flags, optable-types.ts) and its implementation. The only place ops are
 * registered (modelled on nfs-ganesha's optabv4).
 *
 * An opcode of the compound's minor version without an implementation here
 * (NOT_SUPPORTED) is answered NFS4ERR_NOTSUPP; one outside it, NFS4ERR_OP_ILLEGAL.
 * SEQUENCE is run by the dispatcher itself (BY_DISPATCHER).
 */
import * as N from '../xdr/gen/nfs4.js';
import { MUTATES, NEEDS_CFH, NEEDS_MOUNT, NEEDS_SFH, SELF_ENCODES, SOLO_WITHOUT_SEQUENCE, V40_ONLY, type OpImpl, type OpSpec } from './optable-types.js';
import {
  ACCESS,
  COMMIT,
  CREATE,
  GETFH,
  LINK,
  LOOKUP,
  LOOKUPP,
  PUTFH,
  PUTROOTFH,
  READ,
  READLINK,
  REMOVE,
  RENAME,
  RESTOREFH,
  SAVEFH,
  SECINFO,
  SECINFO_NO_NAME,
  WRITE,
} from './ops/file-ops.js';
import { GETATTR, NVERIFY, READDIR, SETATTR, VERIFY } from './ops/attr-ops.js';
import { CLOSE, OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE } from './ops/open.js';
import { LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER } from './ops/lock.js';
import {
  BIND_CONN_TO_SESSION,
  CREATE_SESSION,
  DELEGPURGE,
  DELEGRETURN,
  DESTROY_CLIENTID,
  DESTROY_SESSION,
  EXCHANGE_ID,
  FREE_STATEID,
  OPENATTR,
  RECLAIM_COMPLETE,
  RENEW,
  SETCLIENTID,
  SETCLIENTID_CONFIRM,
  TEST_STATEID,
} from './ops/state-ops.js';

/** An op of the protocol this server does not offer: the dispatcher answers NFS4ERR_NOTSUPP. */
const NOT_SUPPORTED = Symbol('not supported');
/** SEQUENCE: the dispatcher runs it (src/nfs4/dispatcher.ts). */
const BY_DISPATCHER = Symbol('run by the dispatcher');

export interface OpRow {
  op: number;
  name: string;
  flags: number;
  /** What the dispatcher runs; undefined for SEQUENCE and for ops not supported. */
  spec: OpSpec | undefined;
}

function op(code: number, flags: number, impl: OpImpl | typeof NOT_SUPPORTED | typeof BY_DISPATCHER): OpRow {
  const name = N.NFS_OPNUM_NAMES[code];
  if (name === undefined) throw new Error(`op table: unknown opcode ${code}`);
  if (impl === NOT_SUPPORTED || impl === BY_DISPATCHER) return { op: code, name, flags, spec: undefined };
  return { op: code, name, flags, spec: { op: code, name, flags, ...impl } };
}

// prettier-ignore
export const OP_TABLE: readonly OpRow[] = [
  // opcode                      flags                              implementation
  op(N.OP_ACCESS,                NEEDS_CFH,                         ACCESS),
  op(N.OP_CLOSE,                 NEEDS_CFH,                         CLOSE),
  op(N.OP_COMMIT,                NEEDS_CFH,                         COMMIT),
  op(N.OP_CREATE,                NEEDS_CFH | MUTATES,               CREATE),
  op(N.OP_DELEGPURGE,            0,                                 DELEGPURGE),          // answers NOTSUPP itself, after decoding
  op(N.OP_DELEGRETURN,           NEEDS_CFH,                         DELEGRETURN),         // never a delegation to return: BAD_STATEID
  op(N.OP_GETATTR,               NEEDS_CFH,                         GETATTR),
  op(N.OP_GETFH,                 NEEDS_CFH,                         GETFH),
  op(N.OP_LINK,                  NEEDS_CFH | NEEDS_SFH | MUTATES,   LINK),
  op(N.OP_LOCK,                  NEEDS_CFH,                         LOCK),
  op(N.OP_LOCKT,                 NEEDS_CFH,                         LOCKT),
  op(N.OP_LOCKU,                 NEEDS_CFH,                         LOCKU),
  op(N.OP_LOOKUP,                NEEDS_CFH,                         LOOKUP),
  op(N.OP_LOOKUPP,               NEEDS_CFH,                         LOOKUPP),
  op(N.OP_NVERIFY,               NEEDS_CFH,                         NVERIFY),
  op(N.OP_OPEN,                  NEEDS_CFH,                         OPEN),                // + MUTATES when creating or opening for write (OPEN.mutates)
  op(N.OP_OPENATTR,              NEEDS_CFH,                         OPENATTR),            // answers NOTSUPP itself: no named attributes
  op(N.OP_OPEN_CONFIRM,          NEEDS_CFH | V40_ONLY,              OPEN_CONFIRM),
  op(N.OP_OPEN_DOWNGRADE,        NEEDS_CFH,                         OPEN_DOWNGRADE),
  op(N.OP_PUTFH,                 NEEDS_MOUNT,                       PUTFH),
  op(N.OP_PUTPUBFH,              NEEDS_MOUNT,                       PUTROOTFH),           // the public filehandle is the root
  op(N.OP_PUTROOTFH,             NEEDS_MOUNT,                       PUTROOTFH),
  op(N.OP_READ,                  NEEDS_CFH | SELF_ENCODES,          READ),
  op(N.OP_READDIR,               NEEDS_CFH | SELF_ENCODES,          READDIR),
  op(N.OP_READLINK,              NEEDS_CFH,                         READLINK),
  op(N.OP_REMOVE,                NEEDS_CFH | MUTATES,               REMOVE),
  op(N.OP_RENAME,                NEEDS_CFH | NEEDS_SFH | MUTATES,   RENAME),
  op(N.OP_RENEW,                 V40_ONLY,                          RENEW),
  op(N.OP_RESTOREFH,             0,                                 RESTOREFH),
  op(N.OP_SAVEFH,                NEEDS_CFH,                         SAVEFH),
  op(N.OP_SECINFO,               NEEDS_CFH,                         SECINFO),
  op(N.OP_SETATTR,               NEEDS_CFH | MUTATES,               SETATTR),
  op(N.OP_SETCLIENTID,           V40_ONLY | NEEDS_MOUNT,            SETCLIENTID),
  op(N.OP_SETCLIENTID_CONFIRM,   V40_ONLY,                          SETCLIENTID_CONFIRM),
  op(N.OP_VERIFY,                NEEDS_CFH,                         VERIFY),
  op(N.OP_WRITE,                 NEEDS_CFH | MUTATES,               WRITE),
  op(N.OP_RELEASE_LOCKOWNER,     V40_ONLY,                          RELEASE_LOCKOWNER),
  op(N.OP_BACKCHANNEL_CTL,       0,                                 NOT_SUPPORTED),       // no back channel: this server never calls clients
  op(N.OP_BIND_CONN_TO_SESSION,  SOLO_WITHOUT_SEQUENCE,             BIND_CONN_TO_SESSION),
  op(N.OP_EXCHANGE_ID,           SOLO_WITHOUT_SEQUENCE | NEEDS_MOUNT, EXCHANGE_ID),
  op(N.OP_CREATE_SESSION,        SOLO_WITHOUT_SEQUENCE,             CREATE_SESSION),
  op(N.OP_DESTROY_SESSION,       SOLO_WITHOUT_SEQUENCE,             DESTROY_SESSION),
  op(N.OP_FREE_STATEID,          0,                                 FREE_STATEID),
  op(N.OP_GET_DIR_DELEGATION,    0,                                 NOT_SUPPORTED),       // no delegations
  op(N.OP_GETDEVICEINFO,         0,                                 NOT_SUPPORTED),       // no pNFS
  op(N.OP_GETDEVICELIST,         0,                                 NOT_SUPPORTED),       // no pNFS
  op(N.OP_LAYOUTCOMMIT,          0,                                 NOT_SUPPORTED),       // no pNFS
  op(N.OP_LAYOUTGET,             0,                                 NOT_SUPPORTED),       // no pNFS
  op(N.OP_LAYOUTRETURN,          0,                                 NOT_SUPPORTED),       // no pNFS
  op(N.OP_SECINFO_NO_NAME,       NEEDS_CFH,                         SECINFO_NO_NAME),
  op(N.OP_SEQUENCE,              0,                                 BY_DISPATCHER),       // slot checks and replay wrap the whole compound (dispatcher.ts)
  op(N.OP_SET_SSV,               0,                                 NOT_SUPPORTED),       // SP4_NONE state protection only (EXCHANGE_ID refuses SP4_SSV)
  op(N.OP_TEST_STATEID,          0,                                 TEST_STATEID),
  op(N.OP_WANT_DELEGATION,       0,                                 NOT_SUPPORTED),       // no delegations
  op(N.OP_DESTROY_CLIENTID,      SOLO_WITHOUT_SEQUENCE,             DESTROY_CLIENTID),
  op(N.OP_RECLAIM_COMPLETE,      0,                                 RECLAIM_COMPLETE),
];

/** The table is complete and in opcode order, and only 4.0 opcodes are 4.0-only (later ones are ILLEGAL in 4.0 by range). */
OP_TABLE.forEach((row, i) => {
  if (row.op !== N.OP_ACCESS + i) throw new Error(`op table: ${row.name} (${row.op}) out of opcode order`);
  if (row.flags & V40_ONLY && row.op > N.OP_RELEASE_LOCKOWNER) throw new Error(`op table: ${row.name} is not a 4.0 op`);
});
if (OP_TABLE[OP_TABLE.length - 1]?.op !== N.OP_RECLAIM_COMPLETE) throw new Error('op table: does not end at RECLAIM_COMPLETE');

/** The implemented ops, for the dispatcher (Nfs4Program). */
export const OP_SPECS: readonly OpSpec[] = OP_TABLE.flatMap((row) => (row.spec ? [row.spec] : []));
