/**
 * Attribute operations: GETATTR, SETATTR, VERIFY, NVERIFY and READDIR
 * (RFC 8881 sections 18.7, 18.30, 18.31, 18.15, 18.23; RFC 7530 section 16).
 */
import type { XdrWriter } from '../../xdr/writer.js';
import { MAX_FILE_SIZE } from '../../protocol/efs-limits.js';
import { StoreError, type Stat } from '../../store/types.js';
import { checkSetattr, MAY_READ } from '../../policy/permissions.js';
import { replyRoom, type CompoundCtx, type FileRef } from '../context.js';
import type { StateidRef } from '../../state/types.js';
import { NfsError } from '../../protocol/status.js';
import type { OpImpl } from '../optable-types.js';
import * as N from '../../xdr/gen/nfs4.js';
import {
  assertReadable,
  attrsEqual,
  decodeBitmap,
  decodeFattr,
  decodeSettable,
  encodeBitmap,
  encodeFattrPlanned,
  planAttrs,
  type AttrPlan,
  type AttrSource,
  type Fattr4,
} from '../attrs.js';
import { argStateid } from './state-common.js';
import { requireAccess, requireRegular } from './guards.js';
import { isSpecialStateid } from '../../state/stateids.js';

/* ------------------------------------------------------------------ */
/* Shared helpers                                                       */
/* ------------------------------------------------------------------ */

/** A fresh stat of the current filehandle's object; STALE if it is gone or the inode was reused. */
export async function freshStat(ctx: CompoundCtx, ref: FileRef): Promise<Stat> {
  let st: Stat;
  try {
    st = await ctx.server.store.getattr(ref.ino);
  } catch (e) {
    if (e instanceof StoreError && (e.code === 'ENOENT' || e.code === 'ESTALE')) {
      throw new NfsError(N.NFS4ERR_STALE, `inode ${ref.ino} is gone`);
    }
    throw e;
  }
  if (st.gen !== ref.gen) throw new NfsError(N.NFS4ERR_STALE, `inode ${ref.ino} was reused`);
  return st;
}

/** The attribute source for a resolved handle. */
export function attrSource(ctx: CompoundCtx, ref: FileRef, stat: Stat): AttrSource {
  return {
    stat,
    fh: ref.fh,
    store: ctx.server.store,
    config: ctx.server.config,
    mountedOnFileid: stat.ino,
  };
}



/* ------------------------------------------------------------------ */
/* GETATTR                                                              */
/* ------------------------------------------------------------------ */

export interface GETATTR4args {
  attr_request: number[];
}

interface GetattrRes {
  plan: AttrPlan;
  src: AttrSource;
}

export const GETATTR: OpImpl<GETATTR4args, GetattrRes> = {
  decode: (r) => ({ attr_request: decodeBitmap(r) }),
  async run(ctx, args) {
    const cfh = ctx.cfh!;
    assertReadable(args.attr_request);
    const stat = await freshStat(ctx, cfh);
    ctx.cfh = { ...cfh, stat };
    const plan = planAttrs(args.attr_request, ctx.minorVersion);
    const src = attrSource(ctx, cfh, stat);
    if (plan.needsFsStats) src.fsStats = await ctx.server.store.statfs();
    return { plan, src };
  },
  encode(w, res) {
    encodeFattrPlanned(w, res.plan, res.src);
  },
};

/* ------------------------------------------------------------------ */
/* SETATTR                                                              */
/* ------------------------------------------------------------------ */

export interface SETATTR4args {
  stateid: StateidRef;
  obj_attributes: Fattr4;
}

interface SetattrRes {
  attrsset: number[];
}

/** SETATTR4res always carries attrsset, also on error: an empty bitmap. */
const EMPTY_ATTRSSET = (w: XdrWriter): void => w.u32(0);

async function setattr(ctx: CompoundCtx, args: SETATTR4args): Promise<SetattrRes> {
  const cfh = ctx.cfh!;
  const { set, attrset } = decodeSettable(args.obj_attributes, ctx.minorVersion);
  if (attrset.length === 0) return { attrsset: [] };

  const stat = await freshStat(ctx, cfh);
  let sizeCoveredByStateid = false;
  if (set.size !== undefined) {
    requireRegular(stat, ctx.minorVersion, 'plain', 'size of');
    if (set.size > MAX_FILE_SIZE) throw new NfsError(N.NFS4ERR_FBIG, `size ${set.size}`);
    const sid = argStateid(ctx, args.stateid);
    if (!isSpecialStateid(sid)) {
      // Validates ownership by this file, currency and write access (OPENMODE); renews the lease.
      await ctx.server.state.resolveIo(sid, cfh.ino, true, ctx.minorVersion);
      sizeCoveredByStateid = true;
    }
  }

  // An open for write already granted the right to change the size (as ftruncate on an fd).
  const toCheck = sizeCoveredByStateid ? { ...set, size: undefined } : set;
  const verdict = checkSetattr(stat, ctx.identity, toCheck);
  if (verdict.denial === 'PERM') throw new NfsError(N.NFS4ERR_PERM, 'setattr not permitted');
  if (verdict.denial === 'ACCESS') throw new NfsError(N.NFS4ERR_ACCESS, 'setattr access denied');
  const apply = verdict.mode !== undefined ? { ...set, mode: verdict.mode } : set;

  const after = await ctx.server.store.setattr(cfh.ino, apply);
  ctx.cfh = { ...cfh, stat: after };
  return { attrsset: attrset };
}

export const SETATTR: OpImpl<SETATTR4args, SetattrRes> = {
  decode: (r) => ({ stateid: N.decode_stateid4(r), obj_attributes: decodeFattr(r) }),
  run: setattr,
  errorBody: EMPTY_ATTRSSET,
  encode(w, res) {
    encodeBitmap(w, res.attrsset);
  },
};

/* ------------------------------------------------------------------ */
/* VERIFY / NVERIFY                                                     */
/* ------------------------------------------------------------------ */

export interface VERIFY4args {
  obj_attributes: Fattr4;
}

async function compareCurrent(ctx: CompoundCtx, f: Fattr4): Promise<boolean> {
  const cfh = ctx.cfh!;
  const stat = await freshStat(ctx, cfh);
  return attrsEqual(f, attrSource(ctx, cfh, stat), ctx.minorVersion);
}

export const VERIFY: OpImpl<VERIFY4args, void> = {
  decode: (r) => ({ obj_attributes: decodeFattr(r) }),
  async run(ctx, args) {
    if (!(await compareCurrent(ctx, args.obj_attributes))) throw new NfsError(N.NFS4ERR_NOT_SAME);
  },
};

export const NVERIFY: OpImpl<VERIFY4args, void> = {
  decode: (r) => ({ obj_attributes: decodeFattr(r) }),
  async run(ctx, args) {
    if (await compareCurrent(ctx, args.obj_attributes)) throw new NfsError(N.NFS4ERR_SAME);
  },
};

/* ------------------------------------------------------------------ */
/* READDIR                                                              */
/* ------------------------------------------------------------------ */

export interface READDIR4args {
  /** nfs_cookie4, decoded exactly (any 64-bit value a client sends). */
  cookie: bigint;
  cookieverf: Buffer;
  dircount: number;
  maxcount: number;
  attr_request: number[];
}

/** We never invalidate cookies, so the verifier is always zero (strict verifiers upset Linux and macOS). */
const ZERO_VERF = Buffer.alloc(8);
/** READDIR4resok without entries: cookieverf (8) + "no more entries" (4) + eof (4). */
export const READDIR_EMPTY_BYTES = 16;
/** Entries asked of the store per batch, at most. */
const MAX_BATCH = 1024;

const MAX_STORE_COOKIE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The store's position for a client's cookie. The store's cookies are numbers
 * of at most 53 bits (store/local/cookie.ts), so a cookie up to 2^53 - 1 is
 * exactly one of its numbers; one above it can never be ours and sorts after
 * all of ours: undefined, meaning "past the last entry" (an empty page with
 * eof, as for any cookie after the last one we handed out).
 */
function storeCookie(cookie: bigint): number | undefined {
  return cookie <= MAX_STORE_COOKIE ? Number(cookie) : undefined;
}

function xdrStringBytes(byteLen: number): number {
  return 4 + ((byteLen + 3) & ~3);
}

/**
 * Writes READDIR4resok into ctx.reply (SELF_ENCODES: the status word is already there).
 * Stops before an entry would make the result exceed maxcount (or the session's
 * reply budget) or, once at least one entry is in, exceed dircount (bytes of
 * cookies plus names). eof only when the store said eof and every entry was sent.
 */
export async function readdir(ctx: CompoundCtx, a: READDIR4args): Promise<void> {
  const cfh = ctx.cfh!;
  const dir = await freshStat(ctx, cfh);
  if (dir.kind !== 'dir') throw new NfsError(N.NFS4ERR_NOTDIR);
  // Cookies 1 and 2 are reserved ("." and ".." in some servers); ours are never 1 or 2.
  if (a.cookie === 1n || a.cookie === 2n) throw new NfsError(N.NFS4ERR_BAD_COOKIE, `reserved cookie ${a.cookie}`);
  assertReadable(a.attr_request);
  requireAccess(ctx, dir, MAY_READ, 'readdir needs read permission');

  // The result must fit both the client's maxcount and what is left of the session's reply size.
  const room = replyRoom(ctx);
  const budget = Math.min(a.maxcount, room);
  const tooSmall = (what: string): NfsError =>
    a.maxcount <= room
      ? new NfsError(N.NFS4ERR_TOOSMALL, `maxcount ${a.maxcount} too small for ${what}`)
      : new NfsError(N.NFS4ERR_REP_TOO_BIG, `reply room ${room} too small for ${what}`);
  if (budget < READDIR_EMPTY_BYTES) throw tooSmall('an empty result');
  const dircount = a.dircount > 0 ? a.dircount : Number.POSITIVE_INFINITY;

  const plan = planAttrs(a.attr_request, ctx.minorVersion);
  const store = ctx.server.store;
  const fsStats = plan.needsFsStats ? await store.statfs() : undefined;
  const exportIndex = plan.needsFh ? (ctx.server.fh.decode(cfh.fh)?.exportIndex ?? 0) : 0;
  const fhCodec = ctx.server.fh;

  const w = ctx.reply;
  const start = w.length;
  // one allocation for the whole result instead of doubling through every size up to it
  w.ensure(Math.min(budget, 1024 * 1024));
  w.fixedOpaque(ZERO_VERF, 8);

  let cookie = storeCookie(a.cookie);
  let written = 0;
  let dirBytes = 0;
  let eof = cookie === undefined;
  // A rough guess of bytes per entry to size store batches; refined after the first entry.
  let perEntry = 64 + plan.defs.length * 8;

  outer: while (cookie !== undefined) {
    const left = budget - (w.length - start) - 8;
    const want = Math.max(1, Math.min(MAX_BATCH, Math.ceil(left / perEntry) + 1));
    const page = await store.readdir(cfh.ino, cookie, want);
    for (const e of page.entries) {
      const nameBytes = Buffer.byteLength(e.name, 'utf8');
      const thisDir = 8 + xdrStringBytes(nameBytes);
      if (written > 0 && dirBytes + thisDir > dircount) break outer;
      const m = w.mark();
      w.u32(1); // value_follows
      w.u64(e.cookie); // the store's cookies are below 2^53: exact as a number
      w.string(e.name);
      const st = e.stat;
      encodeFattrPlanned(w, plan, {
        stat: st,
        fh: () => fhCodec.encode(st.ino, st.gen, exportIndex),
        store,
        config: ctx.server.config,
        mountedOnFileid: st.ino,
        rdattrError: N.NFS4_OK,
        fsStats,
      });
      // + 8: the closing "no more entries" word and eof
      if (w.length - start + 8 > budget) {
        w.rollback(m);
        if (written === 0) throw tooSmall('one entry');
        break outer;
      }
      if (written === 0) perEntry = Math.max(16, w.length - m);
      written++;
      dirBytes += thisDir;
      cookie = e.cookie;
    }
    if (page.eof) {
      eof = true;
      break;
    }
    if (page.entries.length === 0) break; // defensive: no progress without eof
  }

  w.u32(0); // no more entries
  w.bool(eof);
}

export const READDIR: OpImpl<READDIR4args, void> = {
  decode: (r) => ({
    cookie: r.u64big(),
    cookieverf: r.fixedOpaque(8),
    dircount: r.u32(),
    maxcount: r.u32(),
    attr_request: decodeBitmap(r),
  }),
  run: readdir,
};
