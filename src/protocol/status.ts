/**
 * NFSv4 op results that are not NFS4_OK: NfsError, how store and system
 * errors map to it, and which errors leave a 4.0 owner seqid alone. Below
 * both the op handlers (src/nfs4) and the state layer (src/state), which
 * throw and catch the same NfsError.
 */
import type { XdrWriter } from '../xdr/writer.js';
import { StoreError } from '../store/types.js';
import * as N from '../xdr/gen/nfs4.js';

/**
 * A non-OK op result. Cheap (no stack trace): it is thrown on ordinary paths
 * such as NOENT. `body` encodes an error arm that carries data (e.g. LOCK4denied).
 */
export class NfsError {
  constructor(
    readonly status: number,
    readonly detail?: string,
    readonly body?: (w: XdrWriter) => void,
  ) {}
  get name(): string {
    return N.NFSSTAT4_NAMES[this.status] ?? `status ${this.status}`;
  }
  toString(): string {
    return this.detail ? `${this.name}: ${this.detail}` : this.name;
  }
}

const ERRNO_TO_STATUS: Record<string, number> = {
  ENOENT: N.NFS4ERR_NOENT,
  EEXIST: N.NFS4ERR_EXIST,
  ENOTDIR: N.NFS4ERR_NOTDIR,
  EISDIR: N.NFS4ERR_ISDIR,
  ENOTEMPTY: N.NFS4ERR_NOTEMPTY,
  EINVAL: N.NFS4ERR_INVAL,
  ESTALE: N.NFS4ERR_STALE,
  ENAMETOOLONG: N.NFS4ERR_NAMETOOLONG,
  EMLINK: N.NFS4ERR_MLINK,
  EFBIG: N.NFS4ERR_FBIG,
  ENOSPC: N.NFS4ERR_NOSPC,
  EXDEV: N.NFS4ERR_XDEV,
  EACCES: N.NFS4ERR_ACCESS,
  EPERM: N.NFS4ERR_PERM,
  ELOOP: N.NFS4ERR_SYMLINK,
  EIO: N.NFS4ERR_IO,
  EBADF: N.NFS4ERR_BADHANDLE,
  EDQUOT: N.NFS4ERR_DQUOT,
  EAGAIN: N.NFS4ERR_DELAY,
  ENOTSUP: N.NFS4ERR_NOTSUPP,
};

/** 4.0 errors that leave an open/lock-owner's seqid where it was (RFC 7530 9.1.7), for server and client alike. */
export const SEQID_NEUTRAL: ReadonlySet<number> = new Set<number>([
  N.NFS4ERR_STALE_CLIENTID,
  N.NFS4ERR_STALE_STATEID,
  N.NFS4ERR_BAD_STATEID,
  N.NFS4ERR_BAD_SEQID,
  N.NFS4ERR_BADXDR,
  N.NFS4ERR_RESOURCE,
  N.NFS4ERR_NOFILEHANDLE,
  N.NFS4ERR_MOVED,
]);

/** Maps a thrown value to an NfsError; unknown errors become SERVERFAULT (and are logged by the dispatcher). */
export function toNfsError(err: unknown): NfsError | undefined {
  if (err instanceof NfsError) return err;
  if (err instanceof StoreError) return new NfsError(ERRNO_TO_STATUS[err.code] ?? N.NFS4ERR_IO, err.message);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in ERRNO_TO_STATUS) return new NfsError(ERRNO_TO_STATUS[code]!, String((err as Error).message));
  return undefined;
}
