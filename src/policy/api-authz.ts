/**
 * IAM for the management API: every call is the action
 * `elasticfilesystem:<Operation>` on the resource the request names (a file
 * system or access point ARN, or `*` where EFS has no resource-level
 * permission), decided by the caller's identity-based policies alone (EFS has
 * no resource policy for API actions): an explicit Deny wins, an Allow is
 * needed. The root of the server's account, and every caller when no
 * credentials are configured, may do everything.
 *
 * Pure functions: the HTTP layer calls authorizeApiCall() after
 * authentication and before the operation's handler.
 */
import type { PolicyDocument } from '../model/types.js';
import { accessPointArn, fileSystemArn } from '../model/types.js';
import { rootAccountOf, statementApplies, type RequestConditions, type RequestContext } from './iam.js';

/**
 * Where a request names the resource IAM matches a policy's Resource against:
 * a path label, query parameter or body member holding an id or ARN. `by-id`
 * (the tag APIs' ResourceId) takes the kind from the id's prefix or the ARN.
 */
export interface ResourceRef {
  from: 'label' | 'query' | 'body';
  member: string;
  kind: 'file-system' | 'access-point' | 'by-id';
}

export interface ApiCallRequest {
  labels: Record<string, string>;
  query: Map<string, string[]>;
  body: unknown;
}

/** The ARN of the id or ARN a member holds (an ARN is taken as given). */
function arnOfValue(value: string, kind: ResourceRef['kind'], region: string, accountId: string): string {
  if (value.startsWith('arn:')) return value;
  const ap = kind === 'access-point' || (kind === 'by-id' && value.startsWith('fsap-'));
  return ap ? accessPointArn(region, accountId, value) : fileSystemArn(region, accountId, value);
}

function memberValue(ref: ResourceRef, req: ApiCallRequest): string | undefined {
  if (ref.from === 'label') return req.labels[ref.member];
  if (ref.from === 'query') return req.query.get(ref.member)?.[0];
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const v = (body as Record<string, unknown>)[ref.member];
  return v === undefined || v === null ? undefined : String(v);
}

/**
 * The resource ARN of a call: from the first member in `refs` the request
 * carries (no lookup: an unknown id still names its ARN, as in IAM), else `*`.
 */
export function apiResourceArn(refs: readonly ResourceRef[], req: ApiCallRequest, region: string, accountId: string): string {
  for (const ref of refs) {
    const v = memberValue(ref, req);
    if (v !== undefined && v !== '') return arnOfValue(v, ref.kind, region, accountId);
  }
  return '*';
}

export interface ApiAuthzInput {
  /** false when no credentials are configured: every caller may do everything. */
  enforce: boolean;
  callerArn: string;
  callerAccountId: string;
  /** The account the server stands in for: its root may do everything. */
  accountId: string;
  identityPolicies?: PolicyDocument[];
  /** e.g. 'elasticfilesystem:DeleteFileSystem'. */
  action: string;
  resourceArn: string;
  sourceIp: string;
  secureTransport: boolean;
  /** Epoch milliseconds (aws:CurrentTime / aws:EpochTime). */
  nowMs: number;
}

export interface ApiAuthzDecision {
  allowed: boolean;
  reason: 'not-enforced' | 'root' | 'allow' | 'explicit-deny' | 'implicit-deny';
  /** Sid (or position) of the deciding statement. */
  statement?: string;
}


function findStatement(docs: PolicyDocument[], effect: 'Allow' | 'Deny', ctx: RequestContext): string | undefined {
  for (let d = 0; d < docs.length; d++) {
    const sts = docs[d]!.Statement;
    for (let i = 0; i < sts.length; i++) {
      const st = sts[i]!;
      if (st.Effect === effect && statementApplies(st, ctx, 'identity')) return st.Sid ?? `identity[${d}].Statement[${i}]`;
    }
  }
  return undefined;
}

export function authorizeApiCall(input: ApiAuthzInput): ApiAuthzDecision {
  if (!input.enforce) return { allowed: true, reason: 'not-enforced' };
  // Another account's root has no identity policies here, and EFS API actions have no resource policy.
  if (rootAccountOf(input.callerArn) === input.accountId) return { allowed: true, reason: 'root' };
  // Only the keys the API can fill; any other key is absent (a positive operator on it is false).
  const conditions: RequestConditions = {
    'aws:SecureTransport': input.secureTransport,
    'aws:SourceIp': input.sourceIp,
    'aws:PrincipalArn': input.callerArn,
    'aws:PrincipalAccount': input.callerAccountId,
    'aws:CurrentTime': new Date(input.nowMs).toISOString(),
    'aws:EpochTime': Math.floor(input.nowMs / 1000),
  };
  const ctx: RequestContext = {
    principal: { kind: 'iam', arn: input.callerArn, accountId: input.callerAccountId },
    action: input.action,
    resourceArn: input.resourceArn,
    conditions,
  };
  const docs = input.identityPolicies ?? [];
  const deny = findStatement(docs, 'Deny', ctx);
  if (deny !== undefined) return { allowed: false, reason: 'explicit-deny', statement: deny };
  const allow = findStatement(docs, 'Allow', ctx);
  if (allow !== undefined) return { allowed: true, reason: 'allow', statement: allow };
  return { allowed: false, reason: 'implicit-deny' };
}

/** AWS's AccessDeniedException message for a refused call. */
export function accessDeniedMessage(callerArn: string, action: string, resourceArn: string, reason: 'explicit-deny' | 'implicit-deny'): string {
  const why = reason === 'explicit-deny' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  return `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resourceArn} ${why}`;
}
