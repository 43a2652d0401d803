/**
 * OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE (RFC 8881 18.16-18.20, 18.2;
 * RFC 7530 16.16-16.19, 16.2), EFS flavour: no delegations, no share deny,
 * one fd per open state.
 */
import * as N from '../../xdr/gen/nfs4.js';
import { refresh, type CompoundCtx, type FileRef } from '../context.js';
import type { OpImpl } from '../optable-types.js';
import { NfsError } from '../../protocol/status.js';
import { checkComponent } from '../names.js';
import { A, bitmapFromList, decodeSettable, type DecodedAttrs } from '../attrs.js';
import { StoreError, type CreateAttrs, type Stat } from '../../store/types.js';
import { creationOwnership, inGroup, mayAccess, MAY_EXEC, MAY_READ, MAY_WRITE } from '../../policy/permissions.js';
import type { Client, OpenOwner } from '../../state/model.js';
import { ACCESS_READ, ACCESS_WRITE } from '../../state/model.js';
import { invalidStateid } from '../../state/stateids.js';
import type { StateManager, StateidRef } from '../../state/types.js';
import { argStateid, sessionClientOrUndefined, snapshot } from './state-common.js';
import { cinfo, fileRef } from './file-ops.js';
import { requireAccess, requireConfirmedOpen, requireDir, requireRegular, requireStateOfCfh } from './guards.js';

const WANT_FLAGS =
  N.OPEN4_SHARE_ACCESS_WANT_DELEG_MASK |
  N.OPEN4_SHARE_ACCESS_WANT_SIGNAL_DELEG_WHEN_RESRC_AVAIL |
  N.OPEN4_SHARE_ACCESS_WANT_PUSH_DELEG_WHEN_UNCONTENDED;

/** Mode of a file created by OPEN without a mode attribute (EXCLUSIVE4, or createattrs without mode). */
const DEFAULT_CREATE_MODE = 0o644;
const EXCLUSIVE_CREATE_MODE = 0o600;

/** What OPEN remembers for a 4.0 replay and applies to the compound. */
interface OpenOutcome {
  res: N.OPEN4resok;
  ref: FileRef;
  stateid: StateidRef;
}

function isENOENT(err: unknown): boolean {
  return err instanceof StoreError ? err.code === 'ENOENT' : (err as { code?: unknown } | null)?.code === 'ENOENT';
}
function isEEXIST(err: unknown): boolean {
  return err instanceof StoreError ? err.code === 'EEXIST' : (err as { code?: unknown } | null)?.code === 'EEXIST';
}

/** Verifier of an exclusive create, stored in atime/mtime seconds (nseconds 0), as other servers do. */
function verifierTimes(verf: Buffer): { atime: { sec: number; nsec: number }; mtime: { sec: number; nsec: number } } {
  return { atime: { sec: verf.readUInt32BE(0), nsec: 0 }, mtime: { sec: verf.readUInt32BE(4), nsec: 0 } };
}
function verifierMatches(stat: Stat, verf: Buffer): boolean {
  const t = verifierTimes(verf);
  return stat.atime.sec === t.atime.sec && stat.mtime.sec === t.mtime.sec && stat.atime.nsec === 0 && stat.mtime.nsec === 0;
}

/** The caller may open the file with the share access (read also allowed through execute, for exec()). */
function checkOpenAccess(ctx: CompoundCtx, stat: Stat, access: number): void {
  const who = ctx.identity;
  if (access & ACCESS_READ && !mayAccess(stat, who, MAY_READ) && !mayAccess(stat, who, MAY_EXEC)) {
    throw new NfsError(N.NFS4ERR_ACCESS, 'no read permission');
  }
  if (access & ACCESS_WRITE) requireAccess(ctx, stat, MAY_WRITE, 'no write permission');
}

function delegationNone(minor: number, want: number): N.open_delegation4 {
  if (minor === 0 || (want & N.OPEN4_SHARE_ACCESS_WANT_DELEG_MASK) === 0) return { delegation_type: N.OPEN_DELEGATE_NONE };
  const w = want & N.OPEN4_SHARE_ACCESS_WANT_DELEG_MASK;
  let why: N.open_none_delegation4;
  if (w === N.OPEN4_SHARE_ACCESS_WANT_NO_DELEG) why = { ond_why: N.WND4_NOT_WANTED };
  else if (w === N.OPEN4_SHARE_ACCESS_WANT_CANCEL) why = { ond_why: N.WND4_CANCELLED };
  else why = { ond_why: N.WND4_RESOURCE, ond_server_will_signal_avail: false };
  return { delegation_type: N.OPEN_DELEGATE_NONE_EXT, od_whynone: why };
}

interface CreatePlan {
  mode: number; // createmode4
  attrs: DecodedAttrs;
  verf?: Buffer;
}

function createPlan(how: N.createhow4, minor: number): CreatePlan {
  switch (how.mode) {
    case N.UNCHECKED4:
    case N.GUARDED4:
      return { mode: how.mode, attrs: decodeSettable(how.createattrs!, minor) };
    case N.EXCLUSIVE4:
      return { mode: how.mode, attrs: { set: {}, attrset: [] }, verf: Buffer.from(how.createverf!) };
    case N.EXCLUSIVE4_1: {
      if (minor === 0) throw new NfsError(N.NFS4ERR_INVAL, 'EXCLUSIVE4_1 is NFSv4.1');
      const cb = how.ch_createboth!;
      const attrs = decodeSettable(cb.cva_attrs, minor);
      if (attrs.set.atime !== undefined || attrs.set.mtime !== undefined) {
        throw new NfsError(N.NFS4ERR_INVAL, 'EXCLUSIVE4_1 attributes may not set times');
      }
      return { mode: how.mode, attrs, verf: Buffer.from(cb.cva_verf) };
    }
    default:
      throw new NfsError(N.NFS4ERR_INVAL, `createmode ${how.mode}`);
  }
}

/** Owner/group of a new file: the caller's (creationOwnership), or what createattrs ask if the caller may. */
function newFileAttrs(ctx: CompoundCtx, dir: Stat, plan: CreatePlan): CreateAttrs {
  const set = plan.attrs.set;
  const exclusive = plan.verf !== undefined;
  const own = creationOwnership(dir, ctx.identity, set.mode ?? (exclusive ? EXCLUSIVE_CREATE_MODE : DEFAULT_CREATE_MODE), false);
  const who = ctx.identity;
  if (set.uid !== undefined && set.uid !== own.uid) {
    if (who.uid !== 0) throw new NfsError(N.NFS4ERR_PERM, 'cannot create a file owned by someone else');
    own.uid = set.uid;
  }
  if (set.gid !== undefined && set.gid !== own.gid) {
    if (who.uid !== 0 && !inGroup(who, set.gid)) throw new NfsError(N.NFS4ERR_PERM, 'not a member of the group');
    own.gid = set.gid;
  }
  const attrs: CreateAttrs = { mode: own.mode, uid: own.uid, gid: own.gid };
  if (set.size !== undefined) attrs.size = set.size;
  if (plan.verf) {
    const t = verifierTimes(plan.verf);
    attrs.atime = t.atime;
    attrs.mtime = t.mtime;
  } else {
    if (set.atime !== undefined) attrs.atime = set.atime;
    if (set.mtime !== undefined) attrs.mtime = set.mtime;
  }
  return attrs;
}

interface Target {
  stat: Stat;
  ref?: FileRef;
  cinfo: N.change_info4;
  attrset: number[];
  /** Created by this OPEN (or its exclusive retransmission): the owner may open it whatever its mode. */
  created: boolean;
}

/** CLAIM_NULL: look the name up in the current directory, creating it as asked. */
async function claimNull(ctx: CompoundCtx, a: N.OPEN4args, access: number): Promise<Target> {
  const store = ctx.server.store;
  const minor = ctx.minorVersion;
  const dirRef = ctx.cfh!;
  requireDir(dirRef.stat);
  const name = checkComponent(a.claim.file ?? '');
  const creating = a.openhow.opentype === N.OPEN4_CREATE;
  const plan = creating ? createPlan(a.openhow.how!, minor) : undefined;
  for (let attempt = 0; ; attempt++) {
    const dir = await refresh(ctx, dirRef);
    requireAccess(ctx, dir, MAY_EXEC, 'no search permission on the directory');
    let stat: Stat | undefined;
    try {
      stat = await store.lookup(dir.ino, name);
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    const unchanged = cinfo({ before: dir.change, after: dir.change });
    if (!plan) {
      if (!stat) throw new NfsError(N.NFS4ERR_NOENT);
      return { stat, cinfo: unchanged, attrset: [], created: false };
    }
    if (stat) {
      if (plan.mode === N.GUARDED4) throw new NfsError(N.NFS4ERR_EXIST);
      if (plan.verf) {
        // a retransmitted exclusive create finds the file it made, with its verifier
        if (stat.kind !== 'reg' || !verifierMatches(stat, plan.verf)) throw new NfsError(N.NFS4ERR_EXIST);
        return { stat, cinfo: unchanged, attrset: exclusiveAttrset(plan), created: stat.uid === ctx.identity.uid };
      }
      // UNCHECKED4 on an existing file: only a size of 0 is applied (truncate)
      requireRegular(stat, minor, 'open', 'cannot open');
      if (plan.attrs.set.size === 0) {
        if (!(access & ACCESS_WRITE)) throw new NfsError(N.NFS4ERR_INVAL, 'truncating open without write access');
        requireAccess(ctx, stat, MAY_WRITE, 'no write permission');
        if (stat.size !== 0) stat = await store.setattr(stat.ino, { size: 0 });
        return { stat, cinfo: unchanged, attrset: bitmapFromList([A.SIZE]), created: false };
      }
      return { stat, cinfo: unchanged, attrset: [], created: false };
    }
    requireAccess(ctx, dir, MAY_WRITE | MAY_EXEC, 'no write permission on the directory');
    const attrs = newFileAttrs(ctx, dir, plan);
    try {
      const r = await store.createFile(dir.ino, name, attrs);
      return {
        stat: r.stat,
        cinfo: cinfo(r.dir),
        attrset: plan.verf ? exclusiveAttrset(plan) : plan.attrs.attrset,
        created: true,
      };
    } catch (err) {
      // lost a race with another creator: look again (UNCHECKED opens it, GUARDED answers EXIST)
      if (isEEXIST(err) && attempt < 2) continue;
      throw err;
    }
  }
}

/** attrset of an exclusive create: the attributes set from createattrs plus the times holding the verifier (the client sets them next). */
function exclusiveAttrset(plan: CreatePlan): number[] {
  const ids = [A.TIME_ACCESS, A.TIME_MODIFY];
  const out = bitmapFromList(ids);
  plan.attrs.attrset.forEach((w, i) => {
    while (out.length <= i) out.push(0);
    out[i] = (out[i]! | w) >>> 0;
  });
  return out;
}

/** CLAIM_FH / CLAIM_PREVIOUS: the current filehandle is the file. */
async function claimCurrentFh(ctx: CompoundCtx, a: N.OPEN4args): Promise<Target> {
  if (a.openhow.opentype === N.OPEN4_CREATE) throw new NfsError(N.NFS4ERR_INVAL, 'OPEN4_CREATE with a filehandle claim');
  const ref = ctx.cfh!;
  const stat = await refresh(ctx, ref);
  return { stat, ref, cinfo: cinfo({ before: stat.change, after: stat.change }), attrset: [], created: false };
}

/**
 * A non-reclaim OPEN during grace is allowed (RFC 8881 8.4.2.1 lets a server
 * do so when it can tell no conflict is possible): EFS has no share-deny
 * modes and no delegations, so an open can never conflict with a reclaim.
 * Byte-range LOCK keeps the grace gate. This spares clients a stall of a
 * whole lease after each restart.
 */
function checkGraceForNonReclaim(client: Client, minor: number): void {
  // RFC 8881 18.51.3: a 4.1 client must send RECLAIM_COMPLETE before non-reclaim locking state
  if (minor >= 1 && !client.reclaimComplete) throw new NfsError(N.NFS4ERR_GRACE, 'RECLAIM_COMPLETE not sent yet');
}

async function doOpen(
  ctx: CompoundCtx,
  sm: StateManager,
  client: Client,
  owner: OpenOwner,
  a: N.OPEN4args,
  access: number,
  want: number,
): Promise<OpenOutcome> {
  const minor = ctx.minorVersion;
  let target: Target;
  switch (a.claim.claim) {
    case N.CLAIM_NULL:
      checkGraceForNonReclaim(client, minor);
      target = await claimNull(ctx, a, access);
      break;
    case N.CLAIM_FH:
      if (minor === 0) throw new NfsError(N.NFS4ERR_NOTSUPP, 'CLAIM_FH is NFSv4.1');
      checkGraceForNonReclaim(client, minor);
      target = await claimCurrentFh(ctx, a);
      break;
    case N.CLAIM_PREVIOUS:
      if (!sm.inGrace()) throw new NfsError(N.NFS4ERR_NO_GRACE, 'not in grace period');
      if (!sm.mayReclaim(client)) throw new NfsError(N.NFS4ERR_NO_GRACE, 'client has nothing to reclaim');
      if (a.claim.delegate_type !== N.OPEN_DELEGATE_NONE) throw new NfsError(N.NFS4ERR_RECLAIM_BAD, 'no delegation was ever granted');
      target = await claimCurrentFh(ctx, a);
      break;
    case N.CLAIM_DELEGATE_CUR:
    case N.CLAIM_DELEGATE_PREV:
    case N.CLAIM_DELEG_CUR_FH:
    case N.CLAIM_DELEG_PREV_FH:
      throw new NfsError(N.NFS4ERR_NOTSUPP, 'delegations are not supported');
    default:
      throw new NfsError(N.NFS4ERR_INVAL, `claim ${a.claim.claim}`);
  }
  const stat = target.stat;
  requireRegular(stat, minor, 'open', 'cannot open');
  // the owner may open a file this OPEN created whatever its mode (POSIX open(O_CREAT)),
  // and may reclaim an open it held before the restart
  const ownerOverride = (target.created || a.claim.claim === N.CLAIM_PREVIOUS) && stat.uid === ctx.identity.uid;
  if (!ownerOverride) checkOpenAccess(ctx, stat, access);

  const st = await sm.withFile(stat.ino, () => sm.openState(owner, stat.ino, access, ctx.identity));
  if (a.claim.claim === N.CLAIM_PREVIOUS) sm.confirmReclaimedOwner(owner);
  const stateid = snapshot(st);
  const rflags = N.OPEN4_RESULT_LOCKTYPE_POSIX | (minor === 0 && !owner.confirmed ? N.OPEN4_RESULT_CONFIRM : 0);
  const ref = target.ref ?? fileRef(ctx, stat);
  ref.stat = stat;
  return {
    res: { stateid, cinfo: target.cinfo, rflags, attrset: target.attrset, delegation: delegationNone(minor, want) },
    ref,
    stateid,
  };
}

export const OPEN: OpImpl<N.OPEN4args, N.OPEN4resok> = {
  decode: (r) => N.decode_OPEN4args(r),
  // creating, or opening for writing (which may truncate), changes the file system
  mutates: (a) => a.openhow.opentype === N.OPEN4_CREATE || (a.share_access & N.OPEN4_SHARE_ACCESS_WRITE) !== 0,
  async run(ctx, a) {
    const sm = ctx.server.state;
    const minor = ctx.minorVersion;
    let access = a.share_access >>> 0;
    let want = 0;
    if (minor >= 1) {
      want = access & WANT_FLAGS;
      if (access & ~(WANT_FLAGS | N.OPEN4_SHARE_ACCESS_BOTH)) throw new NfsError(N.NFS4ERR_INVAL, 'share_access');
      const w = want & N.OPEN4_SHARE_ACCESS_WANT_DELEG_MASK;
      if (w > N.OPEN4_SHARE_ACCESS_WANT_CANCEL) throw new NfsError(N.NFS4ERR_INVAL, 'share_access want');
    } else if (access & ~N.OPEN4_SHARE_ACCESS_BOTH) {
      throw new NfsError(N.NFS4ERR_INVAL, 'share_access');
    }
    access &= N.OPEN4_SHARE_ACCESS_BOTH;
    if (access === 0) throw new NfsError(N.NFS4ERR_INVAL, 'share_access without read or write');
    if (a.share_deny & ~N.OPEN4_SHARE_DENY_BOTH) throw new NfsError(N.NFS4ERR_INVAL, 'share_deny');
    if (a.share_deny !== N.OPEN4_SHARE_DENY_NONE) throw new NfsError(N.NFS4ERR_NOTSUPP, 'share deny is not supported');

    // 4.1: the session's client (the clientid in the owner is ignored); 4.0: the named, confirmed client
    const client = minor >= 1 ? sm.sessionClient(ctx.session) : sm.confirmedClient40(a.owner.clientid);
    const out = await sm.withOpenOwner(client, a.owner.owner, a.seqid, minor, (owner) => doOpen(ctx, sm, client, owner, a, access, want));
    ctx.cfh = out.ref;
    ctx.currentStateid = out.stateid;
    return out.res;
  },
  encode: (w, res) => N.encode_OPEN4resok(w, res),
};

export const OPEN_CONFIRM: OpImpl<N.OPEN_CONFIRM4args, N.OPEN_CONFIRM4resok> = {
  decode: (r) => N.decode_OPEN_CONFIRM4args(r),
  async run(ctx, a) {
    const sm = ctx.server.state;
    const st = sm.findOpenState(a.open_stateid, 0, undefined, { seqid: false });
    requireStateOfCfh(ctx, st);
    return sm.withSeqid(st.owner, a.seqid, 0, 'OPEN_CONFIRM', () => {
      sm.checkStateSeqid(st, a.open_stateid, 0);
      sm.confirmOpen(st);
      return { open_stateid: snapshot(st) };
    });
  },
  encode: (w, res) => N.encode_OPEN_CONFIRM4resok(w, res),
};

export const OPEN_DOWNGRADE: OpImpl<N.OPEN_DOWNGRADE4args, N.OPEN_DOWNGRADE4resok> = {
  decode: (r) => N.decode_OPEN_DOWNGRADE4args(r),
  async run(ctx, a) {
    const sm = ctx.server.state;
    const minor = ctx.minorVersion;
    const sid = argStateid(ctx, a.open_stateid);
    const st = sm.findOpenState(sid, minor, sessionClientOrUndefined(ctx), { seqid: false });
    requireStateOfCfh(ctx, st);
    const res = await sm.withSeqid(st.owner, a.seqid, minor, 'OPEN_DOWNGRADE', () => {
      sm.checkStateSeqid(st, sid, minor);
      requireConfirmedOpen(st, minor);
      const access = minor >= 1 ? a.share_access & ~WANT_FLAGS : a.share_access;
      if (a.share_deny !== N.OPEN4_SHARE_DENY_NONE) throw new NfsError(N.NFS4ERR_INVAL, 'share_deny');
      sm.downgrade(st, access);
      return { open_stateid: snapshot(st) };
    });
    ctx.currentStateid = res.open_stateid;
    return res;
  },
  encode: (w, res) => N.encode_OPEN_DOWNGRADE4resok(w, res),
};

export const CLOSE: OpImpl<N.CLOSE4args, N.stateid4> = {
  decode: (r) => N.decode_CLOSE4args(r),
  async run(ctx, a) {
    const sm = ctx.server.state;
    const minor = ctx.minorVersion;
    const sid = argStateid(ctx, a.open_stateid);
    let st;
    try {
      st = sm.findOpenState(sid, minor, sessionClientOrUndefined(ctx), { seqid: false });
    } catch (err) {
      // 4.0: a retransmitted CLOSE after the state is gone replays the owner's cached reply
      const closed = minor === 0 && err instanceof NfsError && err.status === N.NFS4ERR_BAD_STATEID ? sm.closedState(sid) : undefined;
      if (closed && a.seqid === closed.owner.seqid && closed.owner.lastReply) {
        return sm.withSeqid(closed.owner, a.seqid, 0, 'CLOSE', (): N.stateid4 => {
          throw err;
        });
      }
      throw err;
    }
    const open = st;
    requireStateOfCfh(ctx, open);
    const res = await sm.withSeqid(open.owner, a.seqid, minor, 'CLOSE', async () => {
      sm.checkStateSeqid(open, sid, minor);
      requireConfirmedOpen(open, minor);
      // RFC 8881 18.2.4: no locks may exist after the CLOSE; we do not free them implicitly
      // (lock stateids without ranges simply go with the open)
      for (const ls of open.locks) if (ls.held > 0) throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'unlock before closing');
      await sm.withFile(open.ino, () => sm.close(open));
      // RFC 8881 18.2.4: 4.1 returns the invalid special stateid
      return minor >= 1 ? invalidStateid() : snapshot(open);
    });
    ctx.currentStateid = res;
    return res;
  },
  encode: (w, res) => N.encode_stateid4(w, res),
};
