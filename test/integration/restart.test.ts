import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { ANON_STATEID, FATTR, op } from '../../src/client/nfs-client.js';
import { randomData, sha256, startTestServer, type TestServer } from './harness.js';

describe('restart on the same data directory', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ leaseSeconds: 3 });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('keeps file handles valid and content intact', { timeout: 30000 }, async () => {
    const data = randomData(200 * 1024);
    const c1 = await srv.client({ clientOwner: 'restart-client' });
    const fh = await c1.writeFile('/persist.bin', data);
    const dirFh = await c1.mkdir('/keepdir');
    await c1.writeFile('/keepdir/inner.txt', Buffer.from('inner'));
    const before = await c1.getattr(fh, [FATTR.FILEID, FATTR.SIZE, FATTR.CHANGE, FATTR.FSID]);
    const verfBefore = await c1.commit(fh);
    const rootBefore = await c1.rootFh();
    await c1.disconnect();

    await srv.restart();

    const c2 = await srv.client({ clientOwner: 'restart-client' });
    // PUTFH of the old handle: no STALE, same object
    const res = await c2.compound([op.putfh(fh), op.getattr([FATTR.FILEID, FATTR.SIZE])]);
    expect(res.status).toBe(N.NFS4_OK);
    const after = await c2.getattr(fh, [FATTR.FILEID, FATTR.SIZE, FATTR.CHANGE, FATTR.FSID]);
    expect(after.fileid).toBe(before.fileid);
    expect(after.size).toBe(data.length);
    expect(after.change).toBe(before.change);
    expect(after.fsid).toEqual(before.fsid);
    expect((await c2.rootFh()).equals(rootBefore)).toBe(true);
    // content read through the old handle (anonymous stateid) and through an OPEN
    expect(sha256(await c2.readAll(fh, ANON_STATEID))).toBe(sha256(data));
    expect(sha256(await c2.readFile('/persist.bin'))).toBe(sha256(data));
    expect((await c2.lookupPath('/keepdir/inner.txt')).length).toBeGreaterThan(0);
    expect((await c2.readdir(dirFh)).map((e) => e.name)).toEqual(['inner.txt']);
    // the write verifier changes with each server instance (clients resend unstable data)
    expect((await c2.commit(fh)).equals(verfBefore)).toBe(false);
    // the file can still be written after the restart
    const f = await c2.open('/persist.bin', { access: 'both' });
    await c2.write(f.fh, f.stateid, 0, Buffer.from('NEW'));
    await c2.close(f.fh, f.stateid);
    expect((await c2.readAll(fh, ANON_STATEID)).subarray(0, 3).toString()).toBe('NEW');
  });

  it('holds a grace period for previous clients; reclaims work during it', { timeout: 30000 }, async () => {
    const x = await srv.client({ clientOwner: 'grace-x' });
    const y = await srv.client({ clientOwner: 'grace-y' });
    const fx = await x.create('/grace-x.txt');
    const fy = await y.create('/grace-y.txt');
    await x.lock(fx.fh, fx.stateid, { offset: 0, length: 1 });
    void fy;
    await srv.restart();

    // a client the server has never seen may OPEN (no deny modes on EFS: no conflict with reclaims)...
    const z = await srv.client({ clientOwner: 'grace-z', retryMs: 0 });
    const zf = await z.open('/grace-x.txt', { access: 'both' });
    // ...but may not take a byte-range lock while others may still reclaim theirs
    const zlock = await z.compound([
      op.putfh(zf.fh),
      {
        argop: N.OP_LOCK,
        oplock: {
          locktype: N.WRITE_LT,
          reclaim: false,
          offset: 0,
          length: 1,
          locker: { new_lock_owner: true, open_owner: { open_seqid: 0, open_stateid: zf.stateid, lock_seqid: 0, lock_owner: { clientid: z.clientId!, owner: Buffer.from('zl') } } },
        },
      },
    ]);
    expect(zlock.status).toBe(N.NFS4ERR_GRACE);

    // x comes back and reclaims its open
    const x2 = await srv.client({ clientOwner: 'grace-x', setup: false });
    await x2.exchangeId();
    await x2.createSession();
    const reclaim = await x2.compound([
      op.putfh(fx.fh),
      {
        argop: N.OP_OPEN,
        opopen: {
          seqid: 0,
          share_access: N.OPEN4_SHARE_ACCESS_BOTH,
          share_deny: N.OPEN4_SHARE_DENY_NONE,
          owner: { clientid: x2.clientId!, owner: Buffer.from('reclaimer') },
          openhow: { opentype: N.OPEN4_NOCREATE },
          claim: { claim: N.CLAIM_PREVIOUS, delegate_type: N.OPEN_DELEGATE_NONE },
        },
      },
    ]);
    expect(reclaim.status).toBe(N.NFS4_OK);
    await x2.reclaimComplete();
    // a non-reclaim OPEN before RECLAIM_COMPLETE would have been refused; after it, a reclaim is refused
    const late = await x2.compound([
      op.putfh(fx.fh),
      {
        argop: N.OP_OPEN,
        opopen: {
          seqid: 0,
          share_access: N.OPEN4_SHARE_ACCESS_READ,
          share_deny: N.OPEN4_SHARE_DENY_NONE,
          owner: { clientid: x2.clientId!, owner: Buffer.from('late') },
          openhow: { opentype: N.OPEN4_NOCREATE },
          claim: { claim: N.CLAIM_PREVIOUS, delegate_type: N.OPEN_DELEGATE_NONE },
        },
      },
    ]);
    // RFC 8881 18.51.3: after RECLAIM_COMPLETE the client may reclaim nothing more, and an attempt is NO_GRACE
    // (RECLAIM_BAD is for a reclaim the server can tell never existed, during the client's own reclaim phase)
    expect(late.status).toBe(N.NFS4ERR_NO_GRACE);

    // y never returns: grace ends after about a lease, then z gets its lock (the client retries GRACE)
    const z2 = await srv.client({ clientOwner: 'grace-z2', retryMs: 15000 });
    const f = await z2.open('/grace-y.txt', { access: 'both' });
    await z2.lock(f.fh, f.stateid, { offset: 0, length: 1 });
    await z2.close(f.fh, f.stateid).catch(() => undefined);
  });
});
