/**
 * The one model of EFS resources (file systems, access points, mount targets,
 * credentials). A config file drives it now, the EFS management API will drive
 * it later; the NFS side only ever reads it.
 *
 * Names follow the EFS API (camelCase here, PascalCase on the wire). Pure
 * data and pure helpers: no I/O.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ANON_ID } from '../protocol/efs-limits.js';
import type { SecurityGroup } from './security-groups.js';
import type { PolicyDocument } from './policy-document.js';
import type { InstanceDecl, SecurityGroupDecl } from './security-group-rules.js';

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

export type LifeCycleState = 'creating' | 'available' | 'updating' | 'deleting' | 'deleted' | 'error';

export interface Tag {
  key: string;
  value: string;
}

export interface PosixUser {
  uid: number;
  gid: number;
  secondaryGids: number[];
}

export interface CreationInfo {
  ownerUid: number;
  ownerGid: number;
  /** Octal string as in the API, e.g. "755" or "0750". */
  permissions: string;
}

export interface RootDirectory {
  /** "/" or an absolute path of 1–4 components, no trailing slash. */
  path: string;
  creationInfo?: CreationInfo;
}

export interface FileSystem {
  fileSystemId: string;
  arn: string;
  /** 12-digit account id. */
  ownerId: string;
  region: string;
  creationToken: string;
  /** Value of the Name tag, if any. */
  name?: string;
  tags: Tag[];
  /** Explicit file system policy, normalised; undefined = the default (allow all) policy. */
  policy?: PolicyDocument;
  /** Epoch seconds. */
  creationTime: number;
  lifeCycleState: LifeCycleState;
  performanceMode: 'generalPurpose' | 'maxIO';
  throughputMode: 'bursting' | 'provisioned' | 'elastic';
  provisionedThroughputInMibps?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  /** One Zone file systems only. */
  availabilityZoneName?: string;
  availabilityZoneId?: string;
  /** undefined = backups never configured (DescribeBackupPolicy answers PolicyNotFound). */
  backupPolicy?: 'ENABLED' | 'DISABLED';
  /** Lifecycle policies as PutLifecycleConfiguration stored them (one key each). */
  lifecyclePolicies: Record<string, string>[];
  replicationOverwriteProtection: 'ENABLED' | 'DISABLED' | 'REPLICATING';
  /** Epoch seconds of the last throughput-mode change or provisioned decrease (UpdateFileSystem's 24 h rule). */
  lastThroughputChange?: number;
}

export interface AccessPoint {
  /** 'fsap-' + 17 hex. */
  accessPointId: string;
  arn: string;
  fileSystemId: string;
  ownerId: string;
  clientToken: string;
  name?: string;
  posixUser?: PosixUser;
  rootDirectory: RootDirectory;
  tags: Tag[];
  lifeCycleState: LifeCycleState;
}

export interface MountTarget {
  /** 'fsmt-' + 17 hex. Mount targets have no ARN. */
  mountTargetId: string;
  fileSystemId: string;
  ownerId: string;
  /** Address the NFS listener binds (IPv4 or IPv6). */
  ipAddress: string;
  /** Second address for DUAL_STACK mount targets. */
  ipv6Address?: string;
  subnetId: string;
  availabilityZoneName: string;
  availabilityZoneId: string;
  vpcId: string;
  networkInterfaceId: string;
  securityGroups: string[];
  /** NFS port; undefined = the server default (2049). */
  port?: number;
  /**
   * Where the listener binds when that is not ipAddress: the default mount target of a
   * server started with --host 0.0.0.0 (a container) binds the wildcard and reports a
   * real address of the machine as its IpAddress.
   */
  listenAddress?: string;
  /** Source CIDRs allowed to connect (the security group); empty = nobody. */
  allowedCidrs: string[];
  lifeCycleState: LifeCycleState;
}

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** arn:aws:iam::<acct>:role/..., user/..., root, or arn:aws:sts::<acct>:assumed-role/<role>/<session>. */
  principalArn: string;
  accountId: string;
  /** Identity-based policies attached to the principal (normalised, no Principal element). */
  identityPolicies?: PolicyDocument[];
}

export interface ModelOptions {
  /** NFS status for writes on a connection without ClientWrite: NFS4ERR_ACCESS (default) or NFS4ERR_ROFS. */
  readOnlyError: 'ACCESS' | 'ROFS';
  /** uid/gid a squashed root (no ClientRootAccess) is mapped to. */
  anonUid: number;
  anonGid: number;
}

export const DEFAULT_OPTIONS: ModelOptions = { readOnlyError: 'ACCESS', anonUid: ANON_ID, anonGid: ANON_ID };
export const DEFAULT_REGION = 'us-east-1';
/** Account used when the config names none (the conventional local-emulator account). */
export const DEFAULT_ACCOUNT_ID = '000000000000';

// ---------------------------------------------------------------------------
// Config-level declarations: like the resources, but ids may be left to the
// server (the default file system's id lives in the data directory).
// ---------------------------------------------------------------------------

export interface FileSystemDecl {
  /** undefined = the default file system (the one the data directory holds). */
  fileSystemId?: string;
  creationToken?: string;
  name?: string;
  tags: Tag[];
  /** Policy JSON text as written in the config, already checked; normalised when resolved. */
  policyText?: string;
}

export interface AccessPointDecl {
  accessPointId?: string;
  /** undefined = the default file system. */
  fileSystemId?: string;
  name?: string;
  clientToken?: string;
  posixUser?: PosixUser;
  rootDirectory: RootDirectory;
  tags: Tag[];
}

export interface MountTargetDecl {
  mountTargetId?: string;
  fileSystemId?: string;
  ipAddress: string;
  port?: number;
  allowedCidrs: string[];
  /** Group ids (resolved from the config's names); undefined = the VPC's default group. */
  securityGroups?: string[];
}

/** The config's `limits` section (docs/config.md): every field optional; src/limits.ts has the defaults. */
export interface LimitsConfig {
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  recordTimeoutSeconds?: number;
  idleTimeoutSeconds?: number;
  evictIdleSeconds?: number;
  /** Fds one file system's store keeps open at most (opens share them). */
  openFileDescriptors?: number;
  /** Open files one client may hold (EFS: 32,768, then "Disk quota exceeded"). */
  maxOpensPerClient?: number;
  /** Open files all clients together may hold. */
  maxOpens?: number;
}

export interface ModelConfig {
  /** File the config came from (for messages), if any. */
  source?: string;
  /** Server resource limits (not part of the EFS model; never saved in model.json). */
  limits?: LimitsConfig;
  region: string;
  accountId: string;
  options: ModelOptions;
  fileSystems: FileSystemDecl[];
  accessPoints: AccessPointDecl[];
  mountTargets: MountTargetDecl[];
  /** EC2 security groups the config declares (the default group too, when it is named). */
  securityGroups?: SecurityGroupDecl[];
  /** Client addresses and the groups they are members of (the stand-in for EC2 instances). */
  instances?: InstanceDecl[];
  /** access key id -> credential. */
  credentials: Map<string, Credential>;
}

/** The resolved model: every id and ARN known. */
export interface Model {
  region: string;
  accountId: string;
  options: ModelOptions;
  fileSystems: Map<string, FileSystem>;
  accessPoints: Map<string, AccessPoint>;
  mountTargets: Map<string, MountTarget>;
  credentials: Map<string, Credential>;
  /** Subnet id -> index of its Availability Zone (assigned on first use; each subnet is its own zone). */
  subnets: Map<string, number>;
  /** EC2 security groups by id (the VPC's default group always among them). */
  securityGroups: Map<string, SecurityGroup>;
  /** Client address -> ids of the groups it is a member of (--config's `instances`: the stand-in for EC2 instances). */
  instances: Map<string, string[]>;
  /** PutAccountPreferences (only LONG_ID is accepted since 2021). */
  resourceIdType: 'LONG_ID';
}

// ---------------------------------------------------------------------------
// Ids and ARNs
// ---------------------------------------------------------------------------

export const FS_ID_RE = /^fs-[0-9a-f]{8,40}$/;
export const AP_ID_RE = /^fsap-[0-9a-f]{8,40}$/;
export const MT_ID_RE = /^fsmt-[0-9a-f]{8,40}$/;
export const ACCOUNT_ID_RE = /^[0-9]{12}$/;
export const REGION_RE = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;
export const FS_ARN_RE = /^arn:aws[a-z-]*:elasticfilesystem:([a-z0-9-]+):([0-9]{12}):file-system\/(fs-[0-9a-f]{8,40})$/;
export const AP_ARN_RE = /^arn:aws[a-z-]*:elasticfilesystem:([a-z0-9-]+):([0-9]{12}):access-point\/(fsap-[0-9a-f]{8,40})$/;

export const isFileSystemId = (s: unknown): s is string => typeof s === 'string' && FS_ID_RE.test(s);
export const isAccessPointId = (s: unknown): s is string => typeof s === 'string' && AP_ID_RE.test(s);
export const isMountTargetId = (s: unknown): s is string => typeof s === 'string' && MT_ID_RE.test(s);
export const isAccountId = (s: unknown): s is string => typeof s === 'string' && ACCOUNT_ID_RE.test(s);
export const isRegion = (s: unknown): s is string => typeof s === 'string' && REGION_RE.test(s);

function hex17(): string {
  return randomBytes(9).toString('hex').slice(0, 17);
}

/** New long-format ids (17 hex digits). */
export const newFileSystemId = (): string => `fs-${hex17()}`;
export const newAccessPointId = (): string => `fsap-${hex17()}`;
export const newMountTargetId = (): string => `fsmt-${hex17()}`;

/** Stable id derived from a seed (for config-declared resources without an explicit id). */
export function derivedId(prefix: 'fs' | 'fsap' | 'fsmt' | 'subnet' | 'vpc' | 'sg' | 'sgr' | 'eni', seed: string): string {
  return `${prefix}-${createHash('sha256').update(seed).digest('hex').slice(0, 17)}`;
}

export function fileSystemArn(region: string, accountId: string, fileSystemId: string): string {
  return `arn:aws:elasticfilesystem:${region}:${accountId}:file-system/${fileSystemId}`;
}

export function accessPointArn(region: string, accountId: string, accessPointId: string): string {
  return `arn:aws:elasticfilesystem:${region}:${accountId}:access-point/${accessPointId}`;
}

export interface ParsedEfsArn {
  kind: 'file-system' | 'access-point';
  region: string;
  accountId: string;
  id: string;
}

export function parseEfsArn(arn: string): ParsedEfsArn | undefined {
  let m = FS_ARN_RE.exec(arn);
  if (m) return { kind: 'file-system', region: m[1], accountId: m[2], id: m[3] };
  m = AP_ARN_RE.exec(arn);
  if (m) return { kind: 'access-point', region: m[1], accountId: m[2], id: m[3] };
  return undefined;
}

/** API inputs take the bare id or the ARN: returns the bare id, or undefined if neither. */
export function fileSystemIdFrom(idOrArn: string): string | undefined {
  if (isFileSystemId(idOrArn)) return idOrArn;
  const p = parseEfsArn(idOrArn);
  return p?.kind === 'file-system' ? p.id : undefined;
}

export function accessPointIdFrom(idOrArn: string): string | undefined {
  if (isAccessPointId(idOrArn)) return idOrArn;
  const p = parseEfsArn(idOrArn);
  return p?.kind === 'access-point' ? p.id : undefined;
}

/** Account id of an IAM/STS principal ARN (`arn:aws:iam::<acct>:...`), or undefined. */
export function principalAccount(arn: string): string | undefined {
  const m = /^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):/.exec(arn);
  return m ? m[1] : undefined;
}

export function nameTag(tags: Tag[]): string | undefined {
  return tags.find((t) => t.key === 'Name')?.value;
}

// ---------------------------------------------------------------------------
// The local network a mount target lives in: one VPC, each subnet its own
// Availability Zone (so "one mount target per zone" is "one per subnet").
// ---------------------------------------------------------------------------

export const SUBNET_ID_RE = /^subnet-[0-9a-f]{8,40}$/;
export const SECURITY_GROUP_ID_RE = /^sg-[0-9a-f]{8,40}$/;

export const vpcIdFor = (accountId: string, region: string): string => derivedId('vpc', `${accountId}/${region}`);
export const defaultSecurityGroupFor = (accountId: string, region: string): string => derivedId('sg', `${accountId}/${region}/default`);
export const networkInterfaceIdFor = (mountTargetId: string): string => derivedId('eni', mountTargetId);
/** The subnet config-declared mount targets live in. */
export const defaultSubnetFor = (accountId: string, region: string): string => derivedId('subnet', `${accountId}/${region}/default`);

/** Zone name and id of a subnet, assigning the next zone to a subnet seen for the first time. */
export function availabilityZoneOf(model: Pick<Model, 'region' | 'subnets'>, subnetId: string): { name: string; id: string } {
  let index = model.subnets.get(subnetId);
  if (index === undefined) {
    index = model.subnets.size;
    model.subnets.set(subnetId, index);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const suffix = index < 26 ? letters[index]! : `${letters[index % 26]!}${Math.floor(index / 26)}`;
  return { name: `${model.region}${suffix}`, id: zoneId(model.region, index) };
}

/** AWS-style zone id of the index-th zone of a region: us-east-1, 0 -> use1-az1. */
export function zoneId(region: string, index: number): string {
  const short = region.split('-').map((p, i, all) => (i === all.length - 1 ? p : p.slice(0, i === 0 ? 2 : 1))).join('');
  return `${short}-az${index + 1}`;
}

/** A mount target in the local network: its zone, VPC, interface and default security group filled in. */
export function newMountTarget(
  model: Pick<Model, 'region' | 'accountId' | 'subnets'>,
  m: { mountTargetId: string; fileSystemId: string; ipAddress: string; allowedCidrs: string[]; subnetId?: string; securityGroups?: string[] },
): MountTarget {
  const { accountId, region } = model;
  const subnetId = m.subnetId ?? defaultSubnetFor(accountId, region);
  const zone = availabilityZoneOf(model, subnetId);
  return {
    mountTargetId: m.mountTargetId,
    fileSystemId: m.fileSystemId,
    ownerId: accountId,
    ipAddress: m.ipAddress,
    subnetId,
    availabilityZoneName: zone.name,
    availabilityZoneId: zone.id,
    vpcId: vpcIdFor(accountId, region),
    networkInterfaceId: networkInterfaceIdFor(m.mountTargetId),
    securityGroups: m.securityGroups ?? [defaultSecurityGroupFor(accountId, region)],
    allowedCidrs: [...m.allowedCidrs],
    lifeCycleState: 'available',
  };
}
