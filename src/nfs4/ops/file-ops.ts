import * as N from '../../xdr/gen/nfs4.js';
import type { XdrReader } from '../../xdr/reader.js';
import type { XdrWriter } from '../../xdr/writer.js';
import type { CompoundCtx, FileRef } from '../context.js';
import { replyRoom } from '../context.js';
import { MUTATES, NEEDS_CFH, NEEDS_SFH, SELF_ENCODES, type OpSpec } from '../optable-types.js';
import { NfsError } from '../../protocol/status.js';
import { checkComponent, MAX_SYMLINK_BYTES } from '../names.js';
import { decodeSettable, MAX_FILESIZE } from '../attrs.js';
import { StoreError, type DirChange, type Identity, type Stat } from '../../store/types.js';
import { creationOwnership, deleteEntryRefusal, mayAccess, MAY_EXEC, MAY_READ, MAY_WRITE } from '../../policy/permissions.js';
import { AUTH_SYS } from '../../rpc/message.js';
import { argStateid } from './state-common.js';
import { isAnonymousStateid, isBypassStateid } from '../../state/stateids.js';

const isSpecialStateid = (sid: N.stateid4): boolean => isAnonymousStateid(sid) || isBypassStateid(sid);

/** I/O through another user's open is checked against the caller's own permissions (checked at OPEN otherwise). */
function sameIdentity(a: Identity, b: Identity): boolean {
  return a.uid === b.uid && a.gid === b.gid;
}

/** Largest READ/WRITE payload (EFS: 1 MiB). */
export const MAX_IO = 1024 * 1024;
/** Bytes of READ4resok around the data (eof + length) kept free in the reply budget. */
const READ_OVERHEAD = 16;

const noArgs = (): undefined => undefined;

/** A filehandle for `stat`, carrying the export index of the connection (its access point, or 0). */
export function fileRef(ctx: CompoundCtx, stat: Stat): FileRef {
  return { ino: stat.ino, gen: stat.gen, fh: ctx.server.fh.encode(stat.ino, stat.gen, ctx.conn.grant.exportIndex), stat };
}

/**
 * The root this connection sees: the file system root, or its access
 * point's directory (created on first use with CreationInfo, as EFS does).
 */
async function connectionRoot(ctx: CompoundCtx): Promise<Stat> {
  const { store } = ctx.server;
  const jail = ctx.conn.jail;
  if (!jail) return store.getattr(store.rootIno);
  try {
    return await jail.resolveRoot();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'ENOENT') {
      const ap = jail.accessPoint;
      throw new NfsError(N.NFS4ERR_NOENT, `access point ${ap.accessPointId}: ${ap.rootDirectory.path} does not exist and has no CreationInfo`);
    }
    throw err;
  }
}

/** True when `ref` is the root this connection sees (its access point's root, or the file system's). */
async function isConnectionRoot(ctx: CompoundCtx, ref: FileRef): Promise<boolean> {
  const jail = ctx.conn.jail;
  return ref.ino === (jail ? await jail.rootIno() : ctx.server.store.rootIno);
}

function cfh(ctx: CompoundCtx): FileRef {
  return ctx.cfh!;
}

/** The current filehandle must be a directory (symlink -> SYMLINK, other -> NOTDIR). */
function requireDir(ref: FileRef): void {
  if (ref.stat.kind === 'dir') return;
  throw new NfsError(ref.stat.kind === 'lnk' ? N.NFS4ERR_SYMLINK : N.NFS4ERR_NOTDIR);
}

function requireAccess(ctx: CompoundCtx, stat: Stat, want: number): void {
  if (!mayAccess(stat, ctx.identity, want)) throw new NfsError(N.NFS4ERR_ACCESS);
}

/**
 * Removing or renaming `entry` out of `dir`: NFS4ERR_ACCESS for the mode bits,
 * NFS4ERR_PERM for a sticky directory's owner rule (RFC 8881 15.1.6.2: the
 * caller is neither root nor the owner).
 */
function requireDeleteEntry(ctx: CompoundCtx, dir: Stat, entry: Stat): void {
  const refusal = deleteEntryRefusal(dir, entry, ctx.identity);
  if (refusal) throw new NfsError(refusal === 'sticky' ? N.NFS4ERR_PERM : N.NFS4ERR_ACCESS, `${refusal}: may not remove the entry`);
}

function cinfo(c: DirChange): N.change_info4 {
  return { atomic: true, before: c.before, after: c.after };
}

/** Fresh attributes of the current filehandle (the store serves them from its stat cache). */
async function refresh(ctx: CompoundCtx, ref: FileRef): Promise<Stat> {
  const stat = await ctx.server.store.getattr(ref.ino);
  ref.stat = stat;
  return stat;
}

const PUTROOTFH: OpSpec<undefined, void> = {
  op: N.OP_PUTROOTFH,
  name: 'PUTROOTFH',
  flags: 0,
  decode: noArgs,
  async run(ctx) {
    const stat = await connectionRoot(ctx);
    ctx.cfh = fileRef(ctx, stat);
    ctx.currentStateid = undefined;
  },
};

const PUTPUBFH: OpSpec<undefined, void> = { ...PUTROOTFH, op: N.OP_PUTPUBFH, name: 'PUTPUBFH' };

const PUTFH: OpSpec<N.PUTFH4args, void> = {
  op: N.OP_PUTFH,
  name: 'PUTFH',
  flags: 0,
  decode: (r: XdrReader) => N.decode_PUTFH4args(r),
  async run(ctx, args) {
    const decoded = ctx.server.fh.decode(args.object);
    if (!decoded) throw new NfsError(N.NFS4ERR_BADHANDLE);
    // through an access point, only handles handed out through it, naming objects inside it now (the jail)
    const jail = ctx.conn.jail;
    if (jail && !jail.admitsExport(decoded.exportIndex)) throw new NfsError(N.NFS4ERR_STALE, 'handle from outside the access point');
    const stat = await ctx.server.store.verify(decoded.ino, decoded.gen);
    if (jail && !(await jail.admits(stat.ino))) throw new NfsError(N.NFS4ERR_STALE, 'object outside the access point');
    // keep the client's bytes: they are a view into the request, so copy once
    ctx.cfh = { ino: stat.ino, gen: stat.gen, fh: Buffer.from(args.object), stat };
    ctx.currentStateid = undefined;
  },
};

const GETFH: OpSpec<undefined, FileRef> = {
  op: N.OP_GETFH,
  name: 'GETFH',
  flags: NEEDS_CFH,
  decode: noArgs,
  run: (ctx) => cfh(ctx),
  encode: (w: XdrWriter, ref) => N.encode_GETFH4resok(w, { object: ref.fh }),
};

const SAVEFH: OpSpec<undefined, void> = {
  op: N.OP_SAVEFH,
  name: 'SAVEFH',
  flags: NEEDS_CFH,
  decode: noArgs,
  run(ctx) {
    ctx.sfh = ctx.cfh;
    ctx.savedStateid = ctx.currentStateid;
  },
};

const RESTOREFH: OpSpec<undefined, void> = {
  op: N.OP_RESTOREFH,
  name: 'RESTOREFH',
  flags: 0,
  decode: noArgs,
  run(ctx) {
    // RFC 7530 16.29.4 names its own error for this; RFC 8881 18.27.4 uses NOFILEHANDLE
    if (!ctx.sfh) throw new NfsError(ctx.minorVersion === 0 ? N.NFS4ERR_RESTOREFH : N.NFS4ERR_NOFILEHANDLE, 'no saved filehandle');
    ctx.cfh = ctx.sfh;
    ctx.currentStateid = ctx.savedStateid;
  },
};

const LOOKUP: OpSpec<N.LOOKUP4args, void> = {
  op: N.OP_LOOKUP,
  name: 'LOOKUP',
  flags: NEEDS_CFH,
  decode: (r) => N.decode_LOOKUP4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir);
    const name = checkComponent(args.objname);
    requireAccess(ctx, dir.stat, MAY_EXEC);
    const stat = await ctx.server.store.lookup(dir.ino, name);
    ctx.cfh = fileRef(ctx, stat);
    ctx.currentStateid = undefined;
  },
};

const LOOKUPP: OpSpec<undefined, void> = {
  op: N.OP_LOOKUPP,
  name: 'LOOKUPP',
  flags: NEEDS_CFH,
  decode: noArgs,
  async run(ctx) {
    const dir = cfh(ctx);
    requireDir(dir);
    if (await isConnectionRoot(ctx, dir)) {
      // at an access point's root, ".." is the root itself: nothing above it is reachable
      if (ctx.conn.jail) return;
      throw new NfsError(N.NFS4ERR_NOENT, 'LOOKUPP at the root');
    }
    requireAccess(ctx, dir.stat, MAY_EXEC);
    const stat = await ctx.server.store.parent(dir.ino);
    ctx.cfh = fileRef(ctx, stat);
    ctx.currentStateid = undefined;
  },
};

const ACCESS: OpSpec<N.ACCESS4args, N.ACCESS4resok> = {
  op: N.OP_ACCESS,
  name: 'ACCESS',
  flags: NEEDS_CFH,
  decode: (r) => N.decode_ACCESS4args(r),
  async run(ctx, args) {
    const stat = await refresh(ctx, cfh(ctx));
    const isDir = stat.kind === 'dir';
    const supported = isDir
      ? N.ACCESS4_READ | N.ACCESS4_LOOKUP | N.ACCESS4_MODIFY | N.ACCESS4_EXTEND | N.ACCESS4_DELETE
      : N.ACCESS4_READ | N.ACCESS4_MODIFY | N.ACCESS4_EXTEND | N.ACCESS4_EXECUTE;
    const asked = args.access & supported;
    let granted = 0;
    const who = ctx.identity;
    if (asked & N.ACCESS4_READ && mayAccess(stat, who, MAY_READ)) granted |= N.ACCESS4_READ;
    if (asked & N.ACCESS4_LOOKUP && mayAccess(stat, who, MAY_EXEC)) granted |= N.ACCESS4_LOOKUP;
    if (asked & (N.ACCESS4_MODIFY | N.ACCESS4_EXTEND | N.ACCESS4_DELETE) && mayAccess(stat, who, MAY_WRITE)) {
      granted |= asked & (N.ACCESS4_MODIFY | N.ACCESS4_EXTEND | N.ACCESS4_DELETE);
    }
    if (asked & N.ACCESS4_EXECUTE && mayAccess(stat, who, MAY_EXEC)) granted |= N.ACCESS4_EXECUTE;
    return { supported: asked, access: granted };
  },
  encode: (w, res) => N.encode_ACCESS4resok(w, res),
};

const READLINK: OpSpec<undefined, N.READLINK4resok> = {
  op: N.OP_READLINK,
  name: 'READLINK',
  flags: NEEDS_CFH,
  decode: noArgs,
  async run(ctx) {
    const ref = cfh(ctx);
    if (ref.stat.kind !== 'lnk') throw new NfsError(N.NFS4ERR_INVAL, 'not a symbolic link');
    return { link: await ctx.server.store.readlink(ref.ino) };
  },
  encode: (w, res) => N.encode_READLINK4resok(w, res),
};

interface CreateResult {
  cinfo: N.change_info4;
  attrset: number[];
}

const CREATE: OpSpec<N.CREATE4args, CreateResult> = {
  op: N.OP_CREATE,
  name: 'CREATE',
  flags: NEEDS_CFH | MUTATES,
  decode: (r) => N.decode_CREATE4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir);
    const name = checkComponent(args.objname);
    const type = args.objtype.type;
    if (type === N.NF4BLK || type === N.NF4CHR) throw new NfsError(N.NFS4ERR_BADTYPE, 'EFS does not support device files');
    if (type !== N.NF4DIR && type !== N.NF4LNK && type !== N.NF4FIFO && type !== N.NF4SOCK) throw new NfsError(N.NFS4ERR_BADTYPE);
    const { set, attrset } = decodeSettable(args.createattrs);
    const dirStat = await refresh(ctx, dir);
    requireAccess(ctx, dirStat, MAY_WRITE | MAY_EXEC);
    const isDir = type === N.NF4DIR;
    const defaultMode = type === N.NF4LNK ? 0o777 : isDir ? 0o755 : 0o644;
    const own = creationOwnership(dirStat, ctx.identity, set.mode ?? defaultMode, isDir);
    if (ctx.identity.uid === 0) {
      if (set.uid !== undefined) own.uid = set.uid;
      if (set.gid !== undefined) own.gid = set.gid;
    }
    const attrs = { mode: own.mode, uid: own.uid, gid: own.gid, ...(set.atime ? { atime: set.atime } : {}), ...(set.mtime ? { mtime: set.mtime } : {}) };
    const store = ctx.server.store;
    let made;
    if (type === N.NF4DIR) made = await store.mkdir(dir.ino, name, attrs);
    else if (type === N.NF4LNK) {
      const target = args.objtype.linkdata ?? '';
      if (target.length === 0) throw new NfsError(N.NFS4ERR_INVAL, 'empty symlink target');
      if (Buffer.byteLength(target, 'utf8') > MAX_SYMLINK_BYTES) throw new NfsError(N.NFS4ERR_NAMETOOLONG, 'symlink target too long');
      made = await store.symlink(dir.ino, name, target, attrs);
    } else made = await store.mknod(dir.ino, name, type === N.NF4FIFO ? 'fifo' : 'sock', attrs);
    ctx.cfh = fileRef(ctx, made.stat);
    ctx.currentStateid = undefined;
    return { cinfo: cinfo(made.dir), attrset };
  },
  encode: (w, res) => N.encode_CREATE4resok(w, res),
};

const LINK: OpSpec<N.LINK4args, N.LINK4resok> = {
  op: N.OP_LINK,
  name: 'LINK',
  flags: NEEDS_CFH | NEEDS_SFH | MUTATES,
  decode: (r) => N.decode_LINK4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    const src = ctx.sfh!;
    requireDir(dir);
    const name = checkComponent(args.newname);
    if (src.stat.kind === 'dir') throw new NfsError(N.NFS4ERR_ISDIR);
    const dirStat = await refresh(ctx, dir);
    requireAccess(ctx, dirStat, MAY_WRITE | MAY_EXEC);
    const made = await ctx.server.store.link(src.ino, dir.ino, name);
    return { cinfo: cinfo(made.dir) };
  },
  encode: (w, res) => N.encode_LINK4resok(w, res),
};

const REMOVE: OpSpec<N.REMOVE4args, N.REMOVE4resok> = {
  op: N.OP_REMOVE,
  name: 'REMOVE',
  flags: NEEDS_CFH | MUTATES,
  decode: (r) => N.decode_REMOVE4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir);
    const name = checkComponent(args.target);
    const store = ctx.server.store;
    const dirStat = await refresh(ctx, dir);
    const entry = await store.lookup(dir.ino, name);
    requireDeleteEntry(ctx, dirStat, entry);
    const done = await store.remove(dir.ino, name);
    return { cinfo: cinfo(done.dir) };
  },
  encode: (w, res) => N.encode_REMOVE4resok(w, res),
};

const RENAME: OpSpec<N.RENAME4args, N.RENAME4resok> = {
  op: N.OP_RENAME,
  name: 'RENAME',
  flags: NEEDS_CFH | NEEDS_SFH | MUTATES,
  decode: (r) => N.decode_RENAME4args(r),
  async run(ctx, args) {
    const fromDir = ctx.sfh!;
    const toDir = cfh(ctx);
    requireDir(fromDir);
    requireDir(toDir);
    const oldName = checkComponent(args.oldname);
    const newName = checkComponent(args.newname);
    const store = ctx.server.store;
    const fromStat = await store.getattr(fromDir.ino);
    const toStat = fromDir.ino === toDir.ino ? fromStat : await store.getattr(toDir.ino);
    const entry = await store.lookup(fromDir.ino, oldName);
    requireDeleteEntry(ctx, fromStat, entry);
    requireAccess(ctx, toStat, MAY_WRITE | MAY_EXEC);
    let existing: Stat | undefined;
    try {
      existing = await store.lookup(toDir.ino, newName);
    } catch {
      existing = undefined;
    }
    if (existing) {
      if (existing.ino === entry.ino) {
        // same object (or hard links to it): POSIX says do nothing
        return { source_cinfo: cinfo({ before: fromStat.change, after: fromStat.change }), target_cinfo: cinfo({ before: toStat.change, after: toStat.change }) };
      }
      requireDeleteEntry(ctx, toStat, existing);
      if (existing.kind === 'dir' && entry.kind !== 'dir') throw new NfsError(N.NFS4ERR_EXIST);
      if (existing.kind !== 'dir' && entry.kind === 'dir') throw new NfsError(N.NFS4ERR_EXIST);
    }
    // moving a directory to another parent rewrites its "..": needs write permission on it (as Linux requires)
    if (entry.kind === 'dir' && fromDir.ino !== toDir.ino) requireAccess(ctx, entry, MAY_WRITE);
    const done = await store.rename(fromDir.ino, oldName, toDir.ino, newName);
    return { source_cinfo: cinfo(done.from), target_cinfo: cinfo(done.to) };
  },
  encode: (w, res) => N.encode_RENAME4resok(w, res),
};

interface ReadArgs {
  stateid: N.stateid4;
  offset: number;
  count: number;
}


const READ: OpSpec<ReadArgs, void> = {
  op: N.OP_READ,
  name: 'READ',
  flags: NEEDS_CFH | SELF_ENCODES,
  decode: (r) => N.decode_READ4args(r),
  async run(ctx, args) {
    const ref = cfh(ctx);
    if (ref.stat.kind === 'dir') throw new NfsError(N.NFS4ERR_ISDIR);
    if (ref.stat.kind !== 'reg') throw new NfsError(ref.stat.kind === 'lnk' && ctx.minorVersion === 1 ? N.NFS4ERR_SYMLINK : N.NFS4ERR_INVAL);
    const sid = argStateid(ctx, args.stateid);
    if (isSpecialStateid(sid)) requireAccess(ctx, await refresh(ctx, ref), MAY_READ);
    const target = await ctx.server.state.resolveIo(sid, ref.ino, false, ctx.minorVersion);
    if (target.openedBy && !sameIdentity(target.openedBy, ctx.identity)) requireAccess(ctx, await refresh(ctx, ref), MAY_READ);
    const count = Math.max(0, Math.min(args.count, MAX_IO, replyRoom(ctx) - READ_OVERHEAD));
    const w = ctx.reply;
    const eofAt = w.reserveU32();
    const { lengthAt, view } = w.reserveOpaque(count);
    // the file is read straight into the reply slab
    // nothing can lie beyond the largest file size: answer EOF without asking the store
    const nothing = count === 0 || args.offset >= MAX_FILESIZE;
    const { bytes, eof } = nothing ? { bytes: 0, eof: args.offset >= ref.stat.size } : await ctx.server.store.read(target.file, view, args.offset);
    w.patchU32(eofAt, eof ? 1 : 0);
    w.finishOpaque(lengthAt, bytes);
  },
};

interface WriteArgs {
  stateid: N.stateid4;
  offset: number;
  stable: number;
  data: Buffer;
}

const WRITE: OpSpec<WriteArgs, N.WRITE4resok> = {
  op: N.OP_WRITE,
  name: 'WRITE',
  flags: NEEDS_CFH | MUTATES,
  decode: (r) => N.decode_WRITE4args(r),
  async run(ctx, args) {
    const ref = cfh(ctx);
    if (ref.stat.kind === 'dir') throw new NfsError(N.NFS4ERR_ISDIR);
    if (ref.stat.kind !== 'reg') throw new NfsError(ref.stat.kind === 'lnk' && ctx.minorVersion === 1 ? N.NFS4ERR_SYMLINK : N.NFS4ERR_INVAL);
    if (args.data.length > MAX_IO) throw new NfsError(N.NFS4ERR_INVAL, 'write larger than maxwrite');
    const sid = argStateid(ctx, args.stateid);
    if (isSpecialStateid(sid)) requireAccess(ctx, await refresh(ctx, ref), MAY_WRITE);
    const target = await ctx.server.state.resolveIo(sid, ref.ino, true, ctx.minorVersion);
    if (target.openedBy && !sameIdentity(target.openedBy, ctx.identity)) requireAccess(ctx, await refresh(ctx, ref), MAY_WRITE);
    const sync = args.stable !== N.UNSTABLE4;
    // the payload goes from the request view to the file: no copy
    const bytes = await ctx.server.store.write(target.file, args.data, args.offset, sync);
    return { count: bytes, committed: sync ? N.FILE_SYNC4 : N.UNSTABLE4, writeverf: ctx.server.config.writeVerifier };
  },
  encode: (w, res) => N.encode_WRITE4resok(w, res),
};

const COMMIT: OpSpec<N.COMMIT4args, N.COMMIT4resok> = {
  op: N.OP_COMMIT,
  name: 'COMMIT',
  flags: NEEDS_CFH,
  decode: (r) => N.decode_COMMIT4args(r),
  async run(ctx) {
    const ref = cfh(ctx);
    if (ref.stat.kind === 'dir') throw new NfsError(N.NFS4ERR_ISDIR);
    if (ref.stat.kind !== 'reg') throw new NfsError(ref.stat.kind === 'lnk' && ctx.minorVersion === 1 ? N.NFS4ERR_SYMLINK : N.NFS4ERR_INVAL);
    // fsync on any descriptor of the inode flushes all of its dirty data
    const file = await ctx.server.store.sharedFile(ref.ino, false);
    await ctx.server.store.commit(file);
    return { writeverf: ctx.server.config.writeVerifier };
  },
  encode: (w, res) => N.encode_COMMIT4resok(w, res),
};

/** EFS offers AUTH_SYS only (no Kerberos). */
const SECINFO_RESULT: N.secinfo4[] = [{ flavor: AUTH_SYS }];

const SECINFO: OpSpec<N.SECINFO4args, N.secinfo4[]> = {
  op: N.OP_SECINFO,
  name: 'SECINFO',
  flags: NEEDS_CFH,
  decode: (r) => N.decode_SECINFO4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir);
    const name = checkComponent(args.name);
    requireAccess(ctx, dir.stat, MAY_EXEC);
    await ctx.server.store.lookup(dir.ino, name);
    // RFC 8881 2.6.3.1.1.8: SECINFO consumes the current filehandle in 4.1
    if (ctx.minorVersion === 1) ctx.cfh = undefined;
    return SECINFO_RESULT;
  },
  encode: (w, res) => N.encode_SECINFO4resok(w, res),
};

const SECINFO_NO_NAME: OpSpec<number, N.secinfo4[]> = {
  op: N.OP_SECINFO_NO_NAME,
  name: 'SECINFO_NO_NAME',
  flags: NEEDS_CFH,
  decode: (r) => N.decode_SECINFO_NO_NAME4args(r),
  async run(ctx, style) {
    const ref = cfh(ctx);
    if (style === N.SECINFO_STYLE4_PARENT) {
      requireDir(ref);
      if (await isConnectionRoot(ctx, ref)) throw new NfsError(N.NFS4ERR_NOENT);
    } else if (style !== N.SECINFO_STYLE4_CURRENT_FH) throw new NfsError(N.NFS4ERR_INVAL);
    ctx.cfh = undefined;
    return SECINFO_RESULT;
  },
  encode: (w, res) => N.encode_SECINFO4resok(w, res),
};

export const FILE_OPS: OpSpec[] = [
  PUTROOTFH,
  PUTPUBFH,
  PUTFH,
  GETFH,
  SAVEFH,
  RESTOREFH,
  LOOKUP,
  LOOKUPP,
  ACCESS,
  READLINK,
  CREATE,
  LINK,
  REMOVE,
  RENAME,
  READ,
  WRITE,
  COMMIT,
  SECINFO,
  SECINFO_NO_NAME,
];
