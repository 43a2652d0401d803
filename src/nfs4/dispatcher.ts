import { XdrReader } from '../xdr/reader.js';
import { ANON_ID } from '../protocol/efs-limits.js';
import { XdrWriter } from '../xdr/writer.js';
import { XdrError } from '../xdr/errors.js';
import * as N from '../xdr/gen/nfs4.js';
import { AUTH_NONE, AUTH_SYS, ACCEPT_SUCCESS, beginAcceptedReply, finishRecord, type CallHeader } from '../rpc/message.js';
import type { ConnectionContext } from '../rpc/context.js';
import { standardProgram, type RpcProgram } from '../rpc/router.js';
import type { CompoundCtx, FileRef, RpcCred, ServerCtx } from './context.js';
import { DuplicateRequestCache } from './drc.js';
import { effectiveIdentity } from '../policy/authorizer.js';
import {
  MUTATES,
  NEEDS_CFH,
  NEEDS_MOUNT,
  NEEDS_SFH,
  SELF_ENCODES,
  SOLO_WITHOUT_SEQUENCE,
  V40_ONLY,
  type OpSpec,
} from './optable-types.js';
import { NfsError, toNfsError } from '../protocol/status.js';
import type { Session, Slot } from '../state/types.js';

export const NFS_PROGRAM = 100003;
export const NFS_V4 = 4;
const PROC_COMPOUND = 1;

/** Compounds of 4.0 (no session to bound them) may hold at most this many ops. */
export const MAX_OPS_V40 = 128;
/** Reply budget for 4.0 compounds (no session to say otherwise). */
const V40_REPLY_BUDGET = 2 * 1024 * 1024;
/** The tag is echoed back; bound it. */
const MAX_TAG = 1024;
/** Bytes of the compound arguments hashed to tell a retransmission from a different request on the same slot and seqid. */
const FINGERPRINT_BYTES = 512;

/** compound() result meaning: send no reply (a retransmission of a request still running). */
const DROP = Buffer.alloc(0);

/**
 * Identifies a request's content, to tell a retransmission from a new request under the same slot
 * or xid: its length and first FINGERPRINT_BYTES bytes, copied (cheaper than hashing them, and a
 * comparison of the bytes themselves can never collide).
 */
function fingerprintOf(r: XdrReader, argsStart: number): Buffer {
  const n = Math.min(r.end - argsStart, FINGERPRINT_BYTES);
  const fp = Buffer.allocUnsafe(4 + n);
  fp.writeUInt32BE(r.end - argsStart, 0);
  r.buf.copy(fp, 4, argsStart, argsStart + n);
  return fp;
}
const FIRST_OP = N.OP_ACCESS;
const LAST_OP_V40 = N.OP_RELEASE_LOCKOWNER;
const LAST_OP_V41 = N.OP_RECLAIM_COMPLETE;
const EMPTY = Buffer.alloc(0);

/**
 * SEQUENCE is run by the dispatcher itself (slot checks and replay wrap the
 * whole compound; its op table row says so); the spec only decodes.
 */
const SEQUENCE_SPEC: OpSpec<N.SEQUENCE4args, never> = {
  op: N.OP_SEQUENCE,
  name: 'SEQUENCE',
  flags: 0,
  decode: (r) => N.decode_SEQUENCE4args(r),
  run() {
    throw new Error('SEQUENCE is handled by the dispatcher');
  },
};

/**
 * The NFS program as the RPC router sees it: version 4, AUTH_SYS or
 * AUTH_NONE, NULL and COMPOUND (src/rpc/router.ts does the checks).
 */
export function nfs4RpcProgram(program: Nfs4Program): RpcProgram {
  return standardProgram({
    prog: NFS_PROGRAM,
    vers: NFS_V4,
    flavors: [AUTH_SYS, AUTH_NONE],
    procs: new Map([[PROC_COMPOUND, (call, record, conn) => program.compoundCall(call, record, conn)]]),
  });
}

/** Runs COMPOUNDs against the op table. */
export class Nfs4Program {
  private readonly ops: (OpSpec | undefined)[] = [];
  readonly drc = new DuplicateRequestCache();

  /** `specs`: the op table's (OP_SPECS of optable.ts), or a test's own few. */
  constructor(
    private readonly server: ServerCtx,
    specs: readonly OpSpec[],
  ) {
    for (const s of [SEQUENCE_SPEC, ...specs]) {
      if (this.ops[s.op]) throw new Error(`op ${s.name} registered twice`);
      this.ops[s.op] = s;
    }
  }

  /** One COMPOUND call (version, credential flavor and procedure already checked by the router). */
  async compoundCall(call: CallHeader, record: Buffer, conn: ConnectionContext): Promise<Buffer | undefined> {
    // most replies are a few hundred bytes: a small slab comes from Buffer's shared pool; READ and
    // READDIR size the slab for their data themselves
    const w = new XdrWriter(2048);
    beginAcceptedReply(w, call.xid, ACCEPT_SUCCESS);
    const resultsAt = w.mark();
    const cred: RpcCred = call.authsys
      ? { flavor: AUTH_SYS, uid: call.authsys.uid, gid: call.authsys.gid, gids: call.authsys.gids, machinename: call.authsys.machinename }
      : { flavor: AUTH_NONE, uid: ANON_ID, gid: ANON_ID, gids: [], machinename: '' };
    const r = new XdrReader(record, call.argsAt);
    const replay = await this.compound(r, w, cred, conn, call.xid);
    if (replay === DROP) return undefined;
    if (replay) {
      // a retransmission on a slot: the cached COMPOUND4res goes out under this call's xid
      w.rollback(resultsAt);
      w.raw(replay);
    }
    return finishRecord(w);
  }

  /**
   * Runs one COMPOUND, writing COMPOUND4res into w. Returns cached reply bytes
   * instead when SEQUENCE says the request is a retransmission.
   */
  private async compound(r: XdrReader, w: XdrWriter, cred: RpcCred, conn: ConnectionContext, xid: number): Promise<Buffer | undefined> {
    const argsStart = r.pos;
    // Header errors here are GARBAGE_ARGS (thrown XdrError -> connection)
    const tag = r.string(MAX_TAG);
    const minorVersion = r.u32();
    const numOps = r.length(0xffffffff, 4);

    const resStart = w.mark();
    const statusAt = w.reserveU32();
    w.string(tag);
    const countAt = w.reserveU32();
    let count = 0;
    let status: number = N.NFS4_OK;

    const finish = (): undefined => {
      w.patchU32(statusAt, status);
      w.patchU32(countAt, count);
      return undefined;
    };

    if (minorVersion > 1) {
      status = N.NFS4ERR_MINOR_VERS_MISMATCH;
      return finish();
    }
    if (minorVersion === 0 && numOps > MAX_OPS_V40) {
      status = N.NFS4ERR_RESOURCE;
      return finish();
    }
    // 4.0 retransmissions (same xid after a reconnect) are answered from the duplicate request cache
    let drcKey: string | undefined;
    if (minorVersion === 0) {
      drcKey = DuplicateRequestCache.key(conn.remoteAddress, xid, fingerprintOf(r, argsStart));
      const seen = this.drc.begin(drcKey);
      if (seen.kind === 'replay') return seen.reply;
      if (seen.kind === 'in-progress') return DROP;
    }
    let mutated = false;

    const { grant, jail } = conn;
    const ctx: CompoundCtx = {
      server: this.server,
      conn,
      minorVersion,
      cred,
      identity: effectiveIdentity({ uid: cred.uid, gid: cred.gid, gids: cred.gids }, grant),
      cfh: undefined,
      sfh: undefined,
      currentStateid: undefined,
      savedStateid: undefined,
      session: undefined,
      slot: undefined,
      reply: w,
      replyBudget: minorVersion === 0 ? V40_REPLY_BUDGET : 0,
      replyStart: resStart,
      ...(jail ? { jailAdmitted: new Set<FileRef>() } : {}),
    };
    let session: Session | undefined;
    let slot: Slot | undefined;
    let cacheThis = false;

    for (let i = 0; i < numOps; i++) {
      let opcode: number;
      try {
        opcode = r.u32();
      } catch {
        status = N.NFS4ERR_BADXDR;
        w.u32(N.OP_ILLEGAL);
        w.u32(status);
        count++;
        break;
      }
      // an op of this minor version that we do not offer (pNFS, delegations...) is NOTSUPP; anything else is ILLEGAL
      const known = opcode >= FIRST_OP && opcode <= (minorVersion === 0 ? LAST_OP_V40 : LAST_OP_V41);
      const spec = known ? this.ops[opcode] : undefined;
      w.u32(known ? opcode : N.OP_ILLEGAL);
      const statusWordAt = w.reserveU32();
      count++;
      try {
        if (!spec) throw new NfsError(known ? N.NFS4ERR_NOTSUPP : N.NFS4ERR_OP_ILLEGAL, `opcode ${opcode}`);
        // minor-version gates (4.1 opcodes in a 4.0 compound are already ILLEGAL above)
        if (minorVersion === 1 && spec.flags & V40_ONLY) throw new NfsError(N.NFS4ERR_NOTSUPP, spec.name);

        // decode the op's arguments (a failure is BADXDR for this op)
        let args: unknown;
        try {
          args = spec.decode(r);
        } catch (err) {
          if (err instanceof XdrError) throw new NfsError(N.NFS4ERR_BADXDR, err.message);
          throw err;
        }

        // 4.1 position rules (RFC 8881 2.10.6 and 18.46.3)
        if (minorVersion === 1) {
          if (opcode === N.OP_SEQUENCE) {
            if (i !== 0) throw new NfsError(N.NFS4ERR_SEQUENCE_POS);
            const seqArgs = args as N.SEQUENCE4args;
            const outcome = this.server.state.sequence(seqArgs, fingerprintOf(r, argsStart), conn.id);
            if (outcome.kind === 'replay') return outcome.reply;
            if (outcome.kind === 'uncached') {
              // SEQUENCE's result again; the op after it cannot be answered (RFC 8881 2.10.6.1.3)
              w.patchU32(statusWordAt, N.NFS4_OK);
              N.encode_SEQUENCE4resok(w, outcome.resok as N.SEQUENCE4resok);
              if (numOps > 1) {
                status = N.NFS4ERR_RETRY_UNCACHED_REP;
                w.u32(r.remaining >= 4 ? r.buf.readUInt32BE(r.pos) : N.OP_ILLEGAL);
                w.u32(status);
                count++;
              }
              return finish();
            }
            session = outcome.session;
            slot = outcome.slot;
            ctx.session = session;
            ctx.slot = slot;
            cacheThis = seqArgs.sa_cachethis;
            ctx.replyBudget = cacheThis ? Math.min(session.maxResponseSize, session.maxResponseSizeCached) : session.maxResponseSize;
            w.patchU32(statusWordAt, N.NFS4_OK);
            N.encode_SEQUENCE4resok(w, outcome.resok as N.SEQUENCE4resok);
            if (w.length - resStart > ctx.replyBudget) {
              status = cacheThis ? N.NFS4ERR_REP_TOO_BIG_TO_CACHE : N.NFS4ERR_REP_TOO_BIG;
              w.rollback(statusWordAt + 4);
              w.patchU32(statusWordAt, status);
              break;
            }
            const limitError =
              numOps > session.maxOps ? N.NFS4ERR_TOO_MANY_OPS : r.end - argsStart > session.maxRequestSize ? N.NFS4ERR_REQ_TOO_BIG : 0;
            if (limitError) {
              // SEQUENCE itself succeeded (the slot is in use); the op after it carries the error
              status = limitError;
              w.u32(r.remaining >= 4 ? r.buf.readUInt32BE(r.pos) : N.OP_ILLEGAL);
              w.u32(status);
              count++;
              break;
            }
            continue;
          }
          if (i === 0) {
            if (!(spec.flags & SOLO_WITHOUT_SEQUENCE)) throw new NfsError(N.NFS4ERR_OP_NOT_IN_SESSION, spec.name);
            if (numOps > 1 && opcode !== N.OP_DESTROY_SESSION) throw new NfsError(N.NFS4ERR_NOT_ONLY_OP, spec.name);
            ctx.replyBudget = V40_REPLY_BUDGET;
          }
          // after SEQUENCE, EXCHANGE_ID / CREATE_SESSION / DESTROY_CLIENTID are allowed (RFC 8881 18.35.3, 18.36.3, 18.50.3)
        }

        // the connection's grant: no ClientMount -> nothing of the file system; no ClientWrite -> read-only
        if (!grant.mount && spec.flags & (NEEDS_CFH | NEEDS_MOUNT)) {
          throw new NfsError(N.NFS4ERR_ACCESS, grant.refusal ?? 'ClientMount not granted');
        }
        if (!grant.write && (spec.flags & MUTATES || spec.mutates?.(args))) {
          throw new NfsError(this.server.config.readOnlyStatus, 'ClientWrite not granted');
        }
        // declared needs
        if (spec.flags & NEEDS_CFH && !ctx.cfh) throw new NfsError(N.NFS4ERR_NOFILEHANDLE, spec.name);
        if (spec.flags & NEEDS_SFH && !ctx.sfh) throw new NfsError(N.NFS4ERR_NOFILEHANDLE, `${spec.name}: no saved filehandle`);
        // through an access point, every handle an op uses must lie inside its root now (it may have been moved out)
        // (once per handle and COMPOUND: a FileRef is made anew whenever a handle changes)
        if (jail) {
          const admitted = ctx.jailAdmitted!;
          if (spec.flags & NEEDS_CFH && !admitted.has(ctx.cfh!)) {
            if (!(await jail.admits(ctx.cfh!.ino))) throw new NfsError(N.NFS4ERR_STALE, `${spec.name}: outside the access point`);
            admitted.add(ctx.cfh!);
          }
          if (spec.flags & NEEDS_SFH && !admitted.has(ctx.sfh!)) {
            if (!(await jail.admits(ctx.sfh!.ino))) throw new NfsError(N.NFS4ERR_STALE, `${spec.name}: saved filehandle outside the access point`);
            admitted.add(ctx.sfh!);
          }
        }

        // run
        w.patchU32(statusWordAt, N.NFS4_OK);
        if (spec.flags & MUTATES) mutated = true;
        const res = await spec.run(ctx, args);
        if (!(spec.flags & SELF_ENCODES) && spec.encode) spec.encode(w, res);
        if (w.length - resStart > ctx.replyBudget) {
          throw new NfsError(cacheThis ? N.NFS4ERR_REP_TOO_BIG_TO_CACHE : N.NFS4ERR_REP_TOO_BIG, `${w.length - resStart} bytes`);
        }
      } catch (err) {
        const nfsErr = toNfsError(err);
        w.rollback(statusWordAt + 4);
        if (!nfsErr) {
          ctx.conn.log.error({ err, op: spec?.name }, 'op failed with a server fault');
          status = N.NFS4ERR_SERVERFAULT;
        } else {
          status = nfsErr.status;
          if (status === N.NFS4ERR_SERVERFAULT || status === N.NFS4ERR_IO) ctx.conn.log.error({ op: spec?.name, detail: nfsErr.detail }, 'op failed');
          else if (ctx.conn.log.isLevelEnabled('debug')) ctx.conn.log.debug({ op: spec?.name, status: nfsErr.name, detail: nfsErr.detail }, 'op error');
        }
        w.patchU32(statusWordAt, status);
        if (nfsErr?.body) nfsErr.body(w);
        else spec?.errorBody?.(w);
        break;
      }
    }
    finish();
    if (drcKey) this.drc.end(drcKey, mutated ? w.buf.subarray(resStart, w.length) : undefined);
    if (session && slot) {
      // copy only what is cached: the slab itself may be a 1 MiB READ reply
      const cached = cacheThis ? Buffer.from(w.buf.subarray(resStart, w.length)) : EMPTY;
      this.server.state.completeSlot(session, slot, cached, cacheThis);
    }
    return undefined;
  }
}
