import type { Identity, SetAttrs, Stat } from '../store/types.js';

/**
 * POSIX permission checks made by the server on the caller's behalf: the
 * server process may run as root (and so bypass the host kernel's checks),
 * so every decision about the client's identity is taken here.
 * Pure functions: no I/O, no NFS types.
 */

export const MAY_READ = 4;
export const MAY_WRITE = 2;
export const MAY_EXEC = 1;

export function inGroup(who: Identity, gid: number): boolean {
  return who.gid === gid || who.gids.includes(gid);
}

/** Which of rwx (bits 4/2/1) the identity has on the object. */
export function permittedBits(stat: Stat, who: Identity): number {
  if (who.uid === 0) {
    // root: read/write always; execute only if some x bit is set, or for directories
    const anyX = stat.kind === 'dir' || (stat.mode & 0o111) !== 0;
    return MAY_READ | MAY_WRITE | (anyX ? MAY_EXEC : 0);
  }
  if (who.uid === stat.uid) return (stat.mode >> 6) & 7;
  if (inGroup(who, stat.gid)) return (stat.mode >> 3) & 7;
  return stat.mode & 7;
}

export function mayAccess(stat: Stat, who: Identity, want: number): boolean {
  return (permittedBits(stat, who) & want) === want;
}

/**
 * Why `who` may not remove or rename `entry` out of `dir`: 'mode' without
 * write and search permission on the directory; 'sticky' in a sticky
 * directory for anyone but the entry's owner, the directory's owner or root
 * (a question of ownership, not of mode bits, as on Linux: EPERM).
 * undefined when allowed.
 */
export function deleteEntryRefusal(dir: Stat, entry: Stat, who: Identity): 'mode' | 'sticky' | undefined {
  if (!mayAccess(dir, who, MAY_WRITE | MAY_EXEC)) return 'mode';
  if ((dir.mode & 0o1000) === 0) return undefined;
  return who.uid === 0 || who.uid === entry.uid || who.uid === dir.uid ? undefined : 'sticky';
}

/**
 * Owner, group and mode of a new object: owned by the caller; the group comes
 * from a setgid parent (and new directories inherit setgid), else the caller's gid.
 * A non-member creating a setgid file loses the setgid bit, as on Linux.
 */
export function creationOwnership(
  dir: Stat,
  who: Identity,
  mode: number,
  isDir: boolean,
): { uid: number; gid: number; mode: number } {
  let gid = who.gid;
  let m = mode & 0o7777;
  if (dir.mode & 0o2000) {
    gid = dir.gid;
    if (isDir) m |= 0o2000;
  }
  if (!isDir && (m & 0o2000) && who.uid !== 0 && !inGroup(who, gid)) m &= ~0o2000;
  return { uid: who.uid, gid, mode: m };
}

export type SetattrDenial = 'PERM' | 'ACCESS' | undefined;

/**
 * Whether `who` may apply `attrs` to the object. Returns the kind of refusal:
 * PERM for ownership rules (EPERM on Linux), ACCESS for missing write permission.
 * Also returns the mode to store when a chmod by a non-member must drop setgid.
 */
export function checkSetattr(stat: Stat, who: Identity, attrs: SetAttrs): { denial: SetattrDenial; mode?: number } {
  const isRoot = who.uid === 0;
  const isOwner = who.uid === stat.uid;
  let mode = attrs.mode;
  if (attrs.uid !== undefined && attrs.uid !== stat.uid && !isRoot) return { denial: 'PERM' };
  if (attrs.gid !== undefined && attrs.gid !== stat.gid && !isRoot) {
    if (!isOwner || !inGroup(who, attrs.gid)) return { denial: 'PERM' };
  }
  if (mode !== undefined) {
    if (!isRoot && !isOwner) return { denial: 'PERM' };
    const gid = attrs.gid ?? stat.gid;
    if (!isRoot && stat.kind !== 'dir' && (mode & 0o2000) && !inGroup(who, gid)) mode &= ~0o2000;
  }
  if (attrs.size !== undefined) {
    if (stat.kind === 'dir') return { denial: 'ACCESS' };
    if (!mayAccess(stat, who, MAY_WRITE)) return { denial: 'ACCESS' };
  }
  for (const t of [attrs.atime, attrs.mtime]) {
    if (t === undefined) continue;
    if (isRoot || isOwner) continue;
    if (t === 'now' && mayAccess(stat, who, MAY_WRITE)) continue;
    return { denial: t === 'now' ? 'ACCESS' : 'PERM' };
  }
  // chown by root of a non-directory clears setuid/setgid, as the kernel does
  if ((attrs.uid !== undefined || attrs.gid !== undefined) && stat.kind !== 'dir' && mode === undefined) {
    if (stat.mode & 0o6000) mode = stat.mode & ~0o6000;
  }
  return mode === undefined ? { denial: undefined } : { denial: undefined, mode };
}
