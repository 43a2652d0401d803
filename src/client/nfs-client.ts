/**
 * A small NFSv4.1 (and minimal 4.0) client built on the generated codecs,
 * for integration tests and benchmarks.
 *
 * - 4.1 (RFC 8881): EXCHANGE_ID, CREATE_SESSION, RECLAIM_COMPLETE, a slot
 *   table with per-slot sequence ids; SEQUENCE is prepended to every
 *   compound automatically.
 * - 4.0 (RFC 7530): SETCLIENTID + SETCLIENTID_CONFIRM, open/lock-owner seqid
 *   bookkeeping, OPEN_CONFIRM, RENEW.
 *
 * `compound()` returns the decoded COMPOUND4res as is; the convenience
 * methods throw NfsStatusError when an op fails.
 */
import { randomBytes } from 'node:crypto';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import * as N from '../xdr/gen/nfs4.js';
import { SEQID_NEUTRAL } from '../protocol/status.js';
import { RpcClient, ROOT_CRED, type RpcCred } from './rpc-client.js';
import { DEFAULT_GETATTR, FATTR, bitmapOf, decodeAttrs, encodeAttrs, type Attrs, type SetAttrs } from './attrs.js';

export * from './attrs.js';

export const NFS_PROGRAM = 100003;
export const NFS_VERSION = 4;
const PROC_NULL = 0;
const PROC_COMPOUND = 1;

/** All-ones 64-bit length ("to end of file"); the writer encodes it as 0xffffffffffffffff. */
export const NFS4_LENGTH_EOF = 18446744073709551615;

export const ANON_STATEID: N.stateid4 = { seqid: 0, other: Buffer.alloc(12) };
export const BYPASS_STATEID: N.stateid4 = { seqid: 0xffffffff, other: Buffer.alloc(12, 0xff) };
/** 4.1 "current stateid" (RFC 8881 16.2.3.1.2). */
export const CURRENT_STATEID: N.stateid4 = { seqid: 1, other: Buffer.alloc(12) };

export function statusName(status: number): string {
  return N.NFSSTAT4_NAMES[status] ?? `status ${status}`;
}

export function opName(op: number): string {
  return N.NFS_OPNUM_NAMES[op] ?? `op ${op}`;
}

/** An op that returned a non-OK status. */
export class NfsStatusError extends Error {
  constructor(
    readonly status: number,
    readonly op: number,
    /** The failing op's result (carries e.g. LOCK4denied). */
    readonly resop: N.nfs_resop4 | undefined,
    readonly res: N.COMPOUND4res,
  ) {
    super(`${opName(op)} failed: ${statusName(status)} (${status})`);
    this.name = 'NfsStatusError';
  }
  get statusName(): string {
    return statusName(this.status);
  }
  get opName(): string {
    return opName(this.op);
  }
  /** LOCK4denied of a LOCK/LOCKT that answered NFS4ERR_DENIED. */
  get denied(): N.LOCK4denied | undefined {
    return this.resop?.oplock?.denied ?? this.resop?.oplockt?.denied;
  }
}

/** Status of each op's result, whatever the op (the union arms name it differently). */
export function resopStatus(r: N.nfs_resop4): number {
  for (const [k, v] of Object.entries(r)) {
    if (k === 'resop' || v === undefined || v === null) continue;
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const sk of ['status', 'sr_status', 'eir_status', 'csr_status', 'dsr_status', 'dcr_status', 'rcr_status', 'fsr_status', 'tsr_status', 'bctsr_status', 'bcr_status', 'gddr_status']) {
        if (typeof o[sk] === 'number') return o[sk] as number;
      }
    }
  }
  return N.NFS4_OK;
}

/* ------------------------------------------------------------------ */
/* Op builders                                                          */
/* ------------------------------------------------------------------ */

export const op = {
  putrootfh: (): N.nfs_argop4 => ({ argop: N.OP_PUTROOTFH }),
  putpubfh: (): N.nfs_argop4 => ({ argop: N.OP_PUTPUBFH }),
  putfh: (fh: Buffer): N.nfs_argop4 => ({ argop: N.OP_PUTFH, opputfh: { object: fh } }),
  getfh: (): N.nfs_argop4 => ({ argop: N.OP_GETFH }),
  savefh: (): N.nfs_argop4 => ({ argop: N.OP_SAVEFH }),
  restorefh: (): N.nfs_argop4 => ({ argop: N.OP_RESTOREFH }),
  lookup: (name: string): N.nfs_argop4 => ({ argop: N.OP_LOOKUP, oplookup: { objname: name } }),
  lookupp: (): N.nfs_argop4 => ({ argop: N.OP_LOOKUPP }),
  getattr: (attrs: number[] | number[][] = DEFAULT_GETATTR): N.nfs_argop4 => ({
    argop: N.OP_GETATTR,
    opgetattr: { attr_request: isBitmap(attrs) ? attrs[0]! : bitmapOf(attrs as number[]) },
  }),
  /** GETATTR with a raw bitmap4 (for tests sending unknown bits). */
  getattrBitmap: (bitmap: number[]): N.nfs_argop4 => ({ argop: N.OP_GETATTR, opgetattr: { attr_request: bitmap } }),
  access: (access: number): N.nfs_argop4 => ({ argop: N.OP_ACCESS, opaccess: { access } }),
  readlink: (): N.nfs_argop4 => ({ argop: N.OP_READLINK }),
  remove: (name: string): N.nfs_argop4 => ({ argop: N.OP_REMOVE, opremove: { target: name } }),
  rename: (oldname: string, newname: string): N.nfs_argop4 => ({ argop: N.OP_RENAME, oprename: { oldname, newname } }),
  link: (newname: string): N.nfs_argop4 => ({ argop: N.OP_LINK, oplink: { newname } }),
  create: (objtype: N.createtype4, objname: string, attrs: SetAttrs = {}): N.nfs_argop4 => ({
    argop: N.OP_CREATE,
    opcreate: { objtype, objname, createattrs: encodeAttrs(attrs) },
  }),
  read: (stateid: N.stateid4, offset: number, count: number): N.nfs_argop4 => ({ argop: N.OP_READ, opread: { stateid, offset, count } }),
  write: (stateid: N.stateid4, offset: number, data: Buffer, stable: number = N.FILE_SYNC4): N.nfs_argop4 => ({
    argop: N.OP_WRITE,
    opwrite: { stateid, offset, stable, data },
  }),
  commit: (offset = 0, count = 0): N.nfs_argop4 => ({ argop: N.OP_COMMIT, opcommit: { offset, count } }),
  setattr: (attrs: SetAttrs, stateid: N.stateid4 = ANON_STATEID): N.nfs_argop4 => ({
    argop: N.OP_SETATTR,
    opsetattr: { stateid, obj_attributes: encodeAttrs(attrs) },
  }),
  readdir: (cookie: bigint, cookieverf: Buffer, dircount: number, maxcount: number, attrs: number[]): N.nfs_argop4 => ({
    argop: N.OP_READDIR,
    opreaddir: { cookie, cookieverf, dircount, maxcount, attr_request: bitmapOf(attrs) },
  }),
  secinfo: (name: string): N.nfs_argop4 => ({ argop: N.OP_SECINFO, opsecinfo: { name } }),
  secinfoNoName: (style: number = N.SECINFO_STYLE4_CURRENT_FH): N.nfs_argop4 => ({ argop: N.OP_SECINFO_NO_NAME, opsecinfo_no_name: style }),
  sequence: (args: N.SEQUENCE4args): N.nfs_argop4 => ({ argop: N.OP_SEQUENCE, opsequence: args }),
  reclaimComplete: (oneFs = false): N.nfs_argop4 => ({ argop: N.OP_RECLAIM_COMPLETE, opreclaim_complete: { rca_one_fs: oneFs } }),
  renew: (clientid: Buffer): N.nfs_argop4 => ({ argop: N.OP_RENEW, oprenew: { clientid } }),
  /** An op number the server does not know (encoded as the bare opcode). */
  raw: (opnum: number): N.nfs_argop4 => ({ argop: opnum }),
};

function isBitmap(a: number[] | number[][]): a is number[][] {
  return a.length > 0 && Array.isArray(a[0]);
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

export interface NfsClientOptions {
  host: string;
  port: number;
  /** 1 (default) or 0. */
  minorVersion?: 0 | 1;
  /** Default credential (AUTH_SYS root unless told). */
  cred?: RpcCred;
  /** Client owner string (co_ownerid / nfs_client_id4.id); random unless told. */
  clientOwner?: string;
  /** Per-call RPC timeout. */
  timeoutMs?: number;
  /** Fore channel ca_maxoperations asked for. */
  maxOps?: number;
  /** Fore channel ca_maxrequests (slots) asked for. */
  slots?: number;
  /** Run the setup (EXCHANGE_ID... or SETCLIENTID...) at connect (default true). */
  setup?: boolean;
  /** How long convenience methods keep retrying NFS4ERR_DELAY / NFS4ERR_GRACE (ms, default 20000). */
  retryMs?: number;
  /** Reuse an existing connection instead of opening one. */
  rpc?: RpcClient;
  /** Connect over TLS with these options. */
  tls?: import('node:tls').ConnectionOptions;
}

export interface CompoundOptions {
  cred?: RpcCred;
  tag?: string;
  /** Minor version put in the header (defaults to the client's). */
  minorVersion?: number;
  /** 4.1: prepend SEQUENCE (default: when a session exists). */
  sequence?: boolean;
  cachethis?: boolean;
  timeoutMs?: number;
}

export interface SlotState {
  readonly id: number;
  /** The sequence id the next request on this slot carries. */
  seqid: number;
  busy: boolean;
}

export interface SessionInfo {
  id: Buffer;
  flags: number;
  fore: N.channel_attrs4;
  back: N.channel_attrs4;
  slots: SlotState[];
}

export interface OpenResult {
  fh: Buffer;
  stateid: N.stateid4;
  rflags: number;
  cinfo: N.change_info4;
  delegation: N.open_delegation4;
  attrs: Attrs;
}

export interface OpenOptions {
  /** 'read' | 'write' | 'both' (default both). */
  access?: 'read' | 'write' | 'both';
  deny?: number;
  /** Create the file if missing. */
  create?: boolean;
  /** Mode of a created file (default 0644). */
  mode?: number;
  /** EXCLUSIVE4_1 (4.1) / EXCLUSIVE4 (4.0) create. */
  exclusive?: boolean;
  /** Verifier of an exclusive create (random unless told; resend the same one to retry). */
  verifier?: Buffer;
  /** GUARDED4 create (EXIST if present). */
  guarded?: boolean;
  /** Extra create attributes (e.g. size 0 to truncate). */
  attrs?: SetAttrs;
  /** Open owner name (defaults to the client's one). */
  owner?: string;
}

export interface LockOptions {
  type?: number;
  offset?: number;
  length?: number;
  /** Lock owner name (default 'lock-owner'). */
  owner?: string;
  reclaim?: boolean;
}

export interface DirEntry {
  name: string;
  /** nfs_cookie4, exact over all 64 bits: sent back as it came. */
  cookie: bigint;
  attrs: Attrs;
}

export interface ReaddirOptions {
  attrs?: number[];
  dircount?: number;
  maxcount?: number;
  /** Called after each page (before the next is asked for). */
  onPage?: (entries: DirEntry[], page: number) => void | Promise<void>;
}

export type Target = string | Buffer;

/** Mutable state shared by a client and the credential views made with as(). */
interface Shared {
  clientId: Buffer | undefined;
  clientSequence: number;
  confirmVerifier: Buffer | undefined;
  session: SessionInfo | undefined;
  slotWaiters: (() => void)[];
  /** 4.0 seqids by owner key ('o:name' / 'l:name'). */
  ownerSeqids: Map<string, number>;
  /** stateid.other (hex) -> owner key (4.0 seqid bookkeeping). */
  stateOwner: Map<string, string>;
  /** Lock stateids by lock owner + file handle. */
  lockStateids: Map<string, N.stateid4>;
  renewTimer: NodeJS.Timeout | undefined;
  verifier: Buffer;
  ownerId: string;
  openOwner: string;
}

const RETRYABLE = new Set<number>([N.NFS4ERR_DELAY, N.NFS4ERR_GRACE]);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0 && c !== '.');
}

function splitParent(path: string): { dir: string[]; name: string } {
  const comps = splitPath(path);
  const name = comps.pop();
  if (name === undefined) throw new Error(`path ${JSON.stringify(path)} names no entry`);
  return { dir: comps, name };
}

/* ------------------------------------------------------------------ */
/* The client                                                           */
/* ------------------------------------------------------------------ */

export class NfsClient {
  readonly rpc: RpcClient;
  readonly minorVersion: 0 | 1;
  readonly cred: RpcCred;
  readonly opts: NfsClientOptions;
  private readonly s: Shared;

  private constructor(rpc: RpcClient, opts: NfsClientOptions, shared?: Shared, cred?: RpcCred) {
    this.rpc = rpc;
    this.opts = opts;
    this.minorVersion = opts.minorVersion ?? 1;
    this.cred = cred ?? opts.cred ?? ROOT_CRED;
    const owner = opts.clientOwner ?? `localefs-test-${randomBytes(6).toString('hex')}`;
    this.s = shared ?? {
      clientId: undefined,
      clientSequence: 0,
      confirmVerifier: undefined,
      session: undefined,
      slotWaiters: [],
      ownerSeqids: new Map(),
      stateOwner: new Map(),
      lockStateids: new Map(),
      renewTimer: undefined,
      verifier: randomBytes(8),
      ownerId: owner,
      openOwner: `open-${owner}`,
    };
  }

  /** Opens a connection and (unless setup: false) establishes the client ID and, for 4.1, a session. */
  static async connect(opts: NfsClientOptions): Promise<NfsClient> {
    const rpc =
      opts.rpc ?? (await RpcClient.connect({ host: opts.host, port: opts.port, cred: opts.cred, timeoutMs: opts.timeoutMs, ...(opts.tls ? { tls: opts.tls } : {}) }));
    const c = new NfsClient(rpc, opts);
    if (opts.setup !== false) {
      try {
        await c.setup();
      } catch (err) {
        if (!opts.rpc) rpc.destroy();
        throw err;
      }
    }
    return c;
  }

  /** The same client (session, slots, owners) acting with another credential. */
  as(cred: RpcCred): NfsClient {
    return new NfsClient(this.rpc, this.opts, this.s, cred);
  }

  get clientId(): Buffer | undefined {
    return this.s.clientId;
  }

  /** The csa_sequence the next CREATE_SESSION carries. */
  get clientSequence(): number {
    return this.s.clientSequence;
  }

  get session(): SessionInfo | undefined {
    return this.s.session;
  }

  get sessionId(): Buffer | undefined {
    return this.s.session?.id;
  }

  /** The session's (or 4.0's) op limit per compound. */
  get maxOps(): number {
    return this.s.session?.fore.ca_maxoperations ?? 128;
  }

  /* ---------------- RPC level ---------------- */

  /** NULL procedure. */
  async null(cred?: RpcCred): Promise<void> {
    await this.rpc.call(NFS_PROGRAM, NFS_VERSION, PROC_NULL, Buffer.alloc(0), { cred: cred ?? this.cred });
  }

  /** Sends COMPOUND4args bytes as they are; returns the decoded COMPOUND4res. */
  async compoundBytes(args: Buffer, opts: { cred?: RpcCred; timeoutMs?: number } = {}): Promise<N.COMPOUND4res> {
    const body = await this.rpc.call(NFS_PROGRAM, NFS_VERSION, PROC_COMPOUND, args, { cred: opts.cred ?? this.cred, timeoutMs: opts.timeoutMs });
    return N.decode_COMPOUND4res(new XdrReader(body));
  }

  /**
   * Sends one COMPOUND. In 4.1 with a session, SEQUENCE is prepended (unless
   * sequence: false) and its result stays first in resarray. Never throws for
   * NFS status errors.
   */
  async compound(ops: N.nfs_argop4[], opts: CompoundOptions = {}): Promise<N.COMPOUND4res> {
    const minor = opts.minorVersion ?? this.minorVersion;
    const useSeq = (opts.sequence ?? true) && minor === 1 && this.s.session !== undefined;
    let slot: SlotState | undefined;
    let argarray = ops;
    if (useSeq) {
      slot = await this.acquireSlot();
      argarray = [op.sequence(this.sequenceArgs(slot, opts.cachethis ?? false)), ...ops];
    }
    try {
      const w = new XdrWriter(1024);
      N.encode_COMPOUND4args(w, { tag: opts.tag ?? '', minorversion: minor, argarray });
      const res = await this.compoundBytes(Buffer.from(w.finish()), { cred: opts.cred, timeoutMs: opts.timeoutMs });
      if (slot) {
        const seq = res.resarray[0];
        if (seq?.resop === N.OP_SEQUENCE && seq.opsequence?.sr_status === N.NFS4_OK) slot.seqid = (slot.seqid + 1) >>> 0;
      }
      if (minor === 0) this.track40(argarray, res);
      return res;
    } finally {
      if (slot) this.releaseSlot(slot);
    }
  }

  /**
   * Runs ops and throws NfsStatusError if any failed. Returns the results of
   * `ops` (an automatic SEQUENCE result is dropped so indexes match).
   */
  async run(ops: N.nfs_argop4[], opts: CompoundOptions = {}): Promise<N.nfs_resop4[]> {
    const minor = opts.minorVersion ?? this.minorVersion;
    const seqAdded = (opts.sequence ?? true) && minor === 1 && this.s.session !== undefined;
    const res = await this.compound(ops, opts);
    if (res.status !== N.NFS4_OK) {
      const last = res.resarray[res.resarray.length - 1];
      throw new NfsStatusError(res.status, last?.resop ?? N.OP_ILLEGAL, last, res);
    }
    return seqAdded ? res.resarray.slice(1) : res.resarray;
  }

  /** run() with the ops rebuilt and retried while the server answers DELAY or GRACE. */
  private async exec(build: () => N.nfs_argop4[] | Promise<N.nfs_argop4[]>, opts: CompoundOptions = {}): Promise<N.nfs_resop4[]> {
    const deadline = Date.now() + (this.opts.retryMs ?? 20000);
    for (;;) {
      try {
        return await this.run(await build(), opts);
      } catch (err) {
        if (err instanceof NfsStatusError && RETRYABLE.has(err.status) && Date.now() < deadline) {
          await sleep(200);
          continue;
        }
        throw err;
      }
    }
  }

  /* ---------------- slots ---------------- */

  private sequenceArgs(slot: SlotState, cachethis: boolean): N.SEQUENCE4args {
    const sess = this.s.session!;
    let highest = 0;
    for (const s of sess.slots) if (s.busy && s.id > highest) highest = s.id;
    return { sa_sessionid: sess.id, sa_sequenceid: slot.seqid, sa_slotid: slot.id, sa_highest_slotid: highest, sa_cachethis: cachethis };
  }

  /** SEQUENCE args for a slot (for tests building their own compounds). */
  sequenceOp(slot: SlotState, over: Partial<N.SEQUENCE4args> = {}): N.nfs_argop4 {
    return op.sequence({ ...this.sequenceArgs(slot, false), ...over });
  }

  /** Takes a slot out of the pool (wait if all are busy). */
  async acquireSlot(): Promise<SlotState> {
    const sess = this.s.session;
    if (!sess) throw new Error('no session');
    for (;;) {
      const free = sess.slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((r) => this.s.slotWaiters.push(r));
    }
  }

  releaseSlot(slot: SlotState): void {
    slot.busy = false;
    const next = this.s.slotWaiters.shift();
    if (next) next();
  }

  /* ---------------- setup ---------------- */

  async setup(): Promise<void> {
    if (this.minorVersion === 1) {
      await this.exchangeId();
      await this.createSession();
      await this.reclaimComplete();
    } else {
      await this.setClientId();
    }
  }

  /** EXCHANGE_ID (solo, no session). */
  async exchangeId(o: { stateProtect?: N.state_protect4_a; flags?: number } = {}): Promise<N.EXCHANGE_ID4resok> {
    const args: N.EXCHANGE_ID4args = {
      eia_clientowner: { co_verifier: this.s.verifier, co_ownerid: Buffer.from(this.s.ownerId) },
      eia_flags: o.flags ?? 0,
      eia_state_protect: o.stateProtect ?? { spa_how: N.SP4_NONE },
      eia_client_impl_id: [{ nii_domain: 'localefs.test', nii_name: 'localefs test client', nii_date: { seconds: 0, nseconds: 0 } }],
    };
    const [r] = await this.run([{ argop: N.OP_EXCHANGE_ID, opexchange_id: args }], { sequence: false, minorVersion: 1 });
    const ok = r!.opexchange_id!.eir_resok4!;
    this.s.clientId = Buffer.from(ok.eir_clientid);
    this.s.clientSequence = ok.eir_sequenceid;
    return ok;
  }

  /** CREATE_SESSION for the current client ID; installs the slot table. */
  async createSession(o: { flags?: number; maxOps?: number; slots?: number; fore?: Partial<N.channel_attrs4> } = {}): Promise<N.CREATE_SESSION4resok> {
    if (!this.s.clientId) throw new Error('no client ID: call exchangeId first');
    const fore: N.channel_attrs4 = {
      ca_headerpadsize: 0,
      ca_maxrequestsize: 1049620,
      ca_maxresponsesize: 1049480,
      ca_maxresponsesize_cached: 7584,
      ca_maxoperations: o.maxOps ?? this.opts.maxOps ?? 32,
      ca_maxrequests: o.slots ?? this.opts.slots ?? 16,
      ca_rdma_ird: [],
      ...o.fore,
    };
    const back: N.channel_attrs4 = {
      ca_headerpadsize: 0,
      ca_maxrequestsize: 4096,
      ca_maxresponsesize: 4096,
      ca_maxresponsesize_cached: 0,
      ca_maxoperations: 2,
      ca_maxrequests: 1,
      ca_rdma_ird: [],
    };
    const args: N.CREATE_SESSION4args = {
      csa_clientid: this.s.clientId,
      csa_sequence: this.s.clientSequence,
      csa_flags: o.flags ?? 0,
      csa_fore_chan_attrs: fore,
      csa_back_chan_attrs: back,
      csa_cb_program: 0x40000000,
      csa_sec_parms: [{ cb_secflavor: N.AUTH_NONE }],
    };
    const [r] = await this.run([{ argop: N.OP_CREATE_SESSION, opcreate_session: args }], { sequence: false, minorVersion: 1 });
    const ok = r!.opcreate_session!.csr_resok4!;
    this.s.clientSequence = (this.s.clientSequence + 1) >>> 0;
    const nslots = Math.max(1, ok.csr_fore_chan_attrs.ca_maxrequests);
    const slots: SlotState[] = [];
    for (let i = 0; i < nslots; i++) slots.push({ id: i, seqid: 1, busy: false });
    this.s.session = {
      id: Buffer.from(ok.csr_sessionid),
      flags: ok.csr_flags,
      fore: ok.csr_fore_chan_attrs,
      back: ok.csr_back_chan_attrs,
      slots,
    };
    return ok;
  }

  async reclaimComplete(oneFs = false): Promise<void> {
    await this.exec(() => [op.reclaimComplete(oneFs)]);
  }

  /** 4.0: SETCLIENTID + SETCLIENTID_CONFIRM. */
  async setClientId(): Promise<void> {
    const args: N.SETCLIENTID4args = {
      client: { verifier: this.s.verifier, id: Buffer.from(this.s.ownerId) },
      callback: { cb_program: 0x40000000, cb_location: { na_r_netid: 'tcp', na_r_addr: '127.0.0.1.0.0' } },
      callback_ident: 1,
    };
    const [r] = await this.run([{ argop: N.OP_SETCLIENTID, opsetclientid: args }], { minorVersion: 0 });
    const ok = r!.opsetclientid!.resok4!;
    this.s.clientId = Buffer.from(ok.clientid);
    this.s.confirmVerifier = Buffer.from(ok.setclientid_confirm);
    await this.run(
      [{ argop: N.OP_SETCLIENTID_CONFIRM, opsetclientid_confirm: { clientid: this.s.clientId, setclientid_confirm: this.s.confirmVerifier } }],
      { minorVersion: 0 },
    );
  }

  /** Renews the lease: RENEW (4.0) or a lone SEQUENCE (4.1). */
  async renew(): Promise<void> {
    if (this.minorVersion === 0) await this.run([op.renew(this.s.clientId!)]);
    else await this.run([]);
  }

  /** Renews the lease every intervalMs until stopRenew(). */
  startRenew(intervalMs: number): void {
    this.stopRenew();
    this.s.renewTimer = setInterval(() => {
      this.renew().catch(() => undefined);
    }, intervalMs);
    this.s.renewTimer.unref();
  }

  stopRenew(): void {
    if (this.s.renewTimer) clearInterval(this.s.renewTimer);
    this.s.renewTimer = undefined;
  }

  /** DESTROY_SESSION + DESTROY_CLIENTID (4.1), then closes the connection. */
  async destroy(): Promise<void> {
    this.stopRenew();
    try {
      if (this.minorVersion === 1 && this.s.session) {
        await this.run([{ argop: N.OP_DESTROY_SESSION, opdestroy_session: { dsa_sessionid: this.s.session.id } }], { sequence: false });
        this.s.session = undefined;
        if (this.s.clientId) {
          await this.run([{ argop: N.OP_DESTROY_CLIENTID, opdestroy_clientid: { dca_clientid: this.s.clientId } }], { sequence: false });
          this.s.clientId = undefined;
        }
      }
    } finally {
      await this.rpc.close();
    }
  }

  /** Closes the connection without telling the server anything. */
  async disconnect(): Promise<void> {
    this.stopRenew();
    await this.rpc.close();
  }

  /* ---------------- 4.0 seqid bookkeeping ---------------- */

  /** 4.0: the seqid the next op of this open owner (default: the client's) or lock owner carries. */
  ownerSeqid(kind: 'open' | 'lock', name?: string): number {
    return this.s.ownerSeqids.get(this.ownerKey(kind, name)) ?? 0;
  }

  /** 4.0: overrides the seqid bookkeeping (for tests that send seqid ops by hand). */
  setOwnerSeqid(kind: 'open' | 'lock', name: string | undefined, seqid: number): void {
    this.s.ownerSeqids.set(this.ownerKey(kind, name), seqid >>> 0);
  }

  private ownerKey(kind: 'open' | 'lock', name?: string): string {
    return kind === 'open' ? `o:${name ?? this.s.openOwner}` : `l:${name ?? 'lock-owner'}`;
  }

  private seqidOf(ownerKey: string): number {
    if (this.minorVersion !== 0) return 0;
    return this.s.ownerSeqids.get(ownerKey) ?? 0;
  }

  private bump(ownerKey: string | undefined): void {
    if (!ownerKey) return;
    this.s.ownerSeqids.set(ownerKey, ((this.s.ownerSeqids.get(ownerKey) ?? 0) + 1) >>> 0);
  }

  /** After a 4.0 compound: advance owner seqids for every seqid-carrying op that ran (RFC 7530 9.1.7). */
  private track40(ops: N.nfs_argop4[], res: N.COMPOUND4res): void {
    for (let i = 0; i < res.resarray.length && i < ops.length; i++) {
      const a = ops[i]!;
      const r = res.resarray[i]!;
      const st = resopStatus(r);
      const bumps = !SEQID_NEUTRAL.has(st);
      const ownerOfStateid = (sid: N.stateid4 | undefined) => (sid ? this.s.stateOwner.get(sid.other.toString('hex')) : undefined);
      switch (a.argop) {
        case N.OP_OPEN: {
          const key = `o:${a.opopen!.owner.owner.toString()}`;
          if (bumps) this.bump(key);
          const sid = r.opopen?.resok4?.stateid;
          if (sid) this.s.stateOwner.set(sid.other.toString('hex'), key);
          break;
        }
        case N.OP_OPEN_CONFIRM:
          if (bumps) this.bump(ownerOfStateid(a.opopen_confirm!.open_stateid));
          break;
        case N.OP_OPEN_DOWNGRADE:
          if (bumps) this.bump(ownerOfStateid(a.opopen_downgrade!.open_stateid));
          break;
        case N.OP_CLOSE:
          if (bumps) this.bump(ownerOfStateid(a.opclose!.open_stateid));
          break;
        case N.OP_LOCK: {
          const l = a.oplock!.locker;
          if (l.new_lock_owner) {
            const lockKey = `l:${l.open_owner!.lock_owner.owner.toString()}`;
            if (bumps) {
              this.bump(ownerOfStateid(l.open_owner!.open_stateid));
              this.bump(lockKey);
            }
            const sid = r.oplock?.resok4?.lock_stateid;
            if (sid) this.s.stateOwner.set(sid.other.toString('hex'), lockKey);
          } else if (bumps) this.bump(ownerOfStateid(l.lock_owner!.lock_stateid));
          break;
        }
        case N.OP_LOCKU:
          if (bumps) this.bump(ownerOfStateid(a.oplocku!.lock_stateid));
          break;
        default:
          break;
      }
    }
  }

  /* ---------------- path helpers ---------------- */

  /** Ops that make `dir` (path components from the root) the current filehandle. */
  private async dirOps(comps: string[]): Promise<N.nfs_argop4[]> {
    // inline only while two of these plus a few ops still fit the session's op limit
    if (comps.length + 1 <= Math.floor((this.maxOps - 4) / 2)) return [op.putrootfh(), ...comps.map(op.lookup)];
    return [op.putfh(await this.lookupPath(comps.join('/')))];
  }

  /** Ops that make the target the current filehandle. */
  private async targetOps(t: Target): Promise<N.nfs_argop4[]> {
    if (Buffer.isBuffer(t)) return [op.putfh(t)];
    return this.dirOps(splitPath(t));
  }

  /** File handle of a path ('' or '/' is the root). */
  async lookupPath(path: string): Promise<Buffer> {
    const comps = splitPath(path);
    const chunk = Math.max(1, this.maxOps - 4);
    let fh: Buffer | undefined;
    let i = 0;
    do {
      const part = comps.slice(i, i + chunk);
      const res = await this.exec(() => [fh ? op.putfh(fh) : op.putrootfh(), ...part.map(op.lookup), op.getfh()]);
      fh = Buffer.from(res[res.length - 1]!.opgetfh!.resok4!.object);
      i += chunk;
    } while (i < comps.length);
    return fh;
  }

  async rootFh(): Promise<Buffer> {
    return this.lookupPath('/');
  }

  /* ---------------- attributes ---------------- */

  async getattr(t: Target, attrs: number[] = DEFAULT_GETATTR): Promise<Attrs> {
    const res = await this.exec(async () => [...(await this.targetOps(t)), op.getattr(attrs)]);
    return decodeAttrs(res[res.length - 1]!.opgetattr!.resok4!.obj_attributes);
  }

  /** SETATTR; returns the attrsset bitmap. */
  async setattr(t: Target, attrs: SetAttrs, stateid: N.stateid4 = ANON_STATEID): Promise<number[]> {
    const res = await this.exec(async () => [...(await this.targetOps(t)), op.setattr(attrs, stateid)]);
    return res[res.length - 1]!.opsetattr!.attrsset;
  }

  async access(t: Target, bits: number): Promise<N.ACCESS4resok> {
    const res = await this.exec(async () => [...(await this.targetOps(t)), op.access(bits)]);
    return res[res.length - 1]!.opaccess!.resok4!;
  }

  /* ---------------- open / close / io ---------------- */

  private openOwner(name?: string): N.open_owner4 {
    return { clientid: this.s.clientId ?? Buffer.alloc(8), owner: Buffer.from(name ?? this.s.openOwner) };
  }

  /** OPEN (CLAIM_NULL) by path; confirms the open on 4.0 when the server asks. */
  async open(path: string, o: OpenOptions = {}): Promise<OpenResult> {
    const { dir, name } = splitParent(path);
    const owner = this.openOwner(o.owner);
    const ownerKey = `o:${owner.owner.toString()}`;
    const access = o.access === 'read' ? N.OPEN4_SHARE_ACCESS_READ : o.access === 'write' ? N.OPEN4_SHARE_ACCESS_WRITE : N.OPEN4_SHARE_ACCESS_BOTH;
    let openhow: N.openflag4 = { opentype: N.OPEN4_NOCREATE };
    const createAttrs: SetAttrs = { mode: o.mode ?? 0o644, ...o.attrs };
    const verifier = o.verifier ?? randomBytes(8);
    if (o.create) {
      if (o.exclusive) {
        openhow =
          this.minorVersion === 1
            ? { opentype: N.OPEN4_CREATE, how: { mode: N.EXCLUSIVE4_1, ch_createboth: { cva_verf: verifier, cva_attrs: encodeAttrs(createAttrs) } } }
            : { opentype: N.OPEN4_CREATE, how: { mode: N.EXCLUSIVE4, createverf: verifier } };
      } else {
        openhow = { opentype: N.OPEN4_CREATE, how: { mode: o.guarded ? N.GUARDED4 : N.UNCHECKED4, createattrs: encodeAttrs(createAttrs) } };
      }
    }
    const res = await this.exec(async () => [
      ...(await this.dirOps(dir)),
      {
        argop: N.OP_OPEN,
        opopen: {
          seqid: this.seqidOf(ownerKey),
          share_access: access,
          share_deny: o.deny ?? N.OPEN4_SHARE_DENY_NONE,
          owner,
          openhow,
          claim: { claim: N.CLAIM_NULL, file: name },
        },
      },
      op.getfh(),
      op.getattr(),
    ]);
    const n = res.length;
    const ok = res[n - 3]!.opopen!.resok4!;
    const fh = Buffer.from(res[n - 2]!.opgetfh!.resok4!.object);
    let attrs = decodeAttrs(res[n - 1]!.opgetattr!.resok4!.obj_attributes);
    let stateid = ok.stateid;
    if (this.minorVersion === 0 && ok.rflags & N.OPEN4_RESULT_CONFIRM) {
      const [, c] = await this.run([op.putfh(fh), { argop: N.OP_OPEN_CONFIRM, opopen_confirm: { open_stateid: stateid, seqid: this.seqidOf(ownerKey) } }]);
      stateid = c!.opopen_confirm!.resok4!.open_stateid;
    }
    if (o.create && o.exclusive && this.minorVersion === 0) {
      await this.setattr(fh, createAttrs, stateid);
      attrs = await this.getattr(fh);
    }
    return { fh, stateid, rflags: ok.rflags, cinfo: ok.cinfo, delegation: ok.delegation, attrs };
  }

  /**
   * Creates an empty file (or leaves an existing one) in one round trip:
   * OPEN + CLOSE of the current stateid on 4.1, OPEN then CLOSE on 4.0.
   * Returns the file handle.
   */
  async touch(path: string, mode = 0o644): Promise<Buffer> {
    if (this.minorVersion === 0) {
      const f = await this.create(path, mode);
      await this.close(f.fh, f.stateid);
      return f.fh;
    }
    const { dir, name } = splitParent(path);
    const res = await this.exec(async () => [
      ...(await this.dirOps(dir)),
      {
        argop: N.OP_OPEN,
        opopen: {
          seqid: 0,
          share_access: N.OPEN4_SHARE_ACCESS_WRITE,
          share_deny: N.OPEN4_SHARE_DENY_NONE,
          owner: this.openOwner(),
          openhow: { opentype: N.OPEN4_CREATE, how: { mode: N.UNCHECKED4, createattrs: encodeAttrs({ mode }) } },
          claim: { claim: N.CLAIM_NULL, file: name },
        },
      },
      op.getfh(),
      { argop: N.OP_CLOSE, opclose: { seqid: 0, open_stateid: CURRENT_STATEID } },
    ]);
    return Buffer.from(res[res.length - 2]!.opgetfh!.resok4!.object);
  }

  /** Creates (or opens, unless exclusive/guarded) a file for reading and writing. */
  create(path: string, mode = 0o644, o: Omit<OpenOptions, 'create' | 'mode'> = {}): Promise<OpenResult> {
    return this.open(path, { ...o, create: true, mode });
  }

  /** CLOSE an open stateid; returns the stateid the server gave back. */
  async close(fh: Buffer, stateid: N.stateid4): Promise<N.stateid4 | undefined> {
    const key = this.s.stateOwner.get(stateid.other.toString('hex')) ?? `o:${this.s.openOwner}`;
    const res = await this.exec(() => [op.putfh(fh), { argop: N.OP_CLOSE, opclose: { seqid: this.seqidOf(key), open_stateid: stateid } }]);
    return res[1]!.opclose!.open_stateid;
  }

  async read(fh: Buffer, stateid: N.stateid4, offset: number, count: number): Promise<{ data: Buffer; eof: boolean }> {
    const res = await this.exec(() => [op.putfh(fh), op.read(stateid, offset, count)]);
    const ok = res[1]!.opread!.resok4!;
    return { data: Buffer.from(ok.data), eof: ok.eof };
  }

  /** Reads from offset to EOF in chunks. */
  async readAll(fh: Buffer, stateid: N.stateid4 = ANON_STATEID, offset = 0, chunk = 1024 * 1024): Promise<Buffer> {
    const parts: Buffer[] = [];
    let pos = offset;
    for (;;) {
      const { data, eof } = await this.read(fh, stateid, pos, chunk);
      parts.push(data);
      pos += data.length;
      if (eof || data.length === 0) break;
    }
    return Buffer.concat(parts);
  }

  /** WRITE in chunks of at most `chunk` bytes; returns the total count and the last reply. */
  async write(
    fh: Buffer,
    stateid: N.stateid4,
    offset: number,
    data: Buffer,
    stable: number = N.FILE_SYNC4,
    chunk = 1024 * 1024,
  ): Promise<{ count: number; committed: number; writeverf: Buffer }> {
    let done = 0;
    let committed: number = N.FILE_SYNC4;
    let writeverf = Buffer.alloc(8);
    do {
      const piece = data.subarray(done, done + chunk);
      const res = await this.exec(() => [op.putfh(fh), op.write(stateid, offset + done, piece, stable)]);
      const ok = res[1]!.opwrite!.resok4!;
      if (ok.count === 0 && piece.length > 0) throw new Error('WRITE wrote 0 bytes');
      done += ok.count;
      committed = Math.min(committed, ok.committed);
      writeverf = Buffer.from(ok.writeverf);
    } while (done < data.length);
    return { count: done, committed, writeverf };
  }

  async commit(fh: Buffer, offset = 0, count = 0): Promise<Buffer> {
    const res = await this.exec(() => [op.putfh(fh), op.commit(offset, count)]);
    return Buffer.from(res[1]!.opcommit!.resok4!.writeverf);
  }

  /** Creates/truncates a file, writes data, closes. Returns the file handle. */
  async writeFile(path: string, data: Buffer, mode = 0o644): Promise<Buffer> {
    const f = await this.create(path, mode, { attrs: { size: 0 } });
    if (data.length) await this.write(f.fh, f.stateid, 0, data, N.FILE_SYNC4);
    await this.close(f.fh, f.stateid);
    return f.fh;
  }

  /** Opens for reading, reads everything, closes. */
  async readFile(path: string): Promise<Buffer> {
    const f = await this.open(path, { access: 'read' });
    try {
      return await this.readAll(f.fh, f.stateid);
    } finally {
      await this.close(f.fh, f.stateid);
    }
  }

  /* ---------------- namespace ---------------- */

  private async createObj(path: string, objtype: N.createtype4, attrs: SetAttrs): Promise<{ fh: Buffer; cinfo: N.change_info4 }> {
    const { dir, name } = splitParent(path);
    const res = await this.exec(async () => [...(await this.dirOps(dir)), op.create(objtype, name, attrs), op.getfh()]);
    const n = res.length;
    return { fh: Buffer.from(res[n - 1]!.opgetfh!.resok4!.object), cinfo: res[n - 2]!.opcreate!.resok4!.cinfo };
  }

  async mkdir(path: string, mode = 0o755, attrs: SetAttrs = {}): Promise<Buffer> {
    return (await this.createObj(path, { type: N.NF4DIR }, { mode, ...attrs })).fh;
  }

  async symlink(path: string, target: string, attrs: SetAttrs = {}): Promise<Buffer> {
    return (await this.createObj(path, { type: N.NF4LNK, linkdata: target }, { mode: 0o777, ...attrs })).fh;
  }

  async readlink(t: Target): Promise<string> {
    const res = await this.exec(async () => [...(await this.targetOps(t)), op.readlink()]);
    return res[res.length - 1]!.opreadlink!.resok4!.link;
  }

  async remove(path: string): Promise<N.change_info4> {
    const { dir, name } = splitParent(path);
    const res = await this.exec(async () => [...(await this.dirOps(dir)), op.remove(name)]);
    return res[res.length - 1]!.opremove!.resok4!.cinfo;
  }

  /** RENAME from one path to another (directories may differ). */
  async rename(from: string, to: string): Promise<N.RENAME4resok> {
    const a = splitParent(from);
    const b = splitParent(to);
    const res = await this.exec(async () => [...(await this.dirOps(a.dir)), op.savefh(), ...(await this.dirOps(b.dir)), op.rename(a.name, b.name)]);
    return res[res.length - 1]!.oprename!.resok4!;
  }

  /** Hard link: newPath becomes another name of existing. */
  async link(existing: Target, newPath: string): Promise<N.change_info4> {
    const b = splitParent(newPath);
    const res = await this.exec(async () => [...(await this.targetOps(existing)), op.savefh(), ...(await this.dirOps(b.dir)), op.link(b.name)]);
    return res[res.length - 1]!.oplink!.resok4!.cinfo;
  }

  /** One READDIR page. */
  async readdirPage(
    dir: Buffer,
    cookie: bigint,
    cookieverf: Buffer,
    o: { attrs?: number[]; dircount?: number; maxcount?: number } = {},
  ): Promise<N.READDIR4resok> {
    const res = await this.exec(() => [op.putfh(dir), op.readdir(cookie, cookieverf, o.dircount ?? 8192, o.maxcount ?? 32768, o.attrs ?? [FATTR.TYPE, FATTR.FILEID])]);
    return res[1]!.opreaddir!.resok4!;
  }

  /** All entries of a directory, following cookies across pages. */
  async readdir(t: Target, o: ReaddirOptions = {}): Promise<DirEntry[]> {
    const dir = Buffer.isBuffer(t) ? t : await this.lookupPath(t);
    const out: DirEntry[] = [];
    let cookie = 0n;
    let verf = Buffer.alloc(8);
    for (let page = 0; ; page++) {
      const ok = await this.readdirPage(dir, cookie, verf, o);
      const entries = ok.reply.entries.map((e) => ({ name: e.name, cookie: e.cookie, attrs: decodeAttrs(e.attrs) }));
      out.push(...entries);
      verf = Buffer.from(ok.cookieverf);
      if (o.onPage) await o.onPage(entries, page);
      if (ok.reply.eof) break;
      if (entries.length === 0) throw new Error('READDIR returned no entries and no EOF');
      cookie = entries[entries.length - 1]!.cookie;
    }
    return out;
  }

  /* ---------------- locks ---------------- */

  private lockOwner(name: string): N.lock_owner4 {
    return { clientid: this.s.clientId ?? Buffer.alloc(8), owner: Buffer.from(name) };
  }

  /** LOCK; returns the lock stateid. Throws NfsStatusError (with .denied) on conflict. */
  async lock(fh: Buffer, openStateid: N.stateid4, o: LockOptions = {}): Promise<N.stateid4> {
    const ownerName = o.owner ?? 'lock-owner';
    const key = `${ownerName}/${fh.toString('hex')}`;
    const lockKey = `l:${ownerName}`;
    const res = await this.exec(() => {
      const existing = this.s.lockStateids.get(key);
      const openKey = this.s.stateOwner.get(openStateid.other.toString('hex')) ?? `o:${this.s.openOwner}`;
      const locker: N.locker4 = existing
        ? { new_lock_owner: false, lock_owner: { lock_stateid: existing, lock_seqid: this.seqidOf(lockKey) } }
        : {
            new_lock_owner: true,
            open_owner: {
              open_seqid: this.seqidOf(openKey),
              open_stateid: openStateid,
              lock_seqid: this.seqidOf(lockKey),
              lock_owner: this.lockOwner(ownerName),
            },
          };
      return [
        op.putfh(fh),
        {
          argop: N.OP_LOCK,
          oplock: { locktype: o.type ?? N.WRITE_LT, reclaim: o.reclaim ?? false, offset: o.offset ?? 0, length: o.length ?? NFS4_LENGTH_EOF, locker },
        },
      ];
    });
    const sid = res[1]!.oplock!.resok4!.lock_stateid;
    this.s.lockStateids.set(key, sid);
    return sid;
  }

  /** LOCKT: undefined when the range is free, else the conflicting lock. */
  async lockt(fh: Buffer, o: LockOptions = {}): Promise<N.LOCK4denied | undefined> {
    try {
      await this.exec(() => [
        op.putfh(fh),
        {
          argop: N.OP_LOCKT,
          oplockt: { locktype: o.type ?? N.WRITE_LT, offset: o.offset ?? 0, length: o.length ?? NFS4_LENGTH_EOF, owner: this.lockOwner(o.owner ?? 'lockt-owner') },
        },
      ]);
      return undefined;
    } catch (err) {
      if (err instanceof NfsStatusError && err.status === N.NFS4ERR_DENIED) return err.denied;
      throw err;
    }
  }

  /** LOCKU; returns the updated lock stateid. */
  async locku(fh: Buffer, lockStateid: N.stateid4, o: LockOptions = {}): Promise<N.stateid4> {
    const lockKey = this.s.stateOwner.get(lockStateid.other.toString('hex')) ?? `l:${o.owner ?? 'lock-owner'}`;
    const res = await this.exec(() => [
      op.putfh(fh),
      {
        argop: N.OP_LOCKU,
        oplocku: { locktype: o.type ?? N.WRITE_LT, seqid: this.seqidOf(lockKey), lock_stateid: lockStateid, offset: o.offset ?? 0, length: o.length ?? NFS4_LENGTH_EOF },
      },
    ]);
    const sid = res[1]!.oplocku!.lock_stateid!;
    for (const [k, v] of this.s.lockStateids) if (v.other.equals(sid.other)) this.s.lockStateids.set(k, sid);
    return sid;
  }
}
