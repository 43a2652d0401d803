import { afterEach, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrReader } from '../../src/xdr/reader.js';
import { lockRange, OVERFLOW_LENGTH, readLockRange, U64_ALL_ONES } from '../../src/state/locks.js';
import { MAX_LOCKS_PER_FILE } from '../../src/state/lock-state.js';
import type { LockState, OpenState } from '../../src/state/model.js';
import { makeEnv, mount41, type Env } from './state-fakes.js';

let env: Env;
afterEach(async () => {
  await env?.sm.shutdown();
});

function err(fn: () => unknown): NfsError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof NfsError) return e;
    throw e;
  }
  return undefined;
}

const ALL_ONES = 18446744073709551615; // as the XDR reader returns u64 all-ones

function ranges(ls: LockState): [number, number, boolean][] {
  return ls.file.locks.filter((r) => r.state === ls).map((r) => [r.start, r.end, r.write]);
}

async function setup(): Promise<{ a: OpenState; b: OpenState; la: LockState; lb: LockState; ino: number }> {
  env = makeEnv();
  const { sm, store } = env;
  const f = store.add(1, 'f', 'reg');
  const s1 = await mount41(sm, 'one');
  const s2 = await mount41(sm, 'two');
  const a = await sm.openState(sm.newOpenOwner(s1.client, Buffer.from('oa'), 1), f.ino, 3);
  const b = await sm.openState(sm.newOpenOwner(s2.client, Buffer.from('ob'), 1), f.ino, 3);
  const la = sm.lockStateFor(a, Buffer.from('la'), 0);
  const lb = sm.lockStateFor(b, Buffer.from('lb'), 0);
  return { a, b, la, lb, ino: f.ino };
}

describe('lockRange', () => {
  it('maps lengths to ranges', () => {
    expect(lockRange(0, 0)).toEqual({ ok: false });
    expect(lockRange(10, 5)).toEqual({ ok: true, start: 10, end: 15 });
    expect(lockRange(10, ALL_ONES)).toEqual({ ok: true, start: 10, end: Infinity });
    expect(lockRange(0, 2 ** 53)).toEqual({ ok: true, start: 0, end: Infinity });
    expect(lockRange(2 ** 64 - 2 ** 12, 2 ** 40).ok).toBe(false);
    expect(lockRange(5, OVERFLOW_LENGTH).ok).toBe(false);
  });

  it('reads offset/length exactly from the wire', () => {
    const rd = (oh: number, ol: number, lh: number, ll: number) => {
      const w = new XdrWriter();
      for (const v of [oh, ol, lh, ll]) w.u32(v);
      return readLockRange(new XdrReader(w.finish()));
    };
    expect(rd(0, 100, 0xffffffff, 0xffffffff)).toEqual({ offset: 100, length: U64_ALL_ONES });
    // 100 + (2^64 - 2) overflows: pynfs-style "length too long"
    expect(rd(0, 100, 0xffffffff, 0xfffffffe).length).toBe(OVERFLOW_LENGTH);
    expect(rd(0, 1, 0xffffffff, 0xfffffffe).length).not.toBe(OVERFLOW_LENGTH);
    expect(rd(0, 2, 0xffffffff, 0xfffffffe).length).toBe(OVERFLOW_LENGTH);
    expect(rd(0, 0, 0xffffffff, 0xfffffffe).length).toBeGreaterThan(2 ** 63);
    expect(rd(1, 0, 0, 5)).toEqual({ offset: 2 ** 32, length: 5 });
    expect(lockRange(0, rd(0, 0, 0xffffffff, 0xfffffffe).length)).toEqual({ ok: true, start: 0, end: Infinity });
  });
});

describe('byte-range locks', () => {
  it('read locks share, write locks conflict across owners', async () => {
    const { la, lb } = await setup();
    const { sm } = env;
    sm.lock(la, N.READ_LT, 0, 100);
    sm.lock(lb, N.READ_LT, 50, 100);
    const e = err(() => sm.lock(lb, N.WRITE_LT, 90, 20));
    expect(e?.status).toBe(N.NFS4ERR_DENIED);
    // the denial names the holder
    const w = new XdrWriter();
    e!.body!(w);
    const d = N.decode_LOCK4denied(new XdrReader(w.finish()));
    expect(d).toMatchObject({ offset: 0, length: 100, locktype: N.READ_LT });
    expect(d.owner.owner.toString()).toBe('la');
    expect(d.owner.clientid.equals(la.client.id)).toBe(true);
    // no conflict beyond a's range
    sm.lock(lb, N.WRITEW_LT, 100, 10);
  });

  it('merges, splits, upgrades and downgrades one owner\'s ranges', async () => {
    const { la } = await setup();
    const { sm } = env;
    sm.lock(la, N.READ_LT, 0, 10);
    sm.lock(la, N.READ_LT, 10, 10);
    expect(ranges(la)).toEqual([[0, 20, false]]);
    sm.lock(la, N.WRITE_LT, 5, 5);
    expect(ranges(la)).toEqual([
      [0, 5, false],
      [5, 10, true],
      [10, 20, false],
    ]);
    sm.lock(la, N.READ_LT, 5, 5); // downgrade back
    expect(ranges(la)).toEqual([[0, 20, false]]);
    sm.unlock(la, 8, 4);
    expect(ranges(la)).toEqual([
      [0, 8, false],
      [12, 20, false],
    ]);
    sm.lock(la, N.WRITE_LT, 0, ALL_ONES);
    expect(ranges(la)).toEqual([[0, Infinity, true]]);
    sm.unlock(la, 100, ALL_ONES);
    expect(ranges(la)).toEqual([[0, 100, true]]);
    expect(la.held).toBe(1);
    expect(la.client.lockCount).toBe(1);
    sm.unlock(la, 0, ALL_ONES);
    expect(la.held).toBe(0);
    expect(la.client.lockCount).toBe(0);
  });

  it('an upgrade that conflicts with another owner is denied and changes nothing', async () => {
    const { la, lb } = await setup();
    const { sm } = env;
    sm.lock(la, N.READ_LT, 0, 10);
    sm.lock(lb, N.READ_LT, 0, 10);
    expect(err(() => sm.lock(la, N.WRITE_LT, 0, 10))?.status).toBe(N.NFS4ERR_DENIED);
    expect(ranges(la)).toEqual([[0, 10, false]]);
  });

  it('bumps the lock stateid seqid on every change', async () => {
    const { la } = await setup();
    const { sm } = env;
    expect(la.seqid).toBe(0);
    sm.lock(la, N.READ_LT, 0, 1);
    expect(la.seqid).toBe(1);
    sm.unlock(la, 0, 1);
    expect(la.seqid).toBe(2);
  });

  it('LOCKT reports conflicts of other owners only', async () => {
    const { la, ino } = await setup();
    const { sm } = env;
    sm.lock(la, N.WRITE_LT, 0, 10);
    expect(sm.testLock(la.client, Buffer.from('la'), ino, N.WRITE_LT, 0, 10)).toBeUndefined();
    const d = sm.testLock(la.client, Buffer.from('other'), ino, N.READ_LT, 5, ALL_ONES);
    expect(d).toMatchObject({ offset: 0, length: 10, locktype: N.WRITE_LT });
    expect(sm.testLock(la.client, Buffer.from('other'), ino, N.READ_LT, 10, 5)).toBeUndefined();
    expect(err(() => sm.testLock(la.client, Buffer.from('x'), ino, N.READ_LT, 5, 0))?.status).toBe(N.NFS4ERR_INVAL);
  });

  it('reports to-EOF locks with an all-ones length', async () => {
    const { la, ino } = await setup();
    const { sm } = env;
    sm.lock(la, N.WRITE_LT, 7, ALL_ONES);
    const d = sm.testLock(la.client, Buffer.from('x'), ino, N.READ_LT, 0, 100)!;
    expect(d.length).toBe(U64_ALL_ONES);
    const w = new XdrWriter();
    N.encode_LOCK4denied(w, d);
    expect(w.finish().subarray(8, 16).equals(Buffer.alloc(8, 0xff))).toBe(true);
  });

  it('refuses an overflowing range', async () => {
    const { la } = await setup();
    const { sm } = env;
    expect(err(() => sm.lock(la, N.READ_LT, 2 ** 64 - 4096, 8192))?.status).toBe(N.NFS4ERR_INVAL);
    expect(err(() => sm.lock(la, N.READ_LT, 0, 0))?.status).toBe(N.NFS4ERR_INVAL);
  });

  it('checks the open mode', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    const ro = await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 1);
    const ls = sm.lockStateFor(ro, Buffer.from('l'), 0);
    expect(err(() => sm.lock(ls, N.WRITE_LT, 0, 1))?.status).toBe(N.NFS4ERR_OPENMODE);
    sm.lock(ls, N.READ_LT, 0, 1);
  });

  it('allows at most 512 locks per file (DQUOT)', async () => {
    const { la, lb } = await setup();
    const { sm } = env;
    for (let i = 0; i < MAX_LOCKS_PER_FILE - 1; i++) sm.lock(la, N.WRITE_LT, i * 2, 1);
    sm.lock(lb, N.WRITE_LT, 100000, 1);
    expect(err(() => sm.lock(lb, N.WRITE_LT, 200000, 1))?.status).toBe(N.NFS4ERR_DQUOT);
    // merging into an existing range does not add one
    sm.lock(lb, N.WRITE_LT, 100001, 1);
    expect(la.file.locks.length).toBe(MAX_LOCKS_PER_FILE);
  });

  it('FREE_STATEID frees only lock stateids without locks', async () => {
    const { la, a } = await setup();
    const { sm } = env;
    sm.lock(la, N.READ_LT, 0, 1);
    expect(err(() => sm.freeStateid(la.client, { seqid: 0, other: la.other }))?.status).toBe(N.NFS4ERR_LOCKS_HELD);
    expect(err(() => sm.freeStateid(a.client, { seqid: 0, other: a.other }))?.status).toBe(N.NFS4ERR_LOCKS_HELD);
    sm.unlock(la, 0, 1);
    sm.freeStateid(la.client, { seqid: 0, other: la.other });
    expect(sm.testStateid(la.client, { seqid: 0, other: la.other })).toBe(N.NFS4ERR_BAD_STATEID);
  });

  it('CLOSE releases the open\'s locks and lock stateids', async () => {
    const { a, la, lb, ino } = await setup();
    const { sm } = env;
    sm.lock(la, N.WRITE_LT, 0, 10);
    await sm.close(a);
    expect(la.dead).toBe(true);
    expect(la.client.lockCount).toBe(0);
    sm.lock(lb, N.WRITE_LT, 0, 10);
    expect(sm.testLock(lb.client, Buffer.from('lb'), ino, N.WRITE_LT, 0, 10)).toBeUndefined();
  });

  it('RELEASE_LOCKOWNER refuses while locks are held', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const { mount40 } = await import('./state-fakes.js');
    const cid = await mount40(sm);
    const c = sm.confirmedClient40(cid);
    const oo = sm.newOpenOwner(c, Buffer.from('o'), 1);
    oo.confirmed = true;
    const open = await sm.openState(oo, f.ino, 3);
    const ls = sm.lockStateFor(open, Buffer.from('lo'), 1);
    sm.lock(ls, N.WRITE_LT, 0, 1);
    expect(err(() => sm.releaseLockOwner(c, Buffer.from('lo')))?.status).toBe(N.NFS4ERR_LOCKS_HELD);
    sm.unlock(ls, 0, 1);
    sm.releaseLockOwner(c, Buffer.from('lo'));
    expect(ls.dead).toBe(true);
    expect(sm.lockOwner(c, Buffer.from('lo'))).toBeUndefined();
    sm.releaseLockOwner(c, Buffer.from('unknown'));
  });
});
