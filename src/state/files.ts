/**
 * The files that have open or lock state, by inode: each one's open states
 * and byte-range locks, and a mutex that orders async open-state work
 * (store open/close) on it.
 */
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { FileState } from './model.js';

export class FileTable {
  private readonly files = new Map<number, FileState>();
  private readonly mutex = new KeyedMutex<number>();

  get(ino: number): FileState | undefined {
    return this.files.get(ino);
  }

  /** The file's record, created empty if it has none. */
  record(ino: number): FileState {
    let f = this.files.get(ino);
    if (!f) {
      f = { ino, opens: new Set(), locks: [] };
      this.files.set(ino, f);
    }
    return f;
  }

  /** Forgets the record once nothing is open or locked on the file. */
  dropIfUnused(f: FileState): void {
    if (f.opens.size === 0 && f.locks.length === 0 && this.files.get(f.ino) === f) this.files.delete(f.ino);
  }

  /** Serializes async open-state work on one file. */
  withFile<T>(ino: number, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(ino, fn);
  }

  get size(): number {
    return this.files.size;
  }
}
