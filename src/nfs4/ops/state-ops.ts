/**
 * Client ID, session and lease ops (RFC 8881 18.35-18.51, RFC 7530 16.33-16.34),
 * and the delegation and named-attribute ops this server answers without
 * offering either. OPEN/CLOSE/... are in open.ts, byte-range locks in lock.ts;
 * all are registered by the op table (../optable.ts).
 */
import * as N from '../../xdr/gen/nfs4.js';
import type { XdrReader } from '../../xdr/reader.js';
import type { XdrWriter } from '../../xdr/writer.js';
import type { OpImpl } from '../optable-types.js';
import { NfsError } from '../../protocol/status.js';
import { argStateid, principalOf, sessionClientOrUndefined } from './state-common.js';
import { refuseSpecialStateid } from './guards.js';

/** eia_flags a 4.1 client may send (RFC 8881 18.35.3); anything else is NFS4ERR_INVAL. */
const EXCHGID_FLAGS_ALLOWED =
  N.EXCHGID4_FLAG_SUPP_MOVED_REFER |
  N.EXCHGID4_FLAG_SUPP_MOVED_MIGR |
  N.EXCHGID4_FLAG_BIND_PRINC_STATEID |
  N.EXCHGID4_FLAG_MASK_PNFS |
  N.EXCHGID4_FLAG_UPD_CONFIRMED_REC_A;

const CREATE_SESSION_FLAGS_ALLOWED =
  N.CREATE_SESSION4_FLAG_PERSIST | N.CREATE_SESSION4_FLAG_CONN_BACK_CHAN | N.CREATE_SESSION4_FLAG_CONN_RDMA;

const IMPL_ID: N.nfs_impl_id4 = { nii_domain: 'localefs', nii_name: 'localefs NFSv4.1 server', nii_date: { seconds: 0, nseconds: 0 } };

export const EXCHANGE_ID: OpImpl<N.EXCHANGE_ID4args, N.EXCHANGE_ID4resok> = {
  decode: (r: XdrReader) => N.decode_EXCHANGE_ID4args(r),
  run(ctx, a) {
    const sm = ctx.server.state;
    if (a.eia_flags & ~EXCHGID_FLAGS_ALLOWED || a.eia_flags & N.EXCHGID4_FLAG_CONFIRMED_R) {
      throw new NfsError(N.NFS4ERR_INVAL, `eia_flags 0x${(a.eia_flags >>> 0).toString(16)}`);
    }
    const how = a.eia_state_protect.spa_how;
    if (how === N.SP4_SSV) throw new NfsError(N.NFS4ERR_ENCR_ALG_UNSUPP, 'SP4_SSV not supported');
    if (how !== N.SP4_NONE) throw new NfsError(N.NFS4ERR_NOTSUPP, 'only SP4_NONE state protection');
    const { co_ownerid, co_verifier } = a.eia_clientowner;
    if (co_ownerid.length === 0) throw new NfsError(N.NFS4ERR_INVAL, 'empty co_ownerid');
    const update = (a.eia_flags & N.EXCHGID4_FLAG_UPD_CONFIRMED_REC_A) !== 0;
    const r = sm.exchangeId(co_ownerid, co_verifier, update, principalOf(ctx));
    const cfg = ctx.server.config;
    return {
      eir_clientid: r.clientid,
      eir_sequenceid: r.sequenceid,
      eir_flags: (N.EXCHGID4_FLAG_USE_NON_PNFS | (r.confirmed ? N.EXCHGID4_FLAG_CONFIRMED_R : 0)) >>> 0,
      eir_state_protect: { spr_how: N.SP4_NONE },
      eir_server_owner: { so_minor_id: 0, so_major_id: Buffer.from(cfg.serverOwner, 'utf8') },
      eir_server_scope: Buffer.from(cfg.serverScope, 'utf8'),
      eir_server_impl_id: [IMPL_ID],
    };
  },
  encode: (w: XdrWriter, res) => N.encode_EXCHANGE_ID4resok(w, res),
};

export const CREATE_SESSION: OpImpl<N.CREATE_SESSION4args, N.CREATE_SESSION4resok> = {
  decode: (r) => N.decode_CREATE_SESSION4args(r),
  async run(ctx, a) {
    const sm = ctx.server.state;
    if (a.csa_flags & ~CREATE_SESSION_FLAGS_ALLOWED) throw new NfsError(N.NFS4ERR_INVAL, `csa_flags 0x${a.csa_flags.toString(16)}`);
    const r = await sm.createSession({
      clientid: a.csa_clientid,
      sequence: a.csa_sequence,
      flags: a.csa_flags,
      fore: a.csa_fore_chan_attrs,
      back: a.csa_back_chan_attrs,
      principal: principalOf(ctx),
    });
    return {
      csr_sessionid: r.sessionid,
      csr_sequence: r.sequence,
      csr_flags: r.flags,
      csr_fore_chan_attrs: r.fore,
      csr_back_chan_attrs: r.back,
    };
  },
  encode: (w, res) => N.encode_CREATE_SESSION4resok(w, res),
};

export const DESTROY_SESSION: OpImpl<N.DESTROY_SESSION4args, void> = {
  decode: (r) => N.decode_DESTROY_SESSION4args(r),
  run(ctx, a) {
    ctx.server.state.destroySession(a.dsa_sessionid);
  },
};

export const DESTROY_CLIENTID: OpImpl<N.DESTROY_CLIENTID4args, void> = {
  decode: (r) => N.decode_DESTROY_CLIENTID4args(r),
  run(ctx, a) {
    ctx.server.state.destroyClientId(a.dca_clientid, ctx.session);
  },
};

export const BIND_CONN_TO_SESSION: OpImpl<N.BIND_CONN_TO_SESSION4args, N.BIND_CONN_TO_SESSION4resok> = {
  decode: (r) => N.decode_BIND_CONN_TO_SESSION4args(r),
  run(ctx, a) {
    const s = ctx.server.state.bindConnToSession(a.bctsa_sessid);
    switch (a.bctsa_dir) {
      case N.CDFC4_FORE:
      case N.CDFC4_FORE_OR_BOTH:
      case N.CDFC4_BACK_OR_BOTH:
        break;
      case N.CDFC4_BACK:
        // no back channel: callbacks are never used
        throw new NfsError(N.NFS4ERR_INVAL, 'back channel not supported');
      default:
        throw new NfsError(N.NFS4ERR_INVAL, `bctsa_dir ${a.bctsa_dir}`);
    }
    if (a.bctsa_use_conn_in_rdma_mode) {
      // we are TCP only; the answer says the connection is not in RDMA mode
    }
    return { bctsr_sessid: s.id, bctsr_dir: N.CDFS4_FORE, bctsr_use_conn_in_rdma_mode: false };
  },
  encode: (w, res) => N.encode_BIND_CONN_TO_SESSION4resok(w, res),
};

export const RECLAIM_COMPLETE: OpImpl<N.RECLAIM_COMPLETE4args, void> = {
  decode: (r) => N.decode_RECLAIM_COMPLETE4args(r),
  run(ctx, a) {
    if (a.rca_one_fs && !ctx.cfh) throw new NfsError(N.NFS4ERR_NOFILEHANDLE, 'RECLAIM_COMPLETE(one_fs) needs a filehandle');
    const sm = ctx.server.state;
    if (!ctx.session) throw new NfsError(N.NFS4ERR_OP_NOT_IN_SESSION, 'RECLAIM_COMPLETE');
    sm.reclaimComplete(ctx.session, a.rca_one_fs);
  },
};

export const TEST_STATEID: OpImpl<N.TEST_STATEID4args, N.TEST_STATEID4resok> = {
  decode: (r) => N.decode_TEST_STATEID4args(r),
  run(ctx, a) {
    const sm = ctx.server.state;
    const client = sm.sessionClient(ctx.session);
    return { tsr_status_codes: a.ts_stateids.map((sid) => sm.testStateid(client, sid)) };
  },
  encode: (w, res) => N.encode_TEST_STATEID4resok(w, res),
};

export const FREE_STATEID: OpImpl<N.FREE_STATEID4args, void> = {
  decode: (r) => N.decode_FREE_STATEID4args(r),
  run(ctx, a) {
    const sm = ctx.server.state;
    const sid = argStateid(ctx, a.fsa_stateid);
    refuseSpecialStateid(sid);
    sm.freeStateid(sm.sessionClient(ctx.session), sid);
  },
};

// ------------------------------------------------------------------ 4.0 client ID

export const SETCLIENTID: OpImpl<N.SETCLIENTID4args, N.SETCLIENTID4resok> = {
  decode: (r) => N.decode_SETCLIENTID4args(r),
  run(ctx, a) {
    if (a.client.id.length === 0) throw new NfsError(N.NFS4ERR_INVAL, 'empty client id');
    // the callback is recorded for CLID_INUSE answers only: this server never dials clients
    const r = ctx.server.state.setClientId(
      a.client.id,
      a.client.verifier,
      principalOf(ctx),
      a.callback.cb_location.na_r_netid,
      a.callback.cb_location.na_r_addr,
    );
    return { clientid: r.clientid, setclientid_confirm: r.confirm };
  },
  encode: (w, res) => N.encode_SETCLIENTID4resok(w, res),
};

export const SETCLIENTID_CONFIRM: OpImpl<N.SETCLIENTID_CONFIRM4args, void> = {
  decode: (r) => N.decode_SETCLIENTID_CONFIRM4args(r),
  async run(ctx, a) {
    await ctx.server.state.setClientIdConfirm(a.clientid, a.setclientid_confirm, principalOf(ctx));
  },
};

export const RENEW: OpImpl<N.RENEW4args, void> = {
  decode: (r) => N.decode_RENEW4args(r),
  run(ctx, a) {
    ctx.server.state.renew(a.clientid);
  },
};

// ------------------------------------------------------------------ delegations (never granted)

export const DELEGRETURN: OpImpl<N.DELEGRETURN4args, void> = {
  decode: (r) => N.decode_DELEGRETURN4args(r),
  run(ctx, a) {
    const sid = argStateid(ctx, a.deleg_stateid);
    refuseSpecialStateid(sid);
    // no delegation is ever handed out: a known open/lock stateid is still not a delegation
    ctx.server.state.findState(sid, ctx.minorVersion, sessionClientOrUndefined(ctx));
    throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not a delegation stateid');
  },
};

export const DELEGPURGE: OpImpl<N.DELEGPURGE4args, void> = {
  decode: (r) => N.decode_DELEGPURGE4args(r),
  run() {
    throw new NfsError(N.NFS4ERR_NOTSUPP, 'no delegations (CLAIM_DELEGATE_PREV unsupported)');
  },
};

export const OPENATTR: OpImpl<N.OPENATTR4args, void> = {
  decode: (r) => N.decode_OPENATTR4args(r),
  run() {
    throw new NfsError(N.NFS4ERR_NOTSUPP, 'named attributes are not supported');
  },
};
