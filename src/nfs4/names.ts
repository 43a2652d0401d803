import * as N from '../xdr/gen/nfs4.js';
import { MAX_NAME_BYTES } from '../protocol/efs-limits.js';
import { NfsError } from '../protocol/status.js';

/**
 * Validates one path component from a client (RFC 8881 section 14.2):
 * empty -> INVAL, "." / ".." / "/" / NUL -> BADNAME, too long -> NAMETOOLONG,
 * undecodable UTF-8 (the decoder substituted U+FFFD) -> INVAL.
 */
export function checkComponent(name: string): string {
  if (name.length === 0) throw new NfsError(N.NFS4ERR_INVAL, 'empty name');
  if (name === '.' || name === '..') throw new NfsError(N.NFS4ERR_BADNAME, name);
  if (name.includes('/') || name.includes('\0')) throw new NfsError(N.NFS4ERR_BADNAME, 'name contains / or NUL');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw new NfsError(N.NFS4ERR_NAMETOOLONG);
  if (name.includes('\uFFFD')) throw new NfsError(N.NFS4ERR_INVAL, 'name is not valid UTF-8');
  return name;
}
