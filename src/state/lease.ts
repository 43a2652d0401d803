/**
 * Leases: a client that has sent nothing for a lease period loses its state
 * (the reaper in manager.ts, or the next op that notices, destroys it).
 */
import type { Client } from './model.js';

export class Lease {
  constructor(
    /** Lease period in ms. */
    readonly ms: number,
    /** Clock in ms. */
    readonly now: () => number,
  ) {}

  /** Silent for more than a lease, and no request of its in progress (a slow request does not expire its client). */
  expired(c: Client): boolean {
    if (this.now() - c.lastRenew <= this.ms) return false;
    for (const s of c.sessions) for (const slot of s.slots) if (slot.inProgress) return false;
    return true;
  }

  renew(c: Client): void {
    c.lastRenew = this.now();
  }
}
