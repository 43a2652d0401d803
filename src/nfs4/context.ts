import type { Logger } from 'pino';
import type { XdrWriter } from '../xdr/writer.js';
import type { Identity, Stat, Store } from '../store/types.js';
import type { StateManager, Session, Slot, StateidRef } from '../state/types.js';
import type { FhCodec } from './fh.js';
import type { ConnectionContext } from '../rpc/context.js';
import type { Jail } from '../policy/jail.js';

/** Server-wide configuration the ops read. */
export interface ServerConfig {
  leaseSeconds: number;
  fileSystemId: string;
  /** Changes on every server start: WRITE/COMMIT verifier, so clients resend unstable data after a restart. */
  writeVerifier: Buffer;
  /** Server owner/scope for EXCHANGE_ID. */
  serverOwner: string;
  serverScope: string;
  /** Status for mutating ops on a connection without ClientWrite: NFS4ERR_ACCESS (default) or NFS4ERR_ROFS. */
  readOnlyStatus: number;
}

/** Everything a COMPOUND can reach: built once at start. */
export interface ServerCtx {
  store: Store;
  state: StateManager;
  fh: FhCodec;
  config: ServerConfig;
  log: Logger;
}

/**
 * What the ops read of the connection (its ConnectionContext): the peer, the
 * grant settled when it connected (ClientMount/Write/RootAccess, access
 * point), and the access point's jail.
 */
export type ConnInfo = Pick<ConnectionContext, 'id' | 'remoteAddress' | 'remotePort' | 'log' | 'grant'> & { jail?: Jail | undefined };

/** The RPC credential of one request. */
export interface RpcCred {
  flavor: number; // AUTH_NONE or AUTH_SYS
  uid: number;
  gid: number;
  gids: number[];
  machinename: string;
}

/** A resolved current or saved filehandle. */
export interface FileRef {
  ino: number;
  gen: number;
  /** The wire handle, for GETFH and for state keyed by handle. */
  fh: Buffer;
  /** Attributes as of resolution (PUTFH/LOOKUP); refresh with store.getattr when an op needs fresh values. */
  stat: Stat;
}

/** Per-COMPOUND context: created for each request and thrown away after. */
export interface CompoundCtx {
  server: ServerCtx;
  conn: ConnInfo;
  minorVersion: number;
  cred: RpcCred;
  /** Effective identity for permission checks (after squash/override). */
  identity: Identity;
  cfh: FileRef | undefined;
  sfh: FileRef | undefined;
  /** NFSv4.1 "current stateid" (RFC 8881 16.2.3.1.2). */
  currentStateid: StateidRef | undefined;
  savedStateid: StateidRef | undefined;
  /** Set by SEQUENCE (4.1). */
  session: Session | undefined;
  slot: Slot | undefined;
  /** The reply being built; ops with the SELF_ENCODES flag write their result here directly. */
  reply: XdrWriter;
  /** Size limit of the whole COMPOUND4res in bytes (session ca_maxresponsesize, or the cached limit). */
  replyBudget: number;
  /** Writer offset where COMPOUND4res starts. */
  replyStart: number;
  /**
   * Through an access point: the handles this COMPOUND has already found inside the jail
   * (checked at their first use in the request; a later request checks again).
   */
  jailAdmitted?: Set<FileRef>;
}

/** Bytes an op may still add to the reply before it exceeds the budget. */
export function replyRoom(ctx: CompoundCtx): number {
  return ctx.replyBudget - (ctx.reply.length - ctx.replyStart);
}

/** Fresh attributes of a filehandle's object, kept in `ref` (the store serves them from its stat cache). */
export async function refresh(ctx: CompoundCtx, ref: FileRef): Promise<Stat> {
  const stat = await ctx.server.store.getattr(ref.ino);
  ref.stat = stat;
  return stat;
}
