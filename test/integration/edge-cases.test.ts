import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as N from '../../src/xdr/gen/nfs4.js';
import { ANON_STATEID, FATTR, FILE_TYPE, NfsClient, decodeAttrs, op } from '../../src/client/nfs-client.js';
import { randomData, sha256, startTestServer, statusOf, type TestServer } from './harness.js';

describe('op-level edge cases', () => {
  let srv: TestServer;
  let c: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client();
    await c.mkdir('/e');
    await c.writeFile('/e/file', Buffer.from('content'));
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('filehandle errors: none, garbage, forged', async () => {
    expect((await c.compound([op.getfh()])).status).toBe(N.NFS4ERR_NOFILEHANDLE);
    expect((await c.compound([op.putfh(Buffer.from('garbage'))])).status).toBe(N.NFS4ERR_BADHANDLE);
    const fh = await c.lookupPath('/e/file');
    const forged = Buffer.from(fh);
    forged[fh.length - 1] ^= 0xff;
    const res = await c.compound([op.putfh(forged), op.getattr([FATTR.TYPE])]);
    // the flipped byte is in the handle's MAC (nfs4/fh.ts): it fails the server's consistency check,
    // which is BADHANDLE (RFC 8881 15.1.2.1); STALE (15.1.2.7) is for a handle of a file that is gone
    expect(res.status).toBe(N.NFS4ERR_BADHANDLE);
    expect((await c.compound([op.putfh(Buffer.alloc(0))])).status).toBe(N.NFS4ERR_BADHANDLE);
    // no saved filehandle in 4.1: NOFILEHANDLE (RFC 8881 18.27.3); NFS4ERR_RESTOREFH is 4.0's (RFC 7530 16.29.4),
    // obsolete in 4.1 (RFC 8881 15.1.16); the 4.0 case is below
    expect((await c.compound([op.putrootfh(), op.restorefh()])).status).toBe(N.NFS4ERR_NOFILEHANDLE);
  });

  it('answers as RFC 7530/8881 say where pynfs found us wrong', async () => {
    // SETATTR4res carries attrsset after any error, also one the dispatcher raised (SATT5)
    const noFh = await c.compound([op.setattr({ mode: 0o644 })]);
    expect(noFh.status).toBe(N.NFS4ERR_NOFILEHANDLE);
    expect(noFh.resarray[1]!.opsetattr?.attrsset).toEqual([]);
    // READLINK of a non-symlink, a directory included, is INVAL (RDLK2d)
    expect((await c.compound([op.putrootfh(), op.readlink()])).status).toBe(N.NFS4ERR_INVAL);
    // a READ far beyond any possible file answers EOF with no data (RD5a)
    const far = await c.run([op.putfh(await c.lookupPath('/e/file')), op.read(ANON_STATEID, 2 ** 62, 10)]);
    expect(far[1]!.opread?.resok4).toMatchObject({ eof: true });
    expect(far[1]!.opread?.resok4?.data.length).toBe(0);
    // a CREATE_SESSION refused for its channel sizes does not use up its sequence number (CSESS29)
    const fresh = await srv.client({ setup: false, clientOwner: 'csess29' });
    await fresh.exchangeId();
    expect(await statusOf(fresh.createSession({ fore: { ca_maxrequestsize: 16, ca_maxresponsesize: 16 } }))).toBe('NFS4ERR_TOOSMALL');
    expect((await fresh.createSession()).csr_sequence).toBe(1);
    // 4.0: RESTOREFH without a saved filehandle has its own error (RSFH1)
    const v40 = await srv.client({ minorVersion: 0 });
    expect((await v40.compound([op.putrootfh(), op.restorefh()])).status).toBe(N.NFS4ERR_RESTOREFH);
  });

  it('SAVEFH/RESTOREFH and LOOKUPP walk the tree', async () => {
    const res = await c.run([op.putrootfh(), op.lookup('e'), op.savefh(), op.lookup('file'), op.restorefh(), op.getattr([FATTR.TYPE]), op.lookupp(), op.getfh()]);
    expect(decodeAttrs(res[5]!.opgetattr!.resok4!.obj_attributes).type).toBe(FILE_TYPE.DIR);
    expect(res[7]!.opgetfh!.resok4!.object.equals(await c.rootFh())).toBe(true);
    // LOOKUPP at the root is NOENT
    expect((await c.compound([op.putrootfh(), op.lookupp()])).status).toBe(N.NFS4ERR_NOENT);
    // LOOKUP through a file is NOTDIR
    expect((await c.compound([op.putrootfh(), op.lookup('e'), op.lookup('file'), op.lookup('x')])).status).toBe(N.NFS4ERR_NOTDIR);
  });

  it('OPEN of a directory is ISDIR, of a symlink SYMLINK, of a missing file NOENT', async () => {
    expect(await statusOf(c.open('/e', { access: 'read' }))).toBe('NFS4ERR_ISDIR');
    await c.symlink('/e/link', 'file');
    expect(await statusOf(c.open('/e/link', { access: 'read' }))).toBe('NFS4ERR_SYMLINK');
    expect(await statusOf(c.open('/e/missing', { access: 'read' }))).toBe('NFS4ERR_NOENT');
  });

  it('WRITE through a read-only open is OPENMODE; READ with a stateid of another file is BAD_STATEID', async () => {
    const f = await c.open('/e/file', { access: 'read' });
    const w = await c.compound([op.putfh(f.fh), op.write(f.stateid, 0, Buffer.from('x'))]);
    expect(w.status).toBe(N.NFS4ERR_OPENMODE);
    await c.writeFile('/e/other', Buffer.from('other'));
    const otherFh = await c.lookupPath('/e/other');
    const r = await c.compound([op.putfh(otherFh), op.read(f.stateid, 0, 5)]);
    expect(r.status).toBe(N.NFS4ERR_BAD_STATEID);
    // a made-up stateid
    const bogus = await c.compound([op.putfh(f.fh), op.read({ seqid: 1, other: randomBytes(12) }, 0, 5)]);
    // an unknown stateid is BAD_STATEID (RFC 8881 8.2.4); STALE_STATEID is never a 4.1 answer (RFC 8881 15.1.16)
    expect(bogus.status).toBe(N.NFS4ERR_BAD_STATEID);
    await c.close(f.fh, f.stateid);
    // after CLOSE the stateid is dead
    const after = await c.compound([op.putfh(f.fh), op.read(f.stateid, 0, 5)]);
    // CLOSE ends the stateid: it names no state any more, BAD_STATEID (RFC 8881 8.2.4);
    // OLD_STATEID is for a live state whose seqid has moved on
    expect(after.status).toBe(N.NFS4ERR_BAD_STATEID);
  });

  it('READ/WRITE on a directory are ISDIR', async () => {
    const dir = await c.lookupPath('/e');
    expect((await c.compound([op.putfh(dir), op.read(ANON_STATEID, 0, 10)])).status).toBe(N.NFS4ERR_ISDIR);
    expect((await c.compound([op.putfh(dir), op.write(ANON_STATEID, 0, Buffer.from('x'))])).status).toBe(N.NFS4ERR_ISDIR);
  });

  it('caps READ at maxread', async () => {
    const big = randomData(1024 * 1024 + 4096);
    const fh = await c.writeFile('/e/big', big);
    const r = await c.read(fh, ANON_STATEID, 0, 4 * 1024 * 1024);
    expect(r.data.length).toBeGreaterThan(0);
    expect(r.data.length).toBeLessThanOrEqual(1024 * 1024);
    expect(r.data.equals(big.subarray(0, r.data.length))).toBe(true);
  });

  it('refuses to move a directory into itself', async () => {
    await c.mkdir('/e/outer');
    await c.mkdir('/e/outer/inner');
    expect(await statusOf(c.rename('/e/outer', '/e/outer/inner/moved'))).toBe('NFS4ERR_INVAL');
    // a file over a directory and a directory over a file
    await c.writeFile('/e/plain', Buffer.from('p'));
    expect(await statusOf(c.rename('/e/plain', '/e/outer'))).toBe('NFS4ERR_EXIST');
    expect(await statusOf(c.rename('/e/outer', '/e/plain'))).toBe('NFS4ERR_EXIST');
    // rename to itself is a no-op
    expect(await statusOf(c.rename('/e/plain', '/e/plain'))).toBe('OK');
    expect((await c.readFile('/e/plain')).toString()).toBe('p');
  });

  it('sets times and reports them back', async () => {
    const fh = await c.lookupPath('/e/file');
    await c.setattr(fh, { time_modify_set: { seconds: 1000000000, nseconds: 5000 }, time_access_set: { seconds: 1100000000, nseconds: 0 } });
    const a = await c.getattr(fh, [FATTR.TIME_MODIFY, FATTR.TIME_ACCESS, FATTR.TIME_METADATA]);
    expect(a.time_modify).toEqual({ seconds: 1000000000, nseconds: 5000 });
    expect(a.time_access!.seconds).toBe(1100000000);
    expect(a.time_metadata!.seconds).toBeGreaterThan(1600000000);
    await c.setattr(fh, { time_modify_set: 'server' });
    const b = await c.getattr(fh, [FATTR.TIME_MODIFY]);
    expect(Math.abs(b.time_modify!.seconds - Date.now() / 1000)).toBeLessThan(60);
  });

  it('SETATTR of a read-only attribute is INVAL; of an unsupported one ATTRNOTSUPP', async () => {
    const fh = await c.lookupPath('/e/file');
    const raw = new Map<number, Buffer>([[FATTR.TYPE, Buffer.from([0, 0, 0, 1])]]);
    expect(await statusOf(c.setattr(fh, { raw }))).toBe('NFS4ERR_INVAL');
    const archive = new Map<number, Buffer>([[FATTR.ARCHIVE, Buffer.from([0, 0, 0, 1])]]);
    expect(await statusOf(c.setattr(fh, { raw: archive }))).toBe('NFS4ERR_ATTRNOTSUPP');
    // owner strings that are not numbers and name no known user
    expect(await statusOf(c.setattr(fh, { owner: 'no-such-user@nowhere' }))).toBe('NFS4ERR_BADOWNER');
  });

  it('retries of an EXCLUSIVE4_1 create with the same verifier succeed', async () => {
    const verifier = randomBytes(8);
    const a = await c.open('/e/excl', { create: true, exclusive: true, verifier, mode: 0o600 });
    const b = await c.open('/e/excl', { create: true, exclusive: true, verifier, mode: 0o600 });
    expect(b.fh.equals(a.fh)).toBe(true);
    expect(await statusOf(c.open('/e/excl', { create: true, exclusive: true, verifier: randomBytes(8) }))).toBe('NFS4ERR_EXIST');
    // same owner, same file: one open stateid, its seqid bumped by the second OPEN
    expect(b.stateid.other.equals(a.stateid.other)).toBe(true);
    expect(b.stateid.seqid).toBeGreaterThan(a.stateid.seqid);
    await c.close(b.fh, b.stateid);
    expect((await c.getattr('/e/excl', [FATTR.MODE])).mode! & 0o777).toBe(0o600);
  });

  it('UNCHECKED4 create with size 0 truncates an existing file', async () => {
    await c.writeFile('/e/trunc', Buffer.from('a long piece of text'));
    await c.writeFile('/e/trunc', Buffer.from('short'));
    expect((await c.readFile('/e/trunc')).toString()).toBe('short');
  });

  it('enforces the EFS link limit of 177', async () => {
    await c.mkdir('/e/links');
    const fh = await c.touch('/e/links/target');
    for (let i = 1; i < 177; i++) await c.link(fh, `/e/links/l${i}`);
    expect((await c.getattr(fh, [FATTR.NUMLINKS])).numlinks).toBe(177);
    expect(await statusOf(c.link(fh, '/e/links/one-too-many'))).toBe('NFS4ERR_MLINK');
  });

  it('READDIR returns working file handles and rejects a stale cookie verifier', async () => {
    const dir = await c.lookupPath('/e');
    const entries = await c.readdir(dir, { attrs: [FATTR.TYPE, FATTR.FILEHANDLE, FATTR.FILEID, FATTR.MOUNTED_ON_FILEID] });
    expect(entries.length).toBeGreaterThan(5);
    for (const e of entries) {
      expect(e.attrs.filehandle).toBeDefined();
      const a = await c.getattr(e.attrs.filehandle!, [FATTR.FILEID, FATTR.TYPE]);
      expect(a.fileid).toBe(e.attrs.fileid);
      expect(a.type).toBe(e.attrs.type);
    }
    // a tiny maxcount cannot hold one entry
    const small = await c.compound([op.putfh(dir), op.readdir(0n, Buffer.alloc(8), 10, 10, [FATTR.TYPE])]);
    expect(small.status).toBe(N.NFS4ERR_TOOSMALL);
    // cookies 1 and 2 are reserved (RFC 8881 18.23.3)
    for (const cookie of [1n, 2n]) {
      const bad = await c.compound([op.putfh(dir), op.readdir(cookie, Buffer.alloc(8), 4096, 4096, [FATTR.TYPE])]);
      expect(bad.status).toBe(N.NFS4ERR_BAD_COOKIE);
    }
    // a cookie above 2^53 was never handed out (ours are 53-bit): like any cookie past the last entry, an empty page with eof
    for (const cookie of [2n ** 53n + 1n, 0xfffffffffffffffen]) {
      const past = await c.compound([op.putfh(dir), op.readdir(cookie, Buffer.alloc(8), 4096, 4096, [FATTR.TYPE])]);
      expect(past.status).toBe(N.NFS4_OK);
      expect(past.resarray[past.resarray.length - 1]!.opreaddir!.resok4!.reply).toEqual({ entries: [], eof: true });
    }
    // READDIR of a file is NOTDIR
    const fileFh = await c.lookupPath('/e/file');
    expect((await c.compound([op.putfh(fileFh), op.readdir(0n, Buffer.alloc(8), 4096, 4096, [FATTR.TYPE])])).status).toBe(N.NFS4ERR_NOTDIR);
  });

  it('keeps data right under concurrent writes to one file', async () => {
    const f = await c.create('/e/concurrent');
    const pieces = Array.from({ length: 32 }, () => randomData(64 * 1024));
    await Promise.all(pieces.map((p, i) => c.write(f.fh, f.stateid, i * p.length, p, N.UNSTABLE4)));
    await c.commit(f.fh);
    const all = await c.readAll(f.fh, f.stateid);
    expect(sha256(all)).toBe(sha256(Buffer.concat(pieces)));
    await c.close(f.fh, f.stateid);
  });

  it('TEST_STATEID and FREE_STATEID', async () => {
    const f = await c.create('/e/stateids');
    const lock = await c.lock(f.fh, f.stateid, { offset: 0, length: 1, owner: 'ts' });
    const bogus = { seqid: 0, other: randomBytes(12) };
    const [t] = await c.run([{ argop: N.OP_TEST_STATEID, optest_stateid: { ts_stateids: [f.stateid, lock, bogus] } }]);
    const codes = t!.optest_stateid!.tsr_resok4!.tsr_status_codes;
    expect(codes[0]).toBe(N.NFS4_OK);
    expect(codes[1]).toBe(N.NFS4_OK);
    expect(codes[2]).toBe(N.NFS4ERR_BAD_STATEID);
    // a lock stateid with locks is busy
    const busy = await c.compound([{ argop: N.OP_FREE_STATEID, opfree_stateid: { fsa_stateid: lock } }]);
    expect(busy.status).toBe(N.NFS4ERR_LOCKS_HELD);
    const unlocked = await c.locku(f.fh, lock, { offset: 0, length: 1 });
    await c.run([{ argop: N.OP_FREE_STATEID, opfree_stateid: { fsa_stateid: unlocked } }]);
    await c.close(f.fh, f.stateid);
  });

  it('SECINFO consumes the current filehandle', async () => {
    const res = await c.compound([op.putrootfh(), op.secinfo('e'), op.getfh()]);
    expect(res.resarray[2]!.opsecinfo!.resok4!.map((s) => s.flavor)).toContain(N.AUTH_SYS);
    expect(res.status).toBe(N.NFS4ERR_NOFILEHANDLE);
  });

  it('limits symlink targets to 4080 bytes and names to 255', async () => {
    await c.symlink('/e/longest-link', 'x'.repeat(4080));
    expect((await c.readlink('/e/longest-link')).length).toBe(4080);
    expect(await statusOf(c.symlink('/e/too-long-link', 'x'.repeat(4081)))).toBe('NFS4ERR_NAMETOOLONG');
    await c.touch(`/e/${'n'.repeat(255)}`);
    expect(await statusOf(c.touch(`/e/${'n'.repeat(256)}`))).toBe('NFS4ERR_NAMETOOLONG');
    // '.' and '..' are not names
    expect(await statusOf(c.mkdir('/e/..'))).toBe('NFS4ERR_BADNAME');
    expect((await c.compound([op.putrootfh(), op.lookup('..')])).status).toBe(N.NFS4ERR_BADNAME);
  });

  it('the type attribute matches the object kind', async () => {
    expect((await c.getattr('/e', [FATTR.TYPE])).type).toBe(FILE_TYPE.DIR);
    expect((await c.getattr('/e/file', [FATTR.TYPE])).type).toBe(FILE_TYPE.REG);
    expect((await c.getattr('/e/link', [FATTR.TYPE])).type).toBe(FILE_TYPE.LNK);
  });
});
