import { afterEach, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import type { OpenFile } from '../../src/store/types.js';
import { makeEnv, mount40, mount41, type Env } from './state-fakes.js';

let env: Env;
afterEach(async () => {
  await env?.sm.shutdown();
});

async function status(p: Promise<unknown> | (() => unknown)): Promise<number> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof NfsError) return err.status;
    throw err;
  }
  return N.NFS4_OK;
}

describe('4.0 owner seqids', () => {
  it('replays, refuses gaps, and records errors that advance the seqid', async () => {
    env = makeEnv();
    const { sm } = env;
    const c = sm.confirmedClient40(await mount40(sm));
    const o = sm.newOpenOwner(c, Buffer.from('o'), 5);
    let runs = 0;
    expect(await sm.withSeqid(o, 5, 0, 'OPEN', () => ++runs)).toBe(1);
    expect(await sm.withSeqid(o, 5, 0, 'OPEN', () => ++runs)).toBe(1); // replay, not re-run
    expect(await status(sm.withSeqid(o, 5, 0, 'CLOSE', () => ++runs))).toBe(N.NFS4ERR_BAD_SEQID);
    expect(await status(sm.withSeqid(o, 7, 0, 'OPEN', () => ++runs))).toBe(N.NFS4ERR_BAD_SEQID);
    expect(await status(sm.withSeqid(o, 4, 0, 'OPEN', () => ++runs))).toBe(N.NFS4ERR_BAD_SEQID);
    // NOENT advances the seqid and is replayed
    const noent = () => {
      runs++;
      throw new NfsError(N.NFS4ERR_NOENT);
    };
    expect(await status(sm.withSeqid(o, 6, 0, 'OPEN', noent))).toBe(N.NFS4ERR_NOENT);
    expect(await status(sm.withSeqid(o, 6, 0, 'OPEN', noent))).toBe(N.NFS4ERR_NOENT);
    expect(runs).toBe(2);
    // BAD_STATEID does not advance it
    const bad = () => {
      throw new NfsError(N.NFS4ERR_BAD_STATEID);
    };
    expect(await status(sm.withSeqid(o, 7, 0, 'CLOSE', bad))).toBe(N.NFS4ERR_BAD_STATEID);
    expect(await sm.withSeqid(o, 7, 0, 'CLOSE', () => 'ok')).toBe('ok');
    // seqids wrap
    o.seqid = 0xffffffff;
    o.lastReply = undefined;
    expect(await sm.withSeqid(o, 0, 0, 'OPEN', () => 'wrapped')).toBe('wrapped');
    // 4.1 ignores them
    expect(await sm.withSeqid(o, 12345, 1, 'OPEN', () => 'v41')).toBe('v41');
  });

  it('a retransmission while the original is still running gets DELAY', async () => {
    env = makeEnv();
    const { sm } = env;
    const c = sm.confirmedClient40(await mount40(sm));
    const o = sm.newOpenOwner(c, Buffer.from('o'), 1);
    let release!: () => void;
    const slow = sm.withSeqid(o, 1, 0, 'OPEN', () => new Promise<string>((r) => (release = () => r('done'))));
    expect(await status(sm.withSeqid(o, 1, 0, 'OPEN', () => 'again'))).toBe(N.NFS4ERR_DELAY);
    expect(await status(sm.withSeqid(o, 2, 0, 'OPEN', () => 'next'))).toBe(N.NFS4ERR_BAD_SEQID);
    release();
    expect(await slow).toBe('done');
    expect(await sm.withSeqid(o, 1, 0, 'OPEN', () => 'again')).toBe('done');
  });
});

describe('stateid checks', () => {
  it('OLD / BAD / STALE / BAD for another client', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    const t = await mount41(sm, 'other');
    const st = await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 1);
    await sm.openState(st.owner, f.ino, 2); // upgrade: seqid 2
    expect(st.seqid).toBe(2);
    expect(await status(() => sm.findState({ seqid: 1, other: st.other }, 1))).toBe(N.NFS4ERR_OLD_STATEID);
    expect(await status(() => sm.findState({ seqid: 3, other: st.other }, 1))).toBe(N.NFS4ERR_BAD_STATEID);
    expect(sm.findState({ seqid: 0, other: st.other }, 1)).toBe(st);
    expect(await status(() => sm.findState({ seqid: 0, other: st.other }, 0))).toBe(N.NFS4ERR_OLD_STATEID);
    expect(await status(() => sm.findState({ seqid: 2, other: st.other }, 1, t.client))).toBe(N.NFS4ERR_BAD_STATEID);
    const stale = Buffer.from(st.other);
    stale.writeUInt32BE(sm.epoch - 1, 0);
    expect(await status(() => sm.findState({ seqid: 2, other: stale }, 0))).toBe(N.NFS4ERR_STALE_STATEID);
    expect(await status(() => sm.findState({ seqid: 2, other: stale }, 1))).toBe(N.NFS4ERR_BAD_STATEID);
    const future = Buffer.from(st.other);
    future.writeUInt32BE(sm.epoch + 1, 0);
    expect(await status(() => sm.findState({ seqid: 2, other: future }, 0))).toBe(N.NFS4ERR_BAD_STATEID);
    const unknown = Buffer.from(st.other);
    unknown.writeUInt32BE(999999, 8);
    expect(await status(() => sm.findState({ seqid: 1, other: unknown }, 1))).toBe(N.NFS4ERR_BAD_STATEID);
    expect(await status(() => sm.findState({ seqid: 1, other: Buffer.alloc(12, 0x42) }, 1))).toBe(N.NFS4ERR_BAD_STATEID);
  });

  it('special stateids use the shared fd cache; the bypass stateid only reads', async () => {
    env = makeEnv();
    const { sm } = env;
    const anon = await sm.resolveIo({ seqid: 0, other: Buffer.alloc(12) }, 7, true, 1);
    expect(anon.shared).toBe(true);
    expect(anon.file.writable).toBe(true);
    const bypass = await sm.resolveIo({ seqid: 0xffffffff, other: Buffer.alloc(12, 0xff) }, 7, false, 0);
    expect(bypass.shared).toBe(true);
    // for WRITE the bypass stateid counts as the anonymous one
    const w = await sm.resolveIo({ seqid: 0xffffffff, other: Buffer.alloc(12, 0xff) }, 7, true, 0);
    expect(w.shared && w.file.writable).toBe(true);
    // but special stateids name no state
    expect(await status(() => sm.findState({ seqid: 0, other: Buffer.alloc(12) }, 0))).toBe(N.NFS4ERR_BAD_STATEID);
    expect(await status(() => sm.findState({ seqid: 0, other: Buffer.alloc(12, 0xff) }, 0))).toBe(N.NFS4ERR_BAD_STATEID);
    expect(await status(sm.resolveIo({ seqid: 1, other: Buffer.alloc(12) }, 7, false, 1))).toBe(N.NFS4ERR_BAD_STATEID);
  });

  it('a lock stateid resolves to its open\'s fd and checks the file', async () => {
    env = makeEnv();
    const { sm, store } = env;
    const f = store.add(1, 'f', 'reg');
    const g = store.add(1, 'g', 'reg');
    const s = await mount41(sm);
    const open = await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 3);
    const ls = sm.lockStateFor(open, Buffer.from('l'), 0);
    sm.lock(ls, N.WRITE_LT, 0, 1);
    const io = await sm.resolveIo({ seqid: ls.seqid, other: ls.other }, f.ino, true, 1);
    expect(io.file).toBe(open.openFile);
    expect(await status(sm.resolveIo({ seqid: 0, other: ls.other }, g.ino, true, 1))).toBe(N.NFS4ERR_BAD_STATEID);
  });
});

describe('races with lease expiry', () => {
  it('CLOSE after the client expired does not close the fd twice', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, store, clock } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    const open = await sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 3);
    clock.advance(11000);
    sm.reap();
    await sm.withFile(f.ino, () => sm.close(open)); // would throw "double close" in the fake store
    await new Promise((r) => setTimeout(r, 10));
    expect(store.openFiles()).toEqual([]);
  });

  it('an open racing with expiry closes its new fd', async () => {
    env = makeEnv({ leaseSeconds: 10 });
    const { sm, store, clock } = env;
    const f = store.add(1, 'f', 'reg');
    const s = await mount41(sm);
    const realOpen = store.open.bind(store);
    store.open = async (ino: number, w: boolean): Promise<OpenFile> => {
      const file = await realOpen(ino, w);
      clock.advance(11000);
      sm.reap(); // the lease runs out while the fd is being opened
      return file;
    };
    expect(await status(sm.openState(sm.newOpenOwner(s.client, Buffer.from('o'), 1), f.ino, 1))).toBe(N.NFS4ERR_EXPIRED);
    expect(store.openFiles()).toEqual([]);
  });
});
