/**
 * EFS's limits and fixed facts (shared/spec/efs-behaviour.md, "Limits"), in
 * one place for the NFS layer, the store and the policy layer alike.
 */

/** Bytes of one name (a path component). */
export const MAX_NAME_BYTES = 255;
/** Bytes of a symbolic link's target. */
export const MAX_SYMLINK_BYTES = 4080;
/** Hard links to one file. */
export const MAX_LINKS = 177;
/** Largest file, in bytes (about 47.9 TiB). */
export const MAX_FILE_SIZE = 52673613135872;
/** Largest READ and WRITE (maxread / maxwrite): 1 MiB. */
export const MAX_IO_BYTES = 1024 * 1024;
/** The user and group a squashed root becomes unless configured (anonUid/anonGid), and AUTH_NONE's identity. */
export const ANON_ID = 65534;
