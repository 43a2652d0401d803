/**
 * Shared setup of the LocalStore unit tests: temporary directories and stores
 * that are shut down and removed after each test, default create attributes,
 * and the StoreError code of a call.
 */
import { afterEach, expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalStore, type LocalStoreOptions } from '../../src/store/local/local-store.js';
import { StoreError, type CreateAttrs } from '../../src/store/types.js';

/** Root-owned file and directory attributes. */
export const FILE: CreateAttrs = { mode: 0o644, uid: 0, gid: 0 };
export const DIR: CreateAttrs = { mode: 0o755, uid: 0, gid: 0 };

export interface TempStores {
  /** A fresh temporary directory. */
  tmp(): Promise<string>;
  /** A store with its tree in dir/fs and its metadata in dir/meta. */
  openAt(dir: string, opts?: Partial<LocalStoreOptions>): Promise<LocalStore>;
  /** A store on a fresh directory; root is its tree on disk. */
  fresh(opts?: Partial<LocalStoreOptions>): Promise<{ s: LocalStore; dir: string; root: string }>;
  /** Shuts a store down before the test ends. */
  close(s: LocalStore): Promise<void>;
}

/** Call at the top of a test file: what it makes is shut down and removed after each test. */
export function useTempStores(): TempStores {
  const dirs: string[] = [];
  const stores: LocalStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.shutdown();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const t: TempStores = {
    async tmp() {
      const d = await mkdtemp(path.join(os.tmpdir(), 'localefs-store-'));
      dirs.push(d);
      return d;
    },
    async openAt(dir, opts = {}) {
      const s = await LocalStore.open({ root: path.join(dir, 'fs'), metaDir: path.join(dir, 'meta'), fsid: { major: 0, minor: 0 }, ...opts });
      stores.push(s);
      return s;
    },
    async fresh(opts = {}) {
      const dir = await t.tmp();
      return { s: await t.openAt(dir, opts), dir, root: path.join(dir, 'fs') };
    },
    async close(s) {
      await s.shutdown();
      stores.splice(stores.indexOf(s), 1);
    },
  };
  return t;
}

/** 'OK', or the StoreError code a call failed with. */
export async function storeCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return (e as StoreError).code;
  }
  return 'OK';
}
