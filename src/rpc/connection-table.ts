import type { Logger } from 'pino';
import type { RpcConnection } from './connection.js';

/** Bounds on client connections, across every listener of the server. */
export interface ConnectionTableLimits {
  /** Connections at once, all sources together (kept well below the process's fd limit). */
  maxConnections: number;
  /** Connections at once from one source address. */
  maxConnectionsPerSource: number;
  /** A record must arrive whole within this many ms of its first byte. */
  recordTimeoutMs: number;
  /** A connection with no call for this long (and none running) is closed; clients reconnect on demand. */
  idleTimeoutMs: number;
  /**
   * At the global cap, a new connection may take the place of the one idle
   * longest if that one has been idle at least this long: the reserve that
   * lets a well-behaved client in while stalled connections hold every place.
   */
  evictIdleAfterMs: number;
}

/** What the table counts (diagnostics and tests). */
export interface ConnectionTableStats {
  /** Places taken (connections accepted and not yet closed). */
  open: number;
  /** Of those, the ones carrying RPC (past the TLS handshake / first byte). */
  carryingRpc: number;
  sources: number;
  admitted: number;
  refusedPerSource: number;
  refusedGlobal: number;
  evicted: number;
  closedRecordTimeout: number;
  closedIdle: number;
}

/** A place in the table, held from accept until the socket closes. */
export interface Admission {
  /** The RPC connection that now uses the place (it can then be swept and evicted). */
  attach(conn: RpcConnection): void;
  release(): void;
}

interface Place {
  source: string;
  conn: RpcConnection | undefined;
  released: boolean;
}

/** Sources whose refusals are remembered (to log once per source); the oldest is forgotten beyond this. */
const MAX_REFUSED_SOURCES = 1024;

/**
 * Admission and reaping of client connections. Every accepted socket takes
 * a place (refused beyond the per-source or the global cap); a periodic
 * sweep closes connections whose record stalled or that went quiet. A
 * refused source is logged once, with a count when it gets in again.
 */
export class ConnectionTable {
  private readonly perSource = new Map<string, number>();
  /** Connections that carry RPC (sockets still being sniffed or handshaking have their own timeouts in the front end). */
  private readonly live = new Map<RpcConnection, Place>();
  private readonly refusedSources = new Map<string, number>();
  private total = 0;
  private readonly counters = { admitted: 0, refusedPerSource: 0, refusedGlobal: 0, evicted: 0, closedRecordTimeout: 0, closedIdle: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly limits: ConnectionTableLimits,
    private readonly log: Logger,
  ) {
    const period = Math.max(100, Math.min(5000, Math.floor(Math.min(limits.recordTimeoutMs, limits.idleTimeoutMs) / 4)));
    this.timer = setInterval(() => this.sweep(performance.now()), period);
    this.timer.unref();
  }

  /** Takes a place for a new connection from `source`, or refuses (undefined). */
  admit(source: string): Admission | undefined {
    const fromSource = this.perSource.get(source) ?? 0;
    if (fromSource >= this.limits.maxConnectionsPerSource) {
      this.counters.refusedPerSource++;
      this.noteRefusal(source, `${fromSource} connections from this address (maxConnectionsPerSource ${this.limits.maxConnectionsPerSource})`);
      return undefined;
    }
    if (this.total >= this.limits.maxConnections && !this.evictOne()) {
      this.counters.refusedGlobal++;
      this.noteRefusal(source, `${this.total} connections in all (maxConnections ${this.limits.maxConnections})`);
      return undefined;
    }
    const refused = this.refusedSources.get(source);
    if (refused !== undefined) {
      this.refusedSources.delete(source);
      this.log.info({ source, refused }, 'connections from this address are accepted again');
    }
    this.perSource.set(source, fromSource + 1);
    this.total++;
    this.counters.admitted++;
    const place = { source, conn: undefined as RpcConnection | undefined, released: false };
    return {
      attach: (c) => {
        if (place.released) return;
        place.conn = c;
        this.live.set(c, place);
      },
      release: () => this.free(place),
    };
  }

  /** Gives a place back (once: eviction frees it early, the socket's close comes later). */
  private free(place: Place): void {
    if (place.released) return;
    place.released = true;
    if (place.conn) this.live.delete(place.conn);
    this.total--;
    const n = (this.perSource.get(place.source) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(place.source);
    else this.perSource.set(place.source, n);
  }

  stats(): ConnectionTableStats {
    return { open: this.total, carryingRpc: this.live.size, sources: this.perSource.size, ...this.counters };
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Logs the first refusal of a source; later ones are only counted until it gets in again. */
  private noteRefusal(source: string, why: string): void {
    const seen = this.refusedSources.get(source);
    if (seen !== undefined) {
      this.refusedSources.set(source, seen + 1);
      return;
    }
    if (this.refusedSources.size >= MAX_REFUSED_SOURCES) {
      const oldest = this.refusedSources.keys().next();
      if (!oldest.done) this.refusedSources.delete(oldest.value);
    }
    this.refusedSources.set(source, 1);
    this.log.warn({ source, why }, 'connection refused: limit reached (further refusals from this address are counted, not logged; raise "limits" in the config if these clients are legitimate)');
  }

  /** Frees a place at the global cap by closing the connection idle longest, if it has been idle long enough. */
  private evictOne(): boolean {
    const now = performance.now();
    let victim: RpcConnection | undefined;
    let longest = this.limits.evictIdleAfterMs;
    for (const c of this.live.keys()) {
      const idle = c.idleFor(now);
      if (idle >= longest) {
        longest = idle;
        victim = c;
      }
    }
    if (!victim) return false;
    this.counters.evicted++;
    // its place goes to the newcomer now, before its socket has finished closing
    this.free(this.live.get(victim)!);
    victim.abort(`idle for ${Math.round(longest / 1000)} s while the server is at maxConnections: making room`);
    return true;
  }

  private sweep(now: number): void {
    for (const [c, place] of this.live) {
      const reason = c.overdue(now, this.limits.recordTimeoutMs, this.limits.idleTimeoutMs);
      if (!reason) continue;
      if (reason === 'record-timeout') {
        this.counters.closedRecordTimeout++;
        c.abort(`a record was not completed within ${this.limits.recordTimeoutMs / 1000} s`);
      } else {
        this.counters.closedIdle++;
        c.abort(`no call for ${this.limits.idleTimeoutMs / 1000} s`);
      }
      this.free(place);
    }
  }
}
