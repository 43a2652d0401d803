/**
 * The `--config FILE` and `--credentials FILE` loaders (JSON; format in
 * docs/config.md). loadConfig() checks everything and reports the first problem
 * with the file and the field; resolveModel() then fills in ids and ARNs once
 * the default file system's id (kept in the data directory) is known.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_OPTIONS,
  DEFAULT_REGION,
  SECURITY_GROUP_ID_RE,
  accessPointArn,
  defaultSecurityGroupFor,
  derivedId,
  newMountTarget,
  fileSystemArn,
  fileSystemIdFrom,
  isAccessPointId,
  isAccountId,
  isMountTargetId,
  isRegion,
  nameTag,
  principalAccount,
  type AccessPoint,
  type AccessPointDecl,
  type Credential,
  type FileSystem,
  type FileSystemDecl,
  type Model,
  type LimitsConfig,
  type ModelConfig,
  type ModelOptions,
  type MountTarget,
  type MountTargetDecl,
} from './types.js';
import net from 'node:net';
import { DEFAULT_GROUP_NAME, ensureDefaultSecurityGroup } from './security-groups.js';
import {
  canonicalIpv6,
  configSecurityGroupId,
  groupDescriptionProblem,
  groupNameProblem,
  isIpv4Cidr,
  isIpv6Cidr,
  normaliseProtocol,
  ruleDescriptionProblem,
  ruleKey,
  rulePorts,
  securityGroupFromDecl,
  type InstanceDecl,
  type SecurityGroupDecl,
  type SecurityGroupRuleDecl,
} from './security-group-rules.js';
import { ModelValidationError, cidrProblem, clientTokenProblem, validateAccessPointFields, validateTags } from './validate.js';
import { PolicyError, isValidCallerArn, normaliseFileSystemPolicy, parseIdentityPolicy, type PolicyDocument } from './policy-document.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(field ? `${file}: ${field}: ${detail}` : `${file}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Placeholder ARN used to check a policy before the file system id is known. */
const PLACEHOLDER_FS_ARN = 'arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/fs-00000000000000000';

class Ctx {
  constructor(
    readonly file: string,
    readonly baseDir: string,
  ) {}
  fail(field: string, detail: string): never {
    throw new ConfigError(this.file, field, detail);
  }
  /** Reject unknown keys (keys starting with "$" are comments). */
  keys(obj: Record<string, unknown>, allowed: string[], where: string): void {
    for (const key of Object.keys(obj)) {
      if (key.startsWith('$')) continue;
      if (!allowed.includes(key)) this.fail(where ? `${where}.${key}` : key, `unknown field (expected one of ${allowed.join(', ')})`);
    }
  }
  string(v: unknown, where: string, required: true): string;
  string(v: unknown, where: string, required?: false): string | undefined;
  string(v: unknown, where: string, required = false): string | undefined {
    if (v === undefined) {
      if (required) this.fail(where, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') this.fail(where, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }
  list(v: unknown, where: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(where, 'must be a list');
    return v;
  }
  object(v: unknown, where: string): Record<string, unknown> {
    if (!isObject(v)) this.fail(where, 'must be an object');
    return v;
  }
  resolvePath(p: string): string {
    return path.resolve(this.baseDir, p);
  }
  /** Rethrow model/policy validation errors as ConfigError. */
  wrap<T>(where: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ModelValidationError) this.fail(err.issues[0].field, err.issues.map((i) => (i.field === err.issues[0].field ? i.message : `${i.field}: ${i.message}`)).join('; '));
      if (err instanceof PolicyError) this.fail(where, `invalid policy (${err.code}): ${err.message}`);
      throw err;
    }
  }
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new ConfigError(file, '', `${what} not found`);
    throw new ConfigError(file, '', `cannot read ${what}: ${e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, '', `not valid JSON: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

function parseCredentialEntry(ctx: Ctx, accessKeyId: string, raw: unknown, where: string): Credential {
  if (!/^[A-Za-z0-9_+=,.@-]{1,128}$/.test(accessKeyId)) ctx.fail(where, 'access key id must be 1 to 128 letters, digits or _+=,.@-');
  const o = ctx.object(raw, where);
  ctx.keys(o, ['secretAccessKey', 'sessionToken', 'principalArn', 'accountId', 'identityPolicies'], where);
  const secretAccessKey = ctx.string(o.secretAccessKey, `${where}.secretAccessKey`, true);
  const principalArn = ctx.string(o.principalArn, `${where}.principalArn`, true);
  if (!isValidCallerArn(principalArn)) {
    ctx.fail(
      `${where}.principalArn`,
      `"${principalArn}" is not an IAM principal ARN (arn:aws:iam::<account>:role/<name>, :user/<name>, :root or arn:aws:sts::<account>:assumed-role/<role>/<session>)`,
    );
  }
  const arnAccount = principalAccount(principalArn) as string;
  const accountId = ctx.string(o.accountId, `${where}.accountId`) ?? arnAccount;
  if (!isAccountId(accountId)) ctx.fail(`${where}.accountId`, `must be 12 digits, got "${accountId}"`);
  if (accountId !== arnAccount) ctx.fail(`${where}.accountId`, `"${accountId}" does not match the account of principalArn (${arnAccount})`);
  const cred: Credential = { accessKeyId, secretAccessKey, principalArn, accountId };
  const sessionToken = ctx.string(o.sessionToken, `${where}.sessionToken`);
  if (sessionToken !== undefined) cred.sessionToken = sessionToken;
  if (o.identityPolicies !== undefined) {
    cred.identityPolicies = ctx
      .list(o.identityPolicies, `${where}.identityPolicies`)
      .map((p, i) => ctx.wrap(`${where}.identityPolicies[${i}]`, () => parseIdentityPolicy(p as string | object)));
  }
  return cred;
}

function parseCredentialMap(ctx: Ctx, raw: unknown, where: string, into: Map<string, Credential>): void {
  const o = ctx.object(raw, where || '(top level)');
  for (const [key, entry] of Object.entries(o)) {
    if (key.startsWith('$')) continue;
    const w = where ? `${where}.${key}` : key;
    if (into.has(key)) ctx.fail(w, 'access key id is declared twice');
    into.set(key, parseCredentialEntry(ctx, key, entry, w));
  }
}

/** Load a `--credentials FILE`: `{ "<accessKeyId>": { secretAccessKey, principalArn, accountId?, sessionToken?, identityPolicies? } }`. */
export async function loadCredentials(file: string): Promise<Map<string, Credential>> {
  const abs = path.resolve(file);
  const json = await readJson(abs, 'credentials file');
  const out = new Map<string, Credential>();
  parseCredentialMap(new Ctx(abs, path.dirname(abs)), json, '', out);
  return out;
}

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

function parseOptions(ctx: Ctx, raw: unknown): ModelOptions {
  const options: ModelOptions = { ...DEFAULT_OPTIONS };
  if (raw === undefined) return options;
  const o = ctx.object(raw, 'options');
  ctx.keys(o, ['readOnlyError', 'anonUid', 'anonGid'], 'options');
  if (o.readOnlyError !== undefined) {
    if (o.readOnlyError !== 'ACCESS' && o.readOnlyError !== 'ROFS') ctx.fail('options.readOnlyError', `must be "ACCESS" or "ROFS", got ${JSON.stringify(o.readOnlyError)}`);
    options.readOnlyError = o.readOnlyError;
  }
  for (const k of ['anonUid', 'anonGid'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4294967295) ctx.fail(`options.${k}`, 'must be an integer from 0 to 4294967295');
    options[k] = v;
  }
  return options;
}

const LIMIT_BOUNDS: Record<keyof LimitsConfig, [number, number]> = {
  maxConnections: [1, 1_000_000],
  maxConnectionsPerSource: [1, 1_000_000],
  recordTimeoutSeconds: [1, 3600],
  idleTimeoutSeconds: [1, 86_400],
  evictIdleSeconds: [0, 86_400],
  openFileDescriptors: [16, 1_000_000],
  maxOpensPerClient: [1, 10_000_000],
  maxOpens: [1, 100_000_000],
};

function parseLimits(ctx: Ctx, raw: unknown): LimitsConfig {
  const limits: LimitsConfig = {};
  if (raw === undefined) return limits;
  const o = ctx.object(raw, 'limits');
  const keys = Object.keys(LIMIT_BOUNDS) as (keyof LimitsConfig)[];
  ctx.keys(o, keys, 'limits');
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    const [min, max] = LIMIT_BOUNDS[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) ctx.fail(`limits.${k}`, `must be an integer from ${min} to ${max}`);
    limits[k] = v;
  }
  if (limits.maxConnections !== undefined && limits.maxConnectionsPerSource !== undefined && limits.maxConnectionsPerSource > limits.maxConnections) {
    ctx.fail('limits.maxConnectionsPerSource', 'must not be above limits.maxConnections');
  }
  return limits;
}

async function parsePolicyField(ctx: Ctx, o: Record<string, unknown>, where: string): Promise<string | undefined> {
  if (o.policy !== undefined && o.policyFile !== undefined) ctx.fail(`${where}.policy`, 'give either policy or policyFile, not both');
  let text: string | undefined;
  let field = `${where}.policy`;
  if (o.policy !== undefined) {
    text = typeof o.policy === 'string' ? o.policy : JSON.stringify(o.policy);
  } else if (o.policyFile !== undefined) {
    field = `${where}.policyFile`;
    const file = ctx.resolvePath(ctx.string(o.policyFile, field, true));
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      ctx.fail(field, `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (text === undefined) return undefined;
  const checked = text;
  ctx.wrap(field, () => normaliseFileSystemPolicy(checked, PLACEHOLDER_FS_ARN, { uuid: () => '00000000-0000-0000-0000-000000000000' }));
  return text;
}

async function parseFileSystem(ctx: Ctx, raw: unknown, where: string): Promise<FileSystemDecl> {
  const o = ctx.object(raw, where);
  ctx.keys(o, ['fileSystemId', 'creationToken', 'name', 'tags', 'policy', 'policyFile'], where);
  const decl: FileSystemDecl = { tags: ctx.wrap(where, () => validateTags(o.tags, { style: 'config', prefix: [where] })) };
  const id = ctx.string(o.fileSystemId, `${where}.fileSystemId`);
  if (id !== undefined) {
    const bare = fileSystemIdFrom(id);
    if (!bare) ctx.fail(`${where}.fileSystemId`, `"${id}" is not a file system id (fs- followed by 8 to 40 hex digits, e.g. fs-0123456789abcdef0)`);
    decl.fileSystemId = bare;
  }
  const token = ctx.string(o.creationToken, `${where}.creationToken`);
  if (token !== undefined) {
    if (token.length > 64) ctx.fail(`${where}.creationToken`, 'must be 1 to 64 characters');
    decl.creationToken = token;
  }
  const name = ctx.string(o.name, `${where}.name`);
  if (name !== undefined) {
    if (decl.tags.some((t) => t.key === 'Name')) ctx.fail(`${where}.name`, 'give either name or a Name tag, not both');
    decl.tags.unshift({ key: 'Name', value: name });
  }
  decl.name = nameTag(decl.tags);
  const policyText = await parsePolicyField(ctx, o, where);
  if (policyText !== undefined) decl.policyText = policyText;
  return decl;
}

function parseAccessPoint(ctx: Ctx, raw: unknown, where: string): AccessPointDecl {
  const o = ctx.object(raw, where);
  ctx.keys(o, ['accessPointId', 'fileSystemId', 'name', 'clientToken', 'posixUser', 'rootDirectory', 'tags'], where);
  const fields = ctx.wrap(where, () => validateAccessPointFields({ posixUser: o.posixUser, rootDirectory: o.rootDirectory }, { style: 'config', prefix: [where], strict: true }));
  const decl: AccessPointDecl = { rootDirectory: fields.rootDirectory, tags: ctx.wrap(where, () => validateTags(o.tags, { style: 'config', prefix: [where] })) };
  if (fields.posixUser) decl.posixUser = fields.posixUser;
  const id = ctx.string(o.accessPointId, `${where}.accessPointId`);
  if (id !== undefined) {
    if (!isAccessPointId(id)) ctx.fail(`${where}.accessPointId`, `"${id}" is not an access point id (fsap- followed by 8 to 40 hex digits, e.g. fsap-0123456789abcdef0)`);
    decl.accessPointId = id;
  }
  const fsId = ctx.string(o.fileSystemId, `${where}.fileSystemId`);
  if (fsId !== undefined) {
    const bare = fileSystemIdFrom(fsId);
    if (!bare) ctx.fail(`${where}.fileSystemId`, `"${fsId}" is not a file system id or ARN`);
    decl.fileSystemId = bare;
  }
  const token = ctx.string(o.clientToken, `${where}.clientToken`);
  if (token !== undefined) {
    const problem = clientTokenProblem(token);
    if (problem) ctx.fail(`${where}.clientToken`, problem);
    decl.clientToken = token;
  }
  const name = ctx.string(o.name, `${where}.name`);
  if (name !== undefined) {
    if (decl.tags.some((t) => t.key === 'Name')) ctx.fail(`${where}.name`, 'give either name or a Name tag, not both');
    decl.tags.unshift({ key: 'Name', value: name });
  }
  decl.name = nameTag(decl.tags);
  return decl;
}

/** "host:port", "[v6]:port", or a bare address (port left to the server default). */
export function parseListen(s: string): { ipAddress: string; port?: number } | undefined {
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else if ((s.match(/:/g) ?? []).length > 1) {
    host = s; // bare IPv6
  } else {
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    port = i < 0 ? undefined : s.slice(i + 1);
  }
  if (net.isIP(host) === 0) return undefined;
  if (port === undefined) return { ipAddress: host };
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  return { ipAddress: host, port: Number(port) };
}

/** Resolves a config reference to a security group (a declared name or id, or the default group) to its id. */
type GroupResolver = (ref: unknown, where: string) => string;

function parseMountTarget(ctx: Ctx, raw: unknown, where: string, groupOf: GroupResolver): MountTargetDecl {
  const o = ctx.object(raw, where);
  ctx.keys(o, ['mountTargetId', 'fileSystemId', 'listen', 'allowedCidrs', 'securityGroups'], where);
  const listen = ctx.string(o.listen, `${where}.listen`, true);
  const addr = parseListen(listen);
  if (!addr) ctx.fail(`${where}.listen`, `"${listen}" is not "address:port" (e.g. "127.0.0.1:2049" or "[::1]:2049") with a literal IP address`);
  const decl: MountTargetDecl = { ...addr, allowedCidrs: ['0.0.0.0/0', '::/0'] };
  if (o.allowedCidrs !== undefined) {
    const cidrs = ctx.list(o.allowedCidrs, `${where}.allowedCidrs`);
    cidrs.forEach((c, i) => {
      const problem = cidrProblem(c);
      if (problem) ctx.fail(`${where}.allowedCidrs[${i}]`, problem);
    });
    decl.allowedCidrs = cidrs as string[];
  }
  const id = ctx.string(o.mountTargetId, `${where}.mountTargetId`);
  if (id !== undefined) {
    if (!isMountTargetId(id)) ctx.fail(`${where}.mountTargetId`, `"${id}" is not a mount target id (fsmt- followed by 8 to 40 hex digits)`);
    decl.mountTargetId = id;
  }
  const fsId = ctx.string(o.fileSystemId, `${where}.fileSystemId`);
  if (fsId !== undefined) {
    const bare = fileSystemIdFrom(fsId);
    if (!bare) ctx.fail(`${where}.fileSystemId`, `"${fsId}" is not a file system id or ARN`);
    decl.fileSystemId = bare;
  }
  if (o.securityGroups !== undefined) {
    const refs = ctx.list(o.securityGroups, `${where}.securityGroups`);
    if (refs.length < 1 || refs.length > MAX_MOUNT_TARGET_GROUPS) ctx.fail(`${where}.securityGroups`, `must name 1 to ${MAX_MOUNT_TARGET_GROUPS} security groups`);
    const ids = refs.map((r, i) => groupOf(r, `${where}.securityGroups[${i}]`));
    decl.securityGroups = [...new Set(ids)];
  }
  return decl;
}

/** EFS: at most five security groups per mount target. */
const MAX_MOUNT_TARGET_GROUPS = 5;

function parsePort(ctx: Ctx, v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -1 || v > 65535) ctx.fail(where, `must be an integer from -1 to 65535, got ${JSON.stringify(v)}`);
  return v;
}

function parseGroupRule(ctx: Ctx, raw: unknown, where: string, groupOf: GroupResolver): SecurityGroupRuleDecl {
  const o = ctx.object(raw, where);
  ctx.keys(o, ['protocol', 'fromPort', 'toPort', 'port', 'cidr', 'sourceGroup', 'description'], where);
  const given = ctx.string(o.protocol, `${where}.protocol`, true);
  const protocol = given.toLowerCase() === 'all' ? '-1' : normaliseProtocol(given);
  if (protocol === undefined) ctx.fail(`${where}.protocol`, `"${given}" is not a protocol (tcp, udp, icmp, icmpv6, -1 or "all", or a number 0 to 255)`);
  if (o.port !== undefined && (o.fromPort !== undefined || o.toPort !== undefined)) ctx.fail(`${where}.port`, 'give either port or fromPort and toPort, not both');
  const port = parsePort(ctx, o.port, `${where}.port`);
  const ports = rulePorts(protocol, port ?? parsePort(ctx, o.fromPort, `${where}.fromPort`), port ?? parsePort(ctx, o.toPort, `${where}.toPort`));
  if ('problem' in ports) ctx.fail(where, ports.problem);
  const rule: SecurityGroupRuleDecl = { ipProtocol: protocol, ...ports };
  if ((o.cidr === undefined) === (o.sourceGroup === undefined)) ctx.fail(where, 'needs exactly one source: cidr or sourceGroup');
  if (o.cidr !== undefined) {
    const cidr = ctx.string(o.cidr, `${where}.cidr`, true);
    if (isIpv4Cidr(cidr)) rule.cidrIpv4 = cidr;
    else if (isIpv6Cidr(cidr)) rule.cidrIpv6 = cidr.toLowerCase();
    else ctx.fail(`${where}.cidr`, `"${cidr}" is not a CIDR such as "10.0.0.0/16" or "2001:db8::/32" (the prefix length is required)`);
  } else rule.referencedGroupId = groupOf(o.sourceGroup, `${where}.sourceGroup`);
  const description = ctx.string(o.description, `${where}.description`);
  if (description !== undefined) {
    const problem = ruleDescriptionProblem(description);
    if (problem) ctx.fail(`${where}.description`, problem);
    rule.description = description;
  }
  return rule;
}

/**
 * The `securityGroups` section: names and ids first (a rule may name a group
 * declared after it), then the rules. Returns the declarations and the
 * resolver the mount targets and instances use.
 */
function parseSecurityGroups(ctx: Ctx, raw: unknown, accountId: string, region: string): { decls: SecurityGroupDecl[]; groupOf: GroupResolver } {
  const defaultId = defaultSecurityGroupFor(accountId, region);
  const list = ctx.list(raw, 'securityGroups');
  const byName = new Map<string, string>([[DEFAULT_GROUP_NAME, defaultId]]);
  const ids = new Set<string>([defaultId]);
  const objects = list.map((item, i) => {
    const where = `securityGroups[${i}]`;
    const o = ctx.object(item, where);
    ctx.keys(o, ['groupId', 'name', 'description', 'ingress', 'tags'], where);
    const name = ctx.string(o.name, `${where}.name`, true);
    if (name !== DEFAULT_GROUP_NAME) {
      const problem = groupNameProblem(name);
      if (problem) ctx.fail(`${where}.name`, problem);
      if (byName.has(name)) ctx.fail(`${where}.name`, `"${name}" is declared twice`);
    }
    const given = ctx.string(o.groupId, `${where}.groupId`);
    if (given !== undefined && !SECURITY_GROUP_ID_RE.test(given)) ctx.fail(`${where}.groupId`, `"${given}" is not a security group id (sg- followed by 8 to 40 hex digits)`);
    const groupId = given ?? configSecurityGroupId(accountId, region, name);
    if (name === DEFAULT_GROUP_NAME) {
      if (groupId !== defaultId) ctx.fail(`${where}.groupId`, `the default group's id is ${defaultId}; leave groupId out`);
      if (list.slice(0, i).some((x) => isObject(x) && x.name === DEFAULT_GROUP_NAME)) ctx.fail(`${where}.name`, '"default" is declared twice');
    } else {
      if (groupId === defaultId) ctx.fail(`${where}.groupId`, `${groupId} is the default group's id; name the group "default"`);
      if (ids.has(groupId)) ctx.fail(`${where}.groupId`, `${groupId} is declared twice`);
    }
    byName.set(name, groupId);
    ids.add(groupId);
    return { o, where, name, groupId };
  });
  const groupOf: GroupResolver = (ref, where) => {
    const s = ctx.string(ref, where, true);
    if (SECURITY_GROUP_ID_RE.test(s)) {
      if (!ids.has(s)) ctx.fail(where, `${s} is not declared in securityGroups (name a group the config declares, or "default")`);
      return s;
    }
    const id = byName.get(s);
    if (id === undefined) ctx.fail(where, `no security group named "${s}" is declared in securityGroups (nor is it "default")`);
    return id;
  };
  const decls = objects.map(({ o, where, name, groupId }) => {
    const decl: SecurityGroupDecl = { groupId, groupName: name };
    const description = ctx.string(o.description, `${where}.description`);
    if (description !== undefined) {
      const problem = groupDescriptionProblem(description);
      if (problem) ctx.fail(`${where}.description`, problem);
      decl.description = description;
    }
    if (o.ingress !== undefined) {
      const seen = new Map<string, number>();
      decl.ingress = ctx.list(o.ingress, `${where}.ingress`).map((r, i) => {
        const rule = parseGroupRule(ctx, r, `${where}.ingress[${i}]`, groupOf);
        const key = ruleKey(rule);
        const before = seen.get(key);
        if (before !== undefined) ctx.fail(`${where}.ingress[${i}]`, `repeats ingress[${before}] (same protocol, ports and source)`);
        seen.set(key, i);
        return rule;
      });
    }
    if (o.tags !== undefined) decl.tags = ctx.wrap(where, () => validateTags(o.tags, { style: 'config', prefix: [where] }));
    return decl;
  });
  return { decls, groupOf };
}

/** The `instances` section: client addresses and the groups they are members of. */
function parseInstances(ctx: Ctx, raw: unknown, groupOf: GroupResolver): InstanceDecl[] {
  const seen = new Set<string>();
  return ctx.list(raw, 'instances').map((item, i) => {
    const where = `instances[${i}]`;
    const o = ctx.object(item, where);
    ctx.keys(o, ['address', 'securityGroups'], where);
    const given = ctx.string(o.address, `${where}.address`, true);
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(given)?.[1];
    const address = net.isIPv4(given) ? given : mapped !== undefined && net.isIPv4(mapped) ? mapped : net.isIPv6(given) ? canonicalIpv6(given) : undefined;
    if (address === undefined) ctx.fail(`${where}.address`, `"${given}" is not a literal IPv4 or IPv6 address`);
    if (seen.has(address)) ctx.fail(`${where}.address`, `${address} is declared twice`);
    seen.add(address);
    const refs = ctx.list(o.securityGroups, `${where}.securityGroups`);
    if (refs.length === 0) ctx.fail(`${where}.securityGroups`, 'must name at least one security group');
    return { address, securityGroups: [...new Set(refs.map((r, j) => groupOf(r, `${where}.securityGroups[${j}]`)))] };
  });
}

/** Check a parsed config document. `file` names it in messages; relative paths resolve against `baseDir`. */
export async function parseConfig(json: unknown, file: string, baseDir = path.dirname(file)): Promise<ModelConfig> {
  const ctx = new Ctx(file, baseDir);
  const o = ctx.object(json, '(top level)');
  ctx.keys(o, ['region', 'accountId', 'options', 'limits', 'fileSystems', 'accessPoints', 'mountTargets', 'securityGroups', 'instances', 'credentials', 'credentialsFile'], '');
  const region = ctx.string(o.region, 'region') ?? DEFAULT_REGION;
  if (!isRegion(region)) ctx.fail('region', `"${region}" is not a region name such as "us-east-1"`);
  const accountId = ctx.string(o.accountId, 'accountId') ?? DEFAULT_ACCOUNT_ID;
  if (!isAccountId(accountId)) ctx.fail('accountId', `must be 12 digits, got "${accountId}"`);
  const options = parseOptions(ctx, o.options);
  const limits = parseLimits(ctx, o.limits);

  const fileSystems: FileSystemDecl[] = [];
  const fsList = ctx.list(o.fileSystems, 'fileSystems');
  for (let i = 0; i < fsList.length; i++) fileSystems.push(await parseFileSystem(ctx, fsList[i], `fileSystems[${i}]`));
  const seenFs = new Set<string>();
  let defaults = 0;
  fileSystems.forEach((f, i) => {
    if (f.fileSystemId === undefined) {
      if (++defaults > 1) ctx.fail(`fileSystems[${i}].fileSystemId`, 'only one file system may leave out fileSystemId (the default one)');
    } else {
      if (seenFs.has(f.fileSystemId)) ctx.fail(`fileSystems[${i}].fileSystemId`, `${f.fileSystemId} is declared twice`);
      seenFs.add(f.fileSystemId);
    }
  });
  const knownFs = (id: string | undefined, where: string) => {
    if (id !== undefined && !seenFs.has(id)) ctx.fail(where, `${id} is not declared in fileSystems (leave fileSystemId out to mean the default file system)`);
  };

  const accessPoints = ctx.list(o.accessPoints, 'accessPoints').map((a, i) => parseAccessPoint(ctx, a, `accessPoints[${i}]`));
  const seenAp = new Set<string>();
  const seenToken = new Set<string>();
  accessPoints.forEach((a, i) => {
    knownFs(a.fileSystemId, `accessPoints[${i}].fileSystemId`);
    if (a.accessPointId !== undefined) {
      if (seenAp.has(a.accessPointId)) ctx.fail(`accessPoints[${i}].accessPointId`, `${a.accessPointId} is declared twice`);
      seenAp.add(a.accessPointId);
    }
    if (a.clientToken !== undefined) {
      if (seenToken.has(a.clientToken)) ctx.fail(`accessPoints[${i}].clientToken`, `"${a.clientToken}" is used twice`);
      seenToken.add(a.clientToken);
    }
  });

  const groups = parseSecurityGroups(ctx, o.securityGroups, accountId, region);
  const instances = parseInstances(ctx, o.instances, groups.groupOf);
  const mountTargets = ctx.list(o.mountTargets, 'mountTargets').map((m, i) => parseMountTarget(ctx, m, `mountTargets[${i}]`, groups.groupOf));
  const seenListen = new Set<string>();
  const seenMt = new Set<string>();
  mountTargets.forEach((m, i) => {
    knownFs(m.fileSystemId, `mountTargets[${i}].fileSystemId`);
    const key = `${m.ipAddress}:${m.port ?? 'default'}`;
    if (seenListen.has(key)) ctx.fail(`mountTargets[${i}].listen`, `${m.ipAddress}${m.port !== undefined ? ` port ${m.port}` : ''} is used by another mount target`);
    seenListen.add(key);
    if (m.mountTargetId !== undefined) {
      if (seenMt.has(m.mountTargetId)) ctx.fail(`mountTargets[${i}].mountTargetId`, `${m.mountTargetId} is declared twice`);
      seenMt.add(m.mountTargetId);
    }
  });

  const credentials = new Map<string, Credential>();
  if (o.credentials !== undefined) parseCredentialMap(ctx, o.credentials, 'credentials', credentials);
  if (o.credentialsFile !== undefined) {
    const credFile = ctx.resolvePath(ctx.string(o.credentialsFile, 'credentialsFile', true));
    for (const [key, cred] of await loadCredentials(credFile)) {
      if (credentials.has(key)) ctx.fail('credentialsFile', `access key id ${key} is declared both in credentials and in ${credFile}`);
      credentials.set(key, cred);
    }
  }

  return { source: file, region, accountId, options, limits, fileSystems, accessPoints, mountTargets, securityGroups: groups.decls, instances, credentials };
}

/** Load `--config FILE`. Throws ConfigError naming the file and the bad field. */
export async function loadConfig(file: string): Promise<ModelConfig> {
  const abs = path.resolve(file);
  return parseConfig(await readJson(abs, 'config file'), abs, path.dirname(abs));
}

/** An empty config (no --config): the default file system with the default policy. */
export function emptyConfig(): ModelConfig {
  return {
    region: DEFAULT_REGION,
    accountId: DEFAULT_ACCOUNT_ID,
    options: { ...DEFAULT_OPTIONS },
    fileSystems: [],
    accessPoints: [],
    mountTargets: [],
    credentials: new Map(),
  };
}

export interface ResolveOptions {
  /** Id of the file system held by the data directory. */
  defaultFileSystemId: string;
  /** Epoch seconds for creationTime (default now). */
  now?: number;
  /** UUIDs for generated policy Sids. */
  uuid?: () => string;
  /** Extra credentials (e.g. from --credentials); clashes with the config's are an error. */
  credentials?: Map<string, Credential>;
}

/**
 * Turn declarations into resources: the file system without an id becomes the
 * default one (added if the config has none), access points and mount targets
 * without ids get ids derived from their file system and position (stable
 * across restarts), policies are normalised with the real ARN.
 */
export function resolveModel(config: ModelConfig, opts: ResolveOptions): Model {
  const { region, accountId } = config;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const file = config.source ?? '(config)';
  const fileSystems = new Map<string, FileSystem>();
  const decls = [...config.fileSystems];
  if (!decls.some((d) => d.fileSystemId === undefined || d.fileSystemId === opts.defaultFileSystemId)) decls.unshift({ tags: [] });
  decls.forEach((d, i) => {
    const id = d.fileSystemId ?? opts.defaultFileSystemId;
    if (fileSystems.has(id)) throw new ConfigError(file, `fileSystems[${i}].fileSystemId`, `${id} is also the default file system's id`);
    const arn = fileSystemArn(region, accountId, id);
    let policy: PolicyDocument | undefined;
    if (d.policyText !== undefined) policy = normaliseFileSystemPolicy(d.policyText, arn, { uuid: opts.uuid });
    const fs: FileSystem = {
      fileSystemId: id,
      arn,
      ownerId: accountId,
      region,
      creationToken: d.creationToken ?? `localefs-${id}`,
      tags: d.tags.map((t) => ({ ...t })),
      creationTime: now,
      lifeCycleState: 'available',
      performanceMode: 'generalPurpose',
      throughputMode: 'elastic',
      encrypted: false,
      lifecyclePolicies: [],
      replicationOverwriteProtection: 'ENABLED',
    };
    if (d.name !== undefined) fs.name = d.name;
    if (policy) fs.policy = policy;
    fileSystems.set(id, fs);
  });

  const accessPoints = new Map<string, AccessPoint>();
  config.accessPoints.forEach((d, i) => {
    const fsId = d.fileSystemId ?? opts.defaultFileSystemId;
    const id = d.accessPointId ?? derivedId('fsap', `${fsId}/${d.name ?? `#${i}`}`);
    if (accessPoints.has(id)) throw new ConfigError(file, `accessPoints[${i}]`, `derived access point id ${id} clashes with another; give accessPointId or a distinct name`);
    const ap: AccessPoint = {
      accessPointId: id,
      arn: accessPointArn(region, accountId, id),
      fileSystemId: fsId,
      ownerId: accountId,
      clientToken: d.clientToken ?? id,
      rootDirectory: { path: d.rootDirectory.path, ...(d.rootDirectory.creationInfo ? { creationInfo: { ...d.rootDirectory.creationInfo } } : {}) },
      tags: d.tags.map((t) => ({ ...t })),
      lifeCycleState: 'available',
    };
    if (d.name !== undefined) ap.name = d.name;
    if (d.posixUser) ap.posixUser = { ...d.posixUser, secondaryGids: [...d.posixUser.secondaryGids] };
    accessPoints.set(id, ap);
  });

  const mountTargets = new Map<string, MountTarget>();
  const subnets = new Map<string, number>();
  config.mountTargets.forEach((d, i) => {
    const fsId = d.fileSystemId ?? opts.defaultFileSystemId;
    const id = d.mountTargetId ?? derivedId('fsmt', `${fsId}/${d.ipAddress}/${d.port ?? ''}`);
    if (mountTargets.has(id)) throw new ConfigError(file, `mountTargets[${i}]`, `mount target id ${id} clashes with another`);
    const mt = newMountTarget(
      { region, accountId, subnets },
      { mountTargetId: id, fileSystemId: fsId, ipAddress: d.ipAddress, allowedCidrs: d.allowedCidrs, ...(d.securityGroups ? { securityGroups: [...d.securityGroups] } : {}) },
    );
    if (d.port !== undefined) mt.port = d.port;
    mountTargets.set(id, mt);
  });

  const credentials = new Map(config.credentials);
  for (const [key, cred] of opts.credentials ?? []) {
    if (credentials.has(key)) throw new ConfigError(file, 'credentials', `access key id ${key} is declared both in the config and in the credentials file`);
    credentials.set(key, cred);
  }
  const model: Model = { region, accountId, options: { ...config.options }, fileSystems, accessPoints, mountTargets, credentials, subnets, securityGroups: new Map(), instances: new Map(), resourceIdType: 'LONG_ID' };
  ensureDefaultSecurityGroup(model);
  for (const d of config.securityGroups ?? []) model.securityGroups.set(d.groupId, securityGroupFromDecl(d, model.securityGroups.get(d.groupId), accountId, region));
  for (const d of config.instances ?? []) model.instances.set(d.address, [...d.securityGroups]);
  return model;
}
