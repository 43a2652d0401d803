/**
 * Validation of model fields as the EFS API does it (spec §2.1, §1.5), with
 * clear messages. Every failure is a BadRequest (HTTP 400) at the API; the
 * config loader reports the same messages with the file name.
 *
 * Field names in messages follow the caller's style: 'api' uses the wire
 * names (PosixUser.Uid), 'config' the config-file names (posixUser.uid).
 * Inputs may use either spelling.
 */
import type { CreationInfo, PosixUser, RootDirectory, Tag } from './types.js';
import { parseCidr } from '../util/cidr.js';

export type NameStyle = 'api' | 'config';

export interface FieldIssue {
  field: string;
  message: string;
}

export class ModelValidationError extends Error {
  readonly code = 'BadRequest';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
    this.name = 'ModelValidationError';
  }
}

export const UINT32_MAX = 4294967295;
export const MAX_SECONDARY_GIDS = 16;
export const MAX_PATH_CHARS = 100;
export const MAX_TAGS = 50;

/** The botocore model's RootDirectory.Path pattern (the odd `(?!\.)+` is accepted by JS without the u flag). */
export const AP_PATH_RE = /^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$/;
export const PERMISSIONS_RE = /^[0-7]{3,4}$/;
const TAG_CHARS_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** Read a member by its camelCase name or its PascalCase wire name. */
export function member(obj: Record<string, unknown>, name: string): unknown {
  return obj[name] !== undefined ? obj[name] : obj[pascal(name)];
}

function fieldName(parts: string[], style: NameStyle): string {
  return parts.map((p) => (style === 'api' && !p.startsWith('[') ? pascal(p) : p)).join('.').replace(/\.\[/g, '[');
}

export function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT32_MAX;
}

/** Problem with an access point root directory path, or undefined if valid. */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return 'must be a string';
  if (path.length < 1 || path.length > MAX_PATH_CHARS) return `must be 1 to ${MAX_PATH_CHARS} characters long`;
  if (!AP_PATH_RE.test(path)) {
    return (
      'must be "/" or an absolute path of 1 to 4 components with no trailing "/", no component starting with "." ' +
      'and none of the characters $ # < > ; ` | & ? { } ^ * or newline'
    );
  }
  return undefined;
}

export function permissionsProblem(p: unknown): string | undefined {
  if (typeof p !== 'string') return 'must be a string of 3 or 4 octal digits, e.g. "755"';
  if (!PERMISSIONS_RE.test(p)) return `must be 3 or 4 octal digits (0-7), e.g. "755" or "0750"; got "${p}"`;
  return undefined;
}

class Issues {
  readonly list: FieldIssue[] = [];
  constructor(private readonly style: NameStyle, private readonly prefix: string[]) {}
  add(parts: string[], message: string): void {
    this.list.push({ field: fieldName([...this.prefix, ...parts], this.style), message });
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new ModelValidationError(this.list);
  }
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], parts: string[], issues: Issues): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(camel(key))) issues.add([...parts, key], `unknown field (expected one of ${allowed.join(', ')})`);
  }
}

function checkId(v: unknown, parts: string[], issues: Issues): number {
  if (v === undefined) issues.add(parts, 'is required');
  else if (!isUint32(v)) issues.add(parts, `must be an integer from 0 to ${UINT32_MAX}`);
  return v as number;
}

export interface AccessPointFieldsInput {
  posixUser?: unknown;
  rootDirectory?: unknown;
}

export interface AccessPointFields {
  posixUser?: PosixUser;
  rootDirectory: RootDirectory;
}

export interface ValidateOptions {
  style?: NameStyle;
  /** Prefix for field names in messages, e.g. ['accessPoints[2]']. */
  prefix?: string[];
  /** Reject unknown members (config files); the API ignores them. */
  strict?: boolean;
}

/**
 * Validate PosixUser and RootDirectory of CreateAccessPoint (§2.1): uint32 ids,
 * ≤16 secondary gids, the path pattern, octal permissions, CreationInfo all or
 * nothing. RootDirectory or its Path missing means "/". Throws ModelValidationError
 * listing every problem.
 */
export function validateAccessPointFields(input: AccessPointFieldsInput, opts: ValidateOptions = {}): AccessPointFields {
  const issues = new Issues(opts.style ?? 'api', opts.prefix ?? []);
  const out: AccessPointFields = { rootDirectory: { path: '/' } };

  const pu = input.posixUser;
  if (pu !== undefined && pu !== null) {
    if (!isObject(pu)) issues.add(['posixUser'], 'must be an object with uid, gid and optional secondaryGids');
    else {
      if (opts.strict) checkKeys(pu, ['uid', 'gid', 'secondaryGids'], ['posixUser'], issues);
      const uid = checkId(member(pu, 'uid'), ['posixUser', 'uid'], issues);
      const gid = checkId(member(pu, 'gid'), ['posixUser', 'gid'], issues);
      const sg = member(pu, 'secondaryGids') ?? [];
      let secondaryGids: number[] = [];
      if (!Array.isArray(sg)) issues.add(['posixUser', 'secondaryGids'], 'must be a list of integers');
      else {
        if (sg.length > MAX_SECONDARY_GIDS) issues.add(['posixUser', 'secondaryGids'], `must have at most ${MAX_SECONDARY_GIDS} entries, got ${sg.length}`);
        sg.forEach((g, i) => {
          if (!isUint32(g)) issues.add(['posixUser', `secondaryGids[${i}]`], `must be an integer from 0 to ${UINT32_MAX}`);
        });
        secondaryGids = sg as number[];
      }
      out.posixUser = { uid, gid, secondaryGids: [...secondaryGids] };
    }
  }

  const rd = input.rootDirectory;
  if (rd !== undefined && rd !== null) {
    if (!isObject(rd)) issues.add(['rootDirectory'], 'must be an object with path and optional creationInfo');
    else {
      if (opts.strict) checkKeys(rd, ['path', 'creationInfo'], ['rootDirectory'], issues);
      const path = member(rd, 'path');
      if (path !== undefined) {
        const problem = pathProblem(path);
        if (problem) issues.add(['rootDirectory', 'path'], problem);
        else out.rootDirectory.path = path as string;
      }
      const ci = member(rd, 'creationInfo');
      if (ci !== undefined && ci !== null) {
        if (!isObject(ci)) issues.add(['rootDirectory', 'creationInfo'], 'must be an object with ownerUid, ownerGid and permissions');
        else {
          if (opts.strict) checkKeys(ci, ['ownerUid', 'ownerGid', 'permissions'], ['rootDirectory', 'creationInfo'], issues);
          const missing = ['ownerUid', 'ownerGid', 'permissions'].filter((k) => member(ci, k) === undefined);
          if (missing.length > 0) {
            issues.add(
              ['rootDirectory', 'creationInfo'],
              `needs all of ownerUid, ownerGid and permissions; missing ${missing.map((m) => fieldName([m], opts.style ?? 'api')).join(', ')}`,
            );
          }
          const ownerUid = member(ci, 'ownerUid');
          const ownerGid = member(ci, 'ownerGid');
          const permissions = member(ci, 'permissions');
          if (ownerUid !== undefined && !isUint32(ownerUid)) issues.add(['rootDirectory', 'creationInfo', 'ownerUid'], `must be an integer from 0 to ${UINT32_MAX}`);
          if (ownerGid !== undefined && !isUint32(ownerGid)) issues.add(['rootDirectory', 'creationInfo', 'ownerGid'], `must be an integer from 0 to ${UINT32_MAX}`);
          if (permissions !== undefined) {
            const problem = permissionsProblem(permissions);
            if (problem) issues.add(['rootDirectory', 'creationInfo', 'permissions'], problem);
          }
          out.rootDirectory.creationInfo = { ownerUid, ownerGid, permissions } as CreationInfo;
        }
      }
    }
  }
  issues.throwIfAny();
  return out;
}

/** Octal permission string -> mode bits. */
export function permissionsToMode(p: string): number {
  return parseInt(p, 8);
}

/**
 * Tags (§1.5): a list of {Key, Value} (either spelling) or, in config files, an
 * object map. Key 1–128 chars, value 0–256, allowed characters, no "aws:" prefix,
 * ≤50 tags, keys unique.
 */
export function validateTags(tags: unknown, opts: ValidateOptions = {}): Tag[] {
  const issues = new Issues(opts.style ?? 'api', opts.prefix ?? []);
  if (tags === undefined || tags === null) return [];
  let list: { key: unknown; value: unknown; where: string }[];
  if (Array.isArray(tags)) {
    list = tags.map((t, i) => (isObject(t) ? { key: member(t, 'key'), value: member(t, 'value'), where: `tags[${i}]` } : { key: undefined, value: undefined, where: `tags[${i}]` }));
  } else if (isObject(tags)) {
    list = Object.entries(tags).map(([key, value]) => ({ key, value, where: `tags.${key}` }));
  } else {
    issues.add(['tags'], 'must be a list of {"Key", "Value"} objects or an object of key/value strings');
    issues.throwIfAny();
    return [];
  }
  if (list.length > MAX_TAGS) issues.add(['tags'], `must have at most ${MAX_TAGS} tags, got ${list.length}`);
  const seen = new Set<string>();
  const out: Tag[] = [];
  for (const { key, value, where } of list) {
    if (typeof key !== 'string' || key.length < 1 || key.length > 128) issues.add([where], 'key must be a string of 1 to 128 characters');
    else if (!TAG_CHARS_RE.test(key)) issues.add([where], `key "${key}" has characters outside letters, digits, spaces and _ . : / = + - @`);
    else if (key.toLowerCase().startsWith('aws:')) issues.add([where], `key "${key}" may not start with "aws:"`);
    else if (seen.has(key)) issues.add([where], `key "${key}" is repeated`);
    if (typeof value !== 'string' || value.length > 256) issues.add([where], 'value must be a string of 0 to 256 characters');
    else if (!TAG_CHARS_RE.test(value)) issues.add([where], `value "${value}" has characters outside letters, digits, spaces and _ . : / = + - @`);
    if (typeof key === 'string' && typeof value === 'string') {
      seen.add(key);
      out.push({ key, value });
    }
  }
  issues.throwIfAny();
  return out;
}

export function clientTokenProblem(t: unknown): string | undefined {
  if (typeof t !== 'string' || t.length < 1 || t.length > 64) return 'must be a string of 1 to 64 characters';
  return undefined;
}

/** A CIDR block such as "10.0.0.0/16" or "::1/128" (the prefix length is required). */
export function cidrProblem(s: unknown): string | undefined {
  const bad = `must be a CIDR such as "10.0.0.0/16" or "::1/128", got ${JSON.stringify(s)}`;
  if (typeof s !== 'string' || !s.includes('/')) return bad;
  try {
    parseCidr(s);
    return undefined;
  } catch {
    return bad;
  }
}
