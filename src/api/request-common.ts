/** What the EFS (REST-JSON) and EC2 (query) front ends both do with a request: a bounded body, the caller's kind. */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Caller } from './control-plane.js';
import type { Credential } from '../model/types.js';
import { verifyRequest, type SignatureInfo, type SignedRequest } from './sigv4.js';

/** Largest request body read, EFS and EC2 alike (a policy is at most 20,000 characters). */
export const MAX_BODY_BYTES = 256 * 1024;

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

/** What differs between one API call's audit record and another's. */
export interface AuditFields {
  /** The verified caller, or undefined with the access key the request claimed. */
  caller: Caller | undefined;
  accessKeyId: string | undefined;
  eventSource: string;
  eventName: string;
  region: string;
  sourceIp: string;
  userAgent: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: unknown;
  /** CloudTrail's errorCode (each front end names its errors its own way) and message. */
  error?: { code: string; message: string };
  requestId: string;
  readOnly: boolean;
  accountId: string;
  httpStatus: number;
}

/** One CloudTrail-shaped record of an API call (EFS and EC2 calls alike). */
export function auditRecord(f: AuditFields): Record<string, unknown> {
  const { caller, accessKeyId } = f;
  return {
    eventVersion: '1.08',
    userIdentity: caller
      ? { type: caller.type, principalId: caller.accessKeyId, arn: caller.arn, accountId: caller.accountId, accessKeyId: caller.accessKeyId }
      : { type: 'Unknown', ...(accessKeyId ? { accessKeyId } : {}) },
    eventTime: new Date().toISOString(),
    eventSource: f.eventSource,
    eventName: f.eventName,
    awsRegion: f.region,
    sourceIPAddress: f.sourceIp,
    userAgent: f.userAgent,
    requestParameters: f.requestParameters,
    responseElements: f.responseElements,
    ...(f.error ? { errorCode: f.error.code, errorMessage: f.error.message } : {}),
    requestID: f.requestId,
    eventID: randomUUID(),
    readOnly: f.readOnly,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: f.accountId,
    httpStatus: f.httpStatus,
  };
}

/**
 * Checks a request's SigV4 signature (with `credentials` when there are any, else any
 * well-formed one) and names its caller: the key's principal, or the account root.
 * Throws the AWS error (ApiError) of a bad signature.
 */
export function authenticate(
  req: SignedRequest,
  credentials: ReadonlyMap<string, Credential>,
  accountId: string,
  service?: string,
): { info: SignatureInfo; caller: Caller; credential: Credential | undefined } {
  const lookup = credentials.size > 0 ? (key: string) => credentials.get(key) : undefined;
  const info = verifyRequest(req, { ...(lookup ? { lookup } : {}), ...(service ? { service } : {}) });
  const credential = credentials.get(info.accessKeyId);
  const arn = credential ? credential.principalArn : `arn:aws:iam::${accountId}:root`;
  const caller: Caller = { arn, accountId: credential ? credential.accountId : accountId, accessKeyId: info.accessKeyId, type: callerType(arn) };
  return { info, caller, credential };
}
