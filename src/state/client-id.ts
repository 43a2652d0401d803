/**
 * Establishing clients and sessions: EXCHANGE_ID and CREATE_SESSION
 * (RFC 8881 18.35, 18.36), SETCLIENTID and SETCLIENTID_CONFIRM (RFC 7530
 * 16.33, 16.34), the 4.0 clientid checks (RENEW and the ops that name a
 * clientid), DESTROY_CLIENTID, and reclaiming after a restart.
 */
import { randomBytes } from 'node:crypto';
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import { negotiateChannels, type SessionImpl } from './sessions.js';
import { MAX_SESSIONS_PER_CLIENT, type SessionTable } from './session-table.js';
import { ownerKeyOf, type ClientTable } from './clients.js';
import type { ClientRecords, Grace } from './grace.js';
import type { Lease } from './lease.js';
import type { Client } from './model.js';
import type { CreateSessionRequest, CreateSessionResult, ExchangeIdResult, Session } from './types.js';

export interface ClientIdsDeps {
  clients: ClientTable;
  sessions: SessionTable;
  lease: Lease;
  grace: Grace;
  records: ClientRecords;
}

export class ClientIds {
  constructor(private readonly d: ClientIdsDeps) {}

  /** RFC 8881 18.35.5 (EXCHANGE_ID, without the update flag or with it). */
  exchangeId(owner: Buffer, verifier: Buffer, update: boolean, principal: string): ExchangeIdResult {
    const { clients, lease } = this.d;
    const key = ownerKeyOf(1, owner);
    let conf = clients.confirmedOf(key);
    if (update) {
      if (!conf) throw new NfsError(N.NFS4ERR_NOENT, 'EXCHANGE_ID update without a confirmed record');
      if (!conf.verifier.equals(verifier)) throw new NfsError(N.NFS4ERR_NOT_SAME, 'EXCHANGE_ID update with another verifier');
      if (conf.principal !== principal) throw new NfsError(N.NFS4ERR_PERM, 'EXCHANGE_ID update by another principal');
      lease.renew(conf);
      return { clientid: conf.id, sequenceid: conf.csSeq + 1, confirmed: true };
    }
    if (conf && lease.expired(conf)) {
      clients.destroy(conf, 'lease expired');
      conf = undefined;
    }
    if (conf) {
      if (conf.principal !== principal) {
        // case 3: client collision
        if (clients.hasState(conf)) throw new NfsError(N.NFS4ERR_CLID_INUSE, 'owner in use by another principal');
        clients.destroy(conf, 'owner taken over by another principal');
        conf = undefined;
      } else if (conf.verifier.equals(verifier)) {
        // case 2: non-update on an existing confirmed client ID
        lease.renew(conf);
        return { clientid: conf.id, sequenceid: conf.csSeq + 1, confirmed: true };
      }
      // else case 5 (client restart): a new unconfirmed record next to the confirmed one,
      // which goes away when the new one is confirmed by CREATE_SESSION
    }
    // case 1 (new owner) or case 4 (replacement of an unconfirmed record)
    const unconf = clients.unconfirmedOf(key);
    if (unconf) clients.destroy(unconf, 'replaced by a new EXCHANGE_ID');
    else clients.checkLimit(N.NFS4ERR_DELAY);
    const c = clients.create(1, owner, verifier, principal);
    clients.setUnconfirmed(c);
    return { clientid: c.id, sequenceid: c.csSeq + 1, confirmed: false };
  }

  /** RFC 8881 18.36: sequence check, confirmation, channel negotiation. */
  async createSession(req: CreateSessionRequest): Promise<CreateSessionResult> {
    const c = this.d.clients.byId(req.clientid);
    if (!c || c.minor !== 1) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown client ID');
    if (!c.confirmed && c.principal !== req.principal) throw new NfsError(N.NFS4ERR_CLID_INUSE, 'CREATE_SESSION by another principal');
    if (req.sequence === c.csSeq && c.csReply) {
      if (c.csReply.ok) return c.csReply.value as CreateSessionResult;
      throw c.csReply.err;
    }
    const expected = c.csSeq === 0xffffffff ? 0 : c.csSeq + 1;
    if (req.sequence !== expected) throw new NfsError(N.NFS4ERR_SEQ_MISORDERED, `CREATE_SESSION seq ${req.sequence}, expected ${expected}`);
    // A refused CREATE_SESSION (e.g. TOOSMALL channel attributes) does not use up
    // its sequence number, so the client can retry corrected arguments (as knfsd does).
    const res = await this.openSession(c, req);
    c.csSeq = req.sequence;
    c.csReply = { op: 'CREATE_SESSION', ok: true, value: res };
    return res;
  }

  private async openSession(c: Client, req: CreateSessionRequest): Promise<CreateSessionResult> {
    if (c.sessions.size >= MAX_SESSIONS_PER_CLIENT) throw new NfsError(N.NFS4ERR_NOSPC, 'too many sessions');
    const { fore, back } = negotiateChannels(req.fore, req.back);
    if (!c.confirmed) {
      // case 5 of EXCHANGE_ID: the old incarnation and its state go now
      this.d.clients.confirm(c, 'replaced by a restarted client');
      await this.d.records.save();
      if (c.dead) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'client destroyed meanwhile');
    }
    // never PERSIST; no back channel use, so CONN_BACK_CHAN is not granted
    const flags = 0;
    const s = this.d.sessions.open(c, fore, back, flags);
    this.d.lease.renew(c);
    return { sessionid: s.id, sequence: req.sequence, flags, fore, back };
  }

  destroyClientId(id: Buffer, current: Session | undefined): void {
    const c = this.d.clients.byId(id);
    if (!c) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown client ID');
    if (this.d.clients.hasState(c) || (current && (current as SessionImpl).client === c)) {
      throw new NfsError(N.NFS4ERR_CLIENTID_BUSY, 'client still has sessions or state');
    }
    this.d.clients.destroy(c, 'DESTROY_CLIENTID');
  }

  /** RFC 7530 16.33.5. Returns the clientid and the confirm verifier. */
  setClientId(owner: Buffer, verifier: Buffer, principal: string, cbNetid: string, cbAddr: string): { clientid: Buffer; confirm: Buffer } {
    const { clients, lease } = this.d;
    const key = ownerKeyOf(0, owner);
    let conf = clients.confirmedOf(key);
    if (conf && lease.expired(conf)) {
      clients.destroy(conf, 'lease expired');
      conf = undefined;
    }
    if (conf && conf.principal !== principal) {
      if (clients.hasState(conf)) {
        const using = { na_r_netid: conf.cbNetid, na_r_addr: conf.cbAddr };
        throw new NfsError(N.NFS4ERR_CLID_INUSE, 'id in use by another principal', (w) => N.encode_clientaddr4(w, using));
      }
      clients.destroy(conf, 'id taken over by another principal');
      conf = undefined;
    }
    const unconf = clients.unconfirmedOf(key);
    if (unconf) clients.destroy(unconf, 'replaced by a new SETCLIENTID');
    const confirm = randomBytes(8);
    if (conf && conf.verifier.equals(verifier)) {
      // case 2: callback update for the confirmed record (same clientid)
      conf.pendingConfirm = confirm;
      lease.renew(conf);
      return { clientid: conf.id, confirm };
    }
    // case 1/3/4: a new unconfirmed record
    if (!unconf) clients.checkLimit(N.NFS4ERR_RESOURCE);
    const c = clients.create(0, owner, verifier, principal);
    c.confirmVerifier = confirm;
    c.cbNetid = cbNetid;
    c.cbAddr = cbAddr;
    clients.setUnconfirmed(c);
    return { clientid: c.id, confirm };
  }

  /** RFC 7530 16.34. */
  async setClientIdConfirm(id: Buffer, confirm: Buffer, principal: string): Promise<void> {
    const c = this.d.clients.byId(id);
    if (!c || c.minor !== 0) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown client ID');
    if (c.principal !== principal) throw new NfsError(N.NFS4ERR_CLID_INUSE, 'SETCLIENTID_CONFIRM by another principal');
    if (c.confirmed) {
      if (c.pendingConfirm && c.pendingConfirm.equals(confirm)) {
        c.confirmVerifier = c.pendingConfirm;
        c.pendingConfirm = undefined;
      } else if (!c.confirmVerifier || !c.confirmVerifier.equals(confirm)) {
        throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'confirm verifier mismatch');
      }
      this.d.lease.renew(c);
      return;
    }
    if (!c.confirmVerifier || !c.confirmVerifier.equals(confirm)) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'confirm verifier mismatch');
    this.d.clients.confirm(c, 'replaced by a rebooted client');
    this.d.lease.renew(c);
    await this.d.records.save();
  }

  /**
   * A 4.0 clientid named by an op (RENEW, OPEN, LOCKT, RELEASE_LOCKOWNER):
   * must be confirmed and alive. Renews the lease.
   */
  confirmedClient40(id: Buffer): Client {
    const c = this.d.clients.byId(id);
    if (!c || !c.confirmed || c.minor !== 0) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown or unconfirmed client ID');
    if (this.d.lease.expired(c)) {
      this.d.clients.destroy(c, 'lease expired');
      throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'lease expired');
    }
    this.d.lease.renew(c);
    return c;
  }

  /** Whether this client may reclaim (CLAIM_PREVIOUS, LOCK reclaim) now. */
  mayReclaim(client: Client): boolean {
    return client.reclaimable && !client.reclaimComplete && this.d.grace.mayReclaim(client.ownerKey);
  }

  reclaimComplete(session: Session, oneFs: boolean): void {
    const c = (session as SessionImpl).client;
    if (oneFs) return; // a single file system: the global RECLAIM_COMPLETE is what counts
    if (c.reclaimComplete) throw new NfsError(N.NFS4ERR_COMPLETE_ALREADY, 'RECLAIM_COMPLETE already done');
    c.reclaimComplete = true;
    c.reclaimable = false;
    this.d.grace.complete(c.ownerKey);
  }
}
