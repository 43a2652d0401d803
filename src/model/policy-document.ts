/**
 * IAM policy documents as EFS keeps them: their shape, and how
 * PutFileSystemPolicy and the config/credentials loaders parse, validate,
 * normalise and serialise them (spec §3.5). What a document *decides* for a
 * request is src/policy/iam.ts's business; nothing here evaluates.
 *
 * Pure data and pure functions: no I/O.
 */
import { randomUUID } from 'node:crypto';

// ---------------------------------------------------------------------------
// Shape (as stored and returned by DescribeFileSystemPolicy)
// ---------------------------------------------------------------------------

export type StringOrList = string | string[];

/** `"*"` or `{ "AWS": ..., "Service": ... }`. */
export type PrincipalSpec = '*' | { AWS?: StringOrList; Service?: StringOrList; Federated?: StringOrList; CanonicalUser?: StringOrList };

export type ConditionValue = string | number | boolean;
/** operator -> condition key -> value(s). */
export type ConditionBlock = Record<string, Record<string, ConditionValue | ConditionValue[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: PrincipalSpec;
  NotPrincipal?: PrincipalSpec;
  Action?: StringOrList;
  NotAction?: StringOrList;
  Resource?: StringOrList;
  NotResource?: StringOrList;
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: string;
  Id?: string;
  Statement: PolicyStatement[];
}

export const POLICY_VERSION = '2012-10-17';
export const MAX_POLICY_CHARS = 20_000;

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------
// ARNs and principals: the shapes validation accepts (evaluation matches them)
// ---------------------------------------------------------------------------

/** Split an ARN into its six components (the last may contain ':'), or undefined. */
export function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

export const ACCOUNT_RE = /^[0-9]{12}$/;
export const ROOT_ARN_RE = /^arn:aws[a-z-]*:iam::([0-9]{12}):root$/;
/** Groups: 1 account, 2 `role`|`user`, 3 path, 4 name. */
export const ROLE_OR_USER_ARN_RE = /^arn:aws[a-z-]*:iam::([0-9]{12}):(role|user)\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]+)$/;
/** Groups: 1 account, 2 role name, 3 session name. */
export const ASSUMED_ROLE_ARN_RE = /^arn:aws[a-z-]*:sts::([0-9]{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;
export const FEDERATED_USER_ARN_RE = /^arn:aws[a-z-]*:sts::([0-9]{12}):federated-user\/([\w+=,.@-]+)$/;

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

// ---------------------------------------------------------------------------
// Condition operator names
// ---------------------------------------------------------------------------

export type BaseOp =
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

export interface ParsedOp {
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

// ---------------------------------------------------------------------------
// Normalising and serialising
// ---------------------------------------------------------------------------

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
  return normaliseParsedFileSystemPolicy(typeof policy === 'string' ? parsePolicyJson(policy) : policy, fileSystemArn, opts);
}

/** normaliseFileSystemPolicy() of an already parsed JSON value (parsePolicyJson's result). */
export function normaliseParsedFileSystemPolicy(raw: unknown, fileSystemArn: string, opts: NormaliseOptions = {}): PolicyDocument {
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

/** The stored policy as DescribeFileSystemPolicy returns it (the Policy member). */
export function serialisePolicy(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}
