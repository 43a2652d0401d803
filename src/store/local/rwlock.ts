/**
 * An async reader/writer lock with FIFO fairness (a waiting writer blocks
 * readers that arrive after it, so writers are not starved).
 * Not re-entrant: code running under the lock must not take it again.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly queue: Array<{ exclusive: boolean; grant: () => void }> = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.readers--;
      this.pump();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.pump();
    }
  }

  /** For tests/diagnostics. */
  state(): { readers: number; writer: boolean; waiting: number } {
    return { readers: this.readers, writer: this.writer, waiting: this.queue.length };
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.queue.length === 0) {
      if (exclusive && !this.writer && this.readers === 0) {
        this.writer = true;
        return Promise.resolve();
      }
      if (!exclusive && !this.writer) {
        this.readers++;
        return Promise.resolve();
      }
    }
    return new Promise<void>((resolve) => {
      this.queue.push({ exclusive, grant: resolve });
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head.exclusive) {
        if (this.writer || this.readers > 0) return;
        this.queue.shift();
        this.writer = true;
        head.grant();
        return;
      }
      if (this.writer) return;
      this.queue.shift();
      this.readers++;
      head.grant();
    }
  }
}
