/**
 * IAM policy documents for EFS: parsing, validation and normalisation as
 * PutFileSystemPolicy does them (spec §3.5), and evaluation of requests
 * against a file system policy plus the caller's identity policies (§3.4).
 *
 * Pure functions: no I/O. The NFS side calls authorizeClient() once per
 * connection; the management API calls putFileSystemPolicy().
 */
import { randomUUID } from 'node:crypto';
import type { ConditionBlock, ConditionValue, PolicyDocument, PolicyStatement, PrincipalSpec, StringOrList } from '../model/types.js';
import { cidrContains } from '../util/cidr.js';

export const POLICY_VERSION = '2012-10-17';
export const MAX_POLICY_CHARS = 20_000;

export const ACTION_CLIENT_MOUNT = 'elasticfilesystem:ClientMount';
export const ACTION_CLIENT_WRITE = 'elasticfilesystem:ClientWrite';
export const ACTION_CLIENT_ROOT = 'elasticfilesystem:ClientRootAccess';
export const ACTION_PUT_POLICY = 'elasticfilesystem:PutFileSystemPolicy';

export const KEY_SECURE_TRANSPORT = 'aws:SecureTransport';
export const KEY_ACCESS_POINT_ARN = 'elasticfilesystem:AccessPointArn';
export const KEY_VIA_MOUNT_TARGET = 'elasticfilesystem:AccessedViaMountTarget';

/** An invalid policy. `code` is the EFS error the API answers with (both are HTTP 400). */
export class PolicyError extends Error {
  constructor(
    readonly code: 'InvalidPolicyException' | 'BadRequest',
    message: string,
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

// ---------------------------------------------------------------------------
// Request context and decisions
// ---------------------------------------------------------------------------

export type RequestPrincipal = { kind: 'anonymous' } | { kind: 'iam'; arn: string; accountId: string };

export interface RequestConditions {
  'aws:SecureTransport'?: boolean;
  'elasticfilesystem:AccessPointArn'?: string;
  'elasticfilesystem:AccessedViaMountTarget'?: boolean;
  /** Any other key; undefined = absent. Keys are matched case-insensitively. */
  [key: string]: string | boolean | number | undefined;
}

export interface RequestContext {
  principal: RequestPrincipal;
  /** e.g. 'elasticfilesystem:ClientMount'. */
  action: string;
  resourceArn: string;
  conditions: RequestConditions;
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
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

/** Split an ARN into its six components (the last may contain ':'), or undefined. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
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

type BaseOp =
  | 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase' | 'StringLike' | 'StringNotLike'
  | 'NumericEquals' | 'NumericNotEquals' | 'NumericLessThan' | 'NumericLessThanEquals' | 'NumericGreaterThan' | 'NumericGreaterThanEquals'
  | 'DateEquals' | 'DateNotEquals' | 'DateLessThan' | 'DateLessThanEquals' | 'DateGreaterThan' | 'DateGreaterThanEquals'
  | 'Bool' | 'BinaryEquals' | 'IpAddress' | 'NotIpAddress'
  | 'ArnEquals' | 'ArnLike' | 'ArnNotEquals' | 'ArnNotLike'
  | 'Null';

const BASE_OPS = new Set<string>([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress',
  'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike',
  'Null',
]);

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

interface ParsedOp {
  base: BaseOp;
  ifExists: boolean;
  set?: 'ForAnyValue' | 'ForAllValues';
}

/** Parse a condition operator name (`[ForAnyValue:|ForAllValues:]Op[IfExists]`), or undefined if unknown. */
export function parseConditionOperator(name: string): ParsedOp | undefined {
  let rest = name;
  let set: ParsedOp['set'];
  const m = /^(ForAnyValue|ForAllValues):(.+)$/.exec(rest);
  if (m) {
    set = m[1] as ParsedOp['set'];
    rest = m[2];
  }
  let ifExists = false;
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  if (!BASE_OPS.has(rest)) return undefined;
  if (rest === 'Null' && (ifExists || set)) return undefined;
  return { base: rest as BaseOp, ifExists, set };
}

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

/** Evaluate one operator/key/values triple. `present` = the context value, undefined when absent. */
function conditionHolds(op: ParsedOp, present: string | boolean | number | undefined, values: ConditionValue[]): boolean {
  if (op.base === 'Null') {
    // "true" = the key must be absent; "false" = it must be present. Values ORed.
    return values.some((v) => (String(v).toLowerCase() === 'true') === (present === undefined));
  }
  if (present === undefined) {
    if (op.ifExists) return true;
    if (op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return false;
    return NEGATED[op.base] !== undefined;
  }
  const positive = NEGATED[op.base];
  if (positive) return !values.some((v) => positiveMatch(positive, present, v));
  return values.some((v) => positiveMatch(op.base, present, v));
}

function lookupKey(conditions: RequestConditions, key: string): string | boolean | number | undefined {
  if (key in conditions) return conditions[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(conditions)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function conditionsHold(block: ConditionBlock | undefined, conditions: RequestConditions): boolean {
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

const ACCOUNT_RE = /^[0-9]{12}$/;
const ROOT_ARN_RE = /^arn:aws[a-z-]*:iam::([0-9]{12}):root$/;
const ROLE_OR_USER_ARN_RE = /^arn:aws[a-z-]*:iam::([0-9]{12}):(role|user)\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]+)$/;
const ASSUMED_ROLE_ARN_RE = /^arn:aws[a-z-]*:sts::([0-9]{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;
const FEDERATED_USER_ARN_RE = /^arn:aws[a-z-]*:sts::([0-9]{12}):federated-user\/([\w+=,.@-]+)$/;

/** Is this a valid `"AWS"` principal value? */
export function isValidAwsPrincipal(v: string): boolean {
  return v === '*' || ACCOUNT_RE.test(v) || ROOT_ARN_RE.test(v) || ROLE_OR_USER_ARN_RE.test(v) || ASSUMED_ROLE_ARN_RE.test(v) || FEDERATED_USER_ARN_RE.test(v);
}

/** The account of an account-root ARN (`arn:aws:iam::<account>:root`), else undefined. */
export function rootAccountOf(arn: string): string | undefined {
  return ROOT_ARN_RE.exec(arn)?.[1];
}

/** Is this a valid caller principal ARN (for credentials)? */
export function isValidCallerArn(arn: string): boolean {
  return ROOT_ARN_RE.test(arn) || ROLE_OR_USER_ARN_RE.test(arn) || ASSUMED_ROLE_ARN_RE.test(arn) || FEDERATED_USER_ARN_RE.test(arn);
}

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

function findHit(docs: { doc: PolicyDocument; label: string }[], effect: 'Allow' | 'Deny', ctx: RequestContext, kind: 'resource' | 'identity'): Hit | undefined {
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
  const conditions: RequestConditions = {
    [KEY_SECURE_TRANSPORT]: input.secureTransport,
    [KEY_VIA_MOUNT_TARGET]: input.viaMountTarget ?? true,
  };
  if (input.accessPointArn !== undefined) conditions[KEY_ACCESS_POINT_ARN] = input.accessPointArn;
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

// ---------------------------------------------------------------------------
// Parsing and validation
// ---------------------------------------------------------------------------

const TOP_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const PRINCIPAL_KEYS = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser']);

function invalid(message: string): never {
  throw new PolicyError('InvalidPolicyException', message);
}

/** Policy text -> JSON value, with the API's size limits. */
export function parsePolicyJson(text: unknown): unknown {
  if (typeof text !== 'string') throw new PolicyError('BadRequest', 'Policy must be a string');
  const chars = Array.from(text).length;
  if (chars < 1) throw new PolicyError('BadRequest', 'Policy must be at least 1 character long');
  if (chars > MAX_POLICY_CHARS) {
    throw new PolicyError('BadRequest', `Policy is ${chars} characters long; the maximum is ${MAX_POLICY_CHARS}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    invalid(`Policy is not valid JSON: ${(err as Error).message}`);
  }
}

function checkStringList(v: unknown, where: string, check?: (s: string) => string | undefined): StringOrList {
  const list = Array.isArray(v) ? v : [v];
  if (Array.isArray(v) && v.length === 0) invalid(`${where} must not be an empty list`);
  for (const item of list) {
    if (typeof item !== 'string' || item === '') invalid(`${where} must be a non-empty string or a list of them`);
    const problem = check?.(item);
    if (problem) invalid(`${where}: ${problem}`);
  }
  return v as StringOrList;
}

function checkPrincipal(v: unknown, where: string): PrincipalSpec {
  if (v === '*') return '*';
  if (!isObject(v)) invalid(`${where} must be "*" or an object such as {"AWS": "..."}`);
  const keys = Object.keys(v);
  if (keys.length === 0) invalid(`${where} must name at least one principal`);
  for (const key of keys) {
    if (!PRINCIPAL_KEYS.has(key)) invalid(`${where} has an unsupported principal type "${key}"`);
    checkStringList(v[key], `${where}.${key}`, (s) => {
      if (key === 'AWS' && !isValidAwsPrincipal(s)) return `invalid principal "${s}"`;
      if (key === 'Service' && !/^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(s)) return `invalid service principal "${s}"`;
      return undefined;
    });
  }
  return v as PrincipalSpec;
}

function checkCondition(v: unknown, where: string): ConditionBlock {
  if (!isObject(v)) invalid(`${where} must be an object`);
  for (const [opName, keys] of Object.entries(v)) {
    if (!parseConditionOperator(opName)) invalid(`${where} uses an unknown condition operator "${opName}"`);
    if (!isObject(keys) || Object.keys(keys).length === 0) invalid(`${where}.${opName} must be an object of condition keys`);
    for (const [key, value] of Object.entries(keys)) {
      if (key === '') invalid(`${where}.${opName} has an empty condition key`);
      const list = Array.isArray(value) ? value : [value];
      if (Array.isArray(value) && value.length === 0) invalid(`${where}.${opName}.${key} must not be an empty list`);
      for (const item of list) {
        if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') {
          invalid(`${where}.${opName}.${key} values must be strings, numbers or booleans`);
        }
      }
    }
  }
  return v as ConditionBlock;
}

function checkAction(kind: 'resource' | 'identity') {
  return (s: string): string | undefined => {
    if (s === '*') return undefined;
    const m = /^([^:]+):(.+)$/.exec(s);
    if (!m) return `invalid action "${s}" (expected "service:Action" or "*")`;
    if (kind === 'resource' && m[1].toLowerCase() !== 'elasticfilesystem') return `unsupported action prefix in "${s}" (only elasticfilesystem actions apply)`;
    if (!/^[A-Za-z0-9*?-]+$/.test(m[1]) || !/^[A-Za-z0-9*?]+$/.test(m[2])) return `invalid action "${s}"`;
    return undefined;
  };
}

function checkResource(s: string): string | undefined {
  if (s === '*' || arnParts(s)) return undefined;
  return `invalid resource "${s}" (expected an ARN or "*")`;
}

function checkStatement(raw: unknown, i: number, kind: 'resource' | 'identity'): PolicyStatement {
  const where = `Statement[${i}]`;
  if (!isObject(raw)) invalid(`${where} must be an object`);
  for (const key of Object.keys(raw)) if (!STATEMENT_KEYS.has(key)) invalid(`${where} has an unsupported element "${key}"`);
  const st: PolicyStatement = { Effect: 'Allow' };
  if (raw.Sid !== undefined) {
    if (typeof raw.Sid !== 'string') invalid(`${where}.Sid must be a string`);
    st.Sid = raw.Sid;
  }
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') invalid(`${where}.Effect must be "Allow" or "Deny"`);
  st.Effect = raw.Effect;
  if (kind === 'resource') {
    if (raw.Principal !== undefined && raw.NotPrincipal !== undefined) invalid(`${where} has both Principal and NotPrincipal`);
    if (raw.Principal === undefined && raw.NotPrincipal === undefined) invalid(`${where} is missing Principal`);
    if (raw.Principal !== undefined) st.Principal = checkPrincipal(raw.Principal, `${where}.Principal`);
    else st.NotPrincipal = checkPrincipal(raw.NotPrincipal, `${where}.NotPrincipal`);
  } else if (raw.Principal !== undefined || raw.NotPrincipal !== undefined) {
    invalid(`${where}: identity policies must not have Principal or NotPrincipal`);
  }
  if (raw.Action !== undefined && raw.NotAction !== undefined) invalid(`${where} has both Action and NotAction`);
  if (raw.Action === undefined && raw.NotAction === undefined) invalid(`${where} is missing Action`);
  if (raw.Action !== undefined) st.Action = checkStringList(raw.Action, `${where}.Action`, checkAction(kind));
  else st.NotAction = checkStringList(raw.NotAction, `${where}.NotAction`, checkAction(kind));
  if (raw.Resource !== undefined && raw.NotResource !== undefined) invalid(`${where} has both Resource and NotResource`);
  if (raw.Resource !== undefined) st.Resource = checkStringList(raw.Resource, `${where}.Resource`, checkResource);
  else if (raw.NotResource !== undefined) st.NotResource = checkStringList(raw.NotResource, `${where}.NotResource`, checkResource);
  else if (kind === 'identity') invalid(`${where} is missing Resource`);
  if (raw.Condition !== undefined) st.Condition = checkCondition(raw.Condition, `${where}.Condition`);
  return st;
}

/** Validate a parsed policy document; returns it in canonical element order (nothing added). */
export function validatePolicyDocument(doc: unknown, kind: 'resource' | 'identity'): PolicyDocument {
  if (!isObject(doc)) invalid('Policy must be a JSON object');
  for (const key of Object.keys(doc)) if (!TOP_KEYS.has(key)) invalid(`Policy has an unsupported top-level element "${key}"`);
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    invalid('Policy Version must be "2012-10-17" or "2008-10-17"');
  }
  if (doc.Id !== undefined && typeof doc.Id !== 'string') invalid('Policy Id must be a string');
  if (doc.Statement === undefined) invalid('Policy is missing Statement');
  const raws = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if (raws.length === 0) invalid('Policy Statement must not be empty');
  const statements = raws.map((s, i) => checkStatement(s, i, kind));
  const sids = new Set<string>();
  for (const st of statements) {
    if (st.Sid === undefined) continue;
    if (sids.has(st.Sid)) invalid(`Statement ids (Sid) must be unique; "${st.Sid}" is repeated`);
    sids.add(st.Sid);
  }
  const out: PolicyDocument = { Version: (doc.Version as string | undefined) ?? POLICY_VERSION, Statement: statements };
  if (doc.Id !== undefined) out.Id = doc.Id as string;
  return out;
}

function ordered(st: PolicyStatement): PolicyStatement {
  const o: Record<string, unknown> = {};
  for (const key of ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'] as const) {
    if (st[key] !== undefined) o[key] = st[key];
  }
  return o as unknown as PolicyStatement;
}

export interface NormaliseOptions {
  /** UUID source for generated Sids (tests pass a deterministic one). */
  uuid?: () => string;
}

/**
 * Validate and normalise a file system policy as PutFileSystemPolicy stores it:
 * Version added, `efs-statement-<uuid>` Sids for statements without one, Resource
 * set to the file system ARN when neither Resource nor NotResource is given.
 * Throws PolicyError.
 */
export function normaliseFileSystemPolicy(policy: string | object, fileSystemArn: string, opts: NormaliseOptions = {}): PolicyDocument {
  return normaliseParsed(typeof policy === 'string' ? parsePolicyJson(policy) : policy, fileSystemArn, opts);
}

function normaliseParsed(raw: unknown, fileSystemArn: string, opts: NormaliseOptions): PolicyDocument {
  const doc = validatePolicyDocument(raw, 'resource');
  const uuid = opts.uuid ?? randomUUID;
  const statements = doc.Statement.map((st) => {
    const s = { ...st };
    if (s.Sid === undefined) s.Sid = `efs-statement-${uuid()}`;
    if (s.Resource === undefined && s.NotResource === undefined) s.Resource = fileSystemArn;
    return ordered(s);
  });
  return doc.Id !== undefined ? { Version: doc.Version, Id: doc.Id, Statement: statements } : { Version: doc.Version, Statement: statements };
}

/** Validate an identity-based policy (no Principal, Resource required); Version added if absent. */
export function parseIdentityPolicy(policy: string | object): PolicyDocument {
  const raw = typeof policy === 'string' ? parsePolicyJson(policy) : policy;
  const doc = validatePolicyDocument(raw, 'identity');
  return { ...doc, Statement: doc.Statement.map(ordered) };
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
    conditions: { [KEY_SECURE_TRANSPORT]: true },
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
  const doc = normaliseParsed(parsePolicyJson(input.policy), input.fileSystemArn, { uuid: input.uuid });
  if (input.caller && !input.bypassPolicyLockoutSafetyCheck && wouldLockOut(doc, input.caller.arn, input.caller.accountId, input.fileSystemArn)) {
    invalid(
      'The policy would lock out the caller: it denies elasticfilesystem:PutFileSystemPolicy to the principal making this request. ' +
        'Set BypassPolicyLockoutSafetyCheck to put it anyway.',
    );
  }
  return doc;
}

/** The stored policy as DescribeFileSystemPolicy returns it (the Policy member). */
export function serialisePolicy(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}
