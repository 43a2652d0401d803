/**
 * One EFS API operation: where it lives (method, path template under
 * /2015-02-01), its success status, and its handler, which holds only the
 * operation's semantics. The HTTP layer does routing, authentication, body
 * limits, errors and the audit record for all of them.
 */
import type { Caller, ControlPlane } from './control-plane.js';
import { Input } from './input.js';
import type { RequestKeySpec, ResourceRef } from '../policy/api-authz.js';

export interface ApiRequest {
  /** Path labels, decoded. */
  labels: Record<string, string>;
  /** Query parameters, decoded; repeated keys keep every value. */
  query: Map<string, string[]>;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  caller: Caller;
}


/** The operation has no resource-level permission: the resource is `*`. */
export const NO_RESOURCE: ResourceRef[] = [];
export const FS_LABEL: ResourceRef[] = [{ from: 'label', member: 'FileSystemId', kind: 'file-system' }];
export const BY_RESOURCE_ID: ResourceRef[] = [{ from: 'label', member: 'ResourceId', kind: 'by-id' }];

export interface ApiOperation {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. `/file-systems/{FileSystemId}/policy` (after /2015-02-01). */
  path: string;
  status: number;
  /** Read-only calls (CloudTrail readOnly) run without the change queue. */
  readOnly: boolean;
  /**
   * The resource of the IAM check (elasticfilesystem:<name> on its ARN): the
   * first of these members the request carries; none (or []) = `*`.
   */
  resource: ResourceRef[];
  /**
   * Condition keys the request carries for IAM besides the ones every call
   * has (tags put on or taken off, Encrypted), and whether it creates a
   * resource (tag-on-create). Absent: none.
   */
  requestKeys?: RequestKeySpec;
  handler(cp: ControlPlane, req: ApiRequest): Promise<Record<string, unknown> | undefined>;
}

/** Query parameters as an Input (the first value of each key). */
export function queryInput(req: ApiRequest): Input {
  const first: Record<string, unknown> = {};
  for (const [k, v] of req.query) first[k] = v[0];
  return new Input(first);
}

export function bodyInput(req: ApiRequest): Input {
  return Input.body(req.body);
}
