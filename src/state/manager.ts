/**
 * NfsStateManager: clients (4.1 EXCHANGE_ID/CREATE_SESSION, 4.0
 * SETCLIENTID/CONFIRM), sessions and slots, open and lock state, leases
 * (a reaper expires silent clients and releases everything they held),
 * 4.0 owner seqids with their replay cache, and the grace period after a
 * restart backed by durable client records in metaDir.
 *
 * The state layer never touches the file system namespace: it holds the
 * OpenFile objects the store handed out and closes them when state ends.
 * The op handlers in src/nfs4/ops/ (state-*.ts, open.ts, lock.ts) do the
 * decoding, name/permission work and call in here.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../nfs4/status.js';
import type { StateidRef } from '../nfs4/context.js';
import type { Identity, OpenFile, Store } from '../store/types.js';
import type { IoTarget, SequenceArgs, SequenceOutcome, Session, Slot, StateManager } from './types.js';
import { SessionImpl, SlotImpl, checkSlot, finishSlot, type ChannelAttrs } from './sessions.js';
import { ClientRecords, Grace } from './grace.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { applyLock, applyUnlock, findConflict, lockRange, rangeLength, releaseAll } from './locks.js';
import {
  TAG_LOCK,
  TAG_OPEN,
  isAnonymousStateid,
  isBypassStateid,
  isSpecialOther,
  makeClientId,
  makeSessionId,
  makeStateOther,
  nextSeqid,
  parseClientId,
  parseStateOther,
} from './stateids.js';
import {
  ACCESS_READ,
  ACCESS_WRITE,
  type Client,
  type FileState,
  type LockOwner,
  type LockRange,
  type LockState,
  type OpenOwner,
  type OpenState,
  type OwnerReply,
  type State,
} from './model.js';

export interface NfsStateManagerOptions {
  leaseSeconds: number;
  store: Store;
  metaDir: string;
  log: Logger;
  /** Clock in ms (tests inject a fake one). */
  now?: () => number;
  /** Reaper period in ms (default: a quarter lease, at least 1 s). 0 disables the timer (tests call reap()). */
  reapIntervalMs?: number;
  /** Open states one client may hold (default MAX_OPENS_PER_CLIENT, EFS's limit); beyond: NFS4ERR_DQUOT. */
  maxOpensPerClient?: number;
  /**
   * Open states all clients together may hold (default MAX_OPENS); beyond: NFS4ERR_RESOURCE
   * (4.0) / NFS4ERR_DELAY (4.1, which has no NFS4ERR_RESOURCE for OPEN). Opens hold no fds
   * (the store pools them), so this bounds memory, not descriptors.
   */
  maxOpens?: number;
}

/** EFS limits. */
export const MAX_OPENS_PER_CLIENT = 32768;
/** Open states of all clients together (not an EFS number: a server-wide bound, 8 clients at their limit). */
export const MAX_OPENS = 262144;
export const MAX_LOCKS_PER_FILE = 512;
export const MAX_LOCKS_PER_CLIENT = 8192;
export const MAX_SESSIONS_PER_CLIENT = 16;
/** Lock stateids (lock-owner x file) per client. */
export const MAX_LOCK_STATES_PER_CLIENT = 65536;
/** Client records (confirmed and unconfirmed) in all. */
export const MAX_CLIENTS = 65536;

/** Channel limits we grant. */
export const MAX_REQUEST_SIZE = 1048576 + 16384;
export const MAX_RESPONSE_SIZE = 1048576 + 16384;
export const MAX_RESPONSE_SIZE_CACHED = 64 * 1024;
export const MAX_OPERATIONS = 16;
export const MAX_REQUESTS = 64;
/** Smallest ca_maxrequestsize / ca_maxresponsesize that can carry a SEQUENCE (else NFS4ERR_TOOSMALL). */
export const MIN_CHANNEL_MESSAGE = 128;

/** 4.0 errors that do not advance an owner's seqid (RFC 7530 9.1.7). */
const SEQID_NEUTRAL = new Set<number>([
  N.NFS4ERR_STALE_CLIENTID,
  N.NFS4ERR_STALE_STATEID,
  N.NFS4ERR_BAD_STATEID,
  N.NFS4ERR_BAD_SEQID,
  N.NFS4ERR_BADXDR,
  N.NFS4ERR_RESOURCE,
  N.NFS4ERR_NOFILEHANDLE,
  N.NFS4ERR_MOVED,
]);

export interface ExchangeIdResult {
  clientid: Buffer;
  sequenceid: number;
  confirmed: boolean;
}

export interface CreateSessionRequest {
  clientid: Buffer;
  sequence: number;
  flags: number;
  fore: ChannelAttrs;
  back: ChannelAttrs;
  principal: string;
}

export interface CreateSessionResult {
  sessionid: Buffer;
  sequence: number;
  flags: number;
  fore: ChannelAttrs;
  back: ChannelAttrs;
}

export interface LockDenied {
  offset: number;
  length: number;
  locktype: number;
  owner: { clientid: Buffer; owner: Buffer };
}

function ownerKeyOf(minor: 0 | 1, owner: Buffer): string {
  return `${minor}:${owner.toString('base64')}`;
}

export interface FindOptions {
  /** false: skip the stateid seqid check (the caller does it after the owner-seqid replay check). */
  seqid?: boolean;
}

export function stateidOf(s: State): StateidRef {
  return { seqid: s.seqid, other: s.other };
}

export class NfsStateManager implements StateManager {
  readonly leaseMs: number;
  readonly epoch: number;
  private readonly store: Store;
  private readonly log: Logger;
  readonly now: () => number;
  private readonly records: ClientRecords;
  private readonly grace: Grace;
  private readonly fileMutex = new KeyedMutex<number>();

  private readonly clients = new Map<number, Client>();
  private readonly byOwner = new Map<string, { confirmed?: Client; unconfirmed?: Client }>();
  private readonly sessions = new Map<string, SessionImpl>();
  private readonly states = new Map<number, State>();
  private readonly files = new Map<number, FileState>();
  private readonly idleOwners = new Set<OpenOwner | LockOwner>();
  /** 4.0: each open-owner's last closed state, by state counter (CLOSE replay). */
  private readonly closed40 = new Map<number, OpenState>();
  private clientCounter = 0;
  private stateCounter = 0;
  private sessionCounter = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly pendingCloses = new Set<Promise<void>>();
  private closed = false;
  private readonly maxOpensPerClient: number;
  private readonly maxOpens: number;
  /** Open states of all clients. */
  private openTotal = 0;

  constructor(opts: NfsStateManagerOptions) {
    this.leaseMs = opts.leaseSeconds * 1000;
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.maxOpensPerClient = opts.maxOpensPerClient ?? MAX_OPENS_PER_CLIENT;
    this.maxOpens = opts.maxOpens ?? MAX_OPENS;
    this.records = new ClientRecords(opts.metaDir, opts.log);
    const { epoch, previousOwners } = this.records.start();
    this.epoch = epoch;
    this.records.setSource(() => this.persistedOwners());
    this.grace = new Grace(previousOwners, this.now() + this.leaseMs, this.now, () => this.onGraceEnd());
    if (previousOwners.length > 0) {
      this.log.info({ clients: previousOwners.length, graceSeconds: opts.leaseSeconds }, 'grace period started');
    }
    const interval = opts.reapIntervalMs ?? Math.max(1000, Math.floor(this.leaseMs / 4));
    if (interval > 0) {
      this.timer = setInterval(() => this.reap(), interval);
      this.timer.unref();
    }
  }

  // ---------------------------------------------------------------- grace

  inGrace(): boolean {
    return this.grace.inGrace();
  }

  private onGraceEnd(): void {
    this.log.info('grace period ended');
    for (const c of this.clients.values()) c.reclaimable = false;
    void this.records.save();
  }

  private persistedOwners(): string[] {
    const out = new Set<string>();
    for (const e of this.byOwner.values()) if (e.confirmed) out.add(e.confirmed.ownerKey);
    if (this.grace.inGrace()) for (const k of this.grace.previous) out.add(k);
    return [...out];
  }

  /** Waits until the client records on disk are up to date (tests, shutdown). */
  flush(): Promise<void> {
    return this.records.flush();
  }

  /** Whether this client may reclaim (CLAIM_PREVIOUS, LOCK reclaim) now. */
  mayReclaim(client: Client): boolean {
    return client.reclaimable && !client.reclaimComplete && this.grace.mayReclaim(client.ownerKey);
  }

  // ---------------------------------------------------------------- clients

  private nextClientCounter(): number {
    for (;;) {
      this.clientCounter = (this.clientCounter % 0xffffff) + 1;
      if (!this.clients.has(this.clientCounter)) return this.clientCounter;
    }
  }

  private newClient(minor: 0 | 1, owner: Buffer, verifier: Buffer, principal: string): Client {
    const counter = this.nextClientCounter();
    const ownerCopy = Buffer.from(owner);
    const c: Client = {
      id: makeClientId(this.epoch, counter),
      counter,
      minor,
      owner: ownerCopy,
      ownerKey: ownerKeyOf(minor, ownerCopy),
      verifier: Buffer.from(verifier),
      principal,
      confirmed: false,
      lastRenew: this.now(),
      dead: false,
      csSeq: 0,
      sessions: new Set(),
      reclaimComplete: false,
      cbNetid: '',
      cbAddr: '',
      reclaimable: false,
      openOwners: new Map(),
      lockOwners: new Map(),
      openCount: 0,
      lockCount: 0,
      lockStateCount: 0,
    };
    this.clients.set(counter, c);
    return c;
  }

  /** The owner's records, created on demand (only call when about to store a record). */
  private ownerEntry(key: string): { confirmed?: Client; unconfirmed?: Client } {
    let e = this.byOwner.get(key);
    if (!e) {
      e = {};
      this.byOwner.set(key, e);
    }
    return e;
  }

  private confirmedOf(key: string): Client | undefined {
    return this.byOwner.get(key)?.confirmed;
  }

  private unconfirmedOf(key: string): Client | undefined {
    return this.byOwner.get(key)?.unconfirmed;
  }

  /** A client record by clientid, or undefined (unknown, other boot, destroyed). */
  clientById(id: Buffer): Client | undefined {
    const p = parseClientId(id);
    if (!p || p.epoch !== this.epoch) return undefined;
    const c = this.clients.get(p.counter);
    return c && !c.dead && c.id.equals(id) ? c : undefined;
  }

  private leaseExpired(c: Client): boolean {
    if (this.now() - c.lastRenew <= this.leaseMs) return false;
    for (const s of c.sessions) for (const slot of s.slots) if (slot.inProgress) return false;
    return true;
  }

  renewClient(c: Client): void {
    c.lastRenew = this.now();
  }

  /** Whether the client still holds opens, locks or sessions (EXCHANGE_ID collision, DESTROY_CLIENTID). */
  private hasState(c: Client): boolean {
    return c.openCount > 0 || c.lockCount > 0 || c.sessions.size > 0;
  }

  /**
   * Destroys a client record with everything it holds: sessions, opens,
   * locks, owners. Open files are closed in the background (tracked for shutdown).
   */
  destroyClient(c: Client, why: string): void {
    if (c.dead) return;
    c.dead = true;
    this.clients.delete(c.counter);
    const e = this.byOwner.get(c.ownerKey);
    if (e) {
      if (e.confirmed === c) e.confirmed = undefined;
      if (e.unconfirmed === c) e.unconfirmed = undefined;
      if (!e.confirmed && !e.unconfirmed) this.byOwner.delete(c.ownerKey);
    }
    for (const s of c.sessions) {
      s.dead = true;
      this.sessions.delete(s.id.toString('hex'));
    }
    c.sessions.clear();
    const files: OpenFile[] = [];
    for (const oo of c.openOwners.values()) {
      for (const st of [...oo.opens.values()]) {
        this.dropOpenState(st);
        files.push(...filesOf(st));
      }
      if (oo.lastClosed) this.closed40.delete(oo.lastClosed.counter);
      oo.lastClosed = undefined;
      this.idleOwners.delete(oo);
    }
    for (const lo of c.lockOwners.values()) {
      for (const ls of [...lo.states.values()]) this.dropLockState(ls);
      this.idleOwners.delete(lo);
    }
    c.openOwners.clear();
    c.lockOwners.clear();
    if (files.length > 0) this.closeFiles(files);
    if (c.confirmed) void this.records.save();
    this.log.info({ clientid: c.id.toString('hex'), owner: c.owner.toString('latin1'), opens: files.length, why }, 'client state released');
  }

  private closeFiles(files: OpenFile[]): void {
    const p = (async () => {
      for (const f of files) {
        try {
          await this.store.close(f);
        } catch (err) {
          this.log.warn({ err, ino: f.ino }, 'close on state release failed');
        }
      }
    })();
    this.pendingCloses.add(p);
    void p.finally(() => this.pendingCloses.delete(p));
  }

  /** RFC 8881 18.35.5 (EXCHANGE_ID, without the update flag or with it). */
  exchangeId(owner: Buffer, verifier: Buffer, update: boolean, principal: string): ExchangeIdResult {
    const key = ownerKeyOf(1, owner);
    let conf = this.confirmedOf(key);
    if (update) {
      if (!conf) throw new NfsError(N.NFS4ERR_NOENT, 'EXCHANGE_ID update without a confirmed record');
      if (!conf.verifier.equals(verifier)) throw new NfsError(N.NFS4ERR_NOT_SAME, 'EXCHANGE_ID update with another verifier');
      if (conf.principal !== principal) throw new NfsError(N.NFS4ERR_PERM, 'EXCHANGE_ID update by another principal');
      this.renewClient(conf);
      return { clientid: conf.id, sequenceid: conf.csSeq + 1, confirmed: true };
    }
    if (conf && this.leaseExpired(conf)) {
      this.destroyClient(conf, 'lease expired');
      conf = undefined;
    }
    if (conf) {
      if (conf.principal !== principal) {
        // case 3: client collision
        if (this.hasState(conf)) throw new NfsError(N.NFS4ERR_CLID_INUSE, 'owner in use by another principal');
        this.destroyClient(conf, 'owner taken over by another principal');
        conf = undefined;
      } else if (conf.verifier.equals(verifier)) {
        // case 2: non-update on an existing confirmed client ID
        this.renewClient(conf);
        return { clientid: conf.id, sequenceid: conf.csSeq + 1, confirmed: true };
      }
      // else case 5 (client restart): a new unconfirmed record next to the confirmed one,
      // which goes away when the new one is confirmed by CREATE_SESSION
    }
    // case 1 (new owner) or case 4 (replacement of an unconfirmed record)
    const unconf = this.unconfirmedOf(key);
    if (unconf) this.destroyClient(unconf, 'replaced by a new EXCHANGE_ID');
    else this.checkClientLimit(N.NFS4ERR_DELAY);
    const c = this.newClient(1, owner, verifier, principal);
    this.ownerEntry(key).unconfirmed = c;
    return { clientid: c.id, sequenceid: c.csSeq + 1, confirmed: false };
  }

  /** Bounds the client table (unconfirmed records from a flood of EXCHANGE_ID/SETCLIENTID). */
  private checkClientLimit(status: number): void {
    if (this.clients.size < MAX_CLIENTS) return;
    this.reap();
    if (this.clients.size >= MAX_CLIENTS) throw new NfsError(status, 'too many clients');
  }

  /** RFC 8881 18.36: sequence check, confirmation, channel negotiation. */
  async createSession(req: CreateSessionRequest): Promise<CreateSessionResult> {
    const c = this.clientById(req.clientid);
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
    const res = await this.doCreateSession(c, req);
    c.csSeq = req.sequence;
    c.csReply = { op: 'CREATE_SESSION', ok: true, value: res };
    return res;
  }

  private async doCreateSession(c: Client, req: CreateSessionRequest): Promise<CreateSessionResult> {
    if (c.sessions.size >= MAX_SESSIONS_PER_CLIENT) throw new NfsError(N.NFS4ERR_NOSPC, 'too many sessions');
    const f = req.fore;
    const b = req.back;
    // a channel on which no request or reply could ever fit (RFC 8881 18.36.3)
    if (f.ca_maxrequests < 1 || f.ca_maxoperations < 1) throw new NfsError(N.NFS4ERR_TOOSMALL, 'fore channel without slots or ops');
    if (f.ca_maxrequestsize < MIN_CHANNEL_MESSAGE || f.ca_maxresponsesize < MIN_CHANNEL_MESSAGE) {
      throw new NfsError(N.NFS4ERR_TOOSMALL, 'fore channel message size too small');
    }
    if (b.ca_maxrequestsize < MIN_CHANNEL_MESSAGE || b.ca_maxresponsesize < MIN_CHANNEL_MESSAGE) {
      throw new NfsError(N.NFS4ERR_TOOSMALL, 'back channel message size too small');
    }
    const fore: ChannelAttrs = {
      ca_headerpadsize: 0,
      ca_maxrequestsize: Math.min(f.ca_maxrequestsize, MAX_REQUEST_SIZE),
      ca_maxresponsesize: Math.min(f.ca_maxresponsesize, MAX_RESPONSE_SIZE),
      ca_maxresponsesize_cached: Math.min(f.ca_maxresponsesize_cached, MAX_RESPONSE_SIZE_CACHED),
      ca_maxoperations: Math.min(f.ca_maxoperations, MAX_OPERATIONS),
      ca_maxrequests: Math.min(f.ca_maxrequests, MAX_REQUESTS),
      ca_rdma_ird: [],
    };
    const back: ChannelAttrs = {
      ca_headerpadsize: 0,
      ca_maxrequestsize: b.ca_maxrequestsize,
      ca_maxresponsesize: b.ca_maxresponsesize,
      ca_maxresponsesize_cached: b.ca_maxresponsesize_cached,
      ca_maxoperations: b.ca_maxoperations,
      ca_maxrequests: Math.max(1, Math.min(b.ca_maxrequests, 16)),
      ca_rdma_ird: [],
    };
    if (!c.confirmed) {
      const e = this.ownerEntry(c.ownerKey);
      // case 5 of EXCHANGE_ID: the old incarnation and its state go now
      if (e.confirmed && e.confirmed !== c) this.destroyClient(e.confirmed, 'replaced by a restarted client');
      const e2 = this.ownerEntry(c.ownerKey);
      if (e2.unconfirmed === c) e2.unconfirmed = undefined;
      e2.confirmed = c;
      c.confirmed = true;
      c.reclaimable = this.grace.mayReclaim(c.ownerKey);
      await this.records.save();
      if (c.dead) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'client destroyed meanwhile');
    }
    this.sessionCounter = (this.sessionCounter + 1) >>> 0;
    const id = makeSessionId(c.id, this.sessionCounter, randomInt(0, 0xffffffff));
    // never PERSIST; no back channel use, so CONN_BACK_CHAN is not granted
    const flags = 0;
    const s = new SessionImpl(id, c, fore, back, flags);
    this.sessions.set(id.toString('hex'), s);
    c.sessions.add(s);
    this.renewClient(c);
    return { sessionid: id, sequence: req.sequence, flags, fore, back };
  }

  sessionById(id: Buffer): SessionImpl | undefined {
    const s = this.sessions.get(id.toString('hex'));
    return s && !s.dead ? s : undefined;
  }

  destroySession(id: Buffer): void {
    const s = this.sessionById(id);
    if (!s) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    s.dead = true;
    this.sessions.delete(id.toString('hex'));
    s.client.sessions.delete(s);
    this.renewClient(s.client);
  }

  destroyClientId(id: Buffer, current: Session | undefined): void {
    const c = this.clientById(id);
    if (!c) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown client ID');
    if (this.hasState(c) || (current && (current as SessionImpl).client === c)) {
      throw new NfsError(N.NFS4ERR_CLIENTID_BUSY, 'client still has sessions or state');
    }
    this.destroyClient(c, 'DESTROY_CLIENTID');
  }

  bindConnToSession(id: Buffer): SessionImpl {
    const s = this.sessionById(id);
    if (!s) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    this.renewClient(s.client);
    return s;
  }

  reclaimComplete(session: Session, oneFs: boolean): void {
    const c = (session as SessionImpl).client;
    if (oneFs) return; // a single file system: the global RECLAIM_COMPLETE is what counts
    if (c.reclaimComplete) throw new NfsError(N.NFS4ERR_COMPLETE_ALREADY, 'RECLAIM_COMPLETE already done');
    c.reclaimComplete = true;
    c.reclaimable = false;
    this.grace.complete(c.ownerKey);
  }

  /** The client a 4.1 session belongs to. */
  sessionClient(session: Session | undefined): Client {
    const c = (session as SessionImpl | undefined)?.client;
    if (!c || c.dead) throw new NfsError(N.NFS4ERR_BADSESSION, 'no session');
    return c;
  }

  // ----- 4.0 client ID

  /** RFC 7530 16.33.5. Returns the clientid and the confirm verifier. */
  setClientId(owner: Buffer, verifier: Buffer, principal: string, cbNetid: string, cbAddr: string): { clientid: Buffer; confirm: Buffer } {
    const key = ownerKeyOf(0, owner);
    let conf = this.confirmedOf(key);
    if (conf && this.leaseExpired(conf)) {
      this.destroyClient(conf, 'lease expired');
      conf = undefined;
    }
    if (conf && conf.principal !== principal) {
      if (this.hasState(conf)) {
        const using = { na_r_netid: conf.cbNetid, na_r_addr: conf.cbAddr };
        throw new NfsError(N.NFS4ERR_CLID_INUSE, 'id in use by another principal', (w) => N.encode_clientaddr4(w, using));
      }
      this.destroyClient(conf, 'id taken over by another principal');
      conf = undefined;
    }
    const unconf = this.unconfirmedOf(key);
    if (unconf) this.destroyClient(unconf, 'replaced by a new SETCLIENTID');
    const confirm = randomBytes(8);
    if (conf && conf.verifier.equals(verifier)) {
      // case 2: callback update for the confirmed record (same clientid)
      conf.pendingConfirm = confirm;
      this.renewClient(conf);
      return { clientid: conf.id, confirm };
    }
    // case 1/3/4: a new unconfirmed record
    if (!unconf) this.checkClientLimit(N.NFS4ERR_RESOURCE);
    const c = this.newClient(0, owner, verifier, principal);
    c.confirmVerifier = confirm;
    c.cbNetid = cbNetid;
    c.cbAddr = cbAddr;
    this.ownerEntry(key).unconfirmed = c;
    return { clientid: c.id, confirm };
  }

  /** RFC 7530 16.34. */
  async setClientIdConfirm(id: Buffer, confirm: Buffer, principal: string): Promise<void> {
    const c = this.clientById(id);
    if (!c || c.minor !== 0) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown client ID');
    if (c.principal !== principal) throw new NfsError(N.NFS4ERR_CLID_INUSE, 'SETCLIENTID_CONFIRM by another principal');
    if (c.confirmed) {
      if (c.pendingConfirm && c.pendingConfirm.equals(confirm)) {
        c.confirmVerifier = c.pendingConfirm;
        c.pendingConfirm = undefined;
      } else if (!c.confirmVerifier || !c.confirmVerifier.equals(confirm)) {
        throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'confirm verifier mismatch');
      }
      this.renewClient(c);
      return;
    }
    if (!c.confirmVerifier || !c.confirmVerifier.equals(confirm)) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'confirm verifier mismatch');
    const e = this.ownerEntry(c.ownerKey);
    if (e.confirmed && e.confirmed !== c) this.destroyClient(e.confirmed, 'replaced by a rebooted client');
    const e2 = this.ownerEntry(c.ownerKey);
    if (e2.unconfirmed === c) e2.unconfirmed = undefined;
    e2.confirmed = c;
    c.confirmed = true;
    c.reclaimable = this.grace.mayReclaim(c.ownerKey);
    this.renewClient(c);
    await this.records.save();
  }

  /**
   * A 4.0 clientid named by an op (RENEW, OPEN, LOCKT, RELEASE_LOCKOWNER):
   * must be confirmed and alive. Renews the lease.
   */
  confirmedClient40(id: Buffer): Client {
    const c = this.clientById(id);
    if (!c || !c.confirmed || c.minor !== 0) throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'unknown or unconfirmed client ID');
    if (this.leaseExpired(c)) {
      this.destroyClient(c, 'lease expired');
      throw new NfsError(N.NFS4ERR_STALE_CLIENTID, 'lease expired');
    }
    this.renewClient(c);
    return c;
  }

  renew(id: Buffer): void {
    this.confirmedClient40(id);
  }

  // ---------------------------------------------------------------- SEQUENCE

  sequence(args: SequenceArgs, fingerprint: Buffer, _connId: number): SequenceOutcome {
    const s = this.sessionById(args.sa_sessionid);
    if (!s || s.client.dead) throw new NfsError(N.NFS4ERR_BADSESSION, 'unknown session');
    const d = checkSlot(s, args.sa_slotid, args.sa_sequenceid, fingerprint);
    if (d.kind === 'replay') return d;
    this.renewClient(s.client);
    const resok = {
      sr_sessionid: s.id,
      sr_sequenceid: args.sa_sequenceid,
      sr_slotid: args.sa_slotid,
      sr_highest_slotid: s.highestSlot,
      sr_target_highest_slotid: s.highestSlot,
      sr_status_flags: 0,
    };
    if (d.kind === 'uncached') return { kind: 'uncached', resok };
    return { kind: 'run', session: s, slot: d.slot, resok };
  }

  completeSlot(session: Session, slot: Slot, reply: Buffer, cacheThis: boolean): void {
    const s = session as SessionImpl;
    finishSlot(s, slot as SlotImpl, reply, cacheThis);
    if (!s.client.dead) this.renewClient(s.client);
  }

  // ---------------------------------------------------------------- owners and seqids

  private idle(o: OpenOwner | LockOwner): void {
    const empty = 'opens' in o ? o.opens.size === 0 : o.states.size === 0;
    if (!empty) {
      o.idleSince = 0;
      this.idleOwners.delete(o);
      return;
    }
    if (o.client.minor === 1) {
      // 4.1 owners carry no seqid: forget them as soon as they hold nothing
      this.forgetOwner(o);
      return;
    }
    o.idleSince = this.now();
    this.idleOwners.add(o);
  }

  private forgetOwner(o: OpenOwner | LockOwner): void {
    this.idleOwners.delete(o);
    if ('opens' in o) {
      if (o.lastClosed) this.closed40.delete(o.lastClosed.counter);
      o.lastClosed = undefined;
      if (o.client.openOwners.get(o.key) === o) o.client.openOwners.delete(o.key);
    } else if (o.client.lockOwners.get(o.key) === o) o.client.lockOwners.delete(o.key);
  }

  openOwner(client: Client, owner: Buffer): OpenOwner | undefined {
    return client.openOwners.get(owner.toString('hex'));
  }

  newOpenOwner(client: Client, owner: Buffer, seqid: number): OpenOwner {
    const key = owner.toString('hex');
    const old = client.openOwners.get(key);
    if (old) this.resetOpenOwner(old);
    const o: OpenOwner = {
      client,
      owner: Buffer.from(owner),
      key,
      seqid: (seqid - 1) >>> 0,
      confirmed: client.minor === 1,
      opens: new Map(),
      idleSince: 0,
    };
    client.openOwners.set(key, o);
    return o;
  }

  /** 4.0: an unconfirmed owner got a fresh OPEN: its earlier (never confirmed) opens are dropped. */
  resetOpenOwner(o: OpenOwner): void {
    const files: OpenFile[] = [];
    for (const st of [...o.opens.values()]) {
      this.dropOpenState(st);
      files.push(...filesOf(st));
    }
    if (files.length) this.closeFiles(files);
    this.forgetOwner(o);
  }

  /** Drops an owner created for an OPEN that failed (it never held state). */
  discardOpenOwnerIfEmpty(o: OpenOwner): void {
    if (o.opens.size === 0) this.forgetOwner(o);
  }

  lockOwner(client: Client, owner: Buffer): LockOwner | undefined {
    return client.lockOwners.get(owner.toString('hex'));
  }

  private getOrCreateLockOwner(client: Client, owner: Buffer, seqid: number): LockOwner {
    const key = owner.toString('hex');
    let o = client.lockOwners.get(key);
    if (!o) {
      o = { client, owner: Buffer.from(owner), key, seqid: (seqid - 1) >>> 0, states: new Map(), idleSince: 0 };
      client.lockOwners.set(key, o);
    }
    return o;
  }

  /**
   * Runs a seqid-mutating op for a 4.0 owner (RFC 7530 9.1.7): the owner's
   * last seqid replays its cached reply; the next one runs `fn`; anything
   * else is NFS4ERR_BAD_SEQID. The outcome is cached unless it is one of the
   * errors that leave the seqid alone. A retransmission of a request still
   * in progress gets NFS4ERR_DELAY; a replayed seqid of another op kind,
   * NFS4ERR_BAD_SEQID. 4.1 ignores seqids.
   */
  async withSeqid<T>(owner: OpenOwner | LockOwner, seqid: number, minor: number, op: string, fn: () => Promise<T> | T): Promise<T> {
    if (minor >= 1) return fn();
    seqid >>>= 0;
    if (owner.pending === seqid) throw new NfsError(N.NFS4ERR_DELAY, `seqid ${seqid} still in progress`);
    if (seqid === owner.seqid && owner.lastReply) {
      const r = owner.lastReply;
      if (r.op !== op) throw new NfsError(N.NFS4ERR_BAD_SEQID, `seqid ${seqid} was used by ${r.op}`);
      if (r.ok) return r.value as T;
      throw r.err;
    }
    if (seqid !== ((owner.seqid + 1) >>> 0) || owner.pending !== undefined) {
      throw new NfsError(N.NFS4ERR_BAD_SEQID, `seqid ${seqid}, expected ${(owner.seqid + 1) >>> 0}`);
    }
    owner.pending = seqid;
    try {
      const v = await fn();
      owner.seqid = seqid;
      owner.lastReply = { op, ok: true, value: v };
      return v;
    } catch (err) {
      if (err instanceof NfsError && !SEQID_NEUTRAL.has(err.status)) {
        owner.seqid = seqid;
        owner.lastReply = { op, ok: false, err };
      }
      throw err;
    } finally {
      owner.pending = undefined;
    }
  }

  // ---------------------------------------------------------------- stateids

  private nextStateCounter(): number {
    for (;;) {
      this.stateCounter = this.stateCounter >= 0xffffffff ? 1 : this.stateCounter + 1;
      if (!this.states.has(this.stateCounter)) return this.stateCounter;
    }
  }

  /**
   * Finds the state a (non-special) stateid names. `client` (4.1: the
   * session's client) must own it. Checks the seqid (4.1: 0 = current),
   * the epoch (STALE_STATEID in 4.0), the lease (EXPIRED), and renews
   * the lease of a 4.0 client.
   */
  findState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): State {
    const p = parseStateOther(sid.other);
    if (!p || isSpecialOther(sid.other)) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not a stateid of an open or lock');
    if (p.epoch !== this.epoch) {
      // an earlier boot's epoch is STALE (4.0); anything else is not ours at all
      const stale = minor === 0 && p.epoch !== 0 && p.epoch < this.epoch;
      throw new NfsError(stale ? N.NFS4ERR_STALE_STATEID : N.NFS4ERR_BAD_STATEID, 'stateid from another server instance');
    }
    if (p.tag !== TAG_OPEN && p.tag !== TAG_LOCK) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'unknown stateid type');
    const st = this.states.get(p.stateCounter);
    if (!st || st.dead || !st.other.equals(sid.other)) {
      if (!this.clients.has(p.clientCounter)) throw new NfsError(N.NFS4ERR_EXPIRED, 'state of a client that is gone');
      throw new NfsError(N.NFS4ERR_BAD_STATEID, 'unknown stateid');
    }
    if (client && st.client !== client) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'stateid of another client');
    if (st.client.dead) throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    if (opts?.seqid !== false) this.checkStateSeqid(st, sid, minor);
    if (st.client.minor === 0) {
      if (this.leaseExpired(st.client)) {
        this.destroyClient(st.client, 'lease expired');
        throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
      }
      this.renewClient(st.client);
    }
    return st;
  }

  /** The stateid's seqid against the state's (4.1: 0 means "the current one"). */
  checkStateSeqid(st: State, sid: StateidRef, minor: number): void {
    if (st.dead) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'state is gone');
    if (minor >= 1 && sid.seqid === 0) return;
    if (sid.seqid < st.seqid) throw new NfsError(N.NFS4ERR_OLD_STATEID, `stateid seqid ${sid.seqid} < ${st.seqid}`);
    if (sid.seqid > st.seqid) throw new NfsError(N.NFS4ERR_BAD_STATEID, `stateid seqid ${sid.seqid} > ${st.seqid}`);
  }

  /**
   * 4.0: the open state a stateid named before CLOSE removed it, while it is
   * still its owner's last closed state (so a retransmitted CLOSE can replay).
   */
  closedState(sid: StateidRef): OpenState | undefined {
    const p = parseStateOther(sid.other);
    if (!p || p.epoch !== this.epoch) return undefined;
    const st = this.closed40.get(p.stateCounter);
    return st && st.other.equals(sid.other) && st.owner.lastClosed === st ? st : undefined;
  }

  findOpenState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): OpenState {
    const st = this.findState(sid, minor, client, opts);
    if (st.kind !== 'open') throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not an open stateid');
    return st;
  }

  findLockState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): LockState {
    const st = this.findState(sid, minor, client, opts);
    if (st.kind !== 'lock') throw new NfsError(N.NFS4ERR_BAD_STATEID, 'not a lock stateid');
    return st;
  }

  async resolveIo(stateid: StateidRef, ino: number, forWrite: boolean, minorVersion: number): Promise<IoTarget> {
    // the READ bypass stateid counts as the anonymous one for WRITE/SETATTR (RFC 7530 9.1.4.3)
    if (isAnonymousStateid(stateid) || isBypassStateid(stateid)) {
      return { file: await this.store.sharedFile(ino, forWrite), shared: true };
    }
    const st = this.findState(stateid, minorVersion);
    const open = st.kind === 'lock' ? st.open : st;
    if (open.dead) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open state closed');
    if (st.ino !== ino) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'stateid is for another file');
    if (!open.owner.confirmed) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open not confirmed');
    if (forWrite && !(open.access & ACCESS_WRITE)) throw new NfsError(N.NFS4ERR_OPENMODE, 'open is read-only');
    return open.openedBy ? { file: open.openFile, shared: false, openedBy: open.openedBy } : { file: open.openFile, shared: false };
  }

  /** TEST_STATEID for one stateid of `client`. */
  testStateid(client: Client, sid: StateidRef): number {
    if (isAnonymousStateid(sid) || isBypassStateid(sid)) return N.NFS4ERR_BAD_STATEID;
    try {
      this.findState(sid, 1, client);
      return N.NFS4_OK;
    } catch (err) {
      if (err instanceof NfsError) return err.status;
      throw err;
    }
  }

  /** FREE_STATEID: frees a lock stateid that holds no locks. */
  freeStateid(client: Client, sid: StateidRef): void {
    const st = this.findState(sid, 1, client);
    if (st.kind === 'open') throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'open stateids are freed by CLOSE');
    if (st.held > 0) throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'lock stateid still holds locks');
    this.dropLockState(st);
    this.idle(st.owner);
  }

  // ---------------------------------------------------------------- opens

  private fileState(ino: number): FileState {
    let f = this.files.get(ino);
    if (!f) {
      f = { ino, opens: new Set(), locks: [] };
      this.files.set(ino, f);
    }
    return f;
  }

  private maybeDropFile(f: FileState): void {
    if (f.opens.size === 0 && f.locks.length === 0 && this.files.get(f.ino) === f) this.files.delete(f.ino);
  }

  /** Serializes async open-state work on one file. */
  withFile<T>(ino: number, fn: () => Promise<T>): Promise<T> {
    return this.fileMutex.run(ino, fn);
  }

  /**
   * OPEN's state part (call inside withFile): creates the owner's open state
   * for the file, or upgrades the existing one (reopening the fd read-write
   * when write access is added). Returns the state with its new seqid.
   */
  async openState(owner: OpenOwner, ino: number, access: number, openedBy?: Identity): Promise<OpenState> {
    const client = owner.client;
    if (client.dead) throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    const existing = owner.opens.get(ino);
    if (existing && !existing.dead) {
      const want = existing.access | access;
      if (want & ACCESS_WRITE && !existing.openFile.writable) {
        const f = await this.store.open(ino, true);
        if (existing.dead) {
          await this.store.close(f);
          throw new NfsError(N.NFS4ERR_EXPIRED, 'state released meanwhile');
        }
        // the read-only fd may still serve a READ in flight: retire it, close it with the state
        existing.retired.push(existing.openFile);
        existing.openFile = f;
      }
      existing.access = want;
      existing.accessSeen |= 1 << access;
      if (openedBy) existing.openedBy = openedBy;
      existing.seqid = nextSeqid(existing.seqid);
      return existing;
    }
    if (client.openCount >= this.maxOpensPerClient) throw new NfsError(N.NFS4ERR_DQUOT, 'too many open files for this client');
    if (this.openTotal >= this.maxOpens) {
      throw new NfsError(client.minor === 0 ? N.NFS4ERR_RESOURCE : N.NFS4ERR_DELAY, 'too many open files on this server');
    }
    const openFile = await this.store.open(ino, (access & ACCESS_WRITE) !== 0);
    if (client.dead) {
      await this.store.close(openFile);
      throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    }
    const counter = this.nextStateCounter();
    const file = this.fileState(ino);
    const st: OpenState = {
      kind: 'open',
      other: makeStateOther(this.epoch, TAG_OPEN, client.counter, counter),
      counter,
      seqid: 1,
      client,
      ino,
      file,
      dead: false,
      owner,
      access,
      accessSeen: 1 << access,
      openFile,
      retired: [],
      openedBy,
      locks: new Set(),
    };
    this.states.set(counter, st);
    file.opens.add(st);
    owner.opens.set(ino, st);
    client.openCount++;
    this.openTotal++;
    this.idle(owner);
    return st;
  }

  /** 4.0 OPEN_CONFIRM. */
  confirmOpen(st: OpenState): void {
    if (st.owner.confirmed) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open-owner already confirmed');
    st.owner.confirmed = true;
    st.seqid = nextSeqid(st.seqid);
  }

  /** OPEN_DOWNGRADE: access must be a subset of the current one and one the open was made with. */
  downgrade(st: OpenState, access: number): void {
    if (access < 1 || access > 3) throw new NfsError(N.NFS4ERR_INVAL, 'bad share_access');
    if ((access & st.access) !== access) throw new NfsError(N.NFS4ERR_INVAL, 'OPEN_DOWNGRADE is not a downgrade');
    if (access !== st.access && !(st.accessSeen & (1 << access))) throw new NfsError(N.NFS4ERR_INVAL, 'access never opened with');
    st.access = access;
    // forget modes that are no longer a subset of the access
    for (const a of [1, 2, 3]) if ((a & access) !== a) st.accessSeen &= ~(1 << a);
    st.accessSeen |= 1 << access;
    st.seqid = nextSeqid(st.seqid);
  }

  /** CLOSE: releases the open, its lock states and their locks, and closes the fd(s). */
  async close(st: OpenState): Promise<void> {
    if (st.dead) return; // released meanwhile (lease expiry): its files are being closed already
    st.seqid = nextSeqid(st.seqid);
    const lockOwners = [...st.locks].map((ls) => ls.owner);
    this.dropOpenState(st);
    if (st.client.minor === 0) {
      const prev = st.owner.lastClosed;
      if (prev) this.closed40.delete(prev.counter);
      st.owner.lastClosed = st;
      this.closed40.set(st.counter, st);
    }
    this.idle(st.owner);
    for (const lo of lockOwners) this.idle(lo);
    for (const f of filesOf(st)) {
      try {
        await this.store.close(f);
      } catch (err) {
        this.log.warn({ err, ino: st.ino }, 'close failed');
      }
    }
  }

  private dropOpenState(st: OpenState): void {
    if (st.dead) return;
    for (const ls of [...st.locks]) this.dropLockState(ls);
    st.dead = true;
    this.states.delete(st.counter);
    st.file.opens.delete(st);
    if (st.owner.opens.get(st.ino) === st) st.owner.opens.delete(st.ino);
    st.client.openCount--;
    this.openTotal--;
    this.maybeDropFile(st.file);
  }

  private dropLockState(ls: LockState): void {
    if (ls.dead) return;
    const n = releaseAll(ls.file, ls);
    ls.client.lockCount -= n;
    ls.dead = true;
    ls.client.lockStateCount--;
    this.states.delete(ls.counter);
    ls.open.locks.delete(ls);
    if (ls.owner.states.get(ls.ino) === ls) ls.owner.states.delete(ls.ino);
    this.maybeDropFile(ls.file);
  }

  // ---------------------------------------------------------------- locks

  /**
   * The lock state for (lock-owner, file of `open`), creating owner and state
   * as needed (LOCK with open_to_lock_owner4).
   */
  lockStateFor(open: OpenState, ownerBytes: Buffer, lockSeqid: number): LockState {
    const client = open.client;
    const lo = this.getOrCreateLockOwner(client, ownerBytes, lockSeqid);
    let ls = lo.states.get(open.ino);
    if (ls && !ls.dead) {
      if (ls.open !== open) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'lock-owner already locks this file under another open');
      return ls;
    }
    if (client.lockStateCount >= MAX_LOCK_STATES_PER_CLIENT) {
      this.idle(lo);
      throw new NfsError(N.NFS4ERR_DQUOT, 'too many lock-owners for this client');
    }
    const counter = this.nextStateCounter();
    ls = {
      kind: 'lock',
      other: makeStateOther(this.epoch, TAG_LOCK, client.counter, counter),
      counter,
      seqid: 0,
      client,
      ino: open.ino,
      file: open.file,
      dead: false,
      owner: lo,
      open,
      held: 0,
    };
    this.states.set(counter, ls);
    lo.states.set(open.ino, ls);
    open.locks.add(ls);
    client.lockStateCount++;
    this.idle(lo);
    return ls;
  }

  /** Undoes lockStateFor when the LOCK that created the state failed. */
  discardLockStateIfUnused(ls: LockState): void {
    if (ls.seqid === 0 && ls.held === 0) {
      this.dropLockState(ls);
      this.idle(ls.owner);
    }
  }

  private denied(r: LockRange): LockDenied {
    return {
      offset: r.start,
      length: rangeLength(r),
      locktype: r.write ? N.WRITE_LT : N.READ_LT,
      owner: { clientid: r.state.client.id, owner: r.state.owner.owner },
    };
  }

  /**
   * LOCK on an existing lock state. Throws NFS4ERR_DENIED with a LOCK4denied
   * body, NFS4ERR_OPENMODE, NFS4ERR_INVAL (range), NFS4ERR_DQUOT (limits).
   */
  lock(ls: LockState, locktype: number, offset: number, length: number): void {
    const write = isWriteLock(locktype);
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const open = ls.open;
    if (write && !(open.access & ACCESS_WRITE)) throw new NfsError(N.NFS4ERR_OPENMODE, 'write lock on a read-only open');
    if (!write && !(open.access & ACCESS_READ)) throw new NfsError(N.NFS4ERR_OPENMODE, 'read lock on a write-only open');
    const conflict = findConflict(ls.file, (r) => r.state === ls, range.start, range.end, write);
    if (conflict) {
      const d = this.denied(conflict);
      throw new NfsError(N.NFS4ERR_DENIED, 'lock conflict', (w) => N.encode_LOCK4denied(w, d));
    }
    const before = ls.file.locks;
    const heldBefore = ls.held;
    const delta = applyLock(ls.file, ls, range.start, range.end, write, MAX_LOCKS_PER_FILE);
    if (delta === undefined) throw new NfsError(N.NFS4ERR_DQUOT, 'too many locks on this file');
    if (delta > 0 && ls.client.lockCount + delta > MAX_LOCKS_PER_CLIENT) {
      ls.file.locks = before;
      ls.held = heldBefore;
      throw new NfsError(N.NFS4ERR_DQUOT, 'too many locks for this client');
    }
    ls.client.lockCount += delta;
    ls.seqid = nextSeqid(ls.seqid);
    this.idle(ls.owner);
  }

  /** LOCKT: the conflicting lock, if any, for a (possibly unknown) owner of `client`. */
  testLock(client: Client, ownerBytes: Buffer, ino: number, locktype: number, offset: number, length: number): LockDenied | undefined {
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const f = this.files.get(ino);
    if (!f) return undefined;
    const key = ownerBytes.toString('hex');
    const conflict = findConflict(
      f,
      (r) => r.state.client === client && r.state.owner.key === key,
      range.start,
      range.end,
      isWriteLock(locktype),
    );
    return conflict ? this.denied(conflict) : undefined;
  }

  /** LOCKU. */
  unlock(ls: LockState, offset: number, length: number): void {
    const range = lockRange(offset, length);
    if (!range.ok) throw new NfsError(N.NFS4ERR_INVAL, 'bad lock range');
    const delta = applyUnlock(ls.file, ls, range.start, range.end);
    ls.client.lockCount += delta;
    ls.seqid = nextSeqid(ls.seqid);
    this.maybeDropFile(ls.file);
  }

  /** RELEASE_LOCKOWNER (4.0). */
  releaseLockOwner(client: Client, ownerBytes: Buffer): void {
    const lo = this.lockOwner(client, ownerBytes);
    if (!lo) return;
    for (const ls of lo.states.values()) if (ls.held > 0) throw new NfsError(N.NFS4ERR_LOCKS_HELD, 'lock-owner still holds locks');
    for (const ls of [...lo.states.values()]) this.dropLockState(ls);
    this.forgetOwner(lo);
  }

  // ---------------------------------------------------------------- leases

  /** Expires clients whose lease ran out and forgets idle 4.0 owners. Called by the timer. */
  reap(): void {
    if (this.closed) return;
    this.grace.inGrace();
    for (const c of [...this.clients.values()]) {
      if (c.dead) continue;
      if (this.leaseExpired(c)) this.destroyClient(c, c.confirmed ? 'lease expired' : 'unconfirmed record expired');
    }
    const t = this.now();
    for (const o of [...this.idleOwners]) {
      if (o.idleSince && t - o.idleSince > this.leaseMs) this.forgetOwner(o);
    }
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const files: OpenFile[] = [];
    for (const st of this.states.values()) if (st.kind === 'open' && !st.dead) files.push(...filesOf(st));
    await Promise.all([...this.pendingCloses]);
    for (const f of files) {
      try {
        await this.store.close(f);
      } catch (err) {
        this.log.warn({ err, ino: f.ino }, 'close at shutdown failed');
      }
    }
    await this.records.flush();
  }

  /** Counters for tests and metrics. */
  stats(): { clients: number; sessions: number; states: number; opens: number; files: number; idleOwners: number } {
    return {
      clients: this.clients.size,
      sessions: this.sessions.size,
      states: this.states.size,
      opens: this.openTotal,
      files: this.files.size,
      idleOwners: this.idleOwners.size,
    };
  }
}

function filesOf(st: OpenState): OpenFile[] {
  return st.retired.length ? [st.openFile, ...st.retired] : [st.openFile];
}

export function isWriteLock(locktype: number): boolean {
  return locktype === N.WRITE_LT || locktype === N.WRITEW_LT;
}
