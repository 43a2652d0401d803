/**
 * NfsStateManager: the state layer behind one served file system. It builds
 * the parts and wires them together, runs the lease reaper, and answers the
 * StateManager interface the dispatcher and op handlers use by handing each
 * call to its part:
 *
 *   clients.ts       client records, their expiry and destruction
 *   client-id.ts     EXCHANGE_ID, CREATE_SESSION, SETCLIENTID(_CONFIRM), reclaim
 *   session-table.ts sessions by id, SEQUENCE (sessions.ts: channels, slots)
 *   owners.ts        open/lock-owners, 4.0 seqids and their replay cache
 *   stateid-table.ts stateid lookup and validation, TEST_STATEID
 *   opens.ts         OPEN/OPEN_CONFIRM/OPEN_DOWNGRADE/CLOSE, I/O through stateids
 *   lock-state.ts    lock stateids, LOCK/LOCKT/LOCKU/RELEASE_LOCKOWNER/FREE_STATEID
 *   lease.ts         lease expiry and renewal; grace.ts: grace period, durable records
 *
 * The state layer never touches the file system namespace: it holds the
 * OpenFile objects the store handed out and closes them when state ends.
 * Beyond the interface it exposes the steps the unit tests drive directly.
 */
import type { Logger } from 'pino';
import type { Identity, Store } from '../store/types.js';
import { ClientIds } from './client-id.js';
import { ClientTable } from './clients.js';
import { FileTable } from './files.js';
import { ClientRecords, Grace } from './grace.js';
import { Lease } from './lease.js';
import { LockStates } from './lock-state.js';
import { MAX_OPENS, MAX_OPENS_PER_CLIENT, Opens } from './opens.js';
import { OwnerTable } from './owners.js';
import { SessionTable } from './session-table.js';
import type { SessionImpl } from './sessions.js';
import { StateidTable } from './stateid-table.js';
import type { Client, LockOwner, LockState, OpenOwner, OpenState, State } from './model.js';
import type {
  CreateSessionRequest,
  CreateSessionResult,
  ExchangeIdResult,
  FindOptions,
  IoTarget,
  LockDenied,
  SequenceArgs,
  SequenceOutcome,
  Session,
  Slot,
  StateManager,
  StateidRef,
} from './types.js';

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

export class NfsStateManager implements StateManager {
  readonly leaseMs: number;
  readonly epoch: number;
  readonly now: () => number;
  private readonly lease: Lease;
  private readonly records: ClientRecords;
  private readonly grace: Grace;
  private readonly files = new FileTable();
  private readonly stateids: StateidTable;
  private readonly owners: OwnerTable;
  private readonly locks: LockStates;
  private readonly opens: Opens;
  private readonly sessions: SessionTable;
  private readonly clients: ClientTable;
  private readonly ids: ClientIds;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: NfsStateManagerOptions) {
    this.leaseMs = opts.leaseSeconds * 1000;
    this.now = opts.now ?? Date.now;
    const log = opts.log;
    const lease = (this.lease = new Lease(this.leaseMs, this.now));
    const records = (this.records = new ClientRecords(opts.metaDir, log));
    const { epoch, previousOwners } = records.start();
    this.epoch = epoch;
    records.setSource(() => this.clients.persistedOwners());
    const grace = (this.grace = new Grace(previousOwners, this.now() + this.leaseMs, this.now, () => this.clients.endGrace()));
    if (previousOwners.length > 0) {
      log.info({ clients: previousOwners.length, graceSeconds: opts.leaseSeconds }, 'grace period started');
    }
    // stateid lookups ask the client table, which is built last (it releases what the others hold)
    const stateids = (this.stateids = new StateidTable(epoch, {
      exists: (counter) => this.clients.exists(counter),
      renewByState: (c) => this.clients.renewByState(c),
    }));
    const owners = (this.owners = new OwnerTable(epoch, lease));
    const locks = (this.locks = new LockStates(epoch, stateids, this.files, owners));
    const opens = (this.opens = new Opens({
      epoch,
      store: opts.store,
      log,
      stateids,
      files: this.files,
      owners,
      locks,
      limits: { perClient: opts.maxOpensPerClient ?? MAX_OPENS_PER_CLIENT, total: opts.maxOpens ?? MAX_OPENS },
    }));
    const sessions = (this.sessions = new SessionTable(lease));
    const clients = (this.clients = new ClientTable({ epoch, lease, grace, records, log, sessions, opens, locks, owners, reap: () => this.reap() }));
    this.ids = new ClientIds({ clients, sessions, lease, grace, records });
    const interval = opts.reapIntervalMs ?? Math.max(1000, Math.floor(this.leaseMs / 4));
    if (interval > 0) {
      this.timer = setInterval(() => this.reap(), interval);
      this.timer.unref();
    }
  }

  // ---------------------------------------------------------------- leases, lifecycle

  /** Expires clients whose lease ran out and forgets idle 4.0 owners. Called by the timer. */
  reap(): void {
    if (this.closed) return;
    this.grace.inGrace();
    this.clients.expireSilent();
    this.owners.forgetIdle();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.opens.closeAll();
    await this.records.flush();
  }

  /** Waits until the client records on disk are up to date (tests, shutdown). */
  flush(): Promise<void> {
    return this.records.flush();
  }

  /** Counters for tests and metrics. */
  stats(): { clients: number; sessions: number; states: number; opens: number; files: number; idleOwners: number } {
    return {
      clients: this.clients.size,
      sessions: this.sessions.size,
      states: this.stateids.size,
      opens: this.opens.count,
      files: this.files.size,
      idleOwners: this.owners.idleCount,
    };
  }

  renewClient(c: Client): void {
    this.lease.renew(c);
  }

  // ---------------------------------------------------------------- grace

  inGrace(): boolean {
    return this.grace.inGrace();
  }

  mayReclaim(client: Client): boolean {
    return this.ids.mayReclaim(client);
  }

  reclaimComplete(session: Session, oneFs: boolean): void {
    this.ids.reclaimComplete(session, oneFs);
  }

  // ---------------------------------------------------------------- clients and sessions

  clientById(id: Buffer): Client | undefined {
    return this.clients.byId(id);
  }

  exchangeId(owner: Buffer, verifier: Buffer, update: boolean, principal: string): ExchangeIdResult {
    return this.ids.exchangeId(owner, verifier, update, principal);
  }

  createSession(req: CreateSessionRequest): Promise<CreateSessionResult> {
    return this.ids.createSession(req);
  }

  destroyClientId(id: Buffer, current: Session | undefined): void {
    this.ids.destroyClientId(id, current);
  }

  setClientId(owner: Buffer, verifier: Buffer, principal: string, cbNetid: string, cbAddr: string): { clientid: Buffer; confirm: Buffer } {
    return this.ids.setClientId(owner, verifier, principal, cbNetid, cbAddr);
  }

  setClientIdConfirm(id: Buffer, confirm: Buffer, principal: string): Promise<void> {
    return this.ids.setClientIdConfirm(id, confirm, principal);
  }

  confirmedClient40(id: Buffer): Client {
    return this.ids.confirmedClient40(id);
  }

  renew(id: Buffer): void {
    this.ids.confirmedClient40(id);
  }

  sessionById(id: Buffer): SessionImpl | undefined {
    return this.sessions.sessionById(id);
  }

  destroySession(id: Buffer): void {
    this.sessions.destroySession(id);
  }

  bindConnToSession(id: Buffer): SessionImpl {
    return this.sessions.bindConnToSession(id);
  }

  sessionClient(session: Session | undefined): Client {
    return this.sessions.sessionClient(session);
  }

  sequence(args: SequenceArgs, fingerprint: Buffer, _connId: number): SequenceOutcome {
    return this.sessions.sequence(args, fingerprint);
  }

  completeSlot(session: Session, slot: Slot, reply: Buffer, cacheThis: boolean): void {
    this.sessions.completeSlot(session, slot, reply, cacheThis);
  }

  // ---------------------------------------------------------------- owners

  withSeqid<T>(owner: OpenOwner | LockOwner, seqid: number, minor: number, op: string, fn: () => Promise<T> | T): Promise<T> {
    return this.owners.withSeqid(owner, seqid, minor, op, fn);
  }

  withOpenOwner<T>(client: Client, owner: Buffer, seqid: number, minor: number, fn: (owner: OpenOwner) => Promise<T>): Promise<T> {
    return this.opens.withOpenOwner(client, owner, seqid, minor, fn);
  }

  openOwner(client: Client, owner: Buffer): OpenOwner | undefined {
    return this.owners.openOwner(client, owner);
  }

  newOpenOwner(client: Client, owner: Buffer, seqid: number): OpenOwner {
    return this.opens.newOpenOwner(client, owner, seqid);
  }

  lockOwner(client: Client, owner: Buffer): LockOwner | undefined {
    return this.owners.lockOwner(client, owner);
  }

  // ---------------------------------------------------------------- stateids

  findState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): State {
    return this.stateids.find(sid, minor, client, opts);
  }

  findOpenState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): OpenState {
    return this.stateids.findOpen(sid, minor, client, opts);
  }

  findLockState(sid: StateidRef, minor: number, client?: Client, opts?: FindOptions): LockState {
    return this.stateids.findLock(sid, minor, client, opts);
  }

  checkStateSeqid(st: State, sid: StateidRef, minor: number): void {
    this.stateids.checkSeqid(st, sid, minor);
  }

  closedState(sid: StateidRef): OpenState | undefined {
    return this.owners.closedState(sid);
  }

  testStateid(client: Client, sid: StateidRef): number {
    return this.stateids.test(client, sid);
  }

  freeStateid(client: Client, sid: StateidRef): void {
    this.locks.freeStateid(client, sid);
  }

  resolveIo(stateid: StateidRef, ino: number, forWrite: boolean, minorVersion: number): Promise<IoTarget> {
    return this.opens.resolveIo(stateid, ino, forWrite, minorVersion);
  }

  // ---------------------------------------------------------------- opens

  withFile<T>(ino: number, fn: () => Promise<T>): Promise<T> {
    return this.files.withFile(ino, fn);
  }

  openState(owner: OpenOwner, ino: number, access: number, openedBy?: Identity): Promise<OpenState> {
    return this.opens.openState(owner, ino, access, openedBy);
  }

  confirmReclaimedOwner(owner: OpenOwner): void {
    this.opens.confirmReclaimedOwner(owner);
  }

  confirmOpen(st: OpenState): void {
    this.opens.confirmOpen(st);
  }

  downgrade(st: OpenState, access: number): void {
    this.opens.downgrade(st, access);
  }

  close(st: OpenState): Promise<void> {
    return this.opens.close(st);
  }

  // ---------------------------------------------------------------- locks

  withNewLockOwner<T>(open: OpenState, owner: Buffer, lockSeqid: number, minor: number, fn: (ls: LockState) => T): T {
    return this.locks.withNewLockOwner(open, owner, lockSeqid, minor, fn);
  }

  lockStateFor(open: OpenState, owner: Buffer, lockSeqid: number): LockState {
    return this.locks.lockStateFor(open, owner, lockSeqid);
  }

  lock(ls: LockState, locktype: number, offset: number, length: number): void {
    this.locks.lock(ls, locktype, offset, length);
  }

  testLock(client: Client, owner: Buffer, ino: number, locktype: number, offset: number, length: number): LockDenied | undefined {
    return this.locks.testLock(client, owner, ino, locktype, offset, length);
  }

  unlock(ls: LockState, offset: number, length: number): void {
    this.locks.unlock(ls, offset, length);
  }

  releaseLockOwner(client: Client, owner: Buffer): void {
    this.locks.releaseLockOwner(client, owner);
  }
}
