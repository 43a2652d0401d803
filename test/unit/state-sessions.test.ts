import { afterEach, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import type { SequenceArgs } from '../../src/state/types.js';
import type { NfsStateManager } from '../../src/state/manager.js';
import { MAX_OPERATIONS, MAX_RESPONSE_SIZE_CACHED } from '../../src/state/sessions.js';
import { chan, makeEnv, mount41, PRINCIPAL, type Env } from './state-fakes.js';

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof NfsError) return err.status;
    throw err;
  }
  return N.NFS4_OK;
}

async function astatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NfsError) return err.status;
    throw err;
  }
  return N.NFS4_OK;
}

const fp = (s: string): Buffer => Buffer.from(s);

function seq(sessionid: Buffer, slot: number, seqid: number, cachethis = true): SequenceArgs {
  return { sa_sessionid: sessionid, sa_sequenceid: seqid, sa_slotid: slot, sa_highest_slotid: 0, sa_cachethis: cachethis };
}

let env: Env;
afterEach(async () => {
  await env?.sm.shutdown();
});

describe('slot table (SEQUENCE)', () => {
  it('runs a new request, replays it, and rejects misordered / false retries', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    const o = sm.sequence(seq(s.id, 0, 1), fp('a'), 1);
    expect(o.kind).toBe('run');
    if (o.kind !== 'run') return;
    expect(o.resok.sr_highest_slotid).toBe(63);
    // in progress: a retransmission waits
    expect(status(() => sm.sequence(seq(s.id, 0, 1), fp('a'), 1))).toBe(N.NFS4ERR_DELAY);
    sm.completeSlot(o.session, o.slot, Buffer.from('reply-1'), true);
    // replay of the same request
    const r = sm.sequence(seq(s.id, 0, 1), fp('a'), 2);
    expect(r).toEqual({ kind: 'replay', reply: Buffer.from('reply-1') });
    // same seqid, other request
    expect(status(() => sm.sequence(seq(s.id, 0, 1), fp('b'), 1))).toBe(N.NFS4ERR_SEQ_FALSE_RETRY);
    // skipping ahead or going back
    expect(status(() => sm.sequence(seq(s.id, 0, 3), fp('c'), 1))).toBe(N.NFS4ERR_SEQ_MISORDERED);
    expect(status(() => sm.sequence(seq(s.id, 0, 0), fp('c'), 1))).toBe(N.NFS4ERR_SEQ_MISORDERED);
    // errors did not advance the slot or touch its cache
    expect(sm.sequence(seq(s.id, 0, 1), fp('a'), 2)).toEqual({ kind: 'replay', reply: Buffer.from('reply-1') });
    const n = sm.sequence(seq(s.id, 0, 2), fp('c'), 1);
    expect(n.kind).toBe('run');
  });

  it('answers a retry of an uncached request as uncached: the SEQUENCE result again, the slot untouched', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    const o = sm.sequence(seq(s.id, 3, 1, false), fp('x'), 1);
    if (o.kind !== 'run') throw new Error('expected run');
    sm.completeSlot(o.session, o.slot, Buffer.alloc(0), false);
    const again = sm.sequence(seq(s.id, 3, 1, false), fp('x'), 1);
    expect(again).toEqual({ kind: 'uncached', resok: o.resok });
    // the slot still expects the next seqid
    expect(sm.sequence(seq(s.id, 3, 2), fp('y'), 1).kind).toBe('run');
  });

  it('does not cache replies above ca_maxresponsesize_cached', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    expect(s.maxResponseSizeCached).toBe(7584);
    const o = sm.sequence(seq(s.id, 0, 1), fp('x'), 1);
    if (o.kind !== 'run') throw new Error('expected run');
    sm.completeSlot(o.session, o.slot, Buffer.alloc(8000), true);
    expect(sm.sequence(seq(s.id, 0, 1), fp('x'), 1).kind).toBe('uncached');
  });

  it('keeps a private copy of the cached reply', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    const o = sm.sequence(seq(s.id, 0, 1), fp('x'), 1);
    if (o.kind !== 'run') throw new Error('expected run');
    const slab = Buffer.from('abcd');
    sm.completeSlot(o.session, o.slot, slab, true);
    slab.fill(0);
    expect(sm.sequence(seq(s.id, 0, 1), fp('x'), 1)).toEqual({ kind: 'replay', reply: Buffer.from('abcd') });
  });

  it('rejects unknown sessions and slots', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    expect(status(() => sm.sequence(seq(Buffer.alloc(16), 0, 1), fp('x'), 1))).toBe(N.NFS4ERR_BADSESSION);
    expect(status(() => sm.sequence(seq(s.id, 64, 1), fp('x'), 1))).toBe(N.NFS4ERR_BADSLOT);
    sm.destroySession(s.id);
    expect(status(() => sm.sequence(seq(s.id, 0, 1), fp('x'), 1))).toBe(N.NFS4ERR_BADSESSION);
    expect(status(() => sm.destroySession(s.id))).toBe(N.NFS4ERR_BADSESSION);
  });

  it('wraps the slot seqid', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    s.slots[0]!.seqid = 0xffffffff;
    s.slots[0]!.used = true;
    const o = sm.sequence(seq(s.id, 0, 0), fp('x'), 1);
    expect(o.kind).toBe('run');
  });
});

describe('EXCHANGE_ID', () => {
  it('accepts a repeated EXCHANGE_ID for an unconfirmed record; the newest clientid wins', async () => {
    env = makeEnv();
    const { sm } = env;
    const owner = Buffer.from('Linux NFSv4.1 kclient');
    const v = Buffer.alloc(8, 7);
    const a = sm.exchangeId(owner, v, false, PRINCIPAL);
    const b = sm.exchangeId(owner, v, false, PRINCIPAL);
    expect(a.confirmed).toBe(false);
    expect(b.confirmed).toBe(false);
    expect(b.sequenceid).toBe(1);
    expect(b.clientid.equals(a.clientid)).toBe(false);
    // the older clientid is gone
    expect(
      await astatus(sm.createSession({ clientid: a.clientid, sequence: 1, flags: 0, fore: chan(), back: chan(), principal: PRINCIPAL })),
    ).toBe(N.NFS4ERR_STALE_CLIENTID);
    const cs = await sm.createSession({ clientid: b.clientid, sequence: 1, flags: 0, fore: chan(), back: chan(), principal: PRINCIPAL });
    expect(cs.sessionid.subarray(0, 8).equals(b.clientid)).toBe(true);
    // now confirmed: same verifier -> same clientid, CONFIRMED
    const c = sm.exchangeId(owner, v, false, PRINCIPAL);
    expect(c.confirmed).toBe(true);
    expect(c.clientid.equals(b.clientid)).toBe(true);
    expect(c.sequenceid).toBe(2);
  });

  it('replaces a confirmed record only when the restarted client confirms (case 5)', async () => {
    env = makeEnv();
    const { sm } = env;
    const s1 = await mount41(sm, 'host', Buffer.alloc(8, 1));
    const old = s1.client;
    const x = sm.exchangeId(Buffer.from('host'), Buffer.alloc(8, 2), false, PRINCIPAL);
    expect(x.confirmed).toBe(false);
    expect(x.clientid.equals(old.id)).toBe(false);
    expect(old.dead).toBe(false);
    await sm.createSession({ clientid: x.clientid, sequence: x.sequenceid, flags: 0, fore: chan(), back: chan(), principal: PRINCIPAL });
    expect(old.dead).toBe(true);
    expect(sm.sessionById(s1.id)).toBeUndefined();
  });

  it('answers CLID_INUSE to another principal while the owner holds state', async () => {
    env = makeEnv();
    const { sm } = env;
    await mount41(sm, 'host');
    expect(status(() => sm.exchangeId(Buffer.from('host'), Buffer.alloc(8, 1), false, '1:1000'))).toBe(N.NFS4ERR_CLID_INUSE);
  });

  it('implements the update cases', async () => {
    env = makeEnv();
    const { sm } = env;
    expect(status(() => sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 1), true, PRINCIPAL))).toBe(N.NFS4ERR_NOENT);
    await mount41(sm, 'h', Buffer.alloc(8, 1));
    expect(status(() => sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 9), true, PRINCIPAL))).toBe(N.NFS4ERR_NOT_SAME);
    expect(status(() => sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 1), true, '1:5'))).toBe(N.NFS4ERR_PERM);
    expect(sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 1), true, PRINCIPAL).confirmed).toBe(true);
  });
});

describe('CREATE_SESSION', () => {
  it('replays the cached result for the same seqid and rejects others', async () => {
    env = makeEnv();
    const { sm } = env;
    const x = sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 1), false, PRINCIPAL);
    const req = { clientid: x.clientid, sequence: x.sequenceid, flags: 3, fore: chan(), back: chan(16, 0, 2), principal: PRINCIPAL };
    const a = await sm.createSession(req);
    const b = await sm.createSession(req);
    expect(b).toBe(a);
    expect(sm.stats().sessions).toBe(1);
    expect(await astatus(sm.createSession({ ...req, sequence: x.sequenceid + 5 }))).toBe(N.NFS4ERR_SEQ_MISORDERED);
    const c = await sm.createSession({ ...req, sequence: x.sequenceid + 1 });
    expect(c.sessionid.equals(a.sessionid)).toBe(false);
    expect(sm.stats().sessions).toBe(2);
  });

  it('negotiates the fore channel the way Linux asks', async () => {
    env = makeEnv();
    const { sm } = env;
    const x = sm.exchangeId(Buffer.from('h'), Buffer.alloc(8, 1), false, PRINCIPAL);
    const r = await sm.createSession({
      clientid: x.clientid,
      sequence: 1,
      flags: N.CREATE_SESSION4_FLAG_PERSIST | N.CREATE_SESSION4_FLAG_CONN_BACK_CHAN,
      fore: { ...chan(200, 1 << 20, 50) },
      back: chan(16, 0, 2),
      principal: PRINCIPAL,
    });
    expect(r.flags & N.CREATE_SESSION4_FLAG_PERSIST).toBe(0);
    expect(r.fore.ca_maxrequestsize).toBeGreaterThanOrEqual(1049620);
    expect(r.fore.ca_maxresponsesize).toBeGreaterThanOrEqual(1049480);
    expect(r.fore.ca_maxresponsesize_cached).toBe(MAX_RESPONSE_SIZE_CACHED);
    expect(r.fore.ca_maxoperations).toBe(MAX_OPERATIONS);
    expect(r.fore.ca_maxrequests).toBe(64);
    const s = sm.sessionById(r.sessionid)!;
    expect(s.slots.length).toBe(64);
    expect(s.maxOps).toBe(MAX_OPERATIONS);
  });

  it('refuses an unknown client', async () => {
    env = makeEnv();
    const { sm } = env;
    const r = sm.createSession({ clientid: Buffer.alloc(8), sequence: 1, flags: 0, fore: chan(), back: chan(), principal: PRINCIPAL });
    expect(await astatus(r)).toBe(N.NFS4ERR_STALE_CLIENTID);
  });
});

describe('DESTROY_CLIENTID', () => {
  it('is CLIENTID_BUSY while sessions exist', async () => {
    env = makeEnv();
    const { sm } = env;
    const s = await mount41(sm);
    expect(status(() => sm.destroyClientId(s.client.id, undefined))).toBe(N.NFS4ERR_CLIENTID_BUSY);
    sm.destroySession(s.id);
    expect(status(() => sm.destroyClientId(s.client.id, undefined))).toBe(N.NFS4_OK);
    expect(status(() => sm.destroyClientId(s.client.id, undefined))).toBe(N.NFS4ERR_STALE_CLIENTID);
    expect(sm.stats().clients).toBe(0);
  });
});

describe('4.0 SETCLIENTID', () => {
  it('handles the Linux double SETCLIENTID/CONFIRM', async () => {
    env = makeEnv();
    const { sm } = env;
    const id = Buffer.from('Linux NFSv4.0 kclient/10.0.2.100');
    const v = Buffer.alloc(8, 3);
    const a = sm.setClientId(id, v, PRINCIPAL, 'tcp', '127.0.0.1.1.2');
    await sm.setClientIdConfirm(a.clientid, a.confirm, PRINCIPAL);
    // callback update: same clientid, new confirm verifier
    const b = sm.setClientId(id, v, PRINCIPAL, 'tcp', '127.0.0.1.1.3');
    expect(b.clientid.equals(a.clientid)).toBe(true);
    expect(b.confirm.equals(a.confirm)).toBe(false);
    await sm.setClientIdConfirm(b.clientid, b.confirm, PRINCIPAL);
    // a retransmitted confirm is fine
    await sm.setClientIdConfirm(b.clientid, b.confirm, PRINCIPAL);
    expect(await astatus(sm.setClientIdConfirm(b.clientid, Buffer.alloc(8, 0xee), PRINCIPAL))).toBe(N.NFS4ERR_STALE_CLIENTID);
    sm.renew(a.clientid);
    expect(sm.stats().clients).toBe(1);
  });

  it('a rebooted client (new verifier) replaces the old record on confirm', async () => {
    env = makeEnv();
    const { sm } = env;
    const id = Buffer.from('c');
    const a = sm.setClientId(id, Buffer.alloc(8, 1), PRINCIPAL, 'tcp', 'x');
    await sm.setClientIdConfirm(a.clientid, a.confirm, PRINCIPAL);
    const b = sm.setClientId(id, Buffer.alloc(8, 2), PRINCIPAL, 'tcp', 'x');
    expect(b.clientid.equals(a.clientid)).toBe(false);
    sm.renew(a.clientid); // old still valid until the confirm
    await sm.setClientIdConfirm(b.clientid, b.confirm, PRINCIPAL);
    expect(status(() => sm.renew(a.clientid))).toBe(N.NFS4ERR_STALE_CLIENTID);
    sm.renew(b.clientid);
  });

  it('CLID_INUSE for another principal carries the callback address', async () => {
    env = makeEnv();
    const { sm } = env;
    const id = Buffer.from('c');
    const a = sm.setClientId(id, Buffer.alloc(8, 1), PRINCIPAL, 'tcp', '127.0.0.1.8.1');
    await sm.setClientIdConfirm(a.clientid, a.confirm, PRINCIPAL);
    // give it state so the collision is real
    const st = await sm.openState(sm.newOpenOwner(sm.confirmedClient40(a.clientid), Buffer.from('oo'), 1), 1, 1);
    expect(st.kind).toBe('open');
    let err: NfsError | undefined;
    try {
      sm.setClientId(id, Buffer.alloc(8, 1), '1:1000', 'tcp', 'y');
    } catch (e) {
      err = e as NfsError;
    }
    expect(err?.status).toBe(N.NFS4ERR_CLID_INUSE);
    expect(err?.body).toBeTypeOf('function');
  });

  it('unconfirmed or unknown clientids are STALE for RENEW', async () => {
    env = makeEnv();
    const { sm } = env;
    const a = sm.setClientId(Buffer.from('c'), Buffer.alloc(8, 1), PRINCIPAL, 'tcp', 'x');
    expect(status(() => sm.renew(a.clientid))).toBe(N.NFS4ERR_STALE_CLIENTID);
    expect(status(() => sm.renew(Buffer.alloc(8, 9)))).toBe(N.NFS4ERR_STALE_CLIENTID);
  });
});

export type { NfsStateManager };
