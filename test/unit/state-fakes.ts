/**
 * Test doubles for the state-layer unit tests: a tiny in-memory Store (just
 * what OPEN and the state manager call), a manual clock and helpers to set
 * up clients and sessions.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { NfsStateManager } from '../../src/state/manager.js';
import { StoreError, type CreateAttrs, type DirChange, type OpenFile, type SetAttrs, type Stat, type Store } from '../../src/store/types.js';
import type { SessionImpl } from '../../src/state/sessions.js';
import type { ChannelAttrs } from '../../src/state/types.js';

export const silent = pino({ level: 'silent' });

export class Clock {
  t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface FakeOpenFile extends OpenFile {
  id: number;
  closed: boolean;
}

function ts(sec = 0, nsec = 0): { sec: number; nsec: number } {
  return { sec, nsec };
}

export class FakeStore implements Store {
  readonly fsid = { major: 1, minor: 1 };
  readonly rootIno = 1;
  readonly stats = new Map<number, Stat>();
  readonly dirs = new Map<number, Map<string, number>>();
  readonly opened: FakeOpenFile[] = [];
  private nextIno = 2;
  private nextFd = 1;
  private change = 1;

  constructor() {
    this.stats.set(1, this.mkStat(1, 'dir', 0o777, 0, 0));
    this.dirs.set(1, new Map());
  }

  private mkStat(ino: number, kind: Stat['kind'], mode: number, uid: number, gid: number): Stat {
    return {
      ino,
      gen: 1,
      kind,
      mode,
      nlink: 1,
      uid,
      gid,
      size: 0,
      spaceUsed: 0,
      rdev: { major: 0, minor: 0 },
      atime: ts(100),
      mtime: ts(100),
      ctime: ts(100),
      btime: ts(100),
      change: this.change++,
    };
  }

  /** Adds an object directly (test setup). */
  add(dirIno: number, name: string, kind: Stat['kind'], mode = 0o644, uid = 0, gid = 0): Stat {
    const st = this.mkStat(this.nextIno++, kind, mode, uid, gid);
    this.stats.set(st.ino, st);
    if (kind === 'dir') this.dirs.set(st.ino, new Map());
    this.dirs.get(dirIno)!.set(name, st.ino);
    return st;
  }

  openFiles(): FakeOpenFile[] {
    return this.opened.filter((f) => !f.closed);
  }

  async verify(ino: number): Promise<Stat> {
    return this.getattr(ino);
  }
  async getattr(ino: number): Promise<Stat> {
    const s = this.stats.get(ino);
    if (!s) throw new StoreError('ESTALE');
    return { ...s };
  }
  async lookup(dirIno: number, name: string): Promise<Stat> {
    const d = this.dirs.get(dirIno);
    if (!d) throw new StoreError('ENOTDIR');
    const ino = d.get(name);
    if (ino === undefined) throw new StoreError('ENOENT');
    return this.getattr(ino);
  }
  isBelow(ino: number, dirIno: number): boolean {
    if (ino === dirIno || dirIno === this.rootIno) return true;
    for (const [d, entries] of this.dirs) {
      for (const child of entries.values()) if (child === ino && this.isBelow(d, dirIno)) return true;
    }
    return false;
  }

  async parent(): Promise<Stat> {
    return this.getattr(1);
  }
  async readdir(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  private dirChange(dirIno: number): DirChange {
    const d = this.stats.get(dirIno)!;
    const before = d.change;
    d.change = this.change++;
    return { before, after: d.change };
  }
  async createFile(dirIno: number, name: string, attrs: CreateAttrs): Promise<{ stat: Stat; dir: DirChange }> {
    const d = this.dirs.get(dirIno);
    if (!d) throw new StoreError('ENOTDIR');
    if (d.has(name)) throw new StoreError('EEXIST');
    const st = this.mkStat(this.nextIno++, 'reg', attrs.mode, attrs.uid, attrs.gid);
    if (attrs.size !== undefined) st.size = attrs.size;
    if (attrs.atime && attrs.atime !== 'now') st.atime = { ...attrs.atime };
    if (attrs.mtime && attrs.mtime !== 'now') st.mtime = { ...attrs.mtime };
    this.stats.set(st.ino, st);
    d.set(name, st.ino);
    return { stat: { ...st }, dir: this.dirChange(dirIno) };
  }
  async mkdir(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async symlink(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async mknod(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async link(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async remove(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async rename(): Promise<never> {
    throw new StoreError('ENOTSUP');
  }
  async readlink(): Promise<string> {
    throw new StoreError('EINVAL');
  }
  async setattr(ino: number, attrs: SetAttrs): Promise<Stat> {
    const s = this.stats.get(ino);
    if (!s) throw new StoreError('ESTALE');
    if (attrs.size !== undefined) s.size = attrs.size;
    if (attrs.mode !== undefined) s.mode = attrs.mode;
    s.change = this.change++;
    return { ...s };
  }
  async statfs(): Promise<{ used: number; files: number }> {
    return { used: 0, files: this.stats.size };
  }
  async open(ino: number, writable: boolean): Promise<OpenFile> {
    if (!this.stats.has(ino)) throw new StoreError('ESTALE');
    const f: FakeOpenFile = { ino, writable, id: this.nextFd++, closed: false };
    this.opened.push(f);
    return f;
  }
  async sharedFile(ino: number, writable: boolean): Promise<OpenFile> {
    return { ino, writable };
  }
  async read(): Promise<{ bytes: number; eof: boolean }> {
    return { bytes: 0, eof: true };
  }
  async write(_f: OpenFile, data: Buffer): Promise<number> {
    return data.length;
  }
  async commit(): Promise<void> {}
  async close(file: OpenFile): Promise<void> {
    const f = file as FakeOpenFile;
    if (f.closed) throw new Error(`double close of fd ${f.id}`);
    f.closed = true;
  }
  async shutdown(): Promise<void> {}
}

export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'localefs-state-'));
}

export interface Env {
  sm: NfsStateManager;
  store: FakeStore;
  clock: Clock;
  metaDir: string;
}

export function makeEnv(opts: { leaseSeconds?: number; metaDir?: string; store?: FakeStore; clock?: Clock } = {}): Env {
  const clock = opts.clock ?? new Clock();
  const store = opts.store ?? new FakeStore();
  const metaDir = opts.metaDir ?? tempDir();
  const sm = new NfsStateManager({
    leaseSeconds: opts.leaseSeconds ?? 90,
    store,
    metaDir,
    log: silent,
    now: clock.now,
    reapIntervalMs: 0,
  });
  return { sm, store, clock, metaDir };
}

export function chan(maxrequests = 64, cached = 7584, maxops = 8): ChannelAttrs {
  return {
    ca_headerpadsize: 0,
    ca_maxrequestsize: 1049620,
    ca_maxresponsesize: 1049480,
    ca_maxresponsesize_cached: cached,
    ca_maxoperations: maxops,
    ca_maxrequests: maxrequests,
    ca_rdma_ird: [],
  };
}

export const PRINCIPAL = '1:0';

/** EXCHANGE_ID + CREATE_SESSION + RECLAIM_COMPLETE (as Linux does at mount). */
export async function mount41(
  sm: NfsStateManager,
  owner = 'Linux NFSv4.1 kclient',
  verifier = Buffer.alloc(8, 1),
  reclaimComplete = true,
): Promise<SessionImpl> {
  const x = sm.exchangeId(Buffer.from(owner), verifier, false, PRINCIPAL);
  const cs = await sm.createSession({
    clientid: x.clientid,
    sequence: x.sequenceid,
    flags: 3,
    fore: chan(),
    back: chan(16, 0, 2),
    principal: PRINCIPAL,
  });
  const s = sm.sessionById(cs.sessionid)!;
  if (reclaimComplete) sm.reclaimComplete(s, false);
  return s;
}

/** SETCLIENTID + SETCLIENTID_CONFIRM (4.0). Returns the clientid. */
export async function mount40(sm: NfsStateManager, id = 'Linux NFSv4.0 kclient/10.0.2.100', verifier = Buffer.alloc(8, 2)): Promise<Buffer> {
  const r = sm.setClientId(Buffer.from(id), verifier, PRINCIPAL, 'tcp', '127.0.0.1.3.4');
  await sm.setClientIdConfirm(r.clientid, r.confirm, PRINCIPAL);
  return r.clientid;
}
