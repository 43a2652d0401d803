/**
 * The NFSv4 attribute table (RFC 8881 section 5, RFC 7530 section 5):
 * which attributes we support (the Amazon EFS set), how each is encoded
 * from a Stat plus server facts, which are settable and how those decode.
 *
 * fattr4 = bitmap4 attrmask + opaque attr_vals, where attr_vals holds the
 * XDR values of the attributes in the bitmap, in ascending bit order.
 */
import { XdrReader } from '../xdr/reader.js';
import { MAX_FILE_SIZE, MAX_IO_BYTES, MAX_LINKS, MAX_NAME_BYTES } from '../protocol/efs-limits.js';
import { XdrWriter } from '../xdr/writer.js';
import { XdrError } from '../xdr/errors.js';
import type { FileKind, FsStats, SetAttrs, Stat, Store, Timespec } from '../store/types.js';
import { NfsError } from '../protocol/status.js';
import * as N from '../xdr/gen/nfs4.js';
import { FATTR } from './attr-numbers.js';

/** Attribute numbers, under the short name the attribute table uses. */
export const A = FATTR;

/* ------------------------------------------------------------------ */
/* EFS limits and fixed facts                                           */
/* ------------------------------------------------------------------ */

/** FH4_PERSISTENT: our handles survive restarts. */
const FH4_PERSISTENT = 0;
/** space_total: 8 EiB, as EFS reports (df shows 2^53 KiB). */
const SPACE_TOTAL = 1n << 63n;

/** Largest bitmap4 we accept from a client (in words); real clients send at most 3. */
const MAX_BITMAP_WORDS = 256;
/** NFS4_FHSIZE */
const MAX_FH = 128;
/** Longest owner string we parse (numeric ids are at most 10 digits; names a bit more). */
const MAX_OWNER = 1024;

/* ------------------------------------------------------------------ */
/* bitmap4 helpers                                                      */
/* ------------------------------------------------------------------ */

export function bitmapHas(bm: readonly number[], n: number): boolean {
  const w = bm[n >>> 5];
  return w !== undefined && ((w >>> (n & 31)) & 1) === 1;
}

/** Drops trailing zero words (the canonical form we send). */
export function bitmapTrim(bm: number[]): number[] {
  let n = bm.length;
  while (n > 0 && (bm[n - 1]! >>> 0) === 0) n--;
  return n === bm.length ? bm : bm.slice(0, n);
}

export function bitmapFromList(attrs: readonly number[]): number[] {
  const bm: number[] = [];
  for (const a of attrs) {
    const i = a >>> 5;
    while (bm.length <= i) bm.push(0);
    bm[i] = (bm[i]! | (1 << (a & 31))) >>> 0;
  }
  return bitmapTrim(bm);
}

/** Attribute numbers set in the bitmap, ascending. */
export function bitmapToList(bm: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < bm.length; i++) {
    let w = bm[i]! >>> 0;
    for (let b = 0; w !== 0; b++, w >>>= 1) if (w & 1) out.push(i * 32 + b);
  }
  return out;
}

export function bitmapAnd(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = (a[i]! & b[i]!) >>> 0;
  return bitmapTrim(out);
}

export function bitmapEquals(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (((a[i] ?? 0) >>> 0) !== ((b[i] ?? 0) >>> 0)) return false;
  return true;
}

export function encodeBitmap(w: XdrWriter, bm: readonly number[]): void {
  let n = bm.length;
  while (n > 0 && (bm[n - 1]! >>> 0) === 0) n--;
  w.u32(n);
  for (let i = 0; i < n; i++) w.u32(bm[i]!);
}

export function decodeBitmap(r: XdrReader): number[] {
  const n = r.length(MAX_BITMAP_WORDS, 4);
  const bm = new Array<number>(n);
  for (let i = 0; i < n; i++) bm[i] = r.u32();
  return bm;
}

/** The fattr4 structure (same shape as the generated codec's). */
export interface Fattr4 {
  attrmask: number[];
  attr_vals: Buffer;
}

export function decodeFattr(r: XdrReader): Fattr4 {
  const attrmask = decodeBitmap(r);
  const attr_vals = r.opaque();
  return { attrmask, attr_vals };
}

export function encodeFattrRaw(w: XdrWriter, f: Fattr4): void {
  encodeBitmap(w, f.attrmask);
  w.opaque(f.attr_vals);
}

/* ------------------------------------------------------------------ */
/* Where attribute values come from                                     */
/* ------------------------------------------------------------------ */

export interface AttrSource {
  stat: Stat;
  /** The object's wire handle (FATTR4_FILEHANDLE); a function is only called when the handle is requested. */
  fh?: Buffer | (() => Buffer);
  /** fsid and (for space_avail/free/total) statfs. */
  store: Pick<Store, 'fsid' | 'statfs'>;
  config: { leaseSeconds: number };
  /** Defaults to the object's own fileid (we have no mount points inside the export). */
  mountedOnFileid?: number;
  /** READDIR's per-entry rdattr_error; NFS4_OK otherwise. */
  rdattrError?: number;
  /** File-system usage, if already fetched (space_avail/free/total need it). */
  fsStats?: FsStats;
}

type Shape = 'u32' | 'u64' | 'bool' | 'fsid' | 'time' | 'specdata' | 'utf8' | 'fh' | 'bitmap' | 'settime';

interface AttrDef {
  id: number;
  name: string;
  shape: Shape;
  /** Encoder of the current value; absent for write-only attributes. */
  get?: (w: XdrWriter, s: AttrSource, minor: number) => void;
  /** May be set by SETATTR / createattrs. */
  settable?: boolean;
  /** First minor version that has the attribute. */
  minMinor?: number;
  /** Needs fsStats. */
  fs?: boolean;
}

const NF4_TYPE: Record<FileKind, number> = {
  reg: 1, // NF4REG
  dir: 2, // NF4DIR
  blk: 3, // NF4BLK
  chr: 4, // NF4CHR
  lnk: 5, // NF4LNK
  sock: 6, // NF4SOCK
  fifo: 7, // NF4FIFO
};

function time(w: XdrWriter, t: Timespec): void {
  w.i64(t.sec);
  w.u32(t.nsec);
}

/** Writes an unsigned 64-bit value held as a bigint, clamped to [0, 2^64-1]. */
function u64big(w: XdrWriter, v: bigint): void {
  if (v < 0n) v = 0n;
  if (v > 0xffffffffffffffffn) v = 0xffffffffffffffffn;
  w.u32(Number(v >> 32n));
  w.u32(Number(v & 0xffffffffn));
}

function spaceFree(s: AttrSource): bigint {
  const used = BigInt(Math.max(0, Math.floor(fsStatsOf(s).used)));
  return used >= SPACE_TOTAL ? 0n : SPACE_TOTAL - used;
}

function fsStatsOf(s: AttrSource): FsStats {
  if (!s.fsStats) throw new NfsError(N.NFS4ERR_SERVERFAULT, 'space attribute encoded without fsStats');
  return s.fsStats;
}

function fhOf(s: AttrSource): Buffer {
  const fh = typeof s.fh === 'function' ? s.fh() : s.fh;
  if (!fh) throw new NfsError(N.NFS4ERR_SERVERFAULT, 'filehandle attribute encoded without a handle');
  return fh;
}

const DEFS: AttrDef[] = [
  { id: A.SUPPORTED_ATTRS, name: 'supported_attrs', shape: 'bitmap', get: (w, _s, m) => encodeBitmap(w, supportedAttrs(m)) },
  { id: A.TYPE, name: 'type', shape: 'u32', get: (w, s) => w.u32(NF4_TYPE[s.stat.kind]) },
  { id: A.FH_EXPIRE_TYPE, name: 'fh_expire_type', shape: 'u32', get: (w) => w.u32(FH4_PERSISTENT) },
  { id: A.CHANGE, name: 'change', shape: 'u64', get: (w, s) => w.u64(s.stat.change) },
  { id: A.SIZE, name: 'size', shape: 'u64', get: (w, s) => w.u64(s.stat.size), settable: true },
  { id: A.LINK_SUPPORT, name: 'link_support', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.SYMLINK_SUPPORT, name: 'symlink_support', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.NAMED_ATTR, name: 'named_attr', shape: 'bool', get: (w) => w.bool(false) },
  {
    id: A.FSID,
    name: 'fsid',
    shape: 'fsid',
    get: (w, s) => {
      w.u64(s.store.fsid.major);
      w.u64(s.store.fsid.minor);
    },
  },
  { id: A.UNIQUE_HANDLES, name: 'unique_handles', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.LEASE_TIME, name: 'lease_time', shape: 'u32', get: (w, s) => w.u32(s.config.leaseSeconds) },
  { id: A.RDATTR_ERROR, name: 'rdattr_error', shape: 'u32', get: (w, s) => w.u32(s.rdattrError ?? N.NFS4_OK) },
  // No ACL support (EFS): aclsupport = 0 tells the client no ACE type is supported.
  { id: A.ACLSUPPORT, name: 'aclsupport', shape: 'u32', get: (w) => w.u32(0) },
  { id: A.CANSETTIME, name: 'cansettime', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.CASE_INSENSITIVE, name: 'case_insensitive', shape: 'bool', get: (w) => w.bool(false) },
  { id: A.CASE_PRESERVING, name: 'case_preserving', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.CHOWN_RESTRICTED, name: 'chown_restricted', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.FILEHANDLE, name: 'filehandle', shape: 'fh', get: (w, s) => w.opaque(fhOf(s)) },
  { id: A.FILEID, name: 'fileid', shape: 'u64', get: (w, s) => w.u64(s.stat.ino) },
  { id: A.HOMOGENEOUS, name: 'homogeneous', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.MAXFILESIZE, name: 'maxfilesize', shape: 'u64', get: (w) => w.u64(MAX_FILE_SIZE) },
  { id: A.MAXLINK, name: 'maxlink', shape: 'u32', get: (w) => w.u32(MAX_LINKS) },
  { id: A.MAXNAME, name: 'maxname', shape: 'u32', get: (w) => w.u32(MAX_NAME_BYTES) },
  { id: A.MAXREAD, name: 'maxread', shape: 'u64', get: (w) => w.u64(MAX_IO_BYTES) },
  { id: A.MAXWRITE, name: 'maxwrite', shape: 'u64', get: (w) => w.u64(MAX_IO_BYTES) },
  { id: A.MODE, name: 'mode', shape: 'u32', get: (w, s) => w.u32(s.stat.mode & 0o7777), settable: true },
  { id: A.NO_TRUNC, name: 'no_trunc', shape: 'bool', get: (w) => w.bool(true) },
  { id: A.NUMLINKS, name: 'numlinks', shape: 'u32', get: (w, s) => w.u32(s.stat.nlink) },
  { id: A.OWNER, name: 'owner', shape: 'utf8', get: (w, s) => w.string(String(s.stat.uid >>> 0)), settable: true },
  { id: A.OWNER_GROUP, name: 'owner_group', shape: 'utf8', get: (w, s) => w.string(String(s.stat.gid >>> 0)), settable: true },
  {
    id: A.RAWDEV,
    name: 'rawdev',
    shape: 'specdata',
    get: (w, s) => {
      w.u32(s.stat.rdev.major);
      w.u32(s.stat.rdev.minor);
    },
  },
  { id: A.SPACE_AVAIL, name: 'space_avail', shape: 'u64', fs: true, get: (w, s) => u64big(w, spaceFree(s)) },
  { id: A.SPACE_FREE, name: 'space_free', shape: 'u64', fs: true, get: (w, s) => u64big(w, spaceFree(s)) },
  { id: A.SPACE_TOTAL, name: 'space_total', shape: 'u64', fs: true, get: (w) => u64big(w, SPACE_TOTAL) },
  { id: A.SPACE_USED, name: 'space_used', shape: 'u64', get: (w, s) => w.u64(s.stat.spaceUsed) },
  { id: A.TIME_ACCESS, name: 'time_access', shape: 'time', get: (w, s) => time(w, s.stat.atime) },
  { id: A.TIME_ACCESS_SET, name: 'time_access_set', shape: 'settime', settable: true },
  { id: A.TIME_CREATE, name: 'time_create', shape: 'time', get: (w, s) => time(w, s.stat.btime) },
  // Server timestamps have nanosecond granularity.
  { id: A.TIME_DELTA, name: 'time_delta', shape: 'time', get: (w) => time(w, { sec: 0, nsec: 1 }) },
  { id: A.TIME_METADATA, name: 'time_metadata', shape: 'time', get: (w, s) => time(w, s.stat.ctime) },
  { id: A.TIME_MODIFY, name: 'time_modify', shape: 'time', get: (w, s) => time(w, s.stat.mtime) },
  { id: A.TIME_MODIFY_SET, name: 'time_modify_set', shape: 'settime', settable: true },
  {
    id: A.MOUNTED_ON_FILEID,
    name: 'mounted_on_fileid',
    shape: 'u64',
    get: (w, s) => w.u64(s.mountedOnFileid ?? s.stat.ino),
  },
  {
    id: A.SUPPATTR_EXCLCREAT,
    name: 'suppattr_exclcreat',
    shape: 'bitmap',
    minMinor: 1,
    get: (w) => encodeBitmap(w, SUPPATTR_EXCLCREAT),
  },
];

/** Attribute definitions indexed by number (sparse). */
const TABLE: (AttrDef | undefined)[] = [];
for (const d of DEFS) TABLE[d.id] = d;

export function attrName(id: number): string {
  return TABLE[id]?.name ?? `attr${id}`;
}

/** Attributes SETATTR (and OPEN/CREATE createattrs) accept. */
export const SETTABLE_ATTRS: number[] = bitmapFromList(DEFS.filter((d) => d.settable).map((d) => d.id));

/** Write-only attributes: requesting them in GETATTR/READDIR/VERIFY is NFS4ERR_INVAL. */
export const WRITE_ONLY_ATTRS: number[] = bitmapFromList(DEFS.filter((d) => !d.get).map((d) => d.id));

/**
 * Attributes that may be set by an EXCLUSIVE4_1 OPEN (RFC 8881 sections 5.8.1.14 and 18.16.3).
 * The timestamps are left out: the server may keep the create verifier in them, and
 * the Linux client follows up with a SETATTR for anything not in this set.
 */
export const SUPPATTR_EXCLCREAT: number[] = bitmapFromList([A.SIZE, A.MODE, A.OWNER, A.OWNER_GROUP]);

const SUPPORTED_V40: number[] = bitmapFromList(DEFS.filter((d) => (d.minMinor ?? 0) === 0).map((d) => d.id));
const SUPPORTED_V41: number[] = bitmapFromList(DEFS.map((d) => d.id));

/**
 * The supported_attrs bitmap of NFSv4.0 (the EFS set: every attribute the Linux client
 * uses except archive, files_*, fs_locations, mimetype, quota_*, time_backup and acl).
 * Use supportedAttrs(minorVersion) for the per-version set (4.1 adds suppattr_exclcreat).
 */
export const SUPPORTED_ATTRS: number[] = SUPPORTED_V40;

export function supportedAttrs(minorVersion: number): number[] {
  return minorVersion >= 1 ? SUPPORTED_V41 : SUPPORTED_V40;
}

export function isSupported(id: number, minorVersion: number): boolean {
  return bitmapHas(supportedAttrs(minorVersion), id);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

/** A request compiled once (for READDIR: once per call, reused for every entry). */
export interface AttrPlan {
  /** The reply bitmap: requested AND supported AND readable. */
  mask: number[];
  defs: AttrDef[];
  needsFsStats: boolean;
  needsFh: boolean;
  minorVersion: number;
}

/** NFS4ERR_INVAL if the request names a write-only attribute (GETATTR, READDIR). */
export function assertReadable(requested: readonly number[]): void {
  for (let i = 0; i < requested.length && i < WRITE_ONLY_ATTRS.length; i++) {
    if ((requested[i]! & WRITE_ONLY_ATTRS[i]!) !== 0) {
      throw new NfsError(N.NFS4ERR_INVAL, 'write-only attribute requested');
    }
  }
}

export function planAttrs(requested: readonly number[], minorVersion: number): AttrPlan {
  const mask = bitmapAnd(requested, supportedAttrs(minorVersion));
  const defs: AttrDef[] = [];
  let needsFsStats = false;
  let needsFh = false;
  for (const id of bitmapToList(mask)) {
    const d = TABLE[id];
    if (!d?.get) continue;
    defs.push(d);
    if (d.fs) needsFsStats = true;
    if (id === A.FILEHANDLE) needsFh = true;
  }
  return { mask: bitmapFromList(defs.map((d) => d.id)), defs, needsFsStats, needsFh, minorVersion };
}

/** Writes a fattr4 for a compiled plan. Synchronous: src.fsStats must be present if plan.needsFsStats. */
export function encodeFattrPlanned(w: XdrWriter, plan: AttrPlan, src: AttrSource): void {
  encodeBitmap(w, plan.mask);
  const lenAt = w.reserveU32();
  const start = w.length;
  for (const d of plan.defs) d.get!(w, src, plan.minorVersion);
  w.patchU32(lenAt, w.length - start);
}

/**
 * Writes a fattr4 holding the requested attributes we support (write-only ones are
 * skipped; callers that must refuse them call assertReadable first). Fetches
 * statfs once, and only if a space_avail/free/total attribute is requested and
 * src.fsStats is absent; otherwise it completes synchronously.
 */
export function encodeFattr(
  w: XdrWriter,
  requested: readonly number[],
  src: AttrSource,
  minorVersion: number,
): Promise<void> | void {
  const plan = planAttrs(requested, minorVersion);
  if (plan.needsFsStats && !src.fsStats) {
    return src.store.statfs().then((fsStats) => encodeFattrPlanned(w, plan, { ...src, fsStats }));
  }
  encodeFattrPlanned(w, plan, src);
}

/** Encodes the value of a single attribute (no bitmap, no length). */
function encodeOne(d: AttrDef, src: AttrSource, minor: number): Buffer {
  const w = new XdrWriter(64);
  d.get!(w, src, minor);
  return Buffer.from(w.finish());
}

/* ------------------------------------------------------------------ */
/* Decoding settable attributes (SETATTR, OPEN/CREATE createattrs)      */
/* ------------------------------------------------------------------ */

export interface DecodedAttrs {
  set: SetAttrs;
  /** The bitmap of attributes the request sets (SETATTR's attrsset on success). */
  attrset: number[];
}

/** Parses a numeric owner/owner_group ("1000"); anything else is NFS4ERR_BADOWNER. */
export function parseNumericId(s: string): number {
  if (s.length === 0) throw new NfsError(N.NFS4ERR_INVAL, 'empty owner');
  if (s.length > 10 || !/^[0-9]+$/.test(s)) throw new NfsError(N.NFS4ERR_BADOWNER, `owner ${JSON.stringify(s)}`);
  const v = Number(s);
  if (v > 0xffffffff) throw new NfsError(N.NFS4ERR_BADOWNER, `owner ${s} out of range`);
  return v;
}

function readTime(r: XdrReader): Timespec {
  const sec = r.i64();
  const nsec = r.u32();
  if (nsec > 999999999) throw new NfsError(N.NFS4ERR_INVAL, `nseconds ${nsec}`);
  return { sec, nsec };
}

function readSettime(r: XdrReader): Timespec | 'now' {
  const how = r.u32();
  if (how === 0) return 'now'; // SET_TO_SERVER_TIME4
  if (how === 1) return readTime(r); // SET_TO_CLIENT_TIME4
  throw new XdrError(`bad time_how4 ${how}`);
}

/**
 * Checks every attribute number of a request: unsupported ones (unknown, EFS-unsupported
 * such as acl/archive/mimetype, or from a later minor version) give NFS4ERR_ATTRNOTSUPP.
 */
function assertAllSupported(mask: readonly number[], minorVersion: number): number[] {
  const ids = bitmapToList(mask);
  for (const id of ids) {
    if (!isSupported(id, minorVersion)) {
      throw new NfsError(N.NFS4ERR_ATTRNOTSUPP, `attribute ${attrName(id)} (${id}) not supported`);
    }
  }
  return ids;
}

function wrapXdr<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof XdrError) throw new NfsError(N.NFS4ERR_BADXDR, e.message);
    throw e;
  }
}

/**
 * Decodes the settable attributes of a fattr4 (SETATTR, OPEN/CREATE createattrs).
 * Errors: unsupported attribute -> ATTRNOTSUPP; supported but read-only -> INVAL;
 * malformed or trailing bytes -> BADXDR; non-numeric owner -> BADOWNER; nseconds
 * above 999999999 -> INVAL.
 */
export function decodeSettable(f: Fattr4, minorVersion = 1): DecodedAttrs {
  const ids = assertAllSupported(f.attrmask, minorVersion);
  for (const id of ids) {
    if (!TABLE[id]!.settable) throw new NfsError(N.NFS4ERR_INVAL, `attribute ${attrName(id)} is read-only`);
  }
  const set: SetAttrs = {};
  wrapXdr(() => {
    const r = new XdrReader(f.attr_vals);
    for (const id of ids) {
      switch (id) {
        case A.SIZE:
          set.size = r.u64();
          break;
        case A.MODE:
          set.mode = r.u32() & 0o7777;
          break;
        case A.OWNER:
          set.uid = parseNumericId(r.string(MAX_OWNER));
          break;
        case A.OWNER_GROUP:
          set.gid = parseNumericId(r.string(MAX_OWNER));
          break;
        case A.TIME_ACCESS_SET:
          set.atime = readSettime(r);
          break;
        case A.TIME_MODIFY_SET:
          set.mtime = readSettime(r);
          break;
        default:
          throw new NfsError(N.NFS4ERR_SERVERFAULT, `no decoder for settable attribute ${id}`);
      }
    }
    if (r.remaining !== 0) throw new XdrError(`${r.remaining} bytes after the attribute values`);
  });
  return { set, attrset: bitmapFromList(ids) };
}

/* ------------------------------------------------------------------ */
/* VERIFY / NVERIFY                                                     */
/* ------------------------------------------------------------------ */

/** Reads one value of the given shape and returns its raw bytes (for comparison). */
function readRaw(r: XdrReader, shape: Shape): Buffer | number[] {
  const start = r.pos;
  switch (shape) {
    case 'u32':
      r.u32();
      break;
    case 'bool':
      r.bool();
      break;
    case 'u64':
      r.u64();
      break;
    case 'fsid':
      r.skip(16);
      break;
    case 'time':
      r.skip(12);
      break;
    case 'specdata':
      r.skip(8);
      break;
    case 'utf8':
      r.opaque(MAX_OWNER);
      break;
    case 'fh':
      r.opaque(MAX_FH);
      break;
    case 'bitmap':
      return decodeBitmap(r);
    case 'settime':
      throw new NfsError(N.NFS4ERR_INVAL, 'write-only attribute');
  }
  return r.buf.subarray(start, r.pos);
}

/**
 * VERIFY/NVERIFY comparison: true when every attribute in the client's fattr4 equals
 * our current value. Unsupported attribute -> ATTRNOTSUPP; write-only attributes and
 * rdattr_error -> INVAL; malformed values or trailing bytes -> BADXDR.
 */
export async function attrsEqual(f: Fattr4, src: AttrSource, minorVersion: number): Promise<boolean> {
  const ids = assertAllSupported(f.attrmask, minorVersion);
  const defs = ids.map((id) => TABLE[id]!);
  for (const d of defs) {
    if (!d.get || d.id === A.RDATTR_ERROR) {
      throw new NfsError(N.NFS4ERR_INVAL, `attribute ${d.name} not allowed in VERIFY/NVERIFY`);
    }
  }
  const theirs = wrapXdr(() => {
    const r = new XdrReader(f.attr_vals);
    const vals = defs.map((d) => readRaw(r, d.shape));
    if (r.remaining !== 0) throw new XdrError(`${r.remaining} bytes after the attribute values`);
    return vals;
  });
  let s = src;
  if (defs.some((d) => d.fs) && !s.fsStats) s = { ...s, fsStats: await s.store.statfs() };
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i]!;
    const t = theirs[i]!;
    if (d.shape === 'bitmap') {
      const ours = d.id === A.SUPPORTED_ATTRS ? supportedAttrs(minorVersion) : SUPPATTR_EXCLCREAT;
      if (!bitmapEquals(ours, t as number[])) return false;
    } else if (!encodeOne(d, s, minorVersion).equals(t as Buffer)) {
      return false;
    }
  }
  return true;
}

/** Convenience for tests and callers: a fattr4 as a standalone Buffer. */
export function fattrBytes(requested: readonly number[], src: AttrSource, minorVersion: number): Buffer {
  const w = new XdrWriter(256);
  const plan = planAttrs(requested, minorVersion);
  encodeFattrPlanned(w, plan, src);
  return Buffer.from(w.finish());
}

/** Decodes a u64 written as two u32 words (exact for values above 2^53, as a bigint). */
export function readU64Big(r: XdrReader): bigint {
  const hi = r.u32();
  const lo = r.u32();
  return (BigInt(hi) << 32n) | BigInt(lo);
}
