/**
 * The test client's attribute numbers (src/client/attrs.ts) are its own table,
 * so that integration tests, which decode the server's replies with it, would
 * catch a wrong number in the server's table (src/nfs4/attr-numbers.ts)
 * instead of agreeing with it. Here every number is pinned to the literal
 * value in the RFCs' attribute tables (RFC 8881 5.6 REQUIRED, 5.7
 * RECOMMENDED; RFC 7530 5.6 / 5.7 for the NFSv4.0 ones, 0..55, which have
 * the same numbers) and to the FATTR4_* constants generated from xdr/nfs4.x.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { DEFAULT_GETATTR, FATTR, bitmapOf, decodeAttrs, encodeAttrs } from '../../src/client/attrs.js';
import { FATTR as SERVER_FATTR } from '../../src/nfs4/attr-numbers.js';
import { XdrWriter } from '../../src/xdr/writer.js';

/** The "Id" column of the RFC tables, typed in from the RFC text (attribute name as the RFC spells it). */
const RFC: Record<string, [rfcName: string, id: number]> = {
  // RFC 8881 5.6 / RFC 7530 5.6: REQUIRED attributes
  SUPPORTED_ATTRS: ['supported_attrs', 0],
  TYPE: ['type', 1],
  FH_EXPIRE_TYPE: ['fh_expire_type', 2],
  CHANGE: ['change', 3],
  SIZE: ['size', 4],
  LINK_SUPPORT: ['link_support', 5],
  SYMLINK_SUPPORT: ['symlink_support', 6],
  NAMED_ATTR: ['named_attr', 7],
  FSID: ['fsid', 8],
  UNIQUE_HANDLES: ['unique_handles', 9],
  LEASE_TIME: ['lease_time', 10],
  RDATTR_ERROR: ['rdattr_error', 11],
  FILEHANDLE: ['filehandle', 19],
  SUPPATTR_EXCLCREAT: ['suppattr_exclcreat', 75], // REQUIRED in 4.1 only
  // RFC 8881 5.7 / RFC 7530 5.7: RECOMMENDED attributes
  ACL: ['acl', 12],
  ACLSUPPORT: ['aclsupport', 13],
  ARCHIVE: ['archive', 14],
  CANSETTIME: ['cansettime', 15],
  CASE_INSENSITIVE: ['case_insensitive', 16],
  CASE_PRESERVING: ['case_preserving', 17],
  CHOWN_RESTRICTED: ['chown_restricted', 18],
  FILEID: ['fileid', 20],
  FILES_AVAIL: ['files_avail', 21],
  FILES_FREE: ['files_free', 22],
  FILES_TOTAL: ['files_total', 23],
  FS_LOCATIONS: ['fs_locations', 24],
  HIDDEN: ['hidden', 25],
  HOMOGENEOUS: ['homogeneous', 26],
  MAXFILESIZE: ['maxfilesize', 27],
  MAXLINK: ['maxlink', 28],
  MAXNAME: ['maxname', 29],
  MAXREAD: ['maxread', 30],
  MAXWRITE: ['maxwrite', 31],
  MIMETYPE: ['mimetype', 32],
  MODE: ['mode', 33],
  NO_TRUNC: ['no_trunc', 34],
  NUMLINKS: ['numlinks', 35],
  OWNER: ['owner', 36],
  OWNER_GROUP: ['owner_group', 37],
  QUOTA_AVAIL_HARD: ['quota_avail_hard', 38],
  QUOTA_AVAIL_SOFT: ['quota_avail_soft', 39],
  QUOTA_USED: ['quota_used', 40],
  RAWDEV: ['rawdev', 41],
  SPACE_AVAIL: ['space_avail', 42],
  SPACE_FREE: ['space_free', 43],
  SPACE_TOTAL: ['space_total', 44],
  SPACE_USED: ['space_used', 45],
  SYSTEM: ['system', 46],
  TIME_ACCESS: ['time_access', 47],
  TIME_ACCESS_SET: ['time_access_set', 48],
  TIME_BACKUP: ['time_backup', 49],
  TIME_CREATE: ['time_create', 50],
  TIME_DELTA: ['time_delta', 51],
  TIME_METADATA: ['time_metadata', 52],
  TIME_MODIFY: ['time_modify', 53],
  TIME_MODIFY_SET: ['time_modify_set', 54],
  MOUNTED_ON_FILEID: ['mounted_on_fileid', 55],
  // RFC 8881 5.7 only (new in NFSv4.1)
  DIR_NOTIF_DELAY: ['dir_notif_delay', 56],
  DIRENT_NOTIF_DELAY: ['dirent_notif_delay', 57],
  DACL: ['dacl', 58],
  SACL: ['sacl', 59],
  CHANGE_POLICY: ['change_policy', 60],
  FS_STATUS: ['fs_status', 61],
  FS_LAYOUT_TYPES: ['fs_layout_type', 62],
  LAYOUT_HINT: ['layout_hint', 63],
  LAYOUT_TYPES: ['layout_type', 64],
  LAYOUT_BLKSIZE: ['layout_blksize', 65],
  LAYOUT_ALIGNMENT: ['layout_alignment', 66],
  FS_LOCATIONS_INFO: ['fs_locations_info', 67],
  MDSTHRESHOLD: ['mdsthreshold', 68],
  RETENTION_GET: ['retention_get', 69],
  RETENTION_SET: ['retention_set', 70],
  RETENTEVT_GET: ['retentevt_get', 71],
  RETENTEVT_SET: ['retentevt_set', 72],
  RETENTION_HOLD: ['retention_hold', 73],
  MODE_SET_MASKED: ['mode_set_masked', 74],
  FS_CHARSET_CAP: ['fs_charset_cap', 76],
};

const rfcIds = Object.fromEntries(Object.entries(RFC).map(([k, [, id]]) => [k, id]));

/** FATTR4_<NAME> constants of the generated codec. */
const generated: Record<string, number> = Object.fromEntries(
  Object.entries(N)
    .filter(([k, v]) => k.startsWith('FATTR4_') && typeof v === 'number')
    .map(([k, v]) => [k.slice('FATTR4_'.length), v as number]),
);

describe("the test client's attribute numbers", () => {
  it('are the RFC numbers, every one of 0..76 and nothing else', () => {
    expect({ ...FATTR }).toEqual(rfcIds);
    expect(Object.values(FATTR).sort((a, b) => a - b)).toEqual(Array.from({ length: 77 }, (_, i) => i));
  });

  it('are the generated FATTR4_* constants', () => {
    expect(generated).toEqual(rfcIds);
    for (const [name, id] of Object.entries(FATTR)) expect(id, name).toBe(generated[name]);
  });

  it('decode and encode by the RFC numbers', () => {
    // the attributes a bare getattr asks for: type, change, size, fsid, fileid, mode, numlinks,
    // owner, owner_group, space_used, time_access, time_metadata, time_modify
    expect(DEFAULT_GETATTR).toEqual([1, 3, 4, 8, 20, 33, 35, 36, 37, 45, 47, 52, 53]);
    // SETATTR's values go out under size=4, mode=33, owner=36, owner_group=37, time_access_set=48, time_modify_set=54
    const enc = encodeAttrs({ size: 7, mode: 0o640, owner: '5', owner_group: '6', time_access_set: 'server', time_modify_set: 'server' });
    expect(enc.attrmask).toEqual(bitmapOf([4, 33, 36, 37, 48, 54]));
    expect(enc.attrmask).toEqual([1 << 4, (1 << 1) | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 22)]);
    // a reply with type=1, size=4, mode=33 and mounted_on_fileid=55 set decodes into those fields
    const w = new XdrWriter(64);
    w.u32(N.NF4DIR); // type
    w.u64(4096); // size
    w.u32(0o755); // mode
    w.u64(77); // mounted_on_fileid
    const got = decodeAttrs({ attrmask: [(1 << 1) | (1 << 4), (1 << (33 - 32)) | (1 << (55 - 32))], attr_vals: Buffer.from(w.finish()) });
    expect(got).toMatchObject({ type: N.NF4DIR, size: 4096, mode: 0o755, mounted_on_fileid: 77, present: [1, 4, 33, 55], undecoded: [], leftover: 0 });
  });

  it('are not imported from the server', () => {
    const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/client');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(text, `src/client/${f}`).not.toMatch(/from '\.\.\/nfs4\//);
    }
  });
});

describe("the server's attribute numbers", () => {
  it('are the RFC numbers too', () => {
    expect({ ...SERVER_FATTR }).toEqual(rfcIds);
  });
});
