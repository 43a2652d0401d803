import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { CompoundCtx } from './context.js';

/** Declared needs of an op; the dispatcher enforces them before calling run(). */
export const NEEDS_CFH = 1 << 0;
export const NEEDS_SFH = 1 << 1;
/** Changes the file system (needs the write capability; refused on a read-only mount). */
export const MUTATES = 1 << 2;
/** 4.1: may (and must) be the only op of a compound without SEQUENCE. */
export const SOLO_WITHOUT_SEQUENCE = 1 << 3;
/** NFSv4.0 only: 4.1 answers NFS4ERR_NOTSUPP. (4.1-only ops need no flag: their opcodes are ILLEGAL in 4.0 by range.) */
export const V40_ONLY = 1 << 4;
/** The op writes its own OK result into ctx.reply (zero-copy READ). The status word is already written. */
export const SELF_ENCODES = 1 << 6;
/**
 * Refused on a connection without ClientMount although it needs no filehandle (ops that
 * NEEDS_CFH are refused anyway): the ones reaching the file system without one, and the
 * first call of a mount (EXCHANGE_ID, SETCLIENTID). Refusing the latter makes Linux report
 * "access denied by server" as on EFS; an ACCESS on the root lookup alone comes out of
 * mount(2) as EPERM.
 */
export const NEEDS_MOUNT = 1 << 7;

/** An op as the dispatcher runs it: its row of the op table (optable.ts) joined with its implementation. */
export interface OpSpec<A = any, R = any> {
  op: number;
  name: string;
  flags: number;
  decode(r: XdrReader): A;
  /** Op semantics only; throws NfsError for non-OK results. */
  run(ctx: CompoundCtx, args: A): R | Promise<R>;
  /** Encodes the resok part (after the status word). Omitted for ops whose OK result is void. */
  encode?(w: XdrWriter, res: R): void;
  /** For ops whose arguments decide whether they change anything (OPEN for writing or creating). */
  mutates?(args: A): boolean;
  /** Encodes what the op's result carries after a non-OK status (e.g. SETATTR's attrsset), whoever raised the error. */
  errorBody?(w: XdrWriter): void;
}

/** An op's implementation, as the op files export it; its opcode, name and flags are in its op table row. */
export type OpImpl<A = any, R = any> = Omit<OpSpec<A, R>, 'op' | 'name' | 'flags'>;
