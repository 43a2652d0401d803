import pino from 'pino';
import { FULL_ACCESS } from '../../src/policy/authorizer.js';
import { newConnectionId, type ConnectionContext } from '../../src/rpc/context.js';

/** A plain connection's context with full access (what a file system without a policy grants), for tests below the fleet. */
export function testConnectionContext(extra: Partial<ConnectionContext> = {}): ConnectionContext {
  return {
    id: newConnectionId(),
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    grant: FULL_ACCESS,
    jail: undefined,
    log: pino({ level: 'silent' }),
    ...extra,
  };
}
