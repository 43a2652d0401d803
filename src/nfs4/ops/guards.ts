/**
 * Checks the op handlers share: the kind of object an op works on, the
 * special stateids, and the caller's permission on an object. Where the RFCs
 * give different ops different answers, the guard takes the op's rule.
 * (Cross-cutting needs, filehandles, the grant and the access point, are the
 * dispatcher's, from the op table.)
 */
import * as N from '../../xdr/gen/nfs4.js';
import type { FileKind, Identity, Stat } from '../../store/types.js';
import type { IoTarget, StateidRef } from '../../state/types.js';
import { isSpecialStateid } from '../../state/stateids.js';
import { deleteEntryRefusal, mayAccess, MAY_READ, MAY_WRITE } from '../../policy/permissions.js';
import { NfsError } from '../../protocol/status.js';
import { refresh, type CompoundCtx, type FileRef } from '../context.js';
import { argStateid } from './state-common.js';

/* ------------------------------------------------------------------ kind */

/**
 * What an op answers for an object that is not a regular file:
 * - 'io' (READ, WRITE, COMMIT): directory ISDIR; symlink SYMLINK in 4.1
 *   (RFC 8881 18.22.3), INVAL in 4.0; anything else INVAL.
 * - 'plain' (SETATTR of size, LOCK, LOCKT): directory ISDIR; anything else INVAL.
 * - 'open' (OPEN, RFC 8881 18.16.3, RFC 7530 16.16.6): directory ISDIR,
 *   symlink SYMLINK; anything else WRONG_TYPE in 4.1, SYMLINK in 4.0.
 */
export type NotRegularRule = 'io' | 'plain' | 'open';

function notRegularStatus(kind: FileKind, minor: number, rule: NotRegularRule): number {
  if (kind === 'dir') return N.NFS4ERR_ISDIR;
  switch (rule) {
    case 'io':
      return kind === 'lnk' && minor === 1 ? N.NFS4ERR_SYMLINK : N.NFS4ERR_INVAL;
    case 'plain':
      return N.NFS4ERR_INVAL;
    case 'open':
      return kind === 'lnk' || minor === 0 ? N.NFS4ERR_SYMLINK : N.NFS4ERR_WRONG_TYPE;
  }
}

/** The object must be a regular file; otherwise the status `rule` gives its kind (detail: "`what` a <kind>"). */
export function requireRegular(stat: Stat, minor: number, rule: NotRegularRule, what?: string): void {
  if (stat.kind === 'reg') return;
  throw new NfsError(notRegularStatus(stat.kind, minor, rule), what && `${what} a ${stat.kind}`);
}

/** The object must be a directory (symlink -> SYMLINK, other -> NOTDIR). */
export function requireDir(stat: Stat): void {
  if (stat.kind === 'dir') return;
  throw new NfsError(stat.kind === 'lnk' ? N.NFS4ERR_SYMLINK : N.NFS4ERR_NOTDIR);
}

/* ------------------------------------------------------------------ special stateids */


/** For ops that need a real stateid (FREE_STATEID, DELEGRETURN): a special one is BAD_STATEID. */
export function refuseSpecialStateid(sid: StateidRef): void {
  if (isSpecialStateid(sid)) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'special stateid');
}

/** The state a stateid named (`what`: "open stateid", "lock stateid"...) must be of the current filehandle's file: BAD_STATEID otherwise. */
export function requireStateOfCfh(ctx: CompoundCtx, state: { ino: number }, what = 'stateid'): void {
  if (state.ino !== ctx.cfh!.ino) throw new NfsError(N.NFS4ERR_BAD_STATEID, `${what} is for another file`);
}

/** 4.0: an open is usable (CLOSE, OPEN_DOWNGRADE, a first LOCK) only once its owner is confirmed: BAD_STATEID before. */
export function requireConfirmedOpen(open: { owner: { confirmed: boolean } }, minor: number): void {
  if (minor === 0 && !open.owner.confirmed) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open not confirmed');
}

/* ------------------------------------------------------------------ permission */

/** The caller needs the `want` bits (MAY_*) on the object: NFS4ERR_ACCESS otherwise. */
export function requireAccess(ctx: CompoundCtx, stat: Stat, want: number, detail?: string): void {
  if (!mayAccess(stat, ctx.identity, want)) throw new NfsError(N.NFS4ERR_ACCESS, detail);
}

/**
 * Removing or renaming `entry` out of `dir`: NFS4ERR_ACCESS for the mode bits,
 * NFS4ERR_PERM for a sticky directory's owner rule (RFC 8881 15.1.6.2: the
 * caller is neither root nor the owner).
 */
export function requireDeleteEntry(ctx: CompoundCtx, dir: Stat, entry: Stat): void {
  const refusal = deleteEntryRefusal(dir, entry, ctx.identity);
  if (refusal) throw new NfsError(refusal === 'sticky' ? N.NFS4ERR_PERM : N.NFS4ERR_ACCESS, `${refusal}: may not remove the entry`);
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.uid === b.uid && a.gid === b.gid;
}

/**
 * The open file a READ or WRITE goes through, for its stateid. The caller's
 * own permission (on fresh attributes) is checked when OPEN did not check it:
 * a special stateid names no open, and another user's open was checked
 * against that user.
 */
export async function ioTarget(ctx: CompoundCtx, ref: FileRef, stateid: StateidRef, write: boolean): Promise<IoTarget> {
  const want = write ? MAY_WRITE : MAY_READ;
  const sid = argStateid(ctx, stateid);
  if (isSpecialStateid(sid)) requireAccess(ctx, await refresh(ctx, ref), want);
  const target = await ctx.server.state.resolveIo(sid, ref.ino, write, ctx.minorVersion);
  if (target.openedBy && !sameIdentity(target.openedBy, ctx.identity)) requireAccess(ctx, await refresh(ctx, ref), want);
  return target;
}
