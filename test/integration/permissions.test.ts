import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { ANON_STATEID, FATTR, NfsClient, NfsStatusError, op } from '../../src/client/nfs-client.js';
import { authSys } from '../../src/client/rpc-client.js';
import { startTestServer, statusOf, type TestServer } from './harness.js';

describe('permissions with AUTH_SYS identities', () => {
  let srv: TestServer;
  let root: NfsClient;
  let u1000: NfsClient;
  let u2000: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    root = await srv.client();
    u1000 = root.as(authSys(1000, 1000));
    u2000 = root.as(authSys(2000, 2000));
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('the root directory is 0755 and owned by root', async () => {
    const a = await root.getattr('/', [FATTR.MODE, FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect(a.mode! & 0o7777).toBe(0o755);
    expect(a.owner).toBe('0');
    expect(a.owner_group).toBe('0');
  });

  it('uid 1000 cannot create in the root', async () => {
    expect(await statusOf(u1000.create('/denied.txt'))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u1000.mkdir('/denied-dir'))).toBe('NFS4ERR_ACCESS');
    await expect(root.lookupPath('/denied.txt')).rejects.toBeInstanceOf(NfsStatusError);
  });

  it('after root chowns a directory to 1000, uid 1000 can create in it', async () => {
    await root.mkdir('/home', 0o755);
    expect(await statusOf(u1000.create('/home/x'))).toBe('NFS4ERR_ACCESS');
    const set = await root.setattr('/home', { owner: '1000', owner_group: '1000' });
    expect(set.length).toBeGreaterThan(0);
    const a = await root.getattr('/home', [FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect(a.owner).toBe('1000');
    expect(a.owner_group).toBe('1000');
    const f = await u1000.create('/home/x', 0o644);
    await u1000.write(f.fh, f.stateid, 0, Buffer.from('mine'));
    await u1000.close(f.fh, f.stateid);
    const fa = await root.getattr('/home/x', [FATTR.OWNER, FATTR.OWNER_GROUP, FATTR.MODE]);
    expect(fa.owner).toBe('1000');
    expect(fa.owner_group).toBe('1000');
    // another user may read (0644) but not write
    expect((await u2000.readFile('/home/x')).toString()).toBe('mine');
    expect(await statusOf(u2000.open('/home/x', { access: 'write' }))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u2000.create('/home/y'))).toBe('NFS4ERR_ACCESS');
  });

  it('mode 0600 keeps other users out; ACCESS reports it', async () => {
    const f = await u1000.create('/home/private', 0o600);
    await u1000.close(f.fh, f.stateid);
    expect(await statusOf(u2000.open('/home/private', { access: 'read' }))).toBe('NFS4ERR_ACCESS');
    const acc = await u2000.access('/home/private', N.ACCESS4_READ | N.ACCESS4_MODIFY);
    expect(acc.supported & N.ACCESS4_READ).toBe(N.ACCESS4_READ);
    expect(acc.access & (N.ACCESS4_READ | N.ACCESS4_MODIFY)).toBe(0);
    const own = await u1000.access('/home/private', N.ACCESS4_READ | N.ACCESS4_MODIFY);
    expect(own.access & (N.ACCESS4_READ | N.ACCESS4_MODIFY)).toBe(N.ACCESS4_READ | N.ACCESS4_MODIFY);
    // root reads anything
    expect((await root.readFile('/home/private')).length).toBe(0);
  });

  it('sticky directory: another user cannot remove or rename a file', async () => {
    await root.mkdir('/tmp', 0o1777);
    // CREATE applies the mode as given (EFS honors the sticky bit on directories)
    const a = await root.getattr('/tmp', [FATTR.MODE]);
    expect(a.mode! & 0o7777).toBe(0o1777);
    const f = await u1000.create('/tmp/owned-by-1000');
    await u1000.close(f.fh, f.stateid);
    // refused (the status is pinned in the next test) and without effect
    await expect(u2000.remove('/tmp/owned-by-1000')).rejects.toBeInstanceOf(NfsStatusError);
    await expect(u2000.rename('/tmp/owned-by-1000', '/tmp/stolen')).rejects.toBeInstanceOf(NfsStatusError);
    expect((await root.getattr('/tmp/owned-by-1000', [FATTR.OWNER])).owner).toBe('1000');
    expect(await statusOf(root.getattr('/tmp/stolen', [FATTR.TYPE]))).toBe('NFS4ERR_NOENT');
    // u2000 can still create its own files there, and the owner can remove theirs
    const g = await u2000.create('/tmp/owned-by-2000');
    await u2000.close(g.fh, g.stateid);
    expect(await statusOf(u1000.remove('/tmp/owned-by-1000'))).toBe('OK');
    expect(await statusOf(u2000.remove('/tmp/owned-by-2000'))).toBe('OK');
  });

  // The sticky bit lets only the entry's owner, the directory's owner or root remove or rename it: a
  // failure for not being the owner is NFS4ERR_PERM (RFC 8881 15.1.6.2: "the caller is neither a privileged
  // user (root) nor the owner of the target"), what Linux gives locally (EPERM) and over knfsd.
  // NFS4ERR_ACCESS (15.1.6.1) is for mode-bit checks.
  it('sticky directory: removing or renaming another user\'s file is PERM', async () => {
    await root.mkdir('/sticky-perm', 0o1777);
    const f = await u1000.create('/sticky-perm/owned-by-1000');
    await u1000.close(f.fh, f.stateid);
    expect(await statusOf(u2000.remove('/sticky-perm/owned-by-1000'))).toBe('NFS4ERR_PERM');
    expect(await statusOf(u2000.rename('/sticky-perm/owned-by-1000', '/sticky-perm/stolen'))).toBe('NFS4ERR_PERM');
  });

  it('setgid directory: new files inherit its group', async () => {
    await root.mkdir('/shared', 0o2775, { owner: '0', owner_group: '500' });
    const a = await root.getattr('/shared', [FATTR.MODE, FATTR.OWNER_GROUP]);
    expect(a.owner_group).toBe('500');
    expect(a.mode! & 0o2000).toBe(0o2000);
    const member = root.as(authSys(1000, 1000, [500]));
    const f = await member.create('/shared/file');
    await member.close(f.fh, f.stateid);
    const fa = await root.getattr('/shared/file', [FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect(fa.owner).toBe('1000');
    expect(fa.owner_group).toBe('500');
    await member.mkdir('/shared/subdir');
    const da = await root.getattr('/shared/subdir', [FATTR.OWNER_GROUP, FATTR.MODE]);
    expect(da.owner_group).toBe('500');
    expect(da.mode! & 0o2000).toBe(0o2000);
  });

  it('chown by a non-root user is NFS4ERR_PERM; chmod of a file one does not own is PERM', async () => {
    expect(await statusOf(u1000.setattr('/home/x', { owner: '2000' }))).toBe('NFS4ERR_PERM');
    expect(await statusOf(u2000.setattr('/home/x', { mode: 0o777 }))).toBe('NFS4ERR_PERM');
    // the owner may chmod
    expect(await statusOf(u1000.setattr('/home/x', { mode: 0o640 }))).toBe('OK');
    expect((await root.getattr('/home/x', [FATTR.MODE])).mode! & 0o7777).toBe(0o640);
    // and root may chown
    expect(await statusOf(root.setattr('/home/x', { owner: '2000' }))).toBe('OK');
    expect((await root.getattr('/home/x', [FATTR.OWNER])).owner).toBe('2000');
  });

  it('checks the caller on I/O through the anonymous stateid', async () => {
    await root.writeFile('/root-file', Buffer.from('root data'), 0o644);
    await root.writeFile('/root-secret', Buffer.from('secret'), 0o600);
    const pub = await root.lookupPath('/root-file');
    const secret = await root.lookupPath('/root-secret');
    const w = await u1000.compound([op.putfh(pub), op.write(ANON_STATEID, 0, Buffer.from('evil'))]);
    expect(w.status).toBe(N.NFS4ERR_ACCESS);
    const r = await u1000.compound([op.putfh(secret), op.read(ANON_STATEID, 0, 100)]);
    expect(r.status).toBe(N.NFS4ERR_ACCESS);
    const t = await u1000.compound([op.putfh(pub), op.setattr({ size: 0 })]);
    expect(t.status).toBe(N.NFS4ERR_ACCESS);
    expect((await root.readFile('/root-file')).toString()).toBe('root data');
    // readable data is readable
    const ok = await u1000.compound([op.putfh(pub), op.read(ANON_STATEID, 0, 100)]);
    expect(ok.status).toBe(N.NFS4_OK);
  });

  it('needs write permission on both directories to rename or link', async () => {
    await root.mkdir('/ro-dir', 0o755);
    await root.writeFile('/ro-dir/f', Buffer.from('f'));
    expect(await statusOf(u1000.rename('/ro-dir/f', '/home/f'))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u1000.remove('/ro-dir/f'))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u1000.link('/home/x', '/ro-dir/link'))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u1000.symlink('/ro-dir/sym', 'x'))).toBe('NFS4ERR_ACCESS');
    // a directory without search permission hides its entries
    await root.mkdir('/closed', 0o700);
    await root.writeFile('/closed/inside', Buffer.from('i'));
    expect(await statusOf(u1000.lookupPath('/closed/inside'))).toBe('NFS4ERR_ACCESS');
    expect(await statusOf(u1000.readdir('/closed'))).toBe('NFS4ERR_ACCESS');
  });

  it('chgrp by the owner: to one of its groups yes, to another no', async () => {
    const member = root.as(authSys(1000, 1000, [1000, 700]));
    const f = await member.create('/home/grp', 0o644);
    await member.close(f.fh, f.stateid);
    expect(await statusOf(member.setattr('/home/grp', { owner_group: '700' }))).toBe('OK');
    expect((await root.getattr('/home/grp', [FATTR.OWNER_GROUP])).owner_group).toBe('700');
    expect(await statusOf(member.setattr('/home/grp', { owner_group: '800' }))).toBe('NFS4ERR_PERM');
    // setting the owner to itself is allowed
    expect(await statusOf(member.setattr('/home/grp', { owner: '1000' }))).toBe('OK');
  });

  it('AUTH_NONE is squashed to nobody', async () => {
    const anon = root.as({ flavor: 'none' });
    expect(await statusOf(anon.create('/home/anon'))).toBe('NFS4ERR_ACCESS');
    // world-readable data stays readable
    await root.writeFile('/public.txt', Buffer.from('pub'), 0o644);
    expect((await anon.readFile('/public.txt')).toString()).toBe('pub');
  });
});
