/**
 * Model resources as the EFS API describes them (PascalCase members, epoch
 * seconds), and the id lookups every operation shares (ids or ARNs accepted).
 */
import {
  accessPointIdFrom,
  fileSystemIdFrom,
  parseEfsArn,
  type AccessPoint,
  type FileSystem,
  type MountTarget,
  type Tag,
} from '../model/types.js';
import { ApiError, accessPointNotFound, badRequest, fileSystemNotFound, mountTargetNotFound } from './errors.js';
import type { ControlPlane } from './control-plane.js';

export const wireTags = (tags: Tag[]): { Key: string; Value: string }[] => tags.map((t) => ({ Key: t.key, Value: t.value }));

export function describeFileSystem(cp: ControlPlane, fs: FileSystem, state = fs.lifeCycleState): Record<string, unknown> {
  const size = cp.effects.meteredSize(fs);
  const mountTargets = [...cp.model.mountTargets.values()].filter((m) => m.fileSystemId === fs.fileSystemId).length;
  return {
    OwnerId: fs.ownerId,
    CreationToken: fs.creationToken,
    FileSystemId: fs.fileSystemId,
    FileSystemArn: fs.arn,
    CreationTime: fs.creationTime,
    LifeCycleState: state,
    ...(fs.name !== undefined ? { Name: fs.name } : {}),
    NumberOfMountTargets: mountTargets,
    SizeInBytes: { Value: size.value, Timestamp: size.timestamp, ValueInIA: 0, ValueInStandard: size.value, ValueInArchive: 0 },
    PerformanceMode: fs.performanceMode,
    Encrypted: fs.encrypted,
    ...(fs.kmsKeyId !== undefined ? { KmsKeyId: fs.kmsKeyId } : {}),
    ThroughputMode: fs.throughputMode,
    ...(fs.provisionedThroughputInMibps !== undefined ? { ProvisionedThroughputInMibps: fs.provisionedThroughputInMibps } : {}),
    ...(fs.availabilityZoneName !== undefined ? { AvailabilityZoneName: fs.availabilityZoneName, AvailabilityZoneId: fs.availabilityZoneId } : {}),
    Tags: wireTags(fs.tags),
    FileSystemProtection: { ReplicationOverwriteProtection: fs.replicationOverwriteProtection },
  };
}

export function describeAccessPoint(ap: AccessPoint, state = ap.lifeCycleState): Record<string, unknown> {
  const rd = ap.rootDirectory;
  return {
    ClientToken: ap.clientToken,
    ...(ap.name !== undefined ? { Name: ap.name } : {}),
    Tags: wireTags(ap.tags),
    AccessPointId: ap.accessPointId,
    AccessPointArn: ap.arn,
    FileSystemId: ap.fileSystemId,
    ...(ap.posixUser
      ? { PosixUser: { Uid: ap.posixUser.uid, Gid: ap.posixUser.gid, ...(ap.posixUser.secondaryGids.length ? { SecondaryGids: ap.posixUser.secondaryGids } : {}) } }
      : {}),
    RootDirectory: {
      Path: rd.path,
      ...(rd.creationInfo
        ? { CreationInfo: { OwnerUid: rd.creationInfo.ownerUid, OwnerGid: rd.creationInfo.ownerGid, Permissions: rd.creationInfo.permissions } }
        : {}),
    },
    OwnerId: ap.ownerId,
    LifeCycleState: state,
  };
}

export function describeMountTarget(mt: MountTarget, state = mt.lifeCycleState): Record<string, unknown> {
  const v6 = mt.ipAddress.includes(':');
  return {
    OwnerId: mt.ownerId,
    MountTargetId: mt.mountTargetId,
    FileSystemId: mt.fileSystemId,
    SubnetId: mt.subnetId,
    LifeCycleState: state,
    ...(v6 ? { Ipv6Address: mt.ipAddress } : { IpAddress: mt.ipAddress }),
    ...(mt.ipv6Address !== undefined ? { Ipv6Address: mt.ipv6Address } : {}),
    NetworkInterfaceId: mt.networkInterfaceId,
    AvailabilityZoneId: mt.availabilityZoneId,
    AvailabilityZoneName: mt.availabilityZoneName,
    VpcId: mt.vpcId,
  };
}

/** An ARN names a resource of the request's region and the account only; a bare id always does. */
function ours(cp: ControlPlane, idOrArn: string): boolean {
  const arn = parseEfsArn(idOrArn);
  return !arn || (arn.region === cp.region && arn.accountId === cp.model.accountId);
}

/** Whether a file system is in the request's region (resources of other regions are not found, as on AWS). */
export function inRegion(cp: ControlPlane, fs: FileSystem | undefined): fs is FileSystem {
  return fs !== undefined && fs.region === cp.region;
}

/** The file system named by an id or ARN, or FileSystemNotFound. */
export function findFileSystem(cp: ControlPlane, idOrArn: string): FileSystem {
  const id = ours(cp, idOrArn) ? fileSystemIdFrom(idOrArn) : undefined;
  const fs = id === undefined ? undefined : cp.model.fileSystems.get(id);
  if (!inRegion(cp, fs)) throw fileSystemNotFound(idOrArn);
  return fs;
}

/** Changes need an available file system (IncorrectFileSystemLifeCycleState otherwise). */
export function requireAvailable(fs: FileSystem): void {
  if (fs.lifeCycleState !== 'available') {
    throw new ApiError('IncorrectFileSystemLifeCycleState', `File system '${fs.fileSystemId}' is ${fs.lifeCycleState}, not available.`);
  }
}

export function findAccessPoint(cp: ControlPlane, idOrArn: string): AccessPoint {
  const id = ours(cp, idOrArn) ? accessPointIdFrom(idOrArn) : undefined;
  const ap = id === undefined ? undefined : cp.model.accessPoints.get(id);
  if (!ap || !inRegion(cp, cp.model.fileSystems.get(ap.fileSystemId))) throw accessPointNotFound(idOrArn);
  return ap;
}

export function findMountTarget(cp: ControlPlane, id: string): MountTarget {
  const mt = cp.model.mountTargets.get(id);
  if (!mt || !inRegion(cp, cp.model.fileSystems.get(mt.fileSystemId))) throw mountTargetNotFound(id);
  return mt;
}

/** The resource a tag call names (file system or access point, id or ARN). */
export function findTaggable(cp: ControlPlane, resourceId: string): FileSystem | AccessPoint {
  if (fileSystemIdFrom(resourceId) !== undefined) return findFileSystem(cp, resourceId);
  if (accessPointIdFrom(resourceId) !== undefined) return findAccessPoint(cp, resourceId);
  throw badRequest(`Resource '${resourceId}' is neither a file system nor an access point id or ARN.`);
}

// ---------------------------------------------------------------------------
// Pagination: opaque tokens that carry the position (index into a stable,
// creation-ordered list) and what the listing was of, so a token from another
// listing is refused.
// ---------------------------------------------------------------------------

export function page<T>(items: T[], maxItems: number | undefined, token: string | undefined, scope: string, fallbackSize = 100): { items: T[]; next?: string } {
  let start = 0;
  if (token !== undefined) {
    let decoded: { s?: unknown; i?: unknown } | undefined;
    try {
      decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; i?: unknown };
    } catch {
      decoded = undefined;
    }
    if (!decoded || decoded.s !== scope || typeof decoded.i !== 'number' || !Number.isInteger(decoded.i) || decoded.i < 0) {
      throw badRequest(`The pagination token '${token}' is not valid for this request.`);
    }
    start = decoded.i;
  }
  const size = maxItems ?? fallbackSize;
  const slice = items.slice(start, start + size);
  const nextIndex = start + slice.length;
  if (nextIndex >= items.length) return { items: slice };
  return { items: slice, next: Buffer.from(JSON.stringify({ s: scope, i: nextIndex })).toString('base64url') };
}
