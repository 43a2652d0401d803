import { XdrWriter } from '../xdr/writer.js';
import {
  ACCEPT_PROC_UNAVAIL,
  ACCEPT_PROG_UNAVAIL,
  ACCEPT_SUCCESS,
  AUTH_BADCRED,
  RPC_VERSION,
  beginAcceptedReply,
  finishRecord,
  writeAuthError,
  writeProgMismatch,
  writeRpcMismatch,
  type CallHeader,
} from './message.js';
import type { CallHandler } from './connection.js';
import type { ConnectionContext } from './context.js';

/** Answers one call of a program; returns the complete reply record, or undefined to send nothing. */
export type CallProcedure = (call: CallHeader, record: Buffer, conn: ConnectionContext) => Promise<Buffer | undefined> | Buffer | undefined;

/** One ONC RPC program as the router sees it. */
export interface RpcProgram {
  readonly prog: number;
  /** Answers every call of the program (versions, credentials and procedures are its own business). */
  readonly handle: CallProcedure;
}

/**
 * RFC 5531 routing: the RPC version, then the program. Everything above
 * this sees only calls of its own program.
 */
export class RpcRouter implements CallHandler {
  private readonly programs = new Map<number, RpcProgram>();

  constructor(programs: readonly RpcProgram[]) {
    for (const p of programs) {
      if (this.programs.has(p.prog)) throw new Error(`RPC program ${p.prog} registered twice`);
      this.programs.set(p.prog, p);
    }
  }

  async handleCall(call: CallHeader, record: Buffer, conn: ConnectionContext): Promise<Buffer | undefined> {
    if (call.rpcvers !== RPC_VERSION) {
      const w = new XdrWriter(64);
      writeRpcMismatch(w, call.xid);
      return finishRecord(w);
    }
    const program = this.programs.get(call.prog);
    if (!program) return acceptedOnly(call.xid, ACCEPT_PROG_UNAVAIL);
    return program.handle(call, record, conn);
  }
}

export interface StandardProgramSpec {
  prog: number;
  /** The one version served. */
  vers: number;
  /** Credential flavors accepted; others (and undecodable ones) get AUTH_ERROR / AUTH_BADCRED. */
  flavors: readonly number[];
  /** Procedures besides NULL (procedure 0, answered here); others get PROC_UNAVAIL. */
  procs: ReadonlyMap<number, CallProcedure>;
}

/** A program with one version whose NULL procedure is empty: version, credential and procedure checks done once here. */
export function standardProgram(spec: StandardProgramSpec): RpcProgram {
  return {
    prog: spec.prog,
    handle(call, record, conn) {
      if (call.vers !== spec.vers) {
        const w = new XdrWriter(64);
        writeProgMismatch(w, call.xid, spec.vers, spec.vers);
        return finishRecord(w);
      }
      if (!spec.flavors.includes(call.credFlavor) || call.badCred) {
        const w = new XdrWriter(64);
        writeAuthError(w, call.xid, AUTH_BADCRED);
        return finishRecord(w);
      }
      if (call.proc === 0) return acceptedOnly(call.xid, ACCEPT_SUCCESS);
      const proc = spec.procs.get(call.proc);
      if (!proc) return acceptedOnly(call.xid, ACCEPT_PROC_UNAVAIL);
      return proc(call, record, conn);
    },
  };
}

function acceptedOnly(xid: number, stat: number): Buffer {
  const w = new XdrWriter(64);
  beginAcceptedReply(w, xid, stat);
  return finishRecord(w);
}
