import type { Logger } from 'pino';
import type { Grant } from '../policy/authorizer.js';
import type { Jail } from '../policy/jail.js';

/**
 * Everything known about one client connection, made once when it is
 * accepted and handed to every call it carries: who the peer is, how it
 * came (TLS), what it may do (the grant settled by the file system's policy),
 * the access-point jail its handles pass through, and its logger. Nothing is
 * looked up per call and nothing falls back to full access.
 */
export interface ConnectionContext {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** What the connection may do; also says whether it came over TLS (grant.secure). */
  readonly grant: Grant;
  /** Access-point connections only: the root every handle is checked against. */
  readonly jail: Jail | undefined;
  readonly log: Logger;
  /**
   * Called once, when the first RPC call arrives: a connection that carries
   * no call (efs-utils' TLS probe) is no mount, so its decision is not audited.
   */
  onFirstCall?(): void;
}

let nextConnectionId = 1;

/** A process-wide connection number (log correlation, NFSv4.1 connection binding). */
export function newConnectionId(): number {
  return nextConnectionId++;
}
