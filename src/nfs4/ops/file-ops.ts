import * as N from '../../xdr/gen/nfs4.js';
import type { XdrReader } from '../../xdr/reader.js';
import type { XdrWriter } from '../../xdr/writer.js';
import { refresh, replyRoom, type CompoundCtx, type FileRef } from '../context.js';
import type { OpImpl } from '../optable-types.js';
import { NfsError } from '../../protocol/status.js';
import { checkComponent } from '../names.js';
import { MAX_FILE_SIZE, MAX_IO_BYTES, MAX_SYMLINK_BYTES } from '../../protocol/efs-limits.js';
import { decodeSettable } from '../attrs.js';
import { StoreError, type DirChange, type Stat } from '../../store/types.js';
import { creationOwnership, mayAccess, MAY_EXEC, MAY_READ, MAY_WRITE } from '../../policy/permissions.js';
import { AUTH_SYS } from '../../rpc/message.js';
import { ioTarget, requireAccess, requireDeleteEntry, requireDir, requireRegular } from './guards.js';

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

/** change_info4 of a directory change: the store's change values are integers below 2^53, so BigInt is exact. */
export function cinfo(c: DirChange): N.change_info4 {
  return { atomic: true, before: BigInt(c.before), after: BigInt(c.after) };
}

export const PUTROOTFH: OpImpl<undefined, void> = {
  decode: noArgs,
  async run(ctx) {
    const stat = await connectionRoot(ctx);
    ctx.cfh = fileRef(ctx, stat);
    ctx.currentStateid = undefined;
  },
};

export const PUTFH: OpImpl<N.PUTFH4args, void> = {
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
    ctx.jailAdmitted?.add(ctx.cfh);
    ctx.currentStateid = undefined;
  },
};

export const GETFH: OpImpl<undefined, FileRef> = {
  decode: noArgs,
  run: (ctx) => cfh(ctx),
  encode: (w: XdrWriter, ref) => N.encode_GETFH4resok(w, { object: ref.fh }),
};

export const SAVEFH: OpImpl<undefined, void> = {
  decode: noArgs,
  run(ctx) {
    ctx.sfh = ctx.cfh;
    ctx.savedStateid = ctx.currentStateid;
  },
};

export const RESTOREFH: OpImpl<undefined, void> = {
  decode: noArgs,
  run(ctx) {
    // RFC 7530 16.29.4 names its own error for this; RFC 8881 18.27.4 uses NOFILEHANDLE
    if (!ctx.sfh) throw new NfsError(ctx.minorVersion === 0 ? N.NFS4ERR_RESTOREFH : N.NFS4ERR_NOFILEHANDLE, 'no saved filehandle');
    ctx.cfh = ctx.sfh;
    ctx.currentStateid = ctx.savedStateid;
  },
};

export const LOOKUP: OpImpl<N.LOOKUP4args, void> = {
  decode: (r) => N.decode_LOOKUP4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir.stat);
    const name = checkComponent(args.objname);
    requireAccess(ctx, dir.stat, MAY_EXEC);
    const stat = await ctx.server.store.lookup(dir.ino, name);
    ctx.cfh = fileRef(ctx, stat);
    ctx.currentStateid = undefined;
  },
};

export const LOOKUPP: OpImpl<undefined, void> = {
  decode: noArgs,
  async run(ctx) {
    const dir = cfh(ctx);
    requireDir(dir.stat);
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

export const ACCESS: OpImpl<N.ACCESS4args, N.ACCESS4resok> = {
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

export const READLINK: OpImpl<undefined, N.READLINK4resok> = {
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

export const CREATE: OpImpl<N.CREATE4args, CreateResult> = {
  decode: (r) => N.decode_CREATE4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir.stat);
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

export const LINK: OpImpl<N.LINK4args, N.LINK4resok> = {
  decode: (r) => N.decode_LINK4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    const src = ctx.sfh!;
    requireDir(dir.stat);
    const name = checkComponent(args.newname);
    if (src.stat.kind === 'dir') throw new NfsError(N.NFS4ERR_ISDIR);
    const dirStat = await refresh(ctx, dir);
    requireAccess(ctx, dirStat, MAY_WRITE | MAY_EXEC);
    const made = await ctx.server.store.link(src.ino, dir.ino, name);
    return { cinfo: cinfo(made.dir) };
  },
  encode: (w, res) => N.encode_LINK4resok(w, res),
};

export const REMOVE: OpImpl<N.REMOVE4args, N.REMOVE4resok> = {
  decode: (r) => N.decode_REMOVE4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir.stat);
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

export const RENAME: OpImpl<N.RENAME4args, N.RENAME4resok> = {
  decode: (r) => N.decode_RENAME4args(r),
  async run(ctx, args) {
    const fromDir = ctx.sfh!;
    const toDir = cfh(ctx);
    requireDir(fromDir.stat);
    requireDir(toDir.stat);
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


export const READ: OpImpl<ReadArgs, void> = {
  decode: (r) => N.decode_READ4args(r),
  async run(ctx, args) {
    const ref = cfh(ctx);
    requireRegular(ref.stat, ctx.minorVersion, 'io');
    const target = await ioTarget(ctx, ref, args.stateid, false);
    const count = Math.max(0, Math.min(args.count, MAX_IO_BYTES, replyRoom(ctx) - READ_OVERHEAD));
    const w = ctx.reply;
    const eofAt = w.reserveU32();
    const { lengthAt, view } = w.reserveOpaque(count);
    // the file is read straight into the reply slab
    // nothing can lie beyond the largest file size: answer EOF without asking the store
    const nothing = count === 0 || args.offset >= MAX_FILE_SIZE;
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

export const WRITE: OpImpl<WriteArgs, N.WRITE4resok> = {
  decode: (r) => N.decode_WRITE4args(r),
  async run(ctx, args) {
    const ref = cfh(ctx);
    requireRegular(ref.stat, ctx.minorVersion, 'io');
    if (args.data.length > MAX_IO_BYTES) throw new NfsError(N.NFS4ERR_INVAL, 'write larger than maxwrite');
    const target = await ioTarget(ctx, ref, args.stateid, true);
    const sync = args.stable !== N.UNSTABLE4;
    // the payload goes from the request view to the file: no copy
    const bytes = await ctx.server.store.write(target.file, args.data, args.offset, sync);
    return { count: bytes, committed: sync ? N.FILE_SYNC4 : N.UNSTABLE4, writeverf: ctx.server.config.writeVerifier };
  },
  encode: (w, res) => N.encode_WRITE4resok(w, res),
};

export const COMMIT: OpImpl<N.COMMIT4args, N.COMMIT4resok> = {
  decode: (r) => N.decode_COMMIT4args(r),
  async run(ctx) {
    const ref = cfh(ctx);
    requireRegular(ref.stat, ctx.minorVersion, 'io');
    // fsync on any descriptor of the inode flushes all of its dirty data
    const file = await ctx.server.store.sharedFile(ref.ino, false);
    await ctx.server.store.commit(file);
    return { writeverf: ctx.server.config.writeVerifier };
  },
  encode: (w, res) => N.encode_COMMIT4resok(w, res),
};

/** EFS offers AUTH_SYS only (no Kerberos). */
const SECINFO_RESULT: N.secinfo4[] = [{ flavor: AUTH_SYS }];

export const SECINFO: OpImpl<N.SECINFO4args, N.secinfo4[]> = {
  decode: (r) => N.decode_SECINFO4args(r),
  async run(ctx, args) {
    const dir = cfh(ctx);
    requireDir(dir.stat);
    const name = checkComponent(args.name);
    requireAccess(ctx, dir.stat, MAY_EXEC);
    await ctx.server.store.lookup(dir.ino, name);
    // RFC 8881 2.6.3.1.1.8: SECINFO consumes the current filehandle in 4.1
    if (ctx.minorVersion === 1) ctx.cfh = undefined;
    return SECINFO_RESULT;
  },
  encode: (w, res) => N.encode_SECINFO4resok(w, res),
};

export const SECINFO_NO_NAME: OpImpl<number, N.secinfo4[]> = {
  decode: (r) => N.decode_SECINFO_NO_NAME4args(r),
  async run(ctx, style) {
    const ref = cfh(ctx);
    if (style === N.SECINFO_STYLE4_PARENT) {
      requireDir(ref.stat);
      if (await isConnectionRoot(ctx, ref)) throw new NfsError(N.NFS4ERR_NOENT);
    } else if (style !== N.SECINFO_STYLE4_CURRENT_FH) throw new NfsError(N.NFS4ERR_INVAL);
    ctx.cfh = undefined;
    return SECINFO_RESULT;
  },
  encode: (w, res) => N.encode_SECINFO4resok(w, res),
};
