/** What the EFS (REST-JSON) and EC2 (query) front ends both do with a request: a bounded body, the caller's kind. */
import type http from 'node:http';
import type { Caller } from './control-plane.js';

export class BodyTooLarge extends Error {}

/** The whole body, or BodyTooLarge as soon as it (or its declared length) passes `max` bytes. */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Root / IAMUser / AssumedRole / Role, as CloudTrail's userIdentity.type. */
export function callerType(arn: string): Caller['type'] {
  if (/:root$/.test(arn)) return 'Root';
  if (/:assumed-role\//.test(arn)) return 'AssumedRole';
  if (/:role\//.test(arn)) return 'Role';
  return 'IAMUser';
}

/** CloudTrail's userIdentity of an audit record: the verified caller, or what the request claimed. */
export function userIdentityOf(caller: Caller | undefined, accessKeyId: string | undefined): Record<string, string> {
  return caller
    ? { type: caller.type, principalId: caller.accessKeyId, arn: caller.arn, accountId: caller.accountId, accessKeyId: caller.accessKeyId }
    : { type: 'Unknown', ...(accessKeyId ? { accessKeyId } : {}) };
}
