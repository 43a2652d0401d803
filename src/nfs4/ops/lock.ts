/**
 * Byte-range locks: LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER (RFC 8881 18.10-18.12,
 * 18.37 of RFC 7530). Advisory only (READ/WRITE never look at them), no
 * blocking queue (the *W lock types behave like the plain ones; clients poll).
 */
import * as N from '../../xdr/gen/nfs4.js';
import type { OpImpl } from '../optable-types.js';
import { NfsError } from '../../protocol/status.js';
import type { Client } from '../../state/model.js';
import { lockRange, readLockRange } from '../../state/locks.js';
import type { GraceService } from '../../state/types.js';
import type { XdrReader } from '../../xdr/reader.js';
import { argStateid, sessionClientOrUndefined, snapshot } from './state-common.js';
import { requireConfirmedOpen, requireRegular, requireStateOfCfh } from './guards.js';

function checkLocktype(t: number): void {
  if (t < N.READ_LT || t > N.WRITEW_LT) throw new NfsError(N.NFS4ERR_INVAL, `locktype ${t}`);
}

function checkRange(offset: number, length: number): void {
  if (!lockRange(offset, length).ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
}

/** Grace rules for LOCK: reclaims only in grace by clients allowed to reclaim; nothing else in grace. */
function checkGrace(sm: GraceService, client: Client, reclaim: boolean): void {
  if (reclaim) {
    if (!sm.inGrace()) throw new NfsError(N.NFS4ERR_NO_GRACE, 'not in grace period');
    if (!sm.mayReclaim(client)) throw new NfsError(N.NFS4ERR_NO_GRACE, 'client has nothing to reclaim');
  } else if (sm.inGrace()) {
    throw new NfsError(N.NFS4ERR_GRACE, 'server in grace period');
  }
}

// Hand-written argument decoders: offset/length are read exactly (see readLockRange).

function decodeLock(r: XdrReader): N.LOCK4args {
  const locktype = r.i32();
  const reclaim = r.bool();
  const { offset, length } = readLockRange(r);
  return { locktype, reclaim, offset, length, locker: N.decode_locker4(r) };
}

function decodeLockt(r: XdrReader): N.LOCKT4args {
  const locktype = r.i32();
  const { offset, length } = readLockRange(r);
  return { locktype, offset, length, owner: N.decode_state_owner4(r) };
}

function decodeLocku(r: XdrReader): N.LOCKU4args {
  const locktype = r.i32();
  const seqid = r.u32();
  const lock_stateid = N.decode_stateid4(r);
  const { offset, length } = readLockRange(r);
  return { locktype, seqid, lock_stateid, offset, length };
}

export const LOCK: OpImpl<N.LOCK4args, N.LOCK4resok> = {
  decode: decodeLock,
  async run(ctx, a) {
    const sm = ctx.server.state;
    const minor = ctx.minorVersion;
    requireRegular(ctx.cfh!.stat, ctx.minorVersion, 'plain', 'locking');
    const sessionClient = sessionClientOrUndefined(ctx);
    let res: N.LOCK4resok;
    if (a.locker.new_lock_owner) {
      const o = a.locker.open_owner!;
      const sid = argStateid(ctx, o.open_stateid);
      const open = sm.findOpenState(sid, minor, sessionClient, { seqid: false });
      requireStateOfCfh(ctx, open, 'open stateid');
      // 4.0: the open-owner's seqid sequences this LOCK (RFC 7530 16.10.5); its reply is replayed from there
      res = await sm.withSeqid(open.owner, o.open_seqid, minor, 'LOCK', () => {
        sm.checkStateSeqid(open, sid, minor);
        requireConfirmedOpen(open, minor);
        if (minor === 0 && !o.lock_owner.clientid.equals(open.client.id)) {
          throw new NfsError(N.NFS4ERR_BAD_STATEID, 'lock-owner of another client');
        }
        checkLocktype(a.locktype);
        checkRange(a.offset, a.length);
        checkGrace(sm, open.client, a.reclaim);
        // 4.0: the lock-owner's sequence continues from lock_seqid (DENIED etc. advance it)
        return sm.withNewLockOwner(open, o.lock_owner.owner, o.lock_seqid, minor, (ls) => {
          sm.lock(ls, a.locktype, a.offset, a.length);
          return { lock_stateid: snapshot(ls) };
        });
      });
    } else {
      const e = a.locker.lock_owner!;
      const sid = argStateid(ctx, e.lock_stateid);
      const ls = sm.findLockState(sid, minor, sessionClient, { seqid: false });
      requireStateOfCfh(ctx, ls, 'lock stateid');
      res = await sm.withSeqid(ls.owner, e.lock_seqid, minor, 'LOCK', () => {
        sm.checkStateSeqid(ls, sid, minor);
        checkLocktype(a.locktype);
        checkRange(a.offset, a.length);
        checkGrace(sm, ls.client, a.reclaim);
        sm.lock(ls, a.locktype, a.offset, a.length);
        return { lock_stateid: snapshot(ls) };
      });
    }
    ctx.currentStateid = res.lock_stateid;
    return res;
  },
  encode: (w, res) => N.encode_LOCK4resok(w, res),
};

export const LOCKT: OpImpl<N.LOCKT4args, void> = {
  decode: decodeLockt,
  run(ctx, a) {
    const sm = ctx.server.state;
    requireRegular(ctx.cfh!.stat, ctx.minorVersion, 'plain', 'locking');
    const client = ctx.minorVersion >= 1 ? sm.sessionClient(ctx.session) : sm.confirmedClient40(a.owner.clientid);
    checkLocktype(a.locktype);
    checkRange(a.offset, a.length);
    if (sm.inGrace()) throw new NfsError(N.NFS4ERR_GRACE, 'server in grace period');
    const d = sm.testLock(client, a.owner.owner, ctx.cfh!.ino, a.locktype, a.offset, a.length);
    if (d) throw new NfsError(N.NFS4ERR_DENIED, 'lock conflict', (w) => N.encode_LOCK4denied(w, d));
  },
};

export const LOCKU: OpImpl<N.LOCKU4args, N.stateid4> = {
  decode: decodeLocku,
  async run(ctx, a) {
    const sm = ctx.server.state;
    const minor = ctx.minorVersion;
    const sid = argStateid(ctx, a.lock_stateid);
    const ls = sm.findLockState(sid, minor, sessionClientOrUndefined(ctx), { seqid: false });
    requireStateOfCfh(ctx, ls, 'lock stateid');
    const res = await sm.withSeqid(ls.owner, a.seqid, minor, 'LOCKU', () => {
      sm.checkStateSeqid(ls, sid, minor);
      checkLocktype(a.locktype);
      checkRange(a.offset, a.length);
      sm.unlock(ls, a.offset, a.length);
      return snapshot(ls);
    });
    ctx.currentStateid = res;
    return res;
  },
  encode: (w, res) => N.encode_stateid4(w, res),
};

export const RELEASE_LOCKOWNER: OpImpl<N.RELEASE_LOCKOWNER4args, void> = {
  decode: (r) => N.decode_RELEASE_LOCKOWNER4args(r),
  run(ctx, a) {
    const sm = ctx.server.state;
    const client = sm.confirmedClient40(a.lock_owner.clientid);
    sm.releaseLockOwner(client, a.lock_owner.owner);
  },
};
