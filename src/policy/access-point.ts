import type { AccessPoint } from '../model/types.js';
import { StoreError, type Stat, type Store } from '../store/types.js';

/**
 * The export index an access point's file handles carry: a stable 32-bit
 * value from its id (never 0, which is the file system root). Handles are
 * MAC-protected, so a handle with this index was handed out through this
 * access point; handles of the root or of other access points are refused.
 */
export function accessPointExportIndex(accessPointId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < accessPointId.length; i++) {
    h ^= accessPointId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/**
 * Resolves an access point's root directory, creating what is missing (as
 * `mkdir -p`) with the CreationInfo owner, group and mode, as EFS does at
 * the first mount. An existing directory is left as it is. Without
 * CreationInfo a missing root is an error: the mount fails (ENOENT).
 */
export async function ensureAccessPointRoot(store: Store, ap: AccessPoint): Promise<Stat> {
  let dir = await store.getattr(store.rootIno);
  const parts = ap.rootDirectory.path.split('/').filter((p) => p.length > 0);
  const info = ap.rootDirectory.creationInfo;
  for (const name of parts) {
    try {
      dir = await store.lookup(dir.ino, name);
    } catch (err) {
      if (!(err instanceof StoreError) || err.code !== 'ENOENT' || !info) throw err;
      const mode = parseInt(info.permissions, 8);
      try {
        dir = (await store.mkdir(dir.ino, name, { uid: info.ownerUid, gid: info.ownerGid, mode })).stat;
      } catch (e) {
        // another connection created it first
        if (!(e instanceof StoreError) || e.code !== 'EEXIST') throw e;
        dir = await store.lookup(dir.ino, name);
      }
    }
    if (dir.kind !== 'dir') throw new StoreError('ENOTDIR', `${ap.rootDirectory.path} is not a directory`);
  }
  return dir;
}
