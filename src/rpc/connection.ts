import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { RecordReader } from './record.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { XdrError } from '../xdr/errors.js';
import {
  ACCEPT_GARBAGE_ARGS,
  ACCEPT_SYSTEM_ERR,
  MSG_CALL,
  beginAcceptedReply,
  decodeCall,
  finishRecord,
  type CallHeader,
} from './message.js';
import type { ConnectionContext } from './context.js';

/** What the RPC layer hands a decoded call to. Returns the complete reply record (mark included), or undefined to send nothing. */
export interface CallHandler {
  handleCall(call: CallHeader, record: Buffer, conn: ConnectionContext): Promise<Buffer | undefined>;
}

export interface ConnectionLimits {
  /** Largest record accepted (bigger ones are skipped and answered GARBAGE_ARGS). */
  maxRecord: number;
  /** Calls processed at once per connection; reading pauses at this count. */
  maxInFlight: number;
  /** Pause reading while this many reply bytes wait in the socket. */
  maxQueuedReplyBytes: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxRecord: 2 * 1024 * 1024 + 64 * 1024,
  maxInFlight: 64,
  maxQueuedReplyBytes: 8 * 1024 * 1024,
};

/** Why a connection is due to be closed (see RpcConnection.overdue). */
export type OverdueReason = 'record-timeout' | 'idle';

/**
 * One client connection: record reassembly, concurrent calls (replies go out
 * in completion order, matched by xid), and backpressure that pauses reading
 * instead of dropping the connection. It notes when it last completed a
 * record and when the record it is receiving began, so its owner can close
 * it when a record stalls or the client has gone quiet (overdue()).
 */
export class RpcConnection {
  /** The context's logger (the connection's id and peer are in ctx). */
  private readonly log: Logger;
  private readonly reader: RecordReader;
  private inFlight = 0;
  private closed = false;
  private pausedForLoad = false;
  private sawCall = false;
  /** Monotonic ms of the last complete record (or of the connection's start). */
  private lastRecordAt: number;
  /** Monotonic ms at which the record being received began (meaningful while reader.midRecord). */
  private recordStartedAt: number;
  /** A reply went out in this event-loop turn (a flush at the end of the turn is scheduled). */
  private sentThisTurn = false;
  /** Further replies of this turn are being collected (socket corked) until that flush. */
  private corked = false;
  /** Socket writes (a reply alone, or a corked batch), and replies in them (diagnostics and tests). */
  readonly writeStats = { batches: 0, replies: 0 };

  constructor(
    readonly socket: Socket,
    private readonly handler: CallHandler,
    readonly ctx: ConnectionContext,
    private readonly limits: ConnectionLimits = DEFAULT_LIMITS,
  ) {
    this.log = ctx.log;
    this.lastRecordAt = this.recordStartedAt = performance.now();
    this.reader = new RecordReader(
      {
        onRecord: (rec) => this.onRecord(rec),
        onOversized: (head, claimed) => this.onOversized(head, claimed),
        onFatal: (reason) => this.abort(reason),
      },
      limits.maxRecord,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (!this.reader.midRecord) this.recordStartedAt = performance.now();
      this.reader.push(chunk);
    });
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /**
   * Whether the connection should be closed at `now` (performance.now() ms):
   * a record begun more than recordTimeoutMs ago is still incomplete, or no
   * record arrived for idleTimeoutMs while no call was running.
   */
  overdue(now: number, recordTimeoutMs: number, idleTimeoutMs: number): OverdueReason | undefined {
    // while we hold reading back (backpressure) the client cannot finish its record
    if (this.reader.midRecord && !this.pausedForLoad && now - this.recordStartedAt > recordTimeoutMs) return 'record-timeout';
    if (this.inFlight === 0 && now - this.lastRecordAt > idleTimeoutMs) return 'idle';
    return undefined;
  }

  /** Milliseconds since the last complete record, 0 while calls run (eviction order under the connection cap). */
  idleFor(now: number): number {
    return this.inFlight > 0 ? 0 : now - this.lastRecordAt;
  }

  /** Closes the connection for a reason worth a log line (protocol abuse, timeouts, eviction). */
  abort(reason: string): void {
    if (this.closed) return;
    this.log.warn({ reason }, 'closing connection');
    this.closed = true;
    this.socket.destroy();
  }

  private onRecord(record: Buffer): void {
    this.lastRecordAt = this.recordStartedAt = performance.now();
    if (!this.sawCall) {
      this.sawCall = true;
      this.ctx.onFirstCall?.();
    }
    const r = new XdrReader(record);
    let call: CallHeader;
    try {
      call = decodeCall(r);
    } catch (err) {
      // Without a readable call header there is nothing to answer; with an xid we answer GARBAGE_ARGS.
      if (record.length >= 8 && record.readUInt32BE(4) === MSG_CALL) this.sendGarbage(record.readUInt32BE(0));
      this.log.warn({ err: (err as Error).message }, 'malformed RPC call header');
      return;
    }
    this.inFlight++;
    this.updateFlow();
    this.handler
      .handleCall(call, record, this.ctx)
      .then((reply) => {
        if (reply) this.send(reply);
      })
      .catch((err: unknown) => {
        if (err instanceof XdrError) {
          this.log.warn({ xid: call.xid, err: err.message }, 'undecodable arguments');
          this.sendAccepted(call.xid, ACCEPT_GARBAGE_ARGS);
        } else {
          this.log.error({ xid: call.xid, err }, 'call failed');
          this.sendAccepted(call.xid, ACCEPT_SYSTEM_ERR);
        }
      })
      .finally(() => {
        this.inFlight--;
        this.updateFlow();
      });
  }

  private onOversized(head: Buffer, claimed: number): void {
    this.log.warn({ claimed, max: this.limits.maxRecord }, 'oversized RPC record skipped');
    if (head.length >= 8 && head.readUInt32BE(4) === MSG_CALL) this.sendGarbage(head.readUInt32BE(0));
  }

  private sendGarbage(xid: number): void {
    this.sendAccepted(xid, ACCEPT_GARBAGE_ARGS);
  }

  private sendAccepted(xid: number, stat: number): void {
    const w = new XdrWriter(64);
    beginAcceptedReply(w, xid, stat);
    this.send(finishRecord(w));
  }

  /**
   * Queues a reply. The first reply of an event-loop turn is written at once
   * (no added latency); the replies that complete after it in the same turn
   * (many calls in flight finish in one poll phase) are collected with the
   * socket corked and leave together in one writev when a setImmediate at
   * the end of the turn uncorks it. Backpressure is unchanged: corked bytes
   * count in writableLength, so reading still pauses when too much is queued
   * and resumes on 'drain'.
   */
  send(reply: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    if (!this.sentThisTurn) {
      this.sentThisTurn = true;
      setImmediate(this.flush);
      this.writeStats.batches++;
    } else if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.writeStats.batches++;
    }
    this.writeStats.replies++;
    this.socket.write(reply);
    this.updateFlow();
  }

  private readonly flush = (): void => {
    this.sentThisTurn = false;
    if (!this.corked) return;
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  };

  /** Pause reading while too many calls run or too many reply bytes are queued; resume when both drop. */
  private updateFlow(): void {
    const busy = this.inFlight >= this.limits.maxInFlight || this.socket.writableLength > this.limits.maxQueuedReplyBytes;
    if (busy && !this.pausedForLoad) {
      this.pausedForLoad = true;
      this.socket.pause();
    } else if (!busy) this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.pausedForLoad) return;
    if (this.inFlight >= this.limits.maxInFlight || this.socket.writableLength > this.limits.maxQueuedReplyBytes) return;
    this.pausedForLoad = false;
    this.recordStartedAt = performance.now();
    this.socket.resume();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
