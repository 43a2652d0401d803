/**
 * IAM for the management API: every call is the action
 * `elasticfilesystem:<Operation>` on the resource the request names (a file
 * system or access point ARN, or `*` where EFS has no resource-level
 * permission), decided by the caller's identity-based policies alone (EFS has
 * no resource policy for API actions): an explicit Deny wins, an Allow is
 * needed. The root of the server's account, and every caller when no
 * credentials are configured, may do everything.
 *
 * Conditions see the keys of condition-keys.ts: the caller's address, TLS,
 * principal and the time for every call, and what each operation declares
 * (RequestKeySpec: the tags it puts on or takes off, CreateFileSystem's
 * Encrypted), plus the tags of the file system or access point it acts on.
 * A create that carries tags also needs elasticfilesystem:TagResource on the
 * new resource, with elasticfilesystem:CreateAction = the operation
 * (tag-on-create, as EFS does).
 *
 * Pure functions: the HTTP layer calls authorizeOperation() after
 * authentication and before the operation's handler.
 */
import { rootAccountOf, type PolicyDocument } from '../model/policy-document.js';
import { accessPointArn, fileSystemArn, parseEfsArn, type Model, type Tag } from '../model/types.js';
import { conditionLookup, type RequestFacts } from './condition-keys.js';
import { findHit, type RequestContext } from './iam.js';

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

/**
 * The condition keys an operation's request carries besides the ones every
 * call has (declared per operation: ApiOperation.requestKeys). Members are
 * read as sent, before the handler validates them; a malformed member is
 * simply absent.
 */
export interface RequestKeySpec {
  /** Body member with the tags the call puts on (`[{Key, Value}]`): aws:RequestTag/<key>, aws:TagKeys. */
  tags?: string;
  /** Where the tag keys the call takes off are: aws:TagKeys. */
  tagKeys?: { from: 'query' | 'body'; member: string };
  /** Body member with CreateFileSystem's Encrypted: elasticfilesystem:Encrypted (false when not sent). */
  encrypted?: string;
  /** The call creates a resource of this kind: with tags it also needs TagResource on it (tag-on-create). */
  creates?: 'file-system' | 'access-point';
}

/** The request-specific keys (tags, Encrypted) of a call, as its operation declares them. */
export function requestKeyFacts(spec: RequestKeySpec | undefined, req: ApiCallRequest): Pick<RequestFacts, 'requestTags' | 'tagKeys' | 'encrypted'> {
  const out: Pick<RequestFacts, 'requestTags' | 'tagKeys' | 'encrypted'> = {};
  if (!spec) return out;
  const body = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  if (spec.tags !== undefined) {
    const raw = body[spec.tags];
    if (Array.isArray(raw)) {
      const tags: Tag[] = [];
      for (const t of raw) {
        if (typeof t !== 'object' || t === null || typeof (t as { Key?: unknown }).Key !== 'string') continue;
        const { Key, Value } = t as { Key: string; Value?: unknown };
        tags.push({ key: Key, value: typeof Value === 'string' ? Value : '' });
      }
      out.requestTags = tags;
      out.tagKeys = tags.map((t) => t.key);
    }
  }
  if (spec.tagKeys !== undefined) {
    const { from, member } = spec.tagKeys;
    const raw: unknown = from === 'query' ? req.query.get(member) : body[member];
    if (Array.isArray(raw)) out.tagKeys = raw.filter((k): k is string => typeof k === 'string');
  }
  if (spec.encrypted !== undefined) out.encrypted = body[spec.encrypted] === true;
  return out;
}

/** Tags of the file system or access point an ARN names, if the model has it. */
export function resourceTagsOf(model: Pick<Model, 'fileSystems' | 'accessPoints'>, arn: string): Tag[] | undefined {
  const p = parseEfsArn(arn);
  if (!p) return undefined;
  const r = p.kind === 'file-system' ? model.fileSystems.get(p.id) : model.accessPoints.get(p.id);
  return r && r.arn === arn ? r.tags : undefined;
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
  /** The request-specific keys (absent when not given). */
  keys?: Pick<RequestFacts, 'requestTags' | 'resourceTags' | 'tagKeys' | 'encrypted' | 'createAction'>;
}

export interface ApiAuthzDecision {
  allowed: boolean;
  reason: 'not-enforced' | 'root' | 'allow' | 'explicit-deny' | 'implicit-deny';
  /** Sid (or position) of the deciding statement. */
  statement?: string;
}


/** The Sid (or position) of the first identity statement with `effect` that applies. */
function findStatement(docs: PolicyDocument[], effect: 'Allow' | 'Deny', ctx: RequestContext): string | undefined {
  return findHit(docs.map((doc, d) => ({ doc, label: `identity[${d}].` })), effect, ctx, 'identity')?.statement;
}

export function authorizeApiCall(input: ApiAuthzInput): ApiAuthzDecision {
  if (!input.enforce) return { allowed: true, reason: 'not-enforced' };
  // Another account's root has no identity policies here, and EFS API actions have no resource policy.
  if (rootAccountOf(input.callerArn) === input.accountId) return { allowed: true, reason: 'root' };
  // Only the keys the API can fill; any other key is absent (a positive operator on it is false).
  const conditions = conditionLookup({
    secureTransport: input.secureTransport,
    sourceIp: input.sourceIp,
    principalArn: input.callerArn,
    principalAccount: input.callerAccountId,
    nowMs: input.nowMs,
    ...input.keys,
  });
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

/** What authorizeOperation() needs of an operation (ApiOperation has it). */
export interface AuthorizedOperation {
  name: string;
  resource: readonly ResourceRef[];
  requestKeys?: RequestKeySpec;
}

export interface ApiCallEnv {
  enforce: boolean;
  callerArn: string;
  callerAccountId: string;
  identityPolicies?: PolicyDocument[];
  /** The server's model: its account, and the tags of the resource a call acts on. */
  model: Pick<Model, 'accountId' | 'fileSystems' | 'accessPoints'>;
  /** The region the request is signed for (its resources' ARNs). */
  region: string;
  sourceIp: string;
  /** The API was reached over TLS (aws:SecureTransport). */
  secureTransport: boolean;
  nowMs: number;
}

/** The outcome of an API call's IAM checks: on refusal, the action and resource that were refused. */
export type OperationDecision =
  | { allowed: true; reason: ApiAuthzDecision['reason'] }
  | { allowed: false; reason: 'explicit-deny' | 'implicit-deny'; action: string; resourceArn: string; statement?: string };

/**
 * Every IAM check of one API call: elasticfilesystem:<Operation> on the
 * resource it names, then, for a create carrying tags, TagResource on the new
 * resource. The new resource's id is drawn only inside the handler, so the
 * TagResource check uses the ARN pattern of its kind,
 * `arn:aws:elasticfilesystem:<region>:<account>:file-system/*` (or
 * `access-point/*`): a policy naming that pattern (AWS's documented
 * tag-on-create example does) or `*` matches it, one naming a particular id
 * cannot, as no id is known before the create.
 */
export function authorizeOperation(op: AuthorizedOperation, req: ApiCallRequest, env: ApiCallEnv): OperationDecision {
  const { region } = env;
  const { accountId } = env.model;
  const base = {
    enforce: env.enforce,
    callerArn: env.callerArn,
    callerAccountId: env.callerAccountId,
    accountId,
    ...(env.identityPolicies ? { identityPolicies: env.identityPolicies } : {}),
    sourceIp: env.sourceIp,
    secureTransport: env.secureTransport,
    nowMs: env.nowMs,
  };
  const action = `elasticfilesystem:${op.name}`;
  const resourceArn = apiResourceArn(op.resource, req, region, accountId);
  const facts = requestKeyFacts(op.requestKeys, req);
  const resourceTags = resourceTagsOf(env.model, resourceArn);
  const main = authorizeApiCall({ ...base, action, resourceArn, keys: { ...facts, ...(resourceTags ? { resourceTags } : {}) } });
  if (!main.allowed) return refused(main, action, resourceArn);

  const creates = op.requestKeys?.creates;
  if (creates && facts.requestTags && facts.requestTags.length > 0) {
    const tagAction = 'elasticfilesystem:TagResource';
    const newArn = creates === 'file-system' ? fileSystemArn(region, accountId, '*') : accessPointArn(region, accountId, '*');
    const tag = authorizeApiCall({
      ...base,
      action: tagAction,
      resourceArn: newArn,
      keys: { requestTags: facts.requestTags, tagKeys: facts.tagKeys ?? [], createAction: op.name },
    });
    if (!tag.allowed) return refused(tag, tagAction, newArn);
  }
  return { allowed: true, reason: main.reason };
}

function refused(d: ApiAuthzDecision, action: string, resourceArn: string): OperationDecision {
  return {
    allowed: false,
    reason: d.reason === 'explicit-deny' ? 'explicit-deny' : 'implicit-deny',
    action,
    resourceArn,
    ...(d.statement !== undefined ? { statement: d.statement } : {}),
  };
}

/** AWS's AccessDeniedException message for a refused call. */
export function accessDeniedMessage(callerArn: string, action: string, resourceArn: string, reason: 'explicit-deny' | 'implicit-deny'): string {
  const why = reason === 'explicit-deny' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  return `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resourceArn} ${why}`;
}
