/**
 * Helpers shared by the state op handlers (state-ops.ts, open.ts, lock.ts).
 */
import * as N from '../../xdr/gen/nfs4.js';
import type { CompoundCtx } from '../context.js';
import { NfsError } from '../../protocol/status.js';
import type { Client } from '../../state/model.js';
import { isCurrentStateid } from '../../state/stateids.js';
import type { StateidRef } from '../../state/types.js';

/**
 * The principal a client record is bound to (RFC 8881 2.4, RFC 7530 16.33):
 * for AUTH_SYS the flavor and uid (the Linux client uses its machine
 * credential, uid 0, for all lease-related ops).
 */
export function principalOf(ctx: CompoundCtx): string {
  return `${ctx.cred.flavor}:${ctx.cred.uid}`;
}

/** Resolves the 4.1 current-stateid placeholder (seqid 1, other zero) from the compound. */
export function argStateid(ctx: CompoundCtx, sid: StateidRef): StateidRef {
  if (ctx.minorVersion >= 1 && isCurrentStateid(sid)) {
    if (!ctx.currentStateid) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'no current stateid');
    return ctx.currentStateid;
  }
  return sid;
}

/** 4.1: the client of the compound's session (stateids must belong to it). 4.0: undefined (any). */
export function sessionClientOrUndefined(ctx: CompoundCtx): Client | undefined {
  return ctx.minorVersion >= 1 ? ctx.server.state.sessionClient(ctx.session) : undefined;
}

/** A stateid value to return / remember (the state object keeps changing; this does not). */
export function snapshot(st: { seqid: number; other: Buffer }): N.stateid4 {
  return { seqid: st.seqid, other: st.other };
}
