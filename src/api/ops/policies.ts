/**
 * The per-file-system settings: file system policy (live for the next mount),
 * lifecycle configuration, backup policy; account preferences; replication
 * (not available locally: answered with the errors AWS gives when there is
 * none, and a ValidationException on create).
 */
import { serialisePolicy } from '../../model/policy-document.js';
import { putFileSystemPolicy } from '../../policy/iam.js';
import { ApiError, badRequest } from '../errors.js';
import { bodyInput, queryInput, type ApiOperation, FS_LABEL, NO_RESOURCE } from '../operation.js';
import { findFileSystem, requireAvailable } from '../wire.js';
import type { ControlPlane } from '../control-plane.js';
import type { FileSystem } from '../../model/types.js';

export const putFileSystemPolicyOp: ApiOperation = {
  name: 'PutFileSystemPolicy',
  method: 'PUT',
  path: '/file-systems/{FileSystemId}/policy',
  status: 200,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    const b = bodyInput(req);
    if (!b.has('Policy')) throw badRequest('Policy is required.');
    const bypass = b.bool('BypassPolicyLockoutSafetyCheck') ?? false;
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      requireAvailable(fs);
      const doc = putFileSystemPolicy({
        policy: b.raw('Policy'),
        fileSystemArn: fs.arn,
        caller: { arn: req.caller.arn, accountId: req.caller.accountId },
        bypassPolicyLockoutSafetyCheck: bypass,
      });
      fs.policy = doc;
      await cp.save();
      return { FileSystemId: fs.fileSystemId, Policy: serialisePolicy(doc) };
    });
  },
};

export const describeFileSystemPolicy: ApiOperation = {
  name: 'DescribeFileSystemPolicy',
  method: 'GET',
  path: '/file-systems/{FileSystemId}/policy',
  status: 200,
  readOnly: true,
  resource: FS_LABEL,
  async handler(cp, req) {
    const fs = findFileSystem(cp, req.labels.FileSystemId!);
    if (!fs.policy) throw new ApiError('PolicyNotFound', `File system '${fs.fileSystemId}' has no file system policy: the default policy is in effect.`);
    return { FileSystemId: fs.fileSystemId, Policy: serialisePolicy(fs.policy) };
  },
};

export const deleteFileSystemPolicy: ApiOperation = {
  name: 'DeleteFileSystemPolicy',
  method: 'DELETE',
  path: '/file-systems/{FileSystemId}/policy',
  status: 200,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      requireAvailable(fs);
      if (fs.policy) {
        delete fs.policy;
        await cp.save();
      }
      return undefined;
    });
  },
};

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

const DAYS = ['AFTER_1_DAY', 'AFTER_7_DAYS', 'AFTER_14_DAYS', 'AFTER_30_DAYS', 'AFTER_60_DAYS', 'AFTER_90_DAYS', 'AFTER_180_DAYS', 'AFTER_270_DAYS', 'AFTER_365_DAYS'];
const LIFECYCLE_KEYS: Record<string, string[]> = {
  TransitionToIA: DAYS,
  TransitionToPrimaryStorageClass: ['AFTER_1_ACCESS'],
  TransitionToArchive: DAYS,
};
const dayCount = (v: string): number => Number(/\d+/.exec(v)![0]);

function validateLifecycle(raw: unknown[], fs: FileSystem): Record<string, string>[] {
  if (raw.length > 3) throw badRequest(`LifecyclePolicies has ${raw.length} entries; the maximum is 3.`);
  const seen = new Map<string, string>();
  const out: Record<string, string>[] = [];
  raw.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw badRequest(`LifecyclePolicies[${i}] must be an object.`);
    const keys = Object.keys(entry).filter((k) => (entry as Record<string, unknown>)[k] !== undefined && (entry as Record<string, unknown>)[k] !== null);
    if (keys.length !== 1) throw badRequest(`LifecyclePolicies[${i}] must hold exactly one of ${Object.keys(LIFECYCLE_KEYS).join(', ')}; it has ${keys.length}.`);
    const key = keys[0]!;
    const value = (entry as Record<string, unknown>)[key];
    const allowed = LIFECYCLE_KEYS[key];
    if (!allowed) throw badRequest(`LifecyclePolicies[${i}].${key} is not a lifecycle policy; use ${Object.keys(LIFECYCLE_KEYS).join(', ')}.`);
    if (typeof value !== 'string' || !allowed.includes(value)) throw badRequest(`LifecyclePolicies[${i}].${key} must be one of ${allowed.join(', ')}.`);
    if (seen.has(key)) throw badRequest(`LifecyclePolicies has ${key} more than once.`);
    seen.set(key, value);
    out.push({ [key]: value });
  });
  const archive = seen.get('TransitionToArchive');
  if (archive !== undefined) {
    if (fs.throughputMode !== 'elastic' || fs.performanceMode !== 'generalPurpose') {
      throw badRequest('TransitionToArchive needs a file system with elastic throughput and the generalPurpose performance mode.');
    }
    const ia = seen.get('TransitionToIA');
    if (ia !== undefined && dayCount(archive) <= dayCount(ia)) throw badRequest('TransitionToArchive must be later than TransitionToIA.');
  }
  return out;
}

export const putLifecycleConfiguration: ApiOperation = {
  name: 'PutLifecycleConfiguration',
  method: 'PUT',
  path: '/file-systems/{FileSystemId}/lifecycle-configuration',
  status: 200,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    const raw = bodyInput(req).list('LifecyclePolicies', { required: true })!;
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      requireAvailable(fs);
      fs.lifecyclePolicies = validateLifecycle(raw, fs);
      await cp.save();
      return { LifecyclePolicies: fs.lifecyclePolicies };
    });
  },
};

export const describeLifecycleConfiguration: ApiOperation = {
  name: 'DescribeLifecycleConfiguration',
  method: 'GET',
  path: '/file-systems/{FileSystemId}/lifecycle-configuration',
  status: 200,
  readOnly: true,
  resource: FS_LABEL,
  async handler(cp, req) {
    return { LifecyclePolicies: findFileSystem(cp, req.labels.FileSystemId!).lifecyclePolicies };
  },
};

// ---------------------------------------------------------------------------
// Backup policy
// ---------------------------------------------------------------------------

export const putBackupPolicy: ApiOperation = {
  name: 'PutBackupPolicy',
  method: 'PUT',
  path: '/file-systems/{FileSystemId}/backup-policy',
  status: 200,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    const policy = bodyInput(req).object('BackupPolicy', true)!;
    const status = policy.enumOf('Status', ['ENABLED', 'DISABLED'] as const, true);
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      requireAvailable(fs);
      fs.backupPolicy = status;
      await cp.save();
      return { BackupPolicy: { Status: status } };
    });
  },
};

export const describeBackupPolicy: ApiOperation = {
  name: 'DescribeBackupPolicy',
  method: 'GET',
  path: '/file-systems/{FileSystemId}/backup-policy',
  status: 200,
  readOnly: true,
  resource: FS_LABEL,
  async handler(cp, req) {
    const fs = findFileSystem(cp, req.labels.FileSystemId!);
    // AWS's message here is literally "None".
    if (fs.backupPolicy === undefined) throw new ApiError('PolicyNotFound', 'None');
    return { BackupPolicy: { Status: fs.backupPolicy } };
  },
};

// ---------------------------------------------------------------------------
// Account preferences
// ---------------------------------------------------------------------------

const preference = (cp: ControlPlane) => ({ ResourceIdType: cp.model.resourceIdType, Resources: ['FILE_SYSTEM', 'MOUNT_TARGET'] });

export const describeAccountPreferences: ApiOperation = {
  name: 'DescribeAccountPreferences',
  method: 'GET',
  path: '/account-preferences',
  status: 200,
  readOnly: true,
  resource: NO_RESOURCE,
  async handler(cp, req) {
    // MaxResults/NextToken travel in a body on this GET; there is one page.
    const b = bodyInput(req);
    b.number('MaxResults', { min: 1, integer: true });
    b.string('NextToken', { min: 1, max: 128 });
    return { ResourceIdPreference: preference(cp) };
  },
};

export const putAccountPreferences: ApiOperation = {
  name: 'PutAccountPreferences',
  method: 'PUT',
  path: '/account-preferences',
  status: 200,
  readOnly: false,
  resource: NO_RESOURCE,
  async handler(cp, req) {
    const type = bodyInput(req).enumOf('ResourceIdType', ['LONG_ID', 'SHORT_ID'] as const, true);
    if (type === 'SHORT_ID') throw badRequest('SHORT_ID resource ids are no longer supported; only LONG_ID can be set.');
    return { ResourceIdPreference: preference(cp) };
  },
};

// ---------------------------------------------------------------------------
// Replication: there is no second region to replicate to.
// ---------------------------------------------------------------------------

export const createReplicationConfiguration: ApiOperation = {
  name: 'CreateReplicationConfiguration',
  method: 'POST',
  path: '/file-systems/{SourceFileSystemId}/replication-configuration',
  status: 200,
  readOnly: false,
  resource: [{ from: 'label', member: 'SourceFileSystemId', kind: 'file-system' }],
  async handler(cp, req) {
    bodyInput(req).list('Destinations', { required: true, min: 1, max: 1 });
    const fs = findFileSystem(cp, req.labels.SourceFileSystemId!);
    throw new ApiError(
      'ValidationException',
      `Replication is not available for '${fs.fileSystemId}': localefs serves one region on this machine and has nowhere to replicate to.`,
    );
  },
};

export const describeReplicationConfigurations: ApiOperation = {
  name: 'DescribeReplicationConfigurations',
  method: 'GET',
  path: '/file-systems/replication-configurations',
  status: 200,
  readOnly: true,
  resource: [{ from: 'query', member: 'FileSystemId', kind: 'file-system' }],
  async handler(cp, req) {
    const q = queryInput(req);
    q.number('MaxResults', { min: 1, integer: true });
    q.string('NextToken', { min: 1, max: 128 });
    const fsRef = q.string('FileSystemId', { max: 128 });
    if (fsRef === undefined) return { Replications: [] };
    const fs = findFileSystem(cp, fsRef);
    throw new ApiError('ReplicationNotFound', `No replications found for file system '${fs.fileSystemId}'.`);
  },
};

export const deleteReplicationConfiguration: ApiOperation = {
  name: 'DeleteReplicationConfiguration',
  method: 'DELETE',
  path: '/file-systems/{SourceFileSystemId}/replication-configuration',
  status: 204,
  readOnly: false,
  resource: [{ from: 'label', member: 'SourceFileSystemId', kind: 'file-system' }],
  async handler(cp, req) {
    queryInput(req).enumOf('deletionMode', ['ALL_CONFIGURATIONS', 'LOCAL_CONFIGURATION_ONLY'] as const);
    const fs = findFileSystem(cp, req.labels.SourceFileSystemId!);
    throw new ApiError('ReplicationNotFound', `No replications found for file system '${fs.fileSystemId}'.`);
  },
};

export const POLICY_OPS = [
  putFileSystemPolicyOp,
  describeFileSystemPolicy,
  deleteFileSystemPolicy,
  putLifecycleConfiguration,
  describeLifecycleConfiguration,
  putBackupPolicy,
  describeBackupPolicy,
  describeAccountPreferences,
  putAccountPreferences,
  createReplicationConfiguration,
  describeReplicationConfigurations,
  deleteReplicationConfiguration,
];
