/**
 * Client-side fattr4 codec (RFC 8881 section 5 / RFC 7530 section 5).
 * A fattr4 is a bitmap4 plus the XDR values of the set bits in ascending
 * order; decoding stops (and reports `undecoded`) at the first attribute
 * this table cannot decode, since the values are not self-delimiting.
 */
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import type { fattr4 } from '../xdr/gen/nfs4.js';

/**
 * Attribute numbers (bit positions in bitmap4), written out here from the
 * RFCs' tables (RFC 8881 5.6/5.7, RFC 7530 5.6/5.7) and NOT taken from the
 * server's table (src/nfs4/attr-numbers.ts): the integration tests decode the
 * server's replies with this one, so a wrong number on either side shows up
 * as a mismatch instead of agreeing with itself.
 * test/unit/client-attr-numbers.test.ts pins each number to the RFC value
 * and to the generated FATTR4_* constants.
 */
export const FATTR = {
  // REQUIRED (RFC 8881 5.6; RFC 7530 5.6)
  SUPPORTED_ATTRS: 0,
  TYPE: 1,
  FH_EXPIRE_TYPE: 2,
  CHANGE: 3,
  SIZE: 4,
  LINK_SUPPORT: 5,
  SYMLINK_SUPPORT: 6,
  NAMED_ATTR: 7,
  FSID: 8,
  UNIQUE_HANDLES: 9,
  LEASE_TIME: 10,
  RDATTR_ERROR: 11,
  FILEHANDLE: 19,
  // RECOMMENDED (RFC 8881 5.7; RFC 7530 5.7)
  ACL: 12,
  ACLSUPPORT: 13,
  ARCHIVE: 14,
  CANSETTIME: 15,
  CASE_INSENSITIVE: 16,
  CASE_PRESERVING: 17,
  CHOWN_RESTRICTED: 18,
  FILEID: 20,
  FILES_AVAIL: 21,
  FILES_FREE: 22,
  FILES_TOTAL: 23,
  FS_LOCATIONS: 24,
  HIDDEN: 25,
  HOMOGENEOUS: 26,
  MAXFILESIZE: 27,
  MAXLINK: 28,
  MAXNAME: 29,
  MAXREAD: 30,
  MAXWRITE: 31,
  MIMETYPE: 32,
  MODE: 33,
  NO_TRUNC: 34,
  NUMLINKS: 35,
  OWNER: 36,
  OWNER_GROUP: 37,
  QUOTA_AVAIL_HARD: 38,
  QUOTA_AVAIL_SOFT: 39,
  QUOTA_USED: 40,
  RAWDEV: 41,
  SPACE_AVAIL: 42,
  SPACE_FREE: 43,
  SPACE_TOTAL: 44,
  SPACE_USED: 45,
  SYSTEM: 46,
  TIME_ACCESS: 47,
  TIME_ACCESS_SET: 48,
  TIME_BACKUP: 49,
  TIME_CREATE: 50,
  TIME_DELTA: 51,
  TIME_METADATA: 52,
  TIME_MODIFY: 53,
  TIME_MODIFY_SET: 54,
  MOUNTED_ON_FILEID: 55,
  // new in NFSv4.1 (RFC 8881 5.6, 5.7)
  DIR_NOTIF_DELAY: 56,
  DIRENT_NOTIF_DELAY: 57,
  DACL: 58,
  SACL: 59,
  CHANGE_POLICY: 60,
  FS_STATUS: 61,
  FS_LAYOUT_TYPES: 62,
  LAYOUT_HINT: 63,
  LAYOUT_TYPES: 64,
  LAYOUT_BLKSIZE: 65,
  LAYOUT_ALIGNMENT: 66,
  FS_LOCATIONS_INFO: 67,
  MDSTHRESHOLD: 68,
  RETENTION_GET: 69,
  RETENTION_SET: 70,
  RETENTEVT_GET: 71,
  RETENTEVT_SET: 72,
  RETENTION_HOLD: 73,
  MODE_SET_MASKED: 74,
  SUPPATTR_EXCLCREAT: 75,
  FS_CHARSET_CAP: 76,
} as const;

export type AttrName = keyof typeof FATTR;

const NAME_OF: Record<number, string> = Object.fromEntries(Object.entries(FATTR).map(([k, v]) => [v, k]));

export function attrName(n: number): string {
  return NAME_OF[n] ?? `attr${n}`;
}

export interface NfsTime {
  seconds: number;
  nseconds: number;
}

export interface Ace {
  type: number;
  flag: number;
  accessMask: number;
  who: string;
}

/** Decoded attributes; a field is present when the server returned it. */
export interface Attrs {
  supported_attrs?: number[];
  type?: number;
  fh_expire_type?: number;
  /** changeid4: a bigint, exact over all 64 bits (compare with ===). */
  change?: bigint;
  size?: number;
  link_support?: boolean;
  symlink_support?: boolean;
  named_attr?: boolean;
  fsid?: { major: number; minor: number };
  unique_handles?: boolean;
  lease_time?: number;
  rdattr_error?: number;
  acl?: Ace[];
  aclsupport?: number;
  archive?: boolean;
  cansettime?: boolean;
  case_insensitive?: boolean;
  case_preserving?: boolean;
  chown_restricted?: boolean;
  filehandle?: Buffer;
  fileid?: number;
  files_avail?: number;
  files_free?: number;
  files_total?: number;
  fs_locations?: { fs_root: string[]; locations: { server: string[]; rootpath: string[] }[] };
  hidden?: boolean;
  homogeneous?: boolean;
  maxfilesize?: number;
  maxlink?: number;
  maxname?: number;
  maxread?: number;
  maxwrite?: number;
  mimetype?: string;
  mode?: number;
  no_trunc?: boolean;
  numlinks?: number;
  owner?: string;
  owner_group?: string;
  quota_avail_hard?: number;
  quota_avail_soft?: number;
  quota_used?: number;
  rawdev?: { specdata1: number; specdata2: number };
  space_avail?: number;
  space_free?: number;
  space_total?: number;
  space_used?: number;
  system?: boolean;
  time_access?: NfsTime;
  time_backup?: NfsTime;
  time_create?: NfsTime;
  time_delta?: NfsTime;
  time_metadata?: NfsTime;
  time_modify?: NfsTime;
  mounted_on_fileid?: number;
  dir_notif_delay?: NfsTime;
  dirent_notif_delay?: NfsTime;
  fs_layout_types?: number[];
  layout_blksize?: number;
  layout_alignment?: number;
  suppattr_exclcreat?: number[];
  fs_charset_cap?: number;
  /** Attribute numbers present in the bitmap. */
  present: number[];
  /** Attributes present in the bitmap but not decoded (from the first one this codec cannot decode). */
  undecoded: number[];
  /** Bytes of attr_vals left over after decoding everything (non-zero means a length mismatch). */
  leftover: number;
}

/* ------------------------------------------------------------------ */
/* bitmap4                                                              */
/* ------------------------------------------------------------------ */

export function bitmapOf(attrs: readonly number[]): number[] {
  const words: number[] = [];
  for (const a of attrs) {
    const w = a >>> 5;
    while (words.length <= w) words.push(0);
    words[w] = (words[w]! | (1 << (a & 31))) >>> 0;
  }
  return words;
}

export function bitmapList(bm: readonly number[]): number[] {
  const out: number[] = [];
  for (let w = 0; w < bm.length; w++) {
    const word = bm[w]! >>> 0;
    for (let b = 0; b < 32; b++) if ((word >>> b) & 1) out.push(w * 32 + b);
  }
  return out;
}

export function bitmapHas(bm: readonly number[], n: number): boolean {
  const w = bm[n >>> 5];
  return w !== undefined && ((w >>> (n & 31)) & 1) === 1;
}

function readBitmap(r: XdrReader): number[] {
  const n = r.length(1024, 4);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32());
  return out;
}

function readTime(r: XdrReader): NfsTime {
  return { seconds: r.i64(), nseconds: r.u32() };
}

function readStrings(r: XdrReader): string[] {
  const n = r.length(4096, 4);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.string());
  return out;
}

type Decoder = (r: XdrReader) => unknown;

const u32: Decoder = (r) => r.u32();
const u64: Decoder = (r) => r.u64();
/** Opaque 64-bit tokens (changeid4): exact. */
const u64big: Decoder = (r) => r.u64big();
const bool: Decoder = (r) => r.bool();
const time: Decoder = readTime;

const DECODERS: Record<number, Decoder> = {
  [FATTR.SUPPORTED_ATTRS]: readBitmap,
  [FATTR.TYPE]: u32,
  [FATTR.FH_EXPIRE_TYPE]: u32,
  [FATTR.CHANGE]: u64big,
  [FATTR.SIZE]: u64,
  [FATTR.LINK_SUPPORT]: bool,
  [FATTR.SYMLINK_SUPPORT]: bool,
  [FATTR.NAMED_ATTR]: bool,
  [FATTR.FSID]: (r) => ({ major: r.u64(), minor: r.u64() }),
  [FATTR.UNIQUE_HANDLES]: bool,
  [FATTR.LEASE_TIME]: u32,
  [FATTR.RDATTR_ERROR]: u32,
  [FATTR.ACL]: (r) => {
    const n = r.length(65536, 16);
    const out: Ace[] = [];
    for (let i = 0; i < n; i++) out.push({ type: r.u32(), flag: r.u32(), accessMask: r.u32(), who: r.string() });
    return out;
  },
  [FATTR.ACLSUPPORT]: u32,
  [FATTR.ARCHIVE]: bool,
  [FATTR.CANSETTIME]: bool,
  [FATTR.CASE_INSENSITIVE]: bool,
  [FATTR.CASE_PRESERVING]: bool,
  [FATTR.CHOWN_RESTRICTED]: bool,
  [FATTR.FILEHANDLE]: (r) => Buffer.from(r.opaque(128)),
  [FATTR.FILEID]: u64,
  [FATTR.FILES_AVAIL]: u64,
  [FATTR.FILES_FREE]: u64,
  [FATTR.FILES_TOTAL]: u64,
  [FATTR.FS_LOCATIONS]: (r) => {
    const fs_root = readStrings(r);
    const n = r.length(4096, 8);
    const locations: { server: string[]; rootpath: string[] }[] = [];
    for (let i = 0; i < n; i++) locations.push({ server: readStrings(r), rootpath: readStrings(r) });
    return { fs_root, locations };
  },
  [FATTR.HIDDEN]: bool,
  [FATTR.HOMOGENEOUS]: bool,
  [FATTR.MAXFILESIZE]: u64,
  [FATTR.MAXLINK]: u32,
  [FATTR.MAXNAME]: u32,
  [FATTR.MAXREAD]: u64,
  [FATTR.MAXWRITE]: u64,
  [FATTR.MIMETYPE]: (r) => r.string(),
  [FATTR.MODE]: u32,
  [FATTR.NO_TRUNC]: bool,
  [FATTR.NUMLINKS]: u32,
  [FATTR.OWNER]: (r) => r.string(),
  [FATTR.OWNER_GROUP]: (r) => r.string(),
  [FATTR.QUOTA_AVAIL_HARD]: u64,
  [FATTR.QUOTA_AVAIL_SOFT]: u64,
  [FATTR.QUOTA_USED]: u64,
  [FATTR.RAWDEV]: (r) => ({ specdata1: r.u32(), specdata2: r.u32() }),
  [FATTR.SPACE_AVAIL]: u64,
  [FATTR.SPACE_FREE]: u64,
  [FATTR.SPACE_TOTAL]: u64,
  [FATTR.SPACE_USED]: u64,
  [FATTR.SYSTEM]: bool,
  [FATTR.TIME_ACCESS]: time,
  [FATTR.TIME_BACKUP]: time,
  [FATTR.TIME_CREATE]: time,
  [FATTR.TIME_DELTA]: time,
  [FATTR.TIME_METADATA]: time,
  [FATTR.TIME_MODIFY]: time,
  [FATTR.MOUNTED_ON_FILEID]: u64,
  [FATTR.DIR_NOTIF_DELAY]: time,
  [FATTR.DIRENT_NOTIF_DELAY]: time,
  [FATTR.FS_LAYOUT_TYPES]: (r) => {
    const n = r.length(1024, 4);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(r.u32());
    return out;
  },
  [FATTR.LAYOUT_BLKSIZE]: u32,
  [FATTR.LAYOUT_ALIGNMENT]: u32,
  [FATTR.SUPPATTR_EXCLCREAT]: readBitmap,
  [FATTR.FS_CHARSET_CAP]: u32,
};

/** Decodes a fattr4 into named fields. */
export function decodeAttrs(fa: fattr4): Attrs {
  const present = bitmapList(fa.attrmask);
  const out: Attrs = { present, undecoded: [], leftover: 0 };
  const r = new XdrReader(fa.attr_vals);
  const rec = out as unknown as Record<string, unknown>;
  for (let i = 0; i < present.length; i++) {
    const n = present[i]!;
    const dec = DECODERS[n];
    if (!dec) {
      out.undecoded = present.slice(i);
      break;
    }
    rec[attrName(n).toLowerCase()] = dec(r);
  }
  if (out.undecoded.length === 0) out.leftover = r.remaining;
  return out;
}

/* ------------------------------------------------------------------ */
/* Settable attributes (SETATTR, CREATE, OPEN createattrs)              */
/* ------------------------------------------------------------------ */

export interface SetAttrs {
  size?: number;
  mode?: number;
  /** Owner string ("1000") or number. */
  owner?: string | number;
  owner_group?: string | number;
  /** A time or 'server' for SET_TO_SERVER_TIME4. */
  time_access_set?: NfsTime | 'server';
  time_modify_set?: NfsTime | 'server';
  /** Raw extra attributes: number -> pre-encoded XDR value (for tests). */
  raw?: Map<number, Buffer>;
}

/** Encodes settable attributes in ascending bit order. */
export function encodeAttrs(a: SetAttrs = {}): fattr4 {
  const vals = new Map<number, (w: XdrWriter) => void>();
  if (a.size !== undefined) vals.set(FATTR.SIZE, (w) => w.u64(a.size!));
  if (a.mode !== undefined) vals.set(FATTR.MODE, (w) => w.u32(a.mode!));
  if (a.owner !== undefined) vals.set(FATTR.OWNER, (w) => w.string(String(a.owner)));
  if (a.owner_group !== undefined) vals.set(FATTR.OWNER_GROUP, (w) => w.string(String(a.owner_group)));
  const setTime = (t: NfsTime | 'server') => (w: XdrWriter) => {
    if (t === 'server') w.u32(0);
    else {
      w.u32(1);
      w.i64(t.seconds);
      w.u32(t.nseconds);
    }
  };
  if (a.time_access_set !== undefined) vals.set(FATTR.TIME_ACCESS_SET, setTime(a.time_access_set));
  if (a.time_modify_set !== undefined) vals.set(FATTR.TIME_MODIFY_SET, setTime(a.time_modify_set));
  if (a.raw) for (const [n, b] of a.raw) vals.set(n, (w) => w.fixedOpaque(b, b.length));
  const order = [...vals.keys()].sort((x, y) => x - y);
  const w = new XdrWriter(256);
  for (const n of order) vals.get(n)!(w);
  return { attrmask: bitmapOf(order), attr_vals: Buffer.from(w.finish()) };
}

/** The attributes `getattr` asks for when none are named. */
export const DEFAULT_GETATTR: number[] = [
  FATTR.TYPE,
  FATTR.CHANGE,
  FATTR.SIZE,
  FATTR.FSID,
  FATTR.FILEID,
  FATTR.MODE,
  FATTR.NUMLINKS,
  FATTR.OWNER,
  FATTR.OWNER_GROUP,
  FATTR.SPACE_USED,
  FATTR.TIME_ACCESS,
  FATTR.TIME_METADATA,
  FATTR.TIME_MODIFY,
];

export const FILE_TYPE = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7 } as const;
