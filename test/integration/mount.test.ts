import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR, NfsClient, bitmapHas, bitmapList, bitmapOf, decodeAttrs, op } from '../../src/client/nfs-client.js';
import { startTestServer, type TestServer } from './harness.js';

const WRITE_ONLY: number[] = [FATTR.TIME_ACCESS_SET, FATTR.TIME_MODIFY_SET, FATTR.MODE_SET_MASKED];

const UNSUPPORTED = [
  FATTR.ACL,
  FATTR.ARCHIVE,
  FATTR.FILES_AVAIL,
  FATTR.FILES_FREE,
  FATTR.FILES_TOTAL,
  FATTR.QUOTA_AVAIL_HARD,
  FATTR.QUOTA_AVAIL_SOFT,
  FATTR.QUOTA_USED,
  FATTR.TIME_BACKUP,
  FATTR.MIMETYPE,
  FATTR.FS_LOCATIONS,
];

describe('mount sequence (as Linux does it)', () => {
  let srv: TestServer;
  let c: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client({ setup: false });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('answers NULL', async () => {
    await expect(c.null()).resolves.toBeUndefined();
  });

  it('accepts EXCHANGE_ID twice, then CREATE_SESSION and RECLAIM_COMPLETE', async () => {
    // Linux asks for SP4_MACH_CRED only with krb5i/krb5p; with AUTH_SYS it sends SP4_NONE
    const stateProtect: N.state_protect4_a = { spa_how: N.SP4_NONE };
    const flags = N.EXCHGID4_FLAG_SUPP_MOVED_REFER | N.EXCHGID4_FLAG_SUPP_MOVED_MIGR | N.EXCHGID4_FLAG_BIND_PRINC_STATEID;
    const first = await c.exchangeId({ stateProtect, flags });
    expect(first.eir_flags & N.EXCHGID4_FLAG_MASK_PNFS).not.toBe(0);
    expect((first.eir_flags & N.EXCHGID4_FLAG_CONFIRMED_R) >>> 0).toBe(0);
    expect(first.eir_state_protect.spr_how).toBe(N.SP4_NONE);
    expect(first.eir_server_owner.so_major_id.length).toBeGreaterThan(0);

    const second = await c.exchangeId({ stateProtect, flags });
    expect((second.eir_flags & N.EXCHGID4_FLAG_CONFIRMED_R) >>> 0).toBe(0);
    expect(second.eir_server_scope.equals(first.eir_server_scope)).toBe(true);
    expect(second.eir_server_owner.so_major_id.equals(first.eir_server_owner.so_major_id)).toBe(true);

    const sess = await c.createSession({ flags: N.CREATE_SESSION4_FLAG_PERSIST | N.CREATE_SESSION4_FLAG_CONN_BACK_CHAN, maxOps: 8, slots: 64 });
    expect(sess.csr_sessionid.length).toBe(16);
    expect(sess.csr_sequence).toBe(second.eir_sequenceid);
    expect(sess.csr_fore_chan_attrs.ca_maxoperations).toBeGreaterThanOrEqual(8);
    expect(sess.csr_fore_chan_attrs.ca_maxrequests).toBeGreaterThanOrEqual(1);
    expect(sess.csr_fore_chan_attrs.ca_maxrequestsize).toBeGreaterThanOrEqual(1024 * 1024);
    expect(sess.csr_fore_chan_attrs.ca_maxresponsesize).toBeGreaterThanOrEqual(1024 * 1024);

    await c.reclaimComplete();
    // a second RECLAIM_COMPLETE is an error (RFC 8881 18.51.4)
    const again = await c.compound([op.reclaimComplete(false)]);
    expect(again.status).toBe(N.NFS4ERR_COMPLETE_ALREADY);
  });

  it('offers AUTH_SYS only through SECINFO_NO_NAME', async () => {
    const [, r] = await c.run([op.putrootfh(), op.secinfoNoName(N.SECINFO_STYLE4_CURRENT_FH)]);
    const flavors = r!.opsecinfo_no_name!.resok4!.map((s) => s.flavor);
    expect(flavors).toEqual([N.AUTH_SYS]);
  });

  it('returns the root handle and EFS-like file system attributes', async () => {
    const want = [
      FATTR.SUPPORTED_ATTRS,
      FATTR.TYPE,
      FATTR.FH_EXPIRE_TYPE,
      FATTR.CHANGE,
      FATTR.SIZE,
      FATTR.LINK_SUPPORT,
      FATTR.SYMLINK_SUPPORT,
      FATTR.FSID,
      FATTR.UNIQUE_HANDLES,
      FATTR.LEASE_TIME,
      FATTR.FILEID,
      FATTR.MAXFILESIZE,
      FATTR.MAXLINK,
      FATTR.MAXNAME,
      FATTR.MAXREAD,
      FATTR.MAXWRITE,
      FATTR.MODE,
      FATTR.NUMLINKS,
      FATTR.OWNER,
      FATTR.OWNER_GROUP,
      FATTR.SPACE_TOTAL,
      FATTR.TIME_MODIFY,
    ];
    const [, fhRes, attrRes] = await c.run([op.putrootfh(), op.getfh(), op.getattr(want)]);
    const fh = fhRes!.opgetfh!.resok4!.object;
    expect(fh.length).toBeGreaterThan(0);
    expect(fh.length).toBeLessThanOrEqual(N.NFS4_FHSIZE);
    const a = decodeAttrs(attrRes!.opgetattr!.resok4!.obj_attributes);
    expect(a.undecoded).toEqual([]);
    expect(a.leftover).toBe(0);

    const supported = a.supported_attrs!;
    for (const n of UNSUPPORTED) expect(bitmapHas(supported, n), `attribute ${n} should not be supported`).toBe(false);
    for (const n of want) expect(bitmapHas(supported, n), `attribute ${n} should be supported`).toBe(true);

    expect(a.type).toBe(N.NF4DIR);
    expect(a.maxread).toBe(1048576);
    expect(a.maxwrite).toBe(1048576);
    expect(a.maxname).toBe(255);
    expect(a.maxlink).toBe(177);
    expect(a.maxfilesize).toBe(52673613135872);
    expect(a.lease_time).toBe(srv.leaseSeconds);
    expect(a.owner).toMatch(/^\d+$/);
    expect(a.owner_group).toMatch(/^\d+$/);
    expect(a.owner).toBe('0');
    expect(a.mode! & 0o7777).toBe(0o755);
    expect(a.link_support).toBe(true);
    expect(a.symlink_support).toBe(true);
  });

  it('returns every supported attribute in one GETATTR with consistent encoding', async () => {
    const root = await c.rootFh();
    const { supported_attrs } = await c.getattr(root, [FATTR.SUPPORTED_ATTRS]);
    // write-only attributes (time_*_set, mode_set_masked) may not be asked for (RFC 8881 18.7.3: INVAL)
    const readable = bitmapOf(bitmapList(supported_attrs!).filter((n) => !WRITE_ONLY.includes(n)));
    const [, r] = await c.run([op.putfh(root), op.getattrBitmap(readable)]);
    const fa = r!.opgetattr!.resok4!.obj_attributes;
    const a = decodeAttrs(fa);
    expect(a.undecoded).toEqual([]);
    expect(a.leftover).toBe(0);
    // the reply bitmap is a subset of what was asked for
    for (let i = 0; i < fa.attrmask.length; i++) expect((fa.attrmask[i]! & ~(readable[i] ?? 0)) >>> 0).toBe(0);
    // everything asked for came back
    expect(bitmapList(fa.attrmask)).toEqual(bitmapList(readable));
    // asking for a write-only attribute is INVAL
    const wo = await c.compound([op.putfh(root), op.getattr([FATTR.TYPE, FATTR.TIME_MODIFY_SET])]);
    expect(wo.status).toBe(N.NFS4ERR_INVAL);
  });

  it('tears down with DESTROY_SESSION and DESTROY_CLIENTID', async () => {
    const other = await srv.client();
    await expect(other.destroy()).resolves.toBeUndefined();
  });
});
