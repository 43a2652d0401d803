/**
 * IAM policy evaluation for EFS (spec §3.4): a request (principal, action,
 * resource, condition keys) against a file system policy plus the caller's
 * identity policies. The documents themselves (shape, parsing, validation,
 * normalisation) are src/model/policy-document.ts; the condition keys a
 * request carries are src/policy/condition-keys.ts.
 *
 * Pure functions: no I/O. The NFS side calls authorizeClient() once per
 * connection; the management API calls putFileSystemPolicy() and (through
 * api-authz.ts) statementApplies().
 */
import {
  ACCOUNT_RE,
  ASSUMED_ROLE_ARN_RE,
  PolicyError,
  ROLE_OR_USER_ARN_RE,
  ROOT_ARN_RE,
  arnParts,
  normaliseParsedFileSystemPolicy,
  parseConditionOperator,
  parsePolicyJson,
  type BaseOp,
  type ConditionBlock,
  type ConditionValue,
  type ParsedOp,
  type PolicyDocument,
  type PolicyStatement,
  type PrincipalSpec,
  type StringOrList,
} from '../model/policy-document.js';
import { cidrContains } from '../util/cidr.js';
import { conditionLookup, type ConditionLookup, type ContextValue } from './condition-keys.js';

export const ACTION_CLIENT_MOUNT = 'elasticfilesystem:ClientMount';
export const ACTION_CLIENT_WRITE = 'elasticfilesystem:ClientWrite';
export const ACTION_CLIENT_ROOT = 'elasticfilesystem:ClientRootAccess';
export const ACTION_PUT_POLICY = 'elasticfilesystem:PutFileSystemPolicy';

// ---------------------------------------------------------------------------
// Request context and decisions
// ---------------------------------------------------------------------------

export type RequestPrincipal = { kind: 'anonymous' } | { kind: 'iam'; arn: string; accountId: string };

/** Condition keys spelt out by the caller (tests); a list is a multi-valued key. Requests use the table: condition-keys.ts. */
export interface RequestConditions {
  'aws:SecureTransport'?: boolean;
  'elasticfilesystem:AccessPointArn'?: string;
  'elasticfilesystem:AccessedViaMountTarget'?: boolean;
  /** Any other key; undefined (or an empty list) = absent. Keys are matched case-insensitively. */
  [key: string]: ContextValue | undefined;
}

export interface RequestContext {
  principal: RequestPrincipal;
  /** e.g. 'elasticfilesystem:ClientMount'. */
  action: string;
  resourceArn: string;
  /** The keys themselves, or a lookup into the condition-key table (condition-keys.ts). */
  conditions: RequestConditions | ConditionLookup;
}

export type DecisionReason = 'explicit-deny' | 'allow' | 'implicit-deny' | 'default-policy';

export interface Decision {
  decision: 'allow' | 'deny';
  reason: DecisionReason;
  /** Sid of the deciding statement (or a positional label when it has none). */
  statement?: string;
  /** Where the deciding statement lives. */
  source?: 'file-system-policy' | 'identity-policy';
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const globCache = new Map<string, RegExp>();

/** `*` = any run of characters, `?` = one character; everything else literal. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const cacheKey = (ignoreCase ? 'i' : 's') + pattern;
  let re = globCache.get(cacheKey);
  if (!re) {
    let src = '^';
    for (const ch of pattern) {
      if (ch === '*') src += '.*';
      else if (ch === '?') src += '.';
      else src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
    re = new RegExp(src + '$', ignoreCase ? 'is' : 's');
    if (globCache.size > 4096) globCache.clear();
    globCache.set(cacheKey, re);
  }
  return re.test(value);
}

/** IAM ARN matching: each of the six components compared separately, wildcards allowed, case-sensitive. */
export function arnMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const v = arnParts(value);
  if (!p || !v) return globMatch(pattern, value);
  return p.every((part, i) => globMatch(part, v[i]));
}

// ---------------------------------------------------------------------------
// Condition operators
// ---------------------------------------------------------------------------

/** Negated operators: true when the key is absent; otherwise NOT(the positive operator matches any value). */
const NEGATED: Partial<Record<BaseOp, BaseOp>> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

function toNumber(v: ConditionValue | string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean' || v.trim() === '') return NaN;
  return Number(v);
}

function toDate(v: ConditionValue | string): number {
  if (typeof v === 'number') return v * 1000;
  if (typeof v === 'boolean') return NaN;
  if (/^[0-9]+$/.test(v)) return Number(v) * 1000;
  return Date.parse(v);
}

/** Positive (non-negated) operator applied to one present context value and one policy value. */
function positiveMatch(base: BaseOp, ctx: string | boolean | number, pol: ConditionValue): boolean {
  const c = String(ctx);
  const p = String(pol);
  switch (base) {
    case 'StringEquals':
      return c === p;
    case 'StringEqualsIgnoreCase':
      return c.toLowerCase() === p.toLowerCase();
    case 'StringLike':
      return globMatch(p, c);
    case 'NumericEquals':
      return toNumber(ctx) === toNumber(pol);
    case 'NumericLessThan':
      return toNumber(ctx) < toNumber(pol);
    case 'NumericLessThanEquals':
      return toNumber(ctx) <= toNumber(pol);
    case 'NumericGreaterThan':
      return toNumber(ctx) > toNumber(pol);
    case 'NumericGreaterThanEquals':
      return toNumber(ctx) >= toNumber(pol);
    case 'DateEquals':
      return toDate(ctx) === toDate(pol);
    case 'DateLessThan':
      return toDate(ctx) < toDate(pol);
    case 'DateLessThanEquals':
      return toDate(ctx) <= toDate(pol);
    case 'DateGreaterThan':
      return toDate(ctx) > toDate(pol);
    case 'DateGreaterThanEquals':
      return toDate(ctx) >= toDate(pol);
    case 'Bool':
      return c.toLowerCase() === p.toLowerCase() && (c.toLowerCase() === 'true' || c.toLowerCase() === 'false');
    case 'BinaryEquals':
      return c === p;
    case 'IpAddress':
      return cidrContains(p.includes('/') ? p : p.includes(':') ? `${p}/128` : `${p}/32`, c);
    case 'ArnEquals':
    case 'ArnLike':
      return arnParts(c) !== undefined && arnMatch(p, c);
    default:
      return false;
  }
}

/**
 * Evaluate one operator/key/values triple. `present` = the context value,
 * undefined when absent; a list is a multi-valued key (empty = absent).
 *
 * - `Null`: "true" = the key must be absent, "false" = present.
 * - Absent key: `…IfExists` true; `ForAllValues:` true; `ForAnyValue:` false;
 *   otherwise a negated operator is true and a positive one false.
 * - `ForAllValues:Op`: every request value satisfies Op (against any policy
 *   value); `ForAnyValue:Op`: at least one does. For a negated Op, a request
 *   value satisfies it when it matches none of the policy values.
 * - No set operator on a multi-valued key: a positive operator holds when any
 *   request value matches, a negated one when none does (IAM recommends the
 *   set operators for such keys; this is the plain reading of one without).
 */
function conditionHolds(op: ParsedOp, present: ContextValue | undefined, values: ConditionValue[]): boolean {
  const ctxValues: readonly (string | boolean | number)[] = present === undefined ? [] : Array.isArray(present) ? present : [present as string | boolean | number];
  const absent = ctxValues.length === 0;
  if (op.base === 'Null') {
    return values.some((v) => (String(v).toLowerCase() === 'true') === absent);
  }
  if (absent) {
    if (op.ifExists) return true;
    if (op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return false;
    return NEGATED[op.base] !== undefined;
  }
  const positive = NEGATED[op.base];
  const matchesAny = (c: string | boolean | number, base: BaseOp) => values.some((v) => positiveMatch(base, c, v));
  const satisfies = (c: string | boolean | number) => (positive ? !matchesAny(c, positive) : matchesAny(c, op.base));
  if (op.set === 'ForAllValues') return ctxValues.every(satisfies);
  if (op.set === 'ForAnyValue') return ctxValues.some(satisfies);
  if (positive) return !ctxValues.some((c) => matchesAny(c, positive));
  return ctxValues.some(satisfies);
}

function lookupKey(conditions: RequestConditions | ConditionLookup, key: string): ContextValue | undefined {
  if (typeof conditions === 'function') return conditions(key);
  if (key in conditions) return conditions[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(conditions)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function conditionsHold(block: ConditionBlock | undefined, conditions: RequestConditions | ConditionLookup): boolean {
  if (!block) return true;
  for (const [opName, keys] of Object.entries(block)) {
    const op = parseConditionOperator(opName);
    if (!op) return false; // rejected at parse time; never matches if it slips through
    for (const [key, value] of Object.entries(keys)) {
      if (!conditionHolds(op, lookupKey(conditions, key), asList(value))) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Principals
// ---------------------------------------------------------------------------

function awsValueMatches(value: string, p: RequestPrincipal): boolean {
  if (value === '*') return true;
  if (p.kind === 'anonymous') return false;
  if (ACCOUNT_RE.test(value)) return p.accountId === value;
  const root = ROOT_ARN_RE.exec(value);
  if (root) return p.accountId === root[1];
  if (value === p.arn) return true;
  // An assumed-role session matches the role it came from (role ARNs carry a path, session ARNs do not).
  const role = ROLE_OR_USER_ARN_RE.exec(value);
  const session = ASSUMED_ROLE_ARN_RE.exec(p.arn);
  if (role && role[2] === 'role' && session) return role[1] === session[1] && role[4] === session[2];
  return false;
}

function principalMatches(spec: PrincipalSpec, p: RequestPrincipal): boolean {
  if (spec === '*') return true;
  // Service, Federated and CanonicalUser principals never describe an NFS client.
  return asList(spec.AWS).some((v) => awsValueMatches(v, p));
}

// ---------------------------------------------------------------------------
// Statement matching and evaluation
// ---------------------------------------------------------------------------

function actionMatches(patterns: StringOrList, action: string): boolean {
  return asList(patterns).some((pat) => globMatch(pat, action, true));
}

function resourceMatches(patterns: StringOrList, resource: string): boolean {
  return asList(patterns).some((pat) => arnMatch(pat, resource));
}

/** Does the statement apply to the request (ignoring its Effect)? */
export function statementApplies(st: PolicyStatement, ctx: RequestContext, kind: 'resource' | 'identity'): boolean {
  if (kind === 'resource') {
    if (st.Principal !== undefined) {
      if (!principalMatches(st.Principal, ctx.principal)) return false;
    } else if (st.NotPrincipal !== undefined) {
      if (principalMatches(st.NotPrincipal, ctx.principal)) return false;
    } else return false;
  }
  if (st.Action !== undefined) {
    if (!actionMatches(st.Action, ctx.action)) return false;
  } else if (st.NotAction !== undefined) {
    if (actionMatches(st.NotAction, ctx.action)) return false;
  } else return false;
  if (st.Resource !== undefined) {
    if (!resourceMatches(st.Resource, ctx.resourceArn)) return false;
  } else if (st.NotResource !== undefined) {
    if (resourceMatches(st.NotResource, ctx.resourceArn)) return false;
  }
  return conditionsHold(st.Condition, ctx.conditions);
}

interface Hit {
  statement: string;
  source: 'file-system-policy' | 'identity-policy';
}

export function findHit(docs: { doc: PolicyDocument; label: string }[], effect: 'Allow' | 'Deny', ctx: RequestContext, kind: 'resource' | 'identity'): Hit | undefined {
  for (const { doc, label } of docs) {
    for (let i = 0; i < doc.Statement.length; i++) {
      const st = doc.Statement[i];
      if (st.Effect !== effect) continue;
      if (statementApplies(st, ctx, kind)) {
        return {
          statement: st.Sid ?? `${label}Statement[${i}]`,
          source: kind === 'resource' ? 'file-system-policy' : 'identity-policy',
        };
      }
    }
  }
  return undefined;
}

function resourceAccount(arn: string): string | undefined {
  return arnParts(arn)?.[4] || undefined;
}

/**
 * Evaluate one request (§3.4): an explicit Deny anywhere wins; else an Allow in
 * the file system policy or (same-account callers) in an identity policy; with
 * no file system policy the default policy allows every client, anonymous included.
 */
export function evaluate(ctx: RequestContext, fsPolicy?: PolicyDocument, identityPolicies?: PolicyDocument[]): Decision {
  const fsDocs = fsPolicy ? [{ doc: fsPolicy, label: '' }] : [];
  const idDocs = ctx.principal.kind === 'iam' ? (identityPolicies ?? []).map((doc, i) => ({ doc, label: `identity[${i}].` })) : [];

  const deny = findHit(fsDocs, 'Deny', ctx, 'resource') ?? findHit(idDocs, 'Deny', ctx, 'identity');
  if (deny) return { decision: 'deny', reason: 'explicit-deny', ...deny };

  const fsAllow = findHit(fsDocs, 'Allow', ctx, 'resource');
  if (fsAllow) return { decision: 'allow', reason: 'allow', ...fsAllow };
  if (!fsPolicy) return { decision: 'allow', reason: 'default-policy' };

  // Identity policies grant access only within the resource's own account;
  // a cross-account caller needs the file system policy's Allow.
  const acct = resourceAccount(ctx.resourceArn);
  if (ctx.principal.kind === 'iam' && (acct === undefined || acct === ctx.principal.accountId)) {
    const idAllow = findHit(idDocs, 'Allow', ctx, 'identity');
    if (idAllow) return { decision: 'allow', reason: 'allow', ...idAllow };
  }
  return { decision: 'deny', reason: 'implicit-deny' };
}

export interface ClientAuthInput {
  principal: RequestPrincipal;
  fileSystemArn: string;
  /** undefined = default policy. */
  fsPolicy?: PolicyDocument;
  identityPolicies?: PolicyDocument[];
  /** Set when the client connects through an access point. */
  accessPointArn?: string;
  /** TLS connection (efs-utils `tls`). */
  secureTransport: boolean;
  /** Came in through a mount target (default true: every NFS client does). */
  viaMountTarget?: boolean;
  /** The client's address (aws:SourceIp); absent when not given. */
  sourceIp?: string;
}

export interface ClientAuthorization {
  mount: boolean;
  write: boolean;
  root: boolean;
  /** Sid of the deciding statement, or the reason when no statement decided. */
  decidedBy: { mount: string; write: string; root: string };
  decisions: { mount: Decision; write: Decision; root: Decision };
}

/** Evaluate ClientMount, ClientWrite and ClientRootAccess for one connection. */
export function authorizeClient(input: ClientAuthInput): ClientAuthorization {
  // The keys a mount carries (spec §3.4) plus aws:SourceIp; the principal and time keys stay absent, as before.
  const conditions = conditionLookup({
    secureTransport: input.secureTransport,
    viaMountTarget: input.viaMountTarget ?? true,
    ...(input.accessPointArn !== undefined ? { accessPointArn: input.accessPointArn } : {}),
    ...(input.sourceIp !== undefined ? { sourceIp: input.sourceIp } : {}),
  });
  const one = (action: string) =>
    evaluate({ principal: input.principal, action, resourceArn: input.fileSystemArn, conditions }, input.fsPolicy, input.identityPolicies);
  const mount = one(ACTION_CLIENT_MOUNT);
  const write = one(ACTION_CLIENT_WRITE);
  const root = one(ACTION_CLIENT_ROOT);
  const label = (d: Decision) => d.statement ?? d.reason;
  return {
    mount: mount.decision === 'allow',
    write: write.decision === 'allow',
    root: root.decision === 'allow',
    decidedBy: { mount: label(mount), write: label(write), root: label(root) },
    decisions: { mount, write, root },
  };
}

/**
 * Lockout safety check: would this policy stop the caller from calling
 * PutFileSystemPolicy on the file system again? Identity policies are assumed to
 * allow the caller, so only a matching explicit Deny locks out (§3.5). The
 * management API is HTTPS, so aws:SecureTransport is true; the mount-target and
 * access-point keys are absent. Without fileSystemArn, Resource is not checked.
 */
export function wouldLockOut(policy: PolicyDocument, callerArn: string, callerAccount: string, fileSystemArn?: string): boolean {
  const ctx: RequestContext = {
    principal: { kind: 'iam', arn: callerArn, accountId: callerAccount },
    action: ACTION_PUT_POLICY,
    resourceArn: fileSystemArn ?? '*',
    conditions: conditionLookup({ secureTransport: true }),
  };
  return policy.Statement.some((st) => {
    if (st.Effect !== 'Deny') return false;
    const probe = fileSystemArn === undefined ? { ...st, Resource: undefined, NotResource: undefined } : st;
    return statementApplies(probe, ctx, 'resource');
  });
}

export interface PutPolicyInput {
  /** The Policy request member (JSON text). */
  policy: unknown;
  fileSystemArn: string;
  /** Caller of the management API; without it the lockout check is skipped. */
  caller?: { arn: string; accountId: string };
  bypassPolicyLockoutSafetyCheck?: boolean;
  uuid?: () => string;
}

/** PutFileSystemPolicy's checks end to end: returns the policy to store, or throws PolicyError. */
export function putFileSystemPolicy(input: PutPolicyInput): PolicyDocument {
  const doc = normaliseParsedFileSystemPolicy(parsePolicyJson(input.policy), input.fileSystemArn, { uuid: input.uuid });
  if (input.caller && !input.bypassPolicyLockoutSafetyCheck && wouldLockOut(doc, input.caller.arn, input.caller.accountId, input.fileSystemArn)) {
    throw new PolicyError(
      'InvalidPolicyException',
      'The policy would lock out the caller: it denies elasticfilesystem:PutFileSystemPolicy to the principal making this request. ' +
        'Set BypassPolicyLockoutSafetyCheck to put it anyway.',
    );
  }
  return doc;
}
