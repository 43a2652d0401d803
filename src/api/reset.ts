/**
 * POST /_localefs/reset: back to a single empty default file system, for test
 * isolation (LocalStack's and moto's reset). Every other file system, every
 * access point, every mount target but the default file system's own, every
 * security group but the VPC's default (its rules back to admitting all) go;
 * the default file system loses its files, policy, tags and settings but
 * keeps its id, so clients that have it mounted see an empty root.
 */
import type { ControlPlane } from './control-plane.js';
import { newDefaultSecurityGroup } from '../model/security-groups.js';
import type { FileSystem } from '../model/types.js';

export interface ResetSummary {
  fileSystemsDeleted: number;
  accessPointsDeleted: number;
  mountTargetsDeleted: number;
  securityGroupsDeleted: number;
  filesRemoved: number;
}

export async function resetToDefault(cp: ControlPlane, defaultFileSystemId: string): Promise<ResetSummary> {
  return cp.exclusive(async () => {
    const { model, effects } = cp;
    const summary: ResetSummary = { fileSystemsDeleted: 0, accessPointsDeleted: 0, mountTargetsDeleted: 0, securityGroupsDeleted: 0, filesRemoved: 0 };
    for (const mt of [...model.mountTargets.values()]) {
      if (mt.fileSystemId === defaultFileSystemId) continue;
      await effects.closeMountTarget(mt);
      model.mountTargets.delete(mt.mountTargetId);
      summary.mountTargetsDeleted++;
    }
    summary.accessPointsDeleted = model.accessPoints.size;
    model.accessPoints.clear();
    const gone: FileSystem[] = [];
    for (const fs of [...model.fileSystems.values()]) {
      if (fs.fileSystemId === defaultFileSystemId) continue;
      await effects.markFileSystemDeleting(fs);
      model.fileSystems.delete(fs.fileSystemId);
      gone.push(fs);
    }
    summary.fileSystemsDeleted = gone.length;
    const defaultGroup = newDefaultSecurityGroup(model.accountId, model.region);
    summary.securityGroupsDeleted = model.securityGroups.size - 1;
    model.securityGroups.clear();
    model.securityGroups.set(defaultGroup.groupId, defaultGroup);
    for (const mt of model.mountTargets.values()) mt.securityGroups = [defaultGroup.groupId];
    const fs = model.fileSystems.get(defaultFileSystemId);
    if (fs) {
      delete fs.policy;
      delete fs.name;
      delete fs.backupPolicy;
      fs.tags = [];
      fs.lifecyclePolicies = [];
    }
    await cp.save();
    for (const g of gone) await effects.removeFileSystemData(g);
    if (fs) summary.filesRemoved = await effects.emptyFileSystemData(fs);
    return summary;
  });
}
