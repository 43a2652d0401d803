import { describe, expect, it } from 'vitest';
import { checkSetattr, creationOwnership, mayAccess, deleteEntryRefusal, MAY_EXEC, MAY_READ, MAY_WRITE } from '../../src/policy/permissions.js';
import type { Stat } from '../../src/store/types.js';

const t = { sec: 0, nsec: 0 };
function stat(kind: Stat['kind'], mode: number, uid: number, gid: number): Stat {
  return { ino: 1, gen: 0, kind, mode, nlink: 1, uid, gid, size: 0, spaceUsed: 4096, rdev: { major: 0, minor: 0 }, atime: t, mtime: t, ctime: t, btime: t, change: 1 };
}
const alice = { uid: 1000, gid: 1000, gids: [] as number[] };
const bob = { uid: 1001, gid: 1001, gids: [50] };
const root = { uid: 0, gid: 0, gids: [] as number[] };

describe('POSIX permission checks', () => {
  it('uses owner, then group (incl. supplementary), then other bits', () => {
    const f = stat('reg', 0o640, 1000, 50);
    expect(mayAccess(f, alice, MAY_READ | MAY_WRITE)).toBe(true);
    expect(mayAccess(f, bob, MAY_READ)).toBe(true); // via supplementary group 50
    expect(mayAccess(f, bob, MAY_WRITE)).toBe(false);
    expect(mayAccess(f, { uid: 7, gid: 7, gids: [] }, MAY_READ)).toBe(false);
  });
  it('owner bits win even when group/other would allow more', () => {
    expect(mayAccess(stat('reg', 0o077, 1000, 1000), alice, MAY_READ)).toBe(false);
  });
  it('root reads and writes anything but executes only if some x bit is set', () => {
    expect(mayAccess(stat('reg', 0o000, 5, 5), root, MAY_READ | MAY_WRITE)).toBe(true);
    expect(mayAccess(stat('reg', 0o600, 5, 5), root, MAY_EXEC)).toBe(false);
    expect(mayAccess(stat('reg', 0o610, 5, 5), root, MAY_EXEC)).toBe(true);
    expect(mayAccess(stat('dir', 0o000, 5, 5), root, MAY_EXEC)).toBe(true);
  });
  it('sticky directories protect other users entries', () => {
    const tmp = stat('dir', 0o1777, 0, 0);
    const alicesFile = stat('reg', 0o644, 1000, 1000);
    expect(deleteEntryRefusal(tmp, alicesFile, alice)).toBeUndefined();
    expect(deleteEntryRefusal(tmp, alicesFile, bob)).toBe('sticky');
    expect(deleteEntryRefusal(tmp, alicesFile, root)).toBeUndefined();
    expect(deleteEntryRefusal(stat('dir', 0o777, 0, 0), alicesFile, bob)).toBeUndefined();
    expect(deleteEntryRefusal(stat('dir', 0o755, 0, 0), alicesFile, bob)).toBe('mode');
  });
  it('setgid directories pass their group on, and to subdirectories the bit too', () => {
    const shared = stat('dir', 0o2775, 0, 50);
    expect(creationOwnership(shared, alice, 0o644, false)).toEqual({ uid: 1000, gid: 50, mode: 0o644 });
    expect(creationOwnership(shared, alice, 0o755, true)).toEqual({ uid: 1000, gid: 50, mode: 0o2755 });
    expect(creationOwnership(stat('dir', 0o755, 0, 0), alice, 0o644, false)).toEqual({ uid: 1000, gid: 1000, mode: 0o644 });
  });
  it('setattr: only root gives files away; owners chgrp to their own groups; chmod by owner only', () => {
    const f = stat('reg', 0o644, 1001, 1001);
    expect(checkSetattr(f, bob, { uid: 1000 }).denial).toBe('PERM');
    expect(checkSetattr(f, root, { uid: 1000 }).denial).toBeUndefined();
    expect(checkSetattr(f, bob, { gid: 50 }).denial).toBeUndefined();
    expect(checkSetattr(f, bob, { gid: 60 }).denial).toBe('PERM');
    expect(checkSetattr(f, alice, { mode: 0o777 }).denial).toBe('PERM');
    expect(checkSetattr(f, alice, { size: 0 }).denial).toBe('ACCESS');
    expect(checkSetattr(stat('reg', 0o666, 1001, 1001), alice, { size: 0 }).denial).toBeUndefined();
    expect(checkSetattr(stat('reg', 0o666, 1001, 1001), alice, { mtime: 'now' }).denial).toBeUndefined();
    expect(checkSetattr(stat('reg', 0o666, 1001, 1001), alice, { mtime: { sec: 1, nsec: 0 } }).denial).toBe('PERM');
  });
  it('chmod g+s by a non-member drops the setgid bit', () => {
    expect(checkSetattr(stat('reg', 0o644, 1000, 50), alice, { mode: 0o2755 }).mode).toBe(0o755);
  });
});
