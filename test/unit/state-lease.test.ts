import { afterEach, describe, expect, it, vi } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import { NfsStateManager } from '../../src/state/manager.js';
import { Clock, FakeStore, makeEnv, mount40, mount41, silent, tempDir, type Env } from './state-fakes.js';

let env: Env;
afterEach(async () => {
  await env?.sm.shutdown();
});

async function status(p: unknown): Promise<number> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p);
  } catch (err) {
    if (err instanceof NfsError) return err.status;
    throw err;
  }
  return N.NFS4_OK;
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('leases', () => {
  it('expires a silent 4.1 client: sessions, opens, locks and fds go', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, store, clock } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm, 'quiet');
    const other = await mount41(sm, 'busy');
    const open = await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 3);
    const ls = sm.lockStateFor(open, Buffer.from('l'), 0);
    sm.lock(ls, N.WRITE_LT, 0, 100);
    const open2 = await sm.openState(sm.newOpenOwner(other.client, Buffer.from('o'), 1), f.ino, 3);
    const ls2 = sm.lockStateFor(open2, Buffer.from('l2'), 0);
    expect(await status(() => sm.lock(ls2, N.WRITE_LT, 50, 1))).toBe(N.NFS4ERR_DENIED);
    expect(store.openFiles().length).toBe(2);

    clock.advance(6000);
    // the busy client renews via SEQUENCE
    const o = sm.sequence({ sa_sessionid: other.id, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }, Buffer.from('x'), 1);
    if (o.kind === 'run') sm.completeSlot(o.session, o.slot, Buffer.alloc(0), false);
    clock.advance(6000);
    sm.reap();
    await settle();

    expect(s.client.dead).toBe(true);
    expect(other.client.dead).toBe(false);
    expect(store.openFiles().length).toBe(1);
    expect(store.openFiles()[0]!.ino).toBe(f.ino);
    // the lock is gone: the other client gets it now
    sm.lock(ls2, N.WRITE_LT, 50, 1);
    // its stateids answer EXPIRED, its session BADSESSION
    expect(await status(() => sm.findState({ seqid: 0, other: open.other }, 1))).toBe(N.NFS4ERR_EXPIRED);
    expect(
      await status(() =>
        sm.sequence({ sa_sessionid: s.id, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }, Buffer.from('x'), 1),
      ),
    ).toBe(N.NFS4ERR_BADSESSION);
    expect(sm.stats().sessions).toBe(1);
  });

  it("holds a silent client's locks for one lease, then the reaper releases them", async () => {
    // the server's own reaper timer (a quarter lease), not reap() by hand; timers and clock move together
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const clock = new Clock();
      const store = new FakeStore();
      const metaDir = tempDir();
      const sm = new NfsStateManager({ leaseSeconds: 10, store, metaDir, log: silent, now: clock.now });
      env = { sm, store, clock, metaDir };
      const tick = (ms: number) => {
        clock.advance(ms);
        vi.advanceTimersByTime(ms);
      };
      const f = store.add(1, 'f', 'reg');
      const a = await mount41(sm, 'silent-a');
      const b = await mount41(sm, 'patient-b');
      const openA = await sm.openState(sm.newOpenOwner(a.client, Buffer.from('oa'), 1), f.ino, 3);
      sm.lock(sm.lockStateFor(openA, Buffer.from('la'), 0), N.WRITE_LT, 0, 100);
      const lb = sm.lockStateFor(await sm.openState(sm.newOpenOwner(b.client, Buffer.from('ob'), 1), f.ino, 3), Buffer.from('lb'), 0);
      // A goes silent; B keeps its own lease (as its SEQUENCEs would) and asks every quarter lease
      const quarter = 2500;
      for (let t = quarter; t <= 10_000; t += quarter) {
        tick(quarter);
        sm.renewClient(b.client);
        // a full lease since A's last renewal is not yet past it: the reaper (it ran at 10 s too) keeps A
        expect(await status(() => sm.lock(lb, N.WRITE_LT, 0, 100)), `at ${t} ms`).toBe(N.NFS4ERR_DENIED);
      }
      expect(a.client.dead).toBe(false);
      // the reaper's next run after the lease ran out releases A's locks
      tick(quarter);
      await settle();
      expect(a.client.dead).toBe(true);
      expect(await status(() => sm.lock(lb, N.WRITE_LT, 0, 100))).toBe(N.NFS4_OK);
      // A's stateid answers EXPIRED, its session BADSESSION
      expect(await status(() => sm.findState({ seqid: 0, other: openA.other }, 1))).toBe(N.NFS4ERR_EXPIRED);
      expect(
        await status(() =>
          sm.sequence({ sa_sessionid: a.id, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }, Buffer.from('x'), 1),
        ),
      ).toBe(N.NFS4ERR_BADSESSION);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not expire a client with a request in progress', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, clock } = env;
    const s = await mount41(sm);
    const o = sm.sequence({ sa_sessionid: s.id, sa_sequenceid: 1, sa_slotid: 0, sa_highest_slotid: 0, sa_cachethis: false }, Buffer.from('x'), 1);
    clock.advance(20000);
    sm.reap();
    expect(s.client.dead).toBe(false);
    if (o.kind === 'run') sm.completeSlot(o.session, o.slot, Buffer.alloc(0), false);
    clock.advance(20000);
    sm.reap();
    expect(s.client.dead).toBe(true);
  });

  it('4.0: stateids of an expired client answer EXPIRED, RENEW STALE_CLIENTID', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, store, clock } = env;
    const f = store.add(1, 'f', 'reg');
    const cid = await mount40(sm);
    const c = sm.confirmedClient40(cid);
    const oo = sm.newOpenOwner(c, Buffer.from('o'), 1);
    oo.confirmed = true;
    const open = await sm.openState(oo, f.ino, 1);
    // use renews the lease
    clock.advance(8000);
    await sm.resolveIo({ seqid: open.seqid, other: open.other }, f.ino, false, 0);
    clock.advance(8000);
    await sm.resolveIo({ seqid: open.seqid, other: open.other }, f.ino, false, 0);
    clock.advance(11000);
    // not reaped yet, but expired: the first use notices
    expect(await status(sm.resolveIo({ seqid: open.seqid, other: open.other }, f.ino, false, 0))).toBe(N.NFS4ERR_EXPIRED);
    await settle();
    expect(store.openFiles().length).toBe(0);
    expect(await status(() => sm.renew(cid))).toBe(N.NFS4ERR_STALE_CLIENTID);
    expect(await status(sm.resolveIo({ seqid: open.seqid, other: open.other }, f.ino, false, 0))).toBe(N.NFS4ERR_EXPIRED);
  });

  it('RENEW keeps a 4.0 client alive; unconfirmed records expire', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, clock } = env;
    const cid = await mount40(sm);
    sm.setClientId(Buffer.from('never confirmed'), Buffer.alloc(8), '1:0', 'tcp', 'x');
    expect(sm.stats().clients).toBe(2);
    for (let i = 0; i < 5; i++) {
      clock.advance(8000);
      sm.renew(cid);
      sm.reap();
    }
    expect(sm.stats().clients).toBe(1);
  });

  it('forgets idle 4.0 open-owners after a lease', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, store, clock } = env;
    const f = store.add(1, 'f', 'reg');
    const cid = await mount40(sm);
    const c = sm.confirmedClient40(cid);
    const oo = sm.newOpenOwner(c, Buffer.from('o'), 1);
    oo.confirmed = true;
    const open = await sm.openState(oo, f.ino, 1);
    await sm.close(open);
    expect(sm.stats().idleOwners).toBe(1);
    clock.advance(5000);
    sm.renew(cid);
    sm.reap();
    expect(sm.openOwner(c, Buffer.from('o'))).toBe(oo);
    clock.advance(6000);
    sm.renew(cid);
    sm.reap();
    expect(sm.openOwner(c, Buffer.from('o'))).toBeUndefined();
    expect(sm.stats().idleOwners).toBe(0);
  });

  it('limits open files per client (DQUOT)', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    s.client.openCount = 32768;
    expect(await status(sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 1))).toBe(N.NFS4ERR_DQUOT);
    expect(store.openFiles().length).toBe(0);
  });

  it('shutdown closes every open file', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o1'), 1), f.ino, 1);
    await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o2'), 1), f.ino, 3);
    await sm.shutdown();
    expect(store.openFiles().length).toBe(0);
  });
});
