import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NFS4_LENGTH_EOF, NfsClient, NfsStatusError } from '../../src/client/nfs-client.js';
import { sleep, startTestServer, type TestServer } from './harness.js';

async function lockError(p: Promise<unknown>): Promise<NfsStatusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NfsStatusError);
  return err as NfsStatusError;
}

describe('byte-range locks between two clients', () => {
  let srv: TestServer;
  let a: NfsClient;
  let b: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    a = await srv.client({ clientOwner: 'client-a' });
    b = await srv.client({ clientOwner: 'client-b' });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('denies a conflicting LOCK with the holder range, LOCKT agrees, LOCKU releases', async () => {
    const fa = await a.create('/locked.dat');
    await a.write(fa.fh, fa.stateid, 0, Buffer.alloc(200, 1));
    const fb = await b.open('/locked.dat', { access: 'both' });
    expect(fb.fh.equals(fa.fh)).toBe(true);

    const lockA = await a.lock(fa.fh, fa.stateid, { type: N.WRITE_LT, offset: 0, length: 100, owner: 'owner-a' });
    expect(lockA.other.length).toBe(12);

    const err = await lockError(b.lock(fb.fh, fb.stateid, { type: N.WRITE_LT, offset: 50, length: 10, owner: 'owner-b' }));
    expect(err.statusName).toBe('NFS4ERR_DENIED');
    expect(err.denied).toBeDefined();
    expect(err.denied!.offset).toBe(0);
    expect(err.denied!.length).toBe(100);
    expect(err.denied!.locktype).toBe(N.WRITE_LT);
    expect(err.denied!.owner.owner.toString()).toBe('owner-a');

    // a read lock conflicts with a write lock too
    const rd = await lockError(b.lock(fb.fh, fb.stateid, { type: N.READ_LT, offset: 99, length: 1, owner: 'owner-b' }));
    expect(rd.statusName).toBe('NFS4ERR_DENIED');

    // LOCKT from B sees the conflict; outside the range it does not
    const t = await b.lockt(fb.fh, { type: N.WRITE_LT, offset: 10, length: 1, owner: 'owner-b' });
    expect(t).toBeDefined();
    expect(t!.offset).toBe(0);
    expect(t!.length).toBe(100);
    expect(await b.lockt(fb.fh, { type: N.WRITE_LT, offset: 100, length: 50, owner: 'owner-b' })).toBeUndefined();
    // a lock beyond A's range is granted to B
    const lockB = await b.lock(fb.fh, fb.stateid, { type: N.WRITE_LT, offset: 100, length: 50, owner: 'owner-b' });
    // and A's LOCKT on B's range is denied
    const ta = await a.lockt(fa.fh, { offset: 120, length: 1, owner: 'owner-a' });
    expect(ta?.owner.owner.toString()).toBe('owner-b');

    await a.locku(fa.fh, lockA, { type: N.WRITE_LT, offset: 0, length: 100 });
    const lockB2 = await b.lock(fb.fh, fb.stateid, { type: N.WRITE_LT, offset: 50, length: 10, owner: 'owner-b' });
    expect(lockB2.other.equals(lockB.other)).toBe(true);
    expect(await a.lockt(fa.fh, { offset: 0, length: 40, owner: 'owner-a' })).toBeUndefined();
    expect(await a.lockt(fa.fh, { offset: 55, length: 1, owner: 'owner-a' })).toBeDefined();

    await b.locku(fb.fh, lockB2, { offset: 0, length: NFS4_LENGTH_EOF });
    expect(await a.lockt(fa.fh, { offset: 0, length: NFS4_LENGTH_EOF, owner: 'owner-a' })).toBeUndefined();
    await a.close(fa.fh, fa.stateid);
    await b.close(fb.fh, fb.stateid);
  });

  it('shares read locks and refuses to CLOSE with locks held', async () => {
    const fa = await a.create('/shared-read.dat');
    const fb = await b.open('/shared-read.dat', { access: 'read' });
    await a.lock(fa.fh, fa.stateid, { type: N.READ_LT, offset: 0, length: 10, owner: 'ra' });
    const lb = await b.lock(fb.fh, fb.stateid, { type: N.READ_LT, offset: 0, length: 10, owner: 'rb' });
    // a write lock on a read-only open is OPENMODE (RFC 8881 15.1, NFS4ERR_OPENMODE: a LOCK the stateid does not
    // sanction), whatever A holds: DENIED would tell B to wait for a lock it can never get
    const w = await lockError(b.lock(fb.fh, fb.stateid, { type: N.WRITE_LT, offset: 0, length: 10, owner: 'rb' }));
    expect(w.statusName).toBe('NFS4ERR_OPENMODE');
    // CLOSE while the lock owner still holds locks: LOCKS_HELD
    const held = await lockError(b.close(fb.fh, fb.stateid));
    expect(held.statusName).toBe('NFS4ERR_LOCKS_HELD');
    await b.locku(fb.fh, lb, { type: N.READ_LT, offset: 0, length: 10 });
    await b.close(fb.fh, fb.stateid);
  });

  it('splits a lock on a partial unlock (POSIX semantics)', async () => {
    const fa = await a.create('/split.dat');
    const fb = await b.open('/split.dat', { access: 'both' });
    const l = await a.lock(fa.fh, fa.stateid, { offset: 0, length: 100, owner: 'splitter' });
    const l2 = await a.locku(fa.fh, l, { offset: 40, length: 20 });
    expect(await b.lockt(fb.fh, { offset: 45, length: 10 })).toBeUndefined();
    const left = await b.lockt(fb.fh, { offset: 30, length: 1 });
    expect(left).toMatchObject({ offset: 0, length: 40 });
    const right = await b.lockt(fb.fh, { offset: 70, length: 1 });
    expect(right).toMatchObject({ offset: 60, length: 40 });
    const lb = await b.lock(fb.fh, fb.stateid, { offset: 40, length: 20, owner: 'filler' });
    // a downgrade of A's remaining write lock to read lets B read-test but not write
    const l3 = await a.lock(fa.fh, fa.stateid, { type: N.READ_LT, offset: 0, length: 40, owner: 'splitter' });
    expect(l3.other.equals(l2.other)).toBe(true);
    expect(l3.seqid).toBeGreaterThan(l2.seqid);
    expect(await b.lockt(fb.fh, { type: N.READ_LT, offset: 0, length: 40 })).toBeUndefined();
    expect(await b.lockt(fb.fh, { type: N.WRITE_LT, offset: 0, length: 40 })).toBeDefined();
    await a.locku(fa.fh, l3, { offset: 0, length: NFS4_LENGTH_EOF });
    await b.locku(fb.fh, lb, { offset: 40, length: 20 });
    await a.close(fa.fh, fa.stateid);
    await b.close(fb.fh, fb.stateid);
  });

  it('releases the locks of a client that reboots (same owner, new verifier)', async () => {
    const a1 = await srv.client({ clientOwner: 'rebooting-a' });
    const f1 = await a1.create('/reboot.dat');
    await a1.lock(f1.fh, f1.stateid, { offset: 0, length: 10, owner: 'ra' });
    const fb = await b.open('/reboot.dat', { access: 'both' });
    expect(await b.lockt(fb.fh, { offset: 0, length: 10 })).toBeDefined();
    // the same client owner comes back with a new verifier (a new NfsClient draws a fresh one)
    const a2 = await srv.client({ clientOwner: 'rebooting-a' });
    expect(a2.clientId!.equals(a1.clientId!)).toBe(false);
    expect(await b.lockt(fb.fh, { offset: 0, length: 10 })).toBeUndefined();
    const lb = await b.lock(fb.fh, fb.stateid, { offset: 0, length: 10, owner: 'after-reboot' });
    await b.locku(fb.fh, lb, { offset: 0, length: 10 });
    await b.close(fb.fh, fb.stateid);
    // the old incarnation went with its sessions when the new one was confirmed (RFC 8881 18.35, EXCHANGE_ID's
    // "client restart" case): its session is unknown, BADSESSION (RFC 8881 18.46.3); NFS4ERR_DEADSESSION is
    // for a persistent session that survived a server restart, which this server does not offer
    const old = await a1.compound([{ argop: N.OP_PUTROOTFH }]);
    expect(old.status).toBe(N.NFS4ERR_BADSESSION);
  });

  it('rejects a zero-length lock and ranges that overflow', async () => {
    const f = await a.create('/ranges.dat');
    const z = await lockError(a.lock(f.fh, f.stateid, { offset: 0, length: 0, owner: 'z' }));
    expect(z.statusName).toBe('NFS4ERR_INVAL');
    const o = await lockError(a.lock(f.fh, f.stateid, { offset: 2 ** 63, length: 2 ** 63 + 4096, owner: 'z' }));
    expect(o.statusName).toBe('NFS4ERR_INVAL');
    await a.close(f.fh, f.stateid);
  });
});

// When a lease runs out, and not before, is checked against the fake clock in
// test/unit/state-lease.test.ts ("holds a silent client's locks for one lease, then the reaper releases them").
// Here only the wiring: the real server's reaper frees a silent client's locks on its own.
describe('lease expiry releases locks', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ leaseSeconds: 5 });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('B gets the lock once A stops renewing', { timeout: 40000 }, async () => {
    const a = await srv.client({ clientOwner: 'silent-a' });
    const b = await srv.client({ clientOwner: 'patient-b' });
    const fa = await a.create('/lease.dat');
    await a.lock(fa.fh, fa.stateid, { offset: 0, length: NFS4_LENGTH_EOF, owner: 'a' });
    const fb = await b.open('/lease.dat', { access: 'both' });
    // A goes silent from here on (its connection stays open); B polls as a blocking lock does
    let granted = false;
    let denials = 0;
    for (let attempt = 0; attempt < 60 && !granted; attempt++) {
      try {
        await b.lock(fb.fh, fb.stateid, { offset: 0, length: NFS4_LENGTH_EOF, owner: 'b' });
        granted = true;
      } catch (err) {
        if (!(err instanceof NfsStatusError) || err.status !== N.NFS4ERR_DENIED) throw err;
        denials++;
        await sleep(500);
      }
    }
    expect(granted).toBe(true);
    expect(denials).toBeGreaterThan(0);
    // the server destroys an expired client with its sessions (state/manager.ts reap), so A's next
    // SEQUENCE names an unknown session: BADSESSION (RFC 8881 18.46.3)
    const res = await a.compound([{ argop: N.OP_PUTFH, opputfh: { object: fa.fh } }, { argop: N.OP_READ, opread: { stateid: fa.stateid, offset: 0, count: 1 } }]);
    expect(res.status).toBe(N.NFS4ERR_BADSESSION);
  });
});
