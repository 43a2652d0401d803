/** CreateFileSystem, DescribeFileSystems, UpdateFileSystem, DeleteFileSystem, UpdateFileSystemProtection. */
import { createHash } from 'node:crypto';
import { fileSystemArn, nameTag, newFileSystemId, zoneId, type FileSystem } from '../../model/types.js';
import { validateTags } from '../../model/validate.js';
import { ApiError, badRequest } from '../errors.js';
import { bodyInput, queryInput, type ApiOperation, FS_LABEL, NO_RESOURCE } from '../operation.js';
import type { ControlPlane } from '../control-plane.js';
import { describeFileSystem, findFileSystem, inRegion, page, requireAvailable } from '../wire.js';

const PERFORMANCE_MODES = ['generalPurpose', 'maxIO'] as const;
const THROUGHPUT_MODES = ['bursting', 'provisioned', 'elastic'] as const;
const PROTECTION = ['ENABLED', 'DISABLED', 'REPLICATING'] as const;
/** Throughput changes are limited to one per day (UpdateFileSystem). */
const THROUGHPUT_CHANGE_SECONDS = 24 * 3600;
const MAX_PROVISIONED_MIBPS = 3414;

/** The key EFS uses when Encrypted is set without a KmsKeyId: the account's aws/elasticfilesystem key. */
function defaultKmsKey(region: string, accountId: string): string {
  const h = createHash('sha256').update(`${accountId}/${region}/aws/elasticfilesystem`).digest('hex');
  return `arn:aws:kms:${region}:${accountId}:key/${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function checkTokenFree(cp: ControlPlane, token: string): void {
  for (const fs of cp.model.fileSystems.values()) {
    // creation tokens are unique per account and region
    if (fs.creationToken === token && inRegion(cp, fs)) {
      throw new ApiError('FileSystemAlreadyExists', `File system with creation token '${token}' already exists: ${fs.fileSystemId}.`, { FileSystemId: fs.fileSystemId });
    }
  }
}

export const createFileSystem: ApiOperation = {
  name: 'CreateFileSystem',
  method: 'POST',
  path: '/file-systems',
  status: 201,
  readOnly: false,
  resource: NO_RESOURCE,
  requestKeys: { tags: 'Tags', encrypted: 'Encrypted', creates: 'file-system' },
  async handler(cp, req) {
    const b = bodyInput(req);
    const token = b.string('CreationToken', { required: true, min: 1, max: 64 });
    const performanceMode = b.enumOf('PerformanceMode', PERFORMANCE_MODES) ?? 'generalPurpose';
    const encrypted = b.bool('Encrypted') ?? false;
    const kmsKeyId = b.string('KmsKeyId', { min: 1, max: 2048 });
    const throughputMode = b.enumOf('ThroughputMode', THROUGHPUT_MODES) ?? 'bursting';
    const mibps = b.number('ProvisionedThroughputInMibps', { min: 1, max: MAX_PROVISIONED_MIBPS });
    const zone = b.string('AvailabilityZoneName', { min: 1, max: 64 });
    const backup = b.bool('Backup');
    const tags = validateTags(b.raw('Tags'), { style: 'api' });
    const { region } = cp;
    const { accountId } = cp.model;
    if (kmsKeyId !== undefined && !encrypted) throw badRequest('KmsKeyId can only be given with Encrypted set to true.');
    if (throughputMode === 'provisioned' && mibps === undefined) throw badRequest('ProvisionedThroughputInMibps is required when ThroughputMode is provisioned.');
    if (throughputMode !== 'provisioned' && mibps !== undefined) throw badRequest('ProvisionedThroughputInMibps can only be given when ThroughputMode is provisioned.');
    if (performanceMode === 'maxIO' && throughputMode === 'elastic') throw badRequest('The maxIO performance mode is not supported with elastic throughput.');
    if (performanceMode === 'maxIO' && zone !== undefined) throw badRequest('The maxIO performance mode is not supported for One Zone file systems.');
    if (zone !== undefined && !new RegExp(`^${region}[a-z]$`).test(zone)) {
      throw new ApiError('UnsupportedAvailabilityZone', `Availability Zone '${zone}' is not a zone of ${region} (expected ${region}a, ${region}b, ...).`);
    }
    return cp.exclusive(async () => {
      checkTokenFree(cp, token);
      // EFS's quota is per account and region
      if ([...cp.model.fileSystems.values()].filter((f) => inRegion(cp, f)).length >= cp.fileSystemLimit) {
        throw new ApiError('FileSystemLimitExceeded', `The account has reached the limit of ${cp.fileSystemLimit} file systems in ${cp.region}.`);
      }
      const id = newFileSystemId();
      const fs: FileSystem = {
        fileSystemId: id,
        arn: fileSystemArn(region, accountId, id),
        ownerId: accountId,
        region,
        creationToken: token,
        tags,
        creationTime: Math.floor(cp.now()),
        lifeCycleState: 'available',
        performanceMode,
        throughputMode,
        encrypted,
        lifecyclePolicies: [],
        replicationOverwriteProtection: 'ENABLED',
      };
      const name = nameTag(tags);
      if (name !== undefined) fs.name = name;
      if (encrypted) fs.kmsKeyId = kmsKeyId ?? defaultKmsKey(region, accountId);
      if (mibps !== undefined) fs.provisionedThroughputInMibps = mibps;
      if (zone !== undefined) {
        fs.availabilityZoneName = zone;
        fs.availabilityZoneId = zoneId(region, zone.charCodeAt(zone.length - 1) - 97);
      }
      if (backup ?? zone !== undefined) fs.backupPolicy = 'ENABLED';
      await cp.effects.createFileSystemData(fs);
      cp.model.fileSystems.set(id, fs);
      await cp.save();
      cp.log.info({ fileSystemId: id }, 'file system created');
      return describeFileSystem(cp, fs, 'creating');
    });
  },
};

export const describeFileSystems: ApiOperation = {
  name: 'DescribeFileSystems',
  method: 'GET',
  path: '/file-systems',
  status: 200,
  readOnly: true,
  resource: [{ from: 'query', member: 'FileSystemId', kind: 'file-system' }],
  async handler(cp, req) {
    const q = queryInput(req);
    const maxItems = q.number('MaxItems', { min: 1, integer: true });
    const marker = q.string('Marker', { min: 1, max: 128 });
    const token = q.string('CreationToken', { min: 1, max: 64 });
    const id = q.string('FileSystemId', { max: 128 });
    if (token !== undefined && id !== undefined) throw badRequest('Give either CreationToken or FileSystemId, not both.');
    let list = [...cp.model.fileSystems.values()].filter((fs) => inRegion(cp, fs));
    if (id !== undefined) list = [findFileSystem(cp, id)];
    if (token !== undefined) list = list.filter((fs) => fs.creationToken === token);
    const p = page(list, maxItems, marker, `fs:${id ?? ''}:${token ?? ''}`);
    return {
      ...(marker !== undefined ? { Marker: marker } : {}),
      FileSystems: p.items.map((fs) => describeFileSystem(cp, fs)),
      ...(p.next !== undefined ? { NextMarker: p.next } : {}),
    };
  },
};

export const updateFileSystem: ApiOperation = {
  name: 'UpdateFileSystem',
  method: 'PUT',
  path: '/file-systems/{FileSystemId}',
  status: 202,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    const b = bodyInput(req);
    const mode = b.enumOf('ThroughputMode', THROUGHPUT_MODES);
    const mibps = b.number('ProvisionedThroughputInMibps', { min: 1, max: MAX_PROVISIONED_MIBPS });
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      requireAvailable(fs);
      if (mode === undefined && mibps === undefined) throw badRequest('Give ThroughputMode, ProvisionedThroughputInMibps or both.');
      const newMode = mode ?? fs.throughputMode;
      if (newMode === 'provisioned' && mibps === undefined && fs.provisionedThroughputInMibps === undefined) {
        throw badRequest('ProvisionedThroughputInMibps is required when ThroughputMode is provisioned.');
      }
      if (newMode !== 'provisioned' && mibps !== undefined) throw badRequest('ProvisionedThroughputInMibps can only be given when ThroughputMode is provisioned.');
      if (newMode === 'elastic' && fs.performanceMode === 'maxIO') throw badRequest('The maxIO performance mode is not supported with elastic throughput.');
      const modeChange = newMode !== fs.throughputMode;
      const decrease = mibps !== undefined && fs.provisionedThroughputInMibps !== undefined && mibps < fs.provisionedThroughputInMibps;
      const now = cp.now();
      if ((modeChange || decrease) && fs.lastThroughputChange !== undefined && now - fs.lastThroughputChange < THROUGHPUT_CHANGE_SECONDS) {
        const next = new Date((fs.lastThroughputChange + THROUGHPUT_CHANGE_SECONDS) * 1000).toISOString();
        throw new ApiError('TooManyRequests', `The throughput mode or a provisioned-throughput decrease was changed less than 24 hours ago; try again after ${next}.`);
      }
      fs.throughputMode = newMode;
      if (newMode === 'provisioned') fs.provisionedThroughputInMibps = mibps ?? fs.provisionedThroughputInMibps;
      else delete fs.provisionedThroughputInMibps;
      if (modeChange || decrease) fs.lastThroughputChange = Math.floor(now);
      await cp.save();
      return describeFileSystem(cp, fs);
    });
  },
};

export const deleteFileSystem: ApiOperation = {
  name: 'DeleteFileSystem',
  method: 'DELETE',
  path: '/file-systems/{FileSystemId}',
  status: 204,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      const targets = [...cp.model.mountTargets.values()].filter((m) => m.fileSystemId === fs.fileSystemId);
      if (targets.length > 0) {
        throw new ApiError(
          'FileSystemInUse',
          `File system '${fs.fileSystemId}' has ${targets.length} mount target(s) (${targets.map((t) => t.mountTargetId).join(', ')}); delete them first.`,
        );
      }
      // Access points go with their file system (the API contract names only mount targets).
      for (const [apId, ap] of cp.model.accessPoints) if (ap.fileSystemId === fs.fileSystemId) cp.model.accessPoints.delete(apId);
      await cp.effects.markFileSystemDeleting(fs);
      cp.model.fileSystems.delete(fs.fileSystemId);
      await cp.save();
      cp.log.info({ fileSystemId: fs.fileSystemId }, 'file system deleted');
      // The data goes only once the deletion is saved: a crash before leaves the file system whole.
      await cp.effects.removeFileSystemData(fs);
      return undefined;
    });
  },
};

export const updateFileSystemProtection: ApiOperation = {
  name: 'UpdateFileSystemProtection',
  method: 'PUT',
  path: '/file-systems/{FileSystemId}/protection',
  status: 200,
  readOnly: false,
  resource: FS_LABEL,
  async handler(cp, req) {
    const b = bodyInput(req);
    const value = b.enumOf('ReplicationOverwriteProtection', PROTECTION);
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, req.labels.FileSystemId!);
      if (value === 'REPLICATING') throw badRequest('ReplicationOverwriteProtection REPLICATING is set by replication, not by this call; use ENABLED or DISABLED.');
      if (value !== undefined) {
        fs.replicationOverwriteProtection = value;
        await cp.save();
      }
      return { ReplicationOverwriteProtection: fs.replicationOverwriteProtection };
    });
  },
};

export const FILE_SYSTEM_OPS = [createFileSystem, describeFileSystems, updateFileSystem, deleteFileSystem, updateFileSystemProtection];
