/**
 * The client records: by clientid and by owner (at most one confirmed and
 * one unconfirmed record per owner), their creation and confirmation (which
 * replaces an earlier incarnation), expiry, and destruction with all the
 * state they hold; and the owners persisted so they may reclaim after a
 * restart.
 */
import type { Logger } from 'pino';
import { NfsError } from '../protocol/status.js';
import * as N from '../xdr/gen/nfs4.js';
import { makeClientId, parseClientId } from './stateids.js';
import type { ClientRecords, Grace } from './grace.js';
import type { Lease } from './lease.js';
import type { LockStates } from './lock-state.js';
import type { Client } from './model.js';
import type { Opens } from './opens.js';
import type { OwnerTable } from './owners.js';
import type { SessionTable } from './session-table.js';
import type { StateClients } from './stateid-table.js';

/** Client records (confirmed and unconfirmed) in all. */
export const MAX_CLIENTS = 65536;

export function ownerKeyOf(minor: 0 | 1, owner: Buffer): string {
  return `${minor}:${owner.toString('base64')}`;
}

export interface ClientTableDeps {
  epoch: number;
  lease: Lease;
  grace: Grace;
  records: ClientRecords;
  log: Logger;
  sessions: SessionTable;
  opens: Opens;
  locks: LockStates;
  owners: OwnerTable;
  /** Expires silent clients (called when the table is full, before refusing a new record). */
  reap: () => void;
}

export class ClientTable implements StateClients {
  private readonly clients = new Map<number, Client>();
  private readonly byOwner = new Map<string, { confirmed?: Client; unconfirmed?: Client }>();
  private counter = 0;

  constructor(private readonly d: ClientTableDeps) {}

  get size(): number {
    return this.clients.size;
  }

  private nextCounter(): number {
    for (;;) {
      this.counter = (this.counter % 0xffffff) + 1;
      if (!this.clients.has(this.counter)) return this.counter;
    }
  }

  /** A new (unconfirmed, not yet indexed by owner) client record. */
  create(minor: 0 | 1, owner: Buffer, verifier: Buffer, principal: string): Client {
    const counter = this.nextCounter();
    const ownerCopy = Buffer.from(owner);
    const c: Client = {
      id: makeClientId(this.d.epoch, counter),
      counter,
      minor,
      owner: ownerCopy,
      ownerKey: ownerKeyOf(minor, ownerCopy),
      verifier: Buffer.from(verifier),
      principal,
      confirmed: false,
      lastRenew: this.d.lease.now(),
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

  confirmedOf(key: string): Client | undefined {
    return this.byOwner.get(key)?.confirmed;
  }

  unconfirmedOf(key: string): Client | undefined {
    return this.byOwner.get(key)?.unconfirmed;
  }

  /** Files `c` as its owner's unconfirmed record. */
  setUnconfirmed(c: Client): void {
    this.ownerEntry(c.ownerKey).unconfirmed = c;
  }

  /**
   * Makes `c` its owner's confirmed record; an earlier confirmed record of the
   * owner (a previous incarnation of the client) goes, with its state.
   */
  confirm(c: Client, why: string): void {
    const e = this.ownerEntry(c.ownerKey);
    if (e.confirmed && e.confirmed !== c) this.destroy(e.confirmed, why);
    const e2 = this.ownerEntry(c.ownerKey);
    if (e2.unconfirmed === c) e2.unconfirmed = undefined;
    e2.confirmed = c;
    c.confirmed = true;
    c.reclaimable = this.d.grace.mayReclaim(c.ownerKey);
  }

  /** A client record by clientid, or undefined (unknown, other boot, destroyed). */
  byId(id: Buffer): Client | undefined {
    const p = parseClientId(id);
    if (!p || p.epoch !== this.d.epoch) return undefined;
    const c = this.clients.get(p.counter);
    return c && !c.dead && c.id.equals(id) ? c : undefined;
  }

  exists(counter: number): boolean {
    return this.clients.has(counter);
  }

  renewByState(c: Client): void {
    if (this.d.lease.expired(c)) {
      this.destroy(c, 'lease expired');
      throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    }
    this.d.lease.renew(c);
  }

  /** Whether the client still holds opens, locks or sessions (EXCHANGE_ID collision, DESTROY_CLIENTID). */
  hasState(c: Client): boolean {
    return c.openCount > 0 || c.lockCount > 0 || c.sessions.size > 0;
  }

  /**
   * Destroys a client record with everything it holds: sessions, opens,
   * locks, owners. Open files are closed in the background (tracked for shutdown).
   */
  destroy(c: Client, why: string): void {
    if (c.dead) return;
    c.dead = true;
    this.clients.delete(c.counter);
    const e = this.byOwner.get(c.ownerKey);
    if (e) {
      if (e.confirmed === c) e.confirmed = undefined;
      if (e.unconfirmed === c) e.unconfirmed = undefined;
      if (!e.confirmed && !e.unconfirmed) this.byOwner.delete(c.ownerKey);
    }
    this.d.sessions.dropAllOf(c);
    const files = this.d.opens.dropAllOf(c);
    this.d.locks.dropAllOf(c);
    this.d.owners.forgetAllOf(c);
    if (files.length > 0) this.d.opens.closeInBackground(files);
    if (c.confirmed) void this.d.records.save();
    this.d.log.info({ clientid: c.id.toString('hex'), owner: c.owner.toString('latin1'), opens: files.length, why }, 'client state released');
  }

  /** Bounds the table (unconfirmed records from a flood of EXCHANGE_ID/SETCLIENTID): `status` when full. */
  checkLimit(status: number): void {
    if (this.clients.size < MAX_CLIENTS) return;
    this.d.reap();
    if (this.clients.size >= MAX_CLIENTS) throw new NfsError(status, 'too many clients');
  }

  /** Destroys every client whose lease ran out (the reaper). */
  expireSilent(): void {
    for (const c of [...this.clients.values()]) {
      if (c.dead) continue;
      if (this.d.lease.expired(c)) this.destroy(c, c.confirmed ? 'lease expired' : 'unconfirmed record expired');
    }
  }

  /** The grace period is over: nobody may reclaim any more, and the previous boot's owners need not be kept. */
  endGrace(): void {
    this.d.log.info('grace period ended');
    for (const c of this.clients.values()) c.reclaimable = false;
    void this.d.records.save();
  }

  /** The owners to persist: confirmed clients, and while grace lasts those that may still reclaim. */
  persistedOwners(): string[] {
    const out = new Set<string>();
    for (const e of this.byOwner.values()) if (e.confirmed) out.add(e.confirmed.ownerKey);
    if (this.d.grace.inGrace()) for (const k of this.d.grace.previous) out.add(k);
    return [...out];
  }
}
