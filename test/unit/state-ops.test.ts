/**
 * The state op handlers run against the state manager and a fake store
 * (no dispatcher, no network): OPEN/OPEN_CONFIRM/CLOSE/LOCK flows for 4.0 and 4.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrReader } from '../../src/xdr/reader.js';
import { FhCodec } from '../../src/nfs4/fh.js';
import { A, bitmapFromList, bitmapHas } from '../../src/nfs4/attrs.js';
import type { CompoundCtx } from '../../src/nfs4/context.js';
import type { OpSpec } from '../../src/nfs4/optable-types.js';
import { OP_SPECS } from '../../src/nfs4/optable.js';
import type { SessionImpl } from '../../src/state/sessions.js';
import type { Stat } from '../../src/store/types.js';
import { Clock, FakeStore, makeEnv, mount40, mount41, silent, tempDir, type Env } from './state-fakes.js';
import { FULL_ACCESS } from '../../src/policy/authorizer.js';

let env: Env;
afterEach(async () => {
  await env?.sm.shutdown();
});

const fh = new FhCodec(Buffer.alloc(32, 9));

function ctxFor(minor: number, session?: SessionImpl, uid = 1000): CompoundCtx {
  return {
    server: {
      store: env.store,
      state: env.sm,
      fh,
      config: { leaseSeconds: 90, fileSystemId: 'fs-1', writeVerifier: Buffer.alloc(8), serverOwner: 'localefs', serverScope: 'localefs', readOnlyStatus: N.NFS4ERR_ACCESS },
      log: silent,
    },
    conn: { id: 1, remoteAddress: '127.0.0.1', remotePort: 1, log: silent, grant: FULL_ACCESS },
    minorVersion: minor,
    cred: { flavor: 1, uid, gid: uid, gids: [], machinename: 'k' },
    identity: { uid, gid: uid, gids: [] },
    cfh: undefined,
    sfh: undefined,
    currentStateid: undefined,
    savedStateid: undefined,
    session,
    slot: undefined,
    reply: new XdrWriter(),
    replyBudget: 1 << 20,
    replyStart: 0,
  };
}

function spec(name: string): OpSpec {
  const s = OP_SPECS.find((o) => o.name === name);
  if (!s) throw new Error(`no op ${name}`);
  return s;
}

/** Runs an op; returns its result, or the NfsError it threw. Also checks that the result encodes. */
async function run<T = any>(ctx: CompoundCtx, name: string, args: unknown): Promise<T | NfsError> {
  const s = spec(name);
  try {
    const res = await s.run(ctx, args);
    if (s.encode) s.encode(new XdrWriter(), res);
    return res as T;
  } catch (err) {
    if (err instanceof NfsError) return err;
    throw err;
  }
}

async function ok<T = any>(ctx: CompoundCtx, name: string, args: unknown): Promise<T> {
  const r = await run<T>(ctx, name, args);
  if (r instanceof NfsError) throw new Error(`${name} failed: ${r.toString()}`);
  return r;
}

async function fails(ctx: CompoundCtx, name: string, args: unknown): Promise<number> {
  const r = await run(ctx, name, args);
  if (!(r instanceof NfsError)) throw new Error(`${name} succeeded`);
  return r.status;
}

function putfh(ctx: CompoundCtx, st: Stat): void {
  ctx.cfh = { ino: st.ino, gen: st.gen, fh: fh.encode(st.ino, st.gen), stat: st };
}
async function putroot(ctx: CompoundCtx): Promise<void> {
  putfh(ctx, await env.store.getattr(1));
}

function sizeMode(size: number | undefined, mode: number): N.fattr4 {
  const w = new XdrWriter();
  const ids: number[] = [];
  if (size !== undefined) {
    ids.push(A.SIZE);
    w.u64(size);
  }
  ids.push(A.MODE);
  w.u32(mode);
  return { attrmask: bitmapFromList(ids), attr_vals: Buffer.from(w.finish()) };
}

interface OpenOpts {
  seqid?: number;
  owner?: string;
  clientid?: Buffer;
  access?: number;
  deny?: number;
  create?: N.createhow4;
  claim?: N.open_claim4;
}

function openArgs(name: string, o: OpenOpts = {}): N.OPEN4args {
  return {
    seqid: o.seqid ?? 0,
    share_access: o.access ?? N.OPEN4_SHARE_ACCESS_BOTH,
    share_deny: o.deny ?? 0,
    owner: { clientid: o.clientid ?? Buffer.alloc(8), owner: Buffer.from(o.owner ?? 'open-owner') },
    openhow: o.create ? { opentype: N.OPEN4_CREATE, how: o.create } : { opentype: N.OPEN4_NOCREATE },
    claim: o.claim ?? { claim: N.CLAIM_NULL, file: name },
  };
}

const unchecked = (size?: number, mode = 0o644): N.createhow4 => ({ mode: N.UNCHECKED4, createattrs: sizeMode(size, mode) });

describe('OPEN (4.1)', () => {
  it('creates a file the owner may open whatever its mode, and sets cfh and the current stateid', async () => {
    env = makeEnv();
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    const res = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('new', { create: unchecked(0, 0o444) }));
    expect(res.rflags).toBe(N.OPEN4_RESULT_LOCKTYPE_POSIX);
    expect(res.delegation.delegation_type).toBe(N.OPEN_DELEGATE_NONE);
    expect(res.cinfo.after).toBeGreaterThan(res.cinfo.before);
    expect(bitmapHas(res.attrset, A.MODE) && bitmapHas(res.attrset, A.SIZE)).toBe(true);
    const st = await env.store.lookup(1, 'new');
    expect(st.mode).toBe(0o444);
    expect(st.uid).toBe(1000);
    expect(ctx.cfh!.ino).toBe(st.ino);
    expect(ctx.cfh!.fh.equals(fh.encode(st.ino, st.gen))).toBe(true);
    expect(ctx.currentStateid).toEqual(res.stateid);
    expect(res.stateid.seqid).toBe(1);
    const io = await env.sm.resolveIo(res.stateid, st.ino, true, 1);
    expect(io.shared).toBe(false);
    expect(io.file.writable).toBe(true);
    expect(io.openedBy).toEqual({ uid: 1000, gid: 1000, gids: [] });

    // reopening it (not newly created) needs permission now
    const ctx2 = ctxFor(1, s);
    await putroot(ctx2);
    expect(await fails(ctx2, 'OPEN', openArgs('new', { owner: 'other', access: N.OPEN4_SHARE_ACCESS_WRITE }))).toBe(N.NFS4ERR_ACCESS);
    await ok(ctx2, 'OPEN', openArgs('new', { owner: 'other', access: N.OPEN4_SHARE_ACCESS_READ }));
  });

  it('UNCHECKED4 with size 0 truncates an existing file; GUARDED4 answers EXIST', async () => {
    env = makeEnv();
    const f = env.store.add(1, 'f', 'reg', 0o666, 0, 0);
    env.store.stats.get(f.ino)!.size = 1234;
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    const res = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { create: unchecked(0) }));
    expect(res.cinfo.before).toBe(res.cinfo.after);
    expect(bitmapHas(res.attrset, A.SIZE)).toBe(true);
    expect((await env.store.getattr(f.ino)).size).toBe(0);
    await putroot(ctx);
    expect(await fails(ctx, 'OPEN', openArgs('f', { create: { mode: N.GUARDED4, createattrs: sizeMode(undefined, 0o600) } }))).toBe(N.NFS4ERR_EXIST);
  });

  it('EXCLUSIVE4: a retransmission with the same verifier succeeds, another verifier gets EXIST', async () => {
    env = makeEnv();
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    const v1 = Buffer.from('12345678');
    await putroot(ctx);
    const a = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('x', { create: { mode: N.EXCLUSIVE4, createverf: v1 } }));
    expect(bitmapHas(a.attrset, A.TIME_ACCESS) && bitmapHas(a.attrset, A.TIME_MODIFY)).toBe(true);
    const ino = ctx.cfh!.ino;
    await putroot(ctx);
    const b = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('x', { create: { mode: N.EXCLUSIVE4, createverf: Buffer.from(v1) } }));
    expect(ctx.cfh!.ino).toBe(ino);
    expect(b.stateid.other.equals(a.stateid.other)).toBe(true);
    await putroot(ctx);
    expect(await fails(ctx, 'OPEN', openArgs('x', { create: { mode: N.EXCLUSIVE4, createverf: Buffer.from('87654321') } }))).toBe(
      N.NFS4ERR_EXIST,
    );
    // EXCLUSIVE4_1 with attributes
    await putroot(ctx);
    const c = await ok<N.OPEN4resok>(
      ctx,
      'OPEN',
      openArgs('y', { create: { mode: N.EXCLUSIVE4_1, ch_createboth: { cva_verf: v1, cva_attrs: sizeMode(undefined, 0o640) } } }),
    );
    expect(bitmapHas(c.attrset, A.MODE)).toBe(true);
    expect((await env.store.lookup(1, 'y')).mode).toBe(0o640);
  });

  it('refuses non-reclaim opens before RECLAIM_COMPLETE, reclaims outside grace, deny and delegation claims', async () => {
    env = makeEnv();
    env.store.add(1, 'f', 'reg', 0o666);
    const s = await mount41(env.sm, 'c', Buffer.alloc(8, 1), false);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    expect(await fails(ctx, 'OPEN', openArgs('f'))).toBe(N.NFS4ERR_GRACE);
    env.sm.reclaimComplete(s, false);
    expect(await fails(ctx, 'OPEN', openArgs('f', { deny: N.OPEN4_SHARE_DENY_WRITE }))).toBe(N.NFS4ERR_NOTSUPP);
    expect(await fails(ctx, 'OPEN', openArgs('f', { claim: { claim: N.CLAIM_DELEGATE_CUR, delegate_cur_info: { delegate_stateid: { seqid: 0, other: Buffer.alloc(12) }, file: 'f' } } }))).toBe(
      N.NFS4ERR_NOTSUPP,
    );
    expect(await fails(ctx, 'OPEN', openArgs('f', { claim: { claim: N.CLAIM_PREVIOUS, delegate_type: N.OPEN_DELEGATE_NONE } }))).toBe(N.NFS4ERR_NO_GRACE);
    expect(await fails(ctx, 'OPEN', openArgs('f', { access: 0 }))).toBe(N.NFS4ERR_INVAL);
    expect(await fails(ctx, 'OPEN', openArgs('missing'))).toBe(N.NFS4ERR_NOENT);
  });

  it('answers ISDIR / SYMLINK / WRONG_TYPE for non-regular files', async () => {
    env = makeEnv();
    env.store.add(1, 'd', 'dir', 0o777);
    env.store.add(1, 'l', 'lnk', 0o777);
    env.store.add(1, 'p', 'fifo', 0o666);
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    expect(await fails(ctx, 'OPEN', openArgs('d'))).toBe(N.NFS4ERR_ISDIR);
    expect(await fails(ctx, 'OPEN', openArgs('l'))).toBe(N.NFS4ERR_SYMLINK);
    expect(await fails(ctx, 'OPEN', openArgs('p'))).toBe(N.NFS4ERR_WRONG_TYPE);
    // the failed opens left no owner behind
    expect(s.client.openOwners.size).toBe(0);
  });

  it('a WANT flag gets OPEN_DELEGATE_NONE_EXT', async () => {
    env = makeEnv();
    env.store.add(1, 'f', 'reg', 0o666);
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    const r = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { access: N.OPEN4_SHARE_ACCESS_READ | N.OPEN4_SHARE_ACCESS_WANT_READ_DELEG }));
    expect(r.delegation).toEqual({ delegation_type: N.OPEN_DELEGATE_NONE_EXT, od_whynone: { ond_why: N.WND4_RESOURCE, ond_server_will_signal_avail: false } });
  });

  it('upgrades an open (reopening the fd read-write), downgrades and closes it', async () => {
    env = makeEnv();
    const f = env.store.add(1, 'f', 'reg', 0o666);
    const s = await mount41(env.sm);
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    const a = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { access: N.OPEN4_SHARE_ACCESS_READ }));
    expect(env.store.openFiles().map((x) => x.writable)).toEqual([false]);
    expect(await env.sm.resolveIo(a.stateid, f.ino, true, 1).catch((e: NfsError) => e.status)).toBe(N.NFS4ERR_OPENMODE);
    await putroot(ctx);
    const b = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { access: N.OPEN4_SHARE_ACCESS_WRITE }));
    expect(b.stateid.other.equals(a.stateid.other)).toBe(true);
    expect(b.stateid.seqid).toBe(2);
    // the read-only fd is retired (a READ may still use it) and closed with the state
    expect(env.store.openFiles().map((x) => x.writable)).toEqual([false, true]);
    // the old seqid is OLD now
    expect(await env.sm.resolveIo(a.stateid, f.ino, false, 1).catch((e: NfsError) => e.status)).toBe(N.NFS4ERR_OLD_STATEID);
    // seqid 0 means "current"
    await env.sm.resolveIo({ seqid: 0, other: a.stateid.other }, f.ino, true, 1);

    const d = await ok<N.OPEN_DOWNGRADE4resok>(ctx, 'OPEN_DOWNGRADE', {
      open_stateid: { seqid: 1, other: Buffer.alloc(12) }, // the current stateid
      seqid: 0,
      share_access: N.OPEN4_SHARE_ACCESS_READ,
      share_deny: 0,
    });
    expect(d.open_stateid.seqid).toBe(3);
    expect(await fails(ctx, 'OPEN_DOWNGRADE', { open_stateid: d.open_stateid, seqid: 0, share_access: N.OPEN4_SHARE_ACCESS_BOTH, share_deny: 0 })).toBe(N.NFS4ERR_INVAL);

    const c = await ok<N.stateid4>(ctx, 'CLOSE', { seqid: 0, open_stateid: { seqid: 1, other: Buffer.alloc(12) } });
    expect(c).toEqual({ seqid: 0xffffffff, other: Buffer.alloc(12) });
    expect(env.store.openFiles()).toEqual([]);
    expect(await fails(ctx, 'CLOSE', { seqid: 0, open_stateid: d.open_stateid })).toBe(N.NFS4ERR_BAD_STATEID);
    expect(s.client.openOwners.size).toBe(0);
    expect(env.sm.stats().states).toBe(0);
  });

  it('locks with an open stateid, tests, unlocks and frees (4.1)', async () => {
    env = makeEnv();
    env.store.add(1, 'f', 'reg', 0o666);
    const s = await mount41(env.sm);
    const t = await mount41(env.sm, 'other host');
    const ctx = ctxFor(1, s);
    await putroot(ctx);
    await ok(ctx, 'OPEN', openArgs('f'));
    const lock = await ok<N.LOCK4resok>(ctx, 'LOCK', {
      locktype: N.WRITE_LT,
      reclaim: false,
      offset: 0,
      length: 2 ** 64,
      locker: {
        new_lock_owner: true,
        open_owner: { open_seqid: 0, open_stateid: { seqid: 1, other: Buffer.alloc(12) }, lock_seqid: 0, lock_owner: { clientid: s.client.id, owner: Buffer.from('lo') } },
      },
    });
    expect(lock.lock_stateid.seqid).toBe(1);
    expect(ctx.currentStateid).toEqual(lock.lock_stateid);
    const openSid = { seqid: 0, other: [...s.client.openOwners.values()][0]!.opens.values().next().value!.other };
    expect(await fails(ctx, 'CLOSE', { seqid: 0, open_stateid: openSid })).toBe(N.NFS4ERR_LOCKS_HELD);

    const ctx2 = ctxFor(1, t);
    await putroot(ctx2);
    await ok(ctx2, 'OPEN', openArgs('f'));
    const lt = await run(ctx2, 'LOCKT', { locktype: N.READ_LT, offset: 10, length: 1, owner: { clientid: t.client.id, owner: Buffer.from('x') } });
    expect(lt).toBeInstanceOf(NfsError);
    const e = lt as NfsError;
    expect(e.status).toBe(N.NFS4ERR_DENIED);
    const w = new XdrWriter();
    e.body!(w);
    const denied = N.decode_LOCK4denied(new XdrReader(w.finish()));
    expect(denied.owner.owner.toString()).toBe('lo');
    expect(denied.offset).toBe(0);

    const u = await ok<N.stateid4>(ctx, 'LOCKU', { locktype: N.WRITE_LT, seqid: 0, lock_stateid: lock.lock_stateid, offset: 0, length: 2 ** 64 });
    expect(u.seqid).toBe(2);
    await ok(ctx2, 'LOCKT', { locktype: N.WRITE_LT, offset: 10, length: 1, owner: { clientid: t.client.id, owner: Buffer.from('x') } });
    const ts = await ok<N.TEST_STATEID4resok>(ctx, 'TEST_STATEID', { ts_stateids: [u, lock.lock_stateid, { seqid: 0, other: Buffer.alloc(12) }] });
    expect(ts.tsr_status_codes).toEqual([N.NFS4_OK, N.NFS4ERR_OLD_STATEID, N.NFS4ERR_BAD_STATEID]);
    // another client's session cannot see the stateid
    expect((await ok<N.TEST_STATEID4resok>(ctx2, 'TEST_STATEID', { ts_stateids: [u] })).tsr_status_codes).toEqual([N.NFS4ERR_BAD_STATEID]);
    await ok(ctx, 'FREE_STATEID', { fsa_stateid: u });
    expect(await fails(ctx, 'FREE_STATEID', { fsa_stateid: u })).toBe(N.NFS4ERR_BAD_STATEID);
    await ok(ctx, 'CLOSE', { seqid: 0, open_stateid: openSid });
    expect(env.sm.stats().states).toBe(1); // the other client's open
  });

  it('EXCHANGE_ID advertises non-pNFS and refuses state protection', async () => {
    env = makeEnv();
    const ctx = ctxFor(1, undefined, 0);
    const args = (how: number): N.EXCHANGE_ID4args => ({
      eia_clientowner: { co_verifier: Buffer.alloc(8, 1), co_ownerid: Buffer.from('Linux NFSv4.1 kclient') },
      eia_flags: 0x101,
      eia_state_protect: how === N.SP4_NONE ? { spa_how: how } : { spa_how: how, spa_mach_ops: { spo_must_enforce: [], spo_must_allow: [] } },
      eia_client_impl_id: [],
    });
    const r = await ok<N.EXCHANGE_ID4resok>(ctx, 'EXCHANGE_ID', args(N.SP4_NONE));
    expect(r.eir_flags).toBe(N.EXCHGID4_FLAG_USE_NON_PNFS);
    expect(r.eir_server_owner.so_major_id.toString()).toBe('localefs');
    expect(await fails(ctx, 'EXCHANGE_ID', args(N.SP4_MACH_CRED))).toBe(N.NFS4ERR_NOTSUPP);
    expect(await fails(ctx, 'EXCHANGE_ID', { ...args(N.SP4_NONE), eia_flags: N.EXCHGID4_FLAG_CONFIRMED_R })).toBe(N.NFS4ERR_INVAL);
    expect(await fails(ctx, 'EXCHANGE_ID', { ...args(N.SP4_NONE), eia_flags: 0x4 })).toBe(N.NFS4ERR_INVAL);
    // channels on which nothing could ever fit
    const small = (req: number, resp: number): N.channel_attrs4 => ({
      ca_headerpadsize: 0,
      ca_maxrequestsize: req,
      ca_maxresponsesize: resp,
      ca_maxresponsesize_cached: 8192,
      ca_maxoperations: 8,
      ca_maxrequests: 8,
      ca_rdma_ird: [],
    });
    const csFor = async (fore: N.channel_attrs4, back: N.channel_attrs4) => {
      const x = await ok<N.EXCHANGE_ID4resok>(ctx, 'EXCHANGE_ID', { ...args(N.SP4_NONE), eia_clientowner: { co_verifier: Buffer.alloc(8), co_ownerid: Buffer.from('tiny') } });
      return run(ctx, 'CREATE_SESSION', { csa_clientid: x.eir_clientid, csa_sequence: x.eir_sequenceid, csa_flags: 0, csa_fore_chan_attrs: fore, csa_back_chan_attrs: back, csa_cb_program: 1, csa_sec_parms: [] });
    };
    expect(((await csFor(small(20, 8192), small(8192, 8192))) as NfsError).status).toBe(N.NFS4ERR_TOOSMALL);
    expect(((await csFor(small(8192, 0), small(8192, 8192))) as NfsError).status).toBe(N.NFS4ERR_TOOSMALL);
    expect(((await csFor(small(8192, 8192), small(10, 8192))) as NfsError).status).toBe(N.NFS4ERR_TOOSMALL);
    expect(await csFor(small(400, 400), small(8192, 8192))).not.toBeInstanceOf(NfsError);
    const cs = await ok<N.CREATE_SESSION4resok>(ctx, 'CREATE_SESSION', {
      csa_clientid: r.eir_clientid,
      csa_sequence: r.eir_sequenceid,
      csa_flags: N.CREATE_SESSION4_FLAG_PERSIST | N.CREATE_SESSION4_FLAG_CONN_BACK_CHAN,
      csa_fore_chan_attrs: { ca_headerpadsize: 0, ca_maxrequestsize: 1049620, ca_maxresponsesize: 1049480, ca_maxresponsesize_cached: 7584, ca_maxoperations: 8, ca_maxrequests: 64, ca_rdma_ird: [] },
      csa_back_chan_attrs: { ca_headerpadsize: 0, ca_maxrequestsize: 4096, ca_maxresponsesize: 4096, ca_maxresponsesize_cached: 0, ca_maxoperations: 2, ca_maxrequests: 16, ca_rdma_ird: [] },
      csa_cb_program: 0x40000000,
      csa_sec_parms: [{ cb_secflavor: 0 }],
    });
    expect(cs.csr_flags).toBe(0);
    const again = await ok<N.EXCHANGE_ID4resok>(ctx, 'EXCHANGE_ID', args(N.SP4_NONE));
    expect(again.eir_flags).toBe((N.EXCHGID4_FLAG_USE_NON_PNFS | N.EXCHGID4_FLAG_CONFIRMED_R) >>> 0);
    const b = await ok<N.BIND_CONN_TO_SESSION4resok>(ctx, 'BIND_CONN_TO_SESSION', { bctsa_sessid: cs.csr_sessionid, bctsa_dir: N.CDFC4_FORE_OR_BOTH, bctsa_use_conn_in_rdma_mode: false });
    expect(b.bctsr_dir).toBe(N.CDFS4_FORE);
    await ok(ctx, 'DESTROY_SESSION', { dsa_sessionid: cs.csr_sessionid });
    await ok(ctx, 'DESTROY_CLIENTID', { dca_clientid: r.eir_clientid });
  });
});

describe('OPEN and locks (4.0 seqids)', () => {
  it('new open-owners must confirm; replays return the cached reply; bad seqids are refused', async () => {
    env = makeEnv();
    const f = env.store.add(1, 'f', 'reg', 0o666);
    const cid = await mount40(env.sm);
    const ctx = ctxFor(0);
    await putroot(ctx);
    const o1 = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { seqid: 7, clientid: cid }));
    expect(o1.rflags & N.OPEN4_RESULT_CONFIRM).toBeTruthy();
    // unconfirmed: no I/O yet
    expect(await env.sm.resolveIo(o1.stateid, f.ino, false, 0).catch((e: NfsError) => e.status)).toBe(N.NFS4ERR_BAD_STATEID);
    // a retransmitted OPEN gets the same answer
    await putroot(ctx);
    const again = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { seqid: 7, clientid: cid }));
    expect(again).toBe(o1);
    expect(ctx.cfh!.ino).toBe(f.ino);

    const c1 = await ok<N.OPEN_CONFIRM4resok>(ctx, 'OPEN_CONFIRM', { open_stateid: o1.stateid, seqid: 8 });
    expect(c1.open_stateid.seqid).toBe(2);
    const c2 = await ok<N.OPEN_CONFIRM4resok>(ctx, 'OPEN_CONFIRM', { open_stateid: o1.stateid, seqid: 8 });
    expect(c2).toBe(c1);
    expect(await fails(ctx, 'OPEN_CONFIRM', { open_stateid: c1.open_stateid, seqid: 10 })).toBe(N.NFS4ERR_BAD_SEQID);
    await env.sm.resolveIo(c1.open_stateid, f.ino, true, 0);

    // a second OPEN by the confirmed owner needs no confirmation
    await putroot(ctx);
    const o2 = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { seqid: 9, clientid: cid, access: N.OPEN4_SHARE_ACCESS_READ }));
    expect(o2.rflags & N.OPEN4_RESULT_CONFIRM).toBe(0);
    expect(o2.stateid.seqid).toBe(3);

    // lock with a new lock-owner (sequenced by the open-owner), then by the lock-owner
    const l1 = await ok<N.LOCK4resok>(ctx, 'LOCK', {
      locktype: N.WRITE_LT,
      reclaim: false,
      offset: 0,
      length: 10,
      locker: { new_lock_owner: true, open_owner: { open_seqid: 10, open_stateid: o2.stateid, lock_seqid: 0, lock_owner: { clientid: cid, owner: Buffer.from('lo') } } },
    });
    const l1again = await ok<N.LOCK4resok>(ctx, 'LOCK', {
      locktype: N.WRITE_LT,
      reclaim: false,
      offset: 0,
      length: 10,
      locker: { new_lock_owner: true, open_owner: { open_seqid: 10, open_stateid: o2.stateid, lock_seqid: 0, lock_owner: { clientid: cid, owner: Buffer.from('lo') } } },
    });
    expect(l1again).toBe(l1);
    const l2 = await ok<N.LOCK4resok>(ctx, 'LOCK', {
      locktype: N.READ_LT,
      reclaim: false,
      offset: 20,
      length: 10,
      locker: { new_lock_owner: false, lock_owner: { lock_stateid: l1.lock_stateid, lock_seqid: 1 } },
    });
    expect(l2.lock_stateid.seqid).toBe(2);
    expect(
      await fails(ctx, 'LOCK', {
        locktype: N.READ_LT,
        reclaim: false,
        offset: 20,
        length: 10,
        locker: { new_lock_owner: false, lock_owner: { lock_stateid: l2.lock_stateid, lock_seqid: 5 } },
      }),
    ).toBe(N.NFS4ERR_BAD_SEQID);
    expect(await fails(ctx, 'RELEASE_LOCKOWNER', { lock_owner: { clientid: cid, owner: Buffer.from('lo') } })).toBe(N.NFS4ERR_LOCKS_HELD);
    const u = await ok<N.stateid4>(ctx, 'LOCKU', { locktype: N.WRITE_LT, seqid: 2, lock_stateid: l2.lock_stateid, offset: 0, length: 2 ** 64 });
    expect(u.seqid).toBe(3);
    await ok(ctx, 'RELEASE_LOCKOWNER', { lock_owner: { clientid: cid, owner: Buffer.from('lo') } });

    // CLOSE, and a retransmitted CLOSE after the state is gone
    const cl = await ok<N.stateid4>(ctx, 'CLOSE', { seqid: 11, open_stateid: o2.stateid });
    expect(cl.seqid).toBe(4);
    const cl2 = await ok<N.stateid4>(ctx, 'CLOSE', { seqid: 11, open_stateid: o2.stateid });
    expect(cl2).toBe(cl);
    expect(await fails(ctx, 'CLOSE', { seqid: 12, open_stateid: o2.stateid })).toBe(N.NFS4ERR_BAD_STATEID);
    expect(env.store.openFiles()).toEqual([]);
    // the owner is remembered for replays; it goes after a lease of idleness
    expect(env.sm.stats().idleOwners).toBe(1);
  });

  it('an unconfirmed owner that opens again starts over', async () => {
    env = makeEnv();
    env.store.add(1, 'f', 'reg', 0o666);
    const cid = await mount40(env.sm);
    const ctx = ctxFor(0);
    await putroot(ctx);
    const a = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { seqid: 1, clientid: cid }));
    await putroot(ctx);
    const b = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('f', { seqid: 100, clientid: cid }));
    expect(b.rflags & N.OPEN4_RESULT_CONFIRM).toBeTruthy();
    expect(b.stateid.other.equals(a.stateid.other)).toBe(false);
    expect(env.store.openFiles().length).toBe(1);
  });

  it('refuses an unknown clientid and 4.0-illegal claims', async () => {
    env = makeEnv();
    env.store.add(1, 'f', 'reg', 0o666);
    const cid = await mount40(env.sm);
    const ctx = ctxFor(0);
    await putroot(ctx);
    expect(await fails(ctx, 'OPEN', openArgs('f', { seqid: 1, clientid: Buffer.alloc(8, 3) }))).toBe(N.NFS4ERR_STALE_CLIENTID);
    expect(await fails(ctx, 'OPEN', openArgs('f', { seqid: 1, clientid: cid, claim: { claim: N.CLAIM_FH } }))).toBe(N.NFS4ERR_NOTSUPP);
    expect(await fails(ctx, 'RENEW', { clientid: Buffer.alloc(8, 3) })).toBe(N.NFS4ERR_STALE_CLIENTID);
    await ok(ctx, 'RENEW', { clientid: cid });
    expect(await fails(ctx, 'DELEGPURGE', { clientid: cid })).toBe(N.NFS4ERR_NOTSUPP);
  });
});

describe('reclaim after a restart', () => {
  it('4.0: CLAIM_PREVIOUS and reclaim LOCKs in grace (no OPEN_CONFIRM needed); new locks get GRACE, new opens do not (no deny modes)', async () => {
    const metaDir = tempDir();
    const clock = new Clock();
    const store = new FakeStore();
    const f = store.add(1, 'f', 'reg', 0o666);
    env = makeEnv({ metaDir, clock, store, leaseSeconds: 20 });
    await mount40(env.sm);
    await env.sm.shutdown();

    env = makeEnv({ metaDir, clock, store, leaseSeconds: 20 });
    expect(env.sm.inGrace()).toBe(true);
    const cid = await mount40(env.sm);
    const ctx = ctxFor(0);
    putfh(ctx, await store.getattr(f.ino));
    const claimPrev: N.open_claim4 = { claim: N.CLAIM_PREVIOUS, delegate_type: N.OPEN_DELEGATE_NONE };
    const o = await ok<N.OPEN4resok>(ctx, 'OPEN', openArgs('', { seqid: 40, clientid: cid, claim: claimPrev }));
    expect(o.rflags & N.OPEN4_RESULT_CONFIRM).toBe(0);
    await env.sm.resolveIo(o.stateid, f.ino, true, 0);
    const lockArgs = (reclaim: boolean, seqid: number): N.LOCK4args => ({
      locktype: N.WRITE_LT,
      reclaim,
      offset: 0,
      length: 100,
      locker: { new_lock_owner: true, open_owner: { open_seqid: seqid, open_stateid: o.stateid, lock_seqid: 1, lock_owner: { clientid: cid, owner: Buffer.from('lo') } } },
    });
    expect(await fails(ctx, 'LOCK', lockArgs(false, 41))).toBe(N.NFS4ERR_GRACE);
    const l = await ok<N.LOCK4resok>(ctx, 'LOCK', lockArgs(true, 42));
    expect(l.lock_stateid.seqid).toBe(1);
    await putroot(ctx);
    await ok(ctx, 'OPEN', openArgs('f', { seqid: 43, clientid: cid }));
    putfh(ctx, await store.getattr(f.ino));
    expect(await fails(ctx, 'LOCKT', { locktype: N.READ_LT, offset: 0, length: 1, owner: { clientid: cid, owner: Buffer.from('x') } })).toBe(
      N.NFS4ERR_GRACE,
    );
    clock.advance(10500);
    env.sm.renew(cid);
    clock.advance(10500);
    env.sm.renew(cid);
    expect(env.sm.inGrace()).toBe(false);
    putfh(ctx, await store.getattr(f.ino));
    expect(await fails(ctx, 'OPEN', openArgs('', { seqid: 44, clientid: cid, claim: claimPrev }))).toBe(N.NFS4ERR_NO_GRACE);
    await putroot(ctx);
    await ok(ctx, 'OPEN', openArgs('f', { seqid: 45, clientid: cid }));
  });

  it('4.1: a client unknown before the restart cannot reclaim', async () => {
    const metaDir = tempDir();
    const clock = new Clock();
    const store = new FakeStore();
    const f = store.add(1, 'f', 'reg', 0o666);
    env = makeEnv({ metaDir, clock, store });
    await mount41(env.sm, 'known');
    await env.sm.shutdown();
    env = makeEnv({ metaDir, clock, store });
    const stranger = await mount41(env.sm, 'stranger', Buffer.alloc(8, 1), false);
    const known = await mount41(env.sm, 'known', Buffer.alloc(8, 1), false);
    const claimPrev: N.open_claim4 = { claim: N.CLAIM_PREVIOUS, delegate_type: N.OPEN_DELEGATE_NONE };
    const c1 = ctxFor(1, stranger);
    putfh(c1, await store.getattr(f.ino));
    expect(await fails(c1, 'OPEN', openArgs('', { claim: claimPrev }))).toBe(N.NFS4ERR_NO_GRACE);
    const c2 = ctxFor(1, known);
    putfh(c2, await store.getattr(f.ino));
    await ok(c2, 'OPEN', openArgs('', { claim: claimPrev }));
    expect(env.sm.inGrace()).toBe(true);
    await ok(c2, 'RECLAIM_COMPLETE', { rca_one_fs: false });
    expect(env.sm.inGrace()).toBe(false);
    expect(await fails(c2, 'RECLAIM_COMPLETE', { rca_one_fs: false })).toBe(N.NFS4ERR_COMPLETE_ALREADY);
  });
});
