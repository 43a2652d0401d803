/**
 * Per-key FIFO mutexes: one queue per key, dropped when it drains, so the map
 * only holds keys with work in progress. Not re-entrant.
 *
 * Users: the store (one directory entry, parent ino + name), the NFS state
 * (store.open/close of one file), the management API (changes to the model).
 */
export class KeyedMutex<K = string> {
  private readonly tails = new Map<K, Promise<void>>();

  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev ? prev.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (prev) await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a holder or waiters (tests/diagnostics). */
  get size(): number {
    return this.tails.size;
  }
}
