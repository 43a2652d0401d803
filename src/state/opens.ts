/**
 * Open state: OPEN (a new open or an upgrade of the owner's one), the
 * open-owner's life around OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE, the
 * open limits, I/O through an open or lock stateid, and giving the fds an
 * open held back to the store once it ends.
 */
import type { Logger } from 'pino';
import * as N from '../xdr/gen/nfs4.js';
import { NfsError } from '../protocol/status.js';
import type { Identity, OpenFile, Store } from '../store/types.js';
import { TAG_OPEN, isSpecialStateid, makeStateOther, nextSeqid } from './stateids.js';
import { ACCESS_WRITE, type Client, type OpenOwner, type OpenState } from './model.js';
import type { FileTable } from './files.js';
import type { LockStates } from './lock-state.js';
import type { OwnerTable } from './owners.js';
import type { StateidTable } from './stateid-table.js';
import type { IoTarget, StateidRef } from './types.js';

/** EFS limit. */
export const MAX_OPENS_PER_CLIENT = 32768;
/** Open states of all clients together (not an EFS number: a server-wide bound, 8 clients at their limit). */
export const MAX_OPENS = 262144;

export interface OpenLimits {
  /** Open states one client may hold; beyond: NFS4ERR_DQUOT. */
  perClient: number;
  /** Open states of all clients; beyond: NFS4ERR_RESOURCE (4.0) / NFS4ERR_DELAY (4.1). */
  total: number;
}

export interface OpensDeps {
  epoch: number;
  store: Store;
  log: Logger;
  stateids: StateidTable;
  files: FileTable;
  owners: OwnerTable;
  locks: LockStates;
  limits: OpenLimits;
}

/** An open's fds: the current one and those an upgrade replaced. */
function filesOf(st: OpenState): OpenFile[] {
  return st.retired.length ? [st.openFile, ...st.retired] : [st.openFile];
}

export class Opens {
  /** Open states of all clients. */
  private total = 0;
  private readonly pendingCloses = new Set<Promise<void>>();

  constructor(private readonly d: OpensDeps) {}

  get count(): number {
    return this.total;
  }

  /** A new open-owner record; an earlier one under the same name is started over first. */
  newOpenOwner(client: Client, owner: Buffer, seqid: number): OpenOwner {
    const old = this.d.owners.openOwner(client, owner);
    if (old) this.resetOpenOwner(old);
    return this.d.owners.addOpenOwner(client, owner, seqid);
  }

  /** 4.0: an unconfirmed owner got a fresh OPEN: its earlier (never confirmed) opens are dropped. */
  resetOpenOwner(o: OpenOwner): void {
    const files: OpenFile[] = [];
    for (const st of [...o.opens.values()]) {
      this.drop(st);
      files.push(...filesOf(st));
    }
    if (files.length) this.closeInBackground(files);
    this.d.owners.forget(o);
  }

  /**
   * OPEN's open-owner for `fn`, under the owner's seqid: the existing one,
   * or a new one (RFC 7530 16.16.5: a new OPEN on an unconfirmed 4.0 owner
   * starts it over). A new owner left without opens goes again.
   */
  async withOpenOwner<T>(client: Client, ownerBytes: Buffer, seqid: number, minor: number, fn: (owner: OpenOwner) => Promise<T>): Promise<T> {
    let owner = this.d.owners.openOwner(client, ownerBytes);
    if (owner && minor === 0 && !owner.confirmed && !(seqid === owner.seqid && owner.lastReply)) {
      this.resetOpenOwner(owner);
      owner = undefined;
    }
    let fresh = false;
    if (!owner) {
      owner = this.newOpenOwner(client, ownerBytes, seqid);
      fresh = true;
    }
    const o = owner;
    try {
      return await this.d.owners.withSeqid(o, seqid, minor, 'OPEN', () => fn(o));
    } finally {
      if (fresh) this.d.owners.discardOpenOwnerIfEmpty(o);
    }
  }

  /**
   * OPEN's state part (call inside withFile): creates the owner's open state
   * for the file, or upgrades the existing one (reopening the fd read-write
   * when write access is added). Returns the state with its new seqid.
   */
  async openState(owner: OpenOwner, ino: number, access: number, openedBy?: Identity): Promise<OpenState> {
    const { store, limits } = this.d;
    const client = owner.client;
    if (client.dead) throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    const existing = owner.opens.get(ino);
    if (existing && !existing.dead) {
      const want = existing.access | access;
      if (want & ACCESS_WRITE && !existing.openFile.writable) {
        const f = await store.open(ino, true);
        if (existing.dead) {
          await store.close(f);
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
    if (client.openCount >= limits.perClient) throw new NfsError(N.NFS4ERR_DQUOT, 'too many open files for this client');
    if (this.total >= limits.total) {
      throw new NfsError(client.minor === 0 ? N.NFS4ERR_RESOURCE : N.NFS4ERR_DELAY, 'too many open files on this server');
    }
    const openFile = await store.open(ino, (access & ACCESS_WRITE) !== 0);
    if (client.dead) {
      await store.close(openFile);
      throw new NfsError(N.NFS4ERR_EXPIRED, 'client lease expired');
    }
    const counter = this.d.stateids.nextCounter();
    const file = this.d.files.record(ino);
    const st: OpenState = {
      kind: 'open',
      other: makeStateOther(this.d.epoch, TAG_OPEN, client.counter, counter),
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
    this.d.stateids.add(st);
    file.opens.add(st);
    owner.opens.set(ino, st);
    client.openCount++;
    this.total++;
    this.d.owners.idle(owner);
    return st;
  }

  /**
   * 4.0: a reclaim confirms its (new to us) open-owner implicitly: the client
   * held the open before the restart, and Linux sends no GETFH with a
   * reclaim, so it could not OPEN_CONFIRM.
   */
  confirmReclaimedOwner(owner: OpenOwner): void {
    owner.confirmed = true;
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
    this.drop(st);
    if (st.client.minor === 0) this.d.owners.rememberClosed(st);
    this.d.owners.idle(st.owner);
    for (const lo of lockOwners) this.d.owners.idle(lo);
    await this.closeFiles(filesOf(st), 'close failed');
  }

  /** Ends an open state with its lock states (its fds and the owner's idling are the caller's business). */
  private drop(st: OpenState): void {
    if (st.dead) return;
    for (const ls of [...st.locks]) this.d.locks.drop(ls);
    st.dead = true;
    this.d.stateids.remove(st);
    st.file.opens.delete(st);
    if (st.owner.opens.get(st.ino) === st) st.owner.opens.delete(st.ino);
    st.client.openCount--;
    this.total--;
    this.d.files.dropIfUnused(st.file);
  }

  /** Ends every open of a client being destroyed (with their lock states); returns the fds to close. */
  dropAllOf(c: Client): OpenFile[] {
    const files: OpenFile[] = [];
    for (const oo of c.openOwners.values()) {
      for (const st of [...oo.opens.values()]) {
        this.drop(st);
        files.push(...filesOf(st));
      }
    }
    return files;
  }

  /** Closes fds of released state without holding up the caller (shutdown waits for them). */
  closeInBackground(files: OpenFile[]): void {
    const p = this.closeFiles(files, 'close on state release failed');
    this.pendingCloses.add(p);
    void p.finally(() => this.pendingCloses.delete(p));
  }

  private async closeFiles(files: OpenFile[], failure: string): Promise<void> {
    for (const f of files) {
      try {
        await this.d.store.close(f);
      } catch (err) {
        this.d.log.warn({ err, ino: f.ino }, failure);
      }
    }
  }

  async resolveIo(stateid: StateidRef, ino: number, forWrite: boolean, minorVersion: number): Promise<IoTarget> {
    // the READ bypass stateid counts as the anonymous one for WRITE/SETATTR (RFC 7530 9.1.4.3)
    if (isSpecialStateid(stateid)) {
      return { file: await this.d.store.sharedFile(ino, forWrite), shared: true };
    }
    const st = this.d.stateids.find(stateid, minorVersion);
    const open = st.kind === 'lock' ? st.open : st;
    if (open.dead) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open state closed');
    if (st.ino !== ino) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'stateid is for another file');
    if (!open.owner.confirmed) throw new NfsError(N.NFS4ERR_BAD_STATEID, 'open not confirmed');
    if (forWrite && !(open.access & ACCESS_WRITE)) throw new NfsError(N.NFS4ERR_OPENMODE, 'open is read-only');
    return open.openedBy ? { file: open.openFile, shared: false, openedBy: open.openedBy } : { file: open.openFile, shared: false };
  }

  /** Shutdown: waits for background closes, then closes the fds of every open still alive. */
  async closeAll(): Promise<void> {
    const files: OpenFile[] = [];
    for (const st of this.d.stateids.liveOpens()) files.push(...filesOf(st));
    await Promise.all([...this.pendingCloses]);
    await this.closeFiles(files, 'close at shutdown failed');
  }
}
