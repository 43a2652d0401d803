/**
 * The model as the management API leaves it, kept in DATA/model.json and
 * replaced atomically after every change (util/atomic-file). At start the
 * saved model is merged with what --config declares: the config wins for the
 * resources and fields it names (so editing the config and restarting takes
 * effect), everything created through the API is kept as saved.
 */
import path from 'node:path';
import { readFile, readdir, unlink } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-file.js';
import {
  accessPointArn,
  fileSystemArn,
  type AccessPoint,
  type FileSystem,
  type Model,
  type ModelConfig,
  type MountTarget,
  vpcIdFor,
} from './types.js';
import type { SecurityGroup } from './security-groups.js';
import { ruleKey, securityGroupFromDecl } from './security-group-rules.js';

/** Still 1: what later versions added (securityGroups) is optional, and a model saved without it loads. */
const FORMAT_VERSION = 1;

/** What model.json holds: the resources, not the credentials or options (those come from files the operator owns). */
export interface SavedModel {
  version: number;
  region: string;
  accountId: string;
  fileSystems: FileSystem[];
  accessPoints: AccessPoint[];
  mountTargets: MountTarget[];
  subnets: [string, number][];
  /** EC2 security groups (absent in models saved before they existed). */
  securityGroups?: SecurityGroup[];
}

export class SavedModelError extends Error {
  constructor(file: string, detail: string) {
    super(`${file} is damaged (${detail}): restore it from a backup, or move it away to start with only the default file system`);
    this.name = 'SavedModelError';
  }
}

export function snapshot(model: Model): SavedModel {
  return {
    version: FORMAT_VERSION,
    region: model.region,
    accountId: model.accountId,
    fileSystems: [...model.fileSystems.values()],
    accessPoints: [...model.accessPoints.values()],
    mountTargets: [...model.mountTargets.values()],
    subnets: [...model.subnets.entries()],
    securityGroups: [...model.securityGroups.values()],
  };
}

/** Writes the model; returns the text written (what restoreModel takes back). */
export async function saveModel(file: string, model: Model): Promise<string> {
  const text = JSON.stringify(snapshot(model), null, 1) + '\n';
  await writeFileAtomic(file, text);
  return text;
}

/** Puts the model's resources back as a saveModel text has them (after a save that failed). */
export function restoreModel(model: Model, text: string): void {
  const saved = JSON.parse(text) as SavedModel;
  model.fileSystems.clear();
  for (const fs of saved.fileSystems) model.fileSystems.set(fs.fileSystemId, fs);
  model.accessPoints.clear();
  for (const ap of saved.accessPoints) model.accessPoints.set(ap.accessPointId, ap);
  model.mountTargets.clear();
  for (const mt of saved.mountTargets) model.mountTargets.set(mt.mountTargetId, mt);
  model.subnets.clear();
  for (const [subnet, index] of saved.subnets) model.subnets.set(subnet, index);
  if (saved.securityGroups) {
    model.securityGroups.clear();
    for (const sg of saved.securityGroups) model.securityGroups.set(sg.groupId, sg);
  }
}

/** The saved model, or undefined when there is none yet. Temporary files a crash left beside it go. */
export async function loadSavedModel(file: string): Promise<SavedModel | undefined> {
  const base = path.basename(file);
  for (const name of await readdir(path.dirname(file)).catch(() => [] as string[])) {
    if (name.startsWith(`${base}.tmp-`)) await unlink(path.join(path.dirname(file), name)).catch(() => undefined);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: SavedModel;
  try {
    parsed = JSON.parse(text) as SavedModel;
  } catch (err) {
    throw new SavedModelError(file, (err as Error).message);
  }
  if (parsed.version !== FORMAT_VERSION) throw new SavedModelError(file, `format version ${String(parsed.version)}, expected ${FORMAT_VERSION}`);
  for (const key of ['fileSystems', 'accessPoints', 'mountTargets', 'subnets'] as const) {
    if (!Array.isArray(parsed[key])) throw new SavedModelError(file, `${key} is not a list`);
  }
  if (parsed.securityGroups !== undefined && !Array.isArray(parsed.securityGroups)) throw new SavedModelError(file, 'securityGroups is not a list');
  return parsed;
}

export interface MergeOptions {
  defaultFileSystemId: string;
}

/**
 * Merge the saved resources into the model resolved from the config. Saved
 * file systems keep their API-set state; config declarations override the
 * fields they declare. ARNs are rebuilt for the current region and account.
 */
export function mergeSaved(model: Model, saved: SavedModel | undefined, config: ModelConfig, opts: MergeOptions): void {
  if (!saved) return;
  const { region, accountId } = model;
  const declaredFs = new Map(config.fileSystems.map((d) => [d.fileSystemId ?? opts.defaultFileSystemId, d]));
  for (const fs of saved.fileSystems) {
    const declared = declaredFs.get(fs.fileSystemId);
    const fromConfig = model.fileSystems.get(fs.fileSystemId);
    // a file system made through the API stays in the region it was made in; what the config
    // declares (the default one too) is in the config's region
    const fsRegion = fromConfig || !fs.region ? region : fs.region;
    const merged: FileSystem = { ...fs, region: fsRegion, ownerId: accountId, arn: fileSystemArn(fsRegion, accountId, fs.fileSystemId) };
    if (fromConfig && declared) {
      if (declared.policyText !== undefined) merged.policy = fromConfig.policy;
      if (declared.tags.length > 0 || declared.name !== undefined) {
        merged.tags = fromConfig.tags;
        if (fromConfig.name !== undefined) merged.name = fromConfig.name;
        else delete merged.name;
      }
      if (declared.creationToken !== undefined) merged.creationToken = fromConfig.creationToken;
    }
    model.fileSystems.set(fs.fileSystemId, merged);
  }
  // what the config declared so far is all the model holds: those win over their saved copies
  const configAps = new Set(model.accessPoints.keys());
  for (const ap of saved.accessPoints) {
    if (configAps.has(ap.accessPointId) || !model.fileSystems.has(ap.fileSystemId)) continue;
    const apRegion = model.fileSystems.get(ap.fileSystemId)?.region ?? region;
    model.accessPoints.set(ap.accessPointId, { ...ap, ownerId: accountId, arn: accessPointArn(apRegion, accountId, ap.accessPointId) });
  }
  const remap = mergeSavedSecurityGroups(model, saved.securityGroups ?? [], config);
  const configMts = new Set(model.mountTargets.keys());
  for (const mt of saved.mountTargets) {
    if (configMts.has(mt.mountTargetId) || !model.fileSystems.has(mt.fileSystemId)) continue;
    const securityGroups = [...new Set(mt.securityGroups.map((g) => remap.get(g) ?? g))];
    const mtRegion = model.fileSystems.get(mt.fileSystemId)?.region ?? region;
    model.mountTargets.set(mt.mountTargetId, { ...mt, ownerId: accountId, vpcId: vpcIdFor(accountId, mtRegion), securityGroups });
  }
  for (const [subnet, index] of saved.subnets) if (!model.subnets.has(subnet)) model.subnets.set(subnet, index);
}

/**
 * Saved security groups into the model built from the config: a group the
 * config declares gets the declared fields over its saved state; the default
 * group, when the config does not declare it, is as saved (rules the API
 * changed stay); other saved groups are kept. A saved group whose name a
 * config group now has (with another id) becomes that group: returns the ids
 * so replaced, and references to them are rewritten.
 */
function mergeSavedSecurityGroups(model: Model, saved: SecurityGroup[], config: ModelConfig): Map<string, string> {
  const { region, accountId } = model;
  const vpcId = vpcIdFor(accountId, region);
  const declared = new Map((config.securityGroups ?? []).map((d) => [d.groupId, d]));
  const configByName = new Map([...model.securityGroups.values()].map((g) => [g.groupName, g.groupId]));
  const remap = new Map<string, string>();
  for (const sg of saved) {
    // groups made through the API in another region stay in that region's VPC
    const ours = sg.vpcId === vpcId || declared.has(sg.groupId) || model.securityGroups.has(sg.groupId);
    const base: SecurityGroup = { ...sg, ownerId: accountId, vpcId: ours ? vpcId : sg.vpcId };
    const decl = declared.get(sg.groupId);
    if (decl) model.securityGroups.set(sg.groupId, securityGroupFromDecl(decl, base, accountId, region));
    else if (model.securityGroups.has(sg.groupId)) model.securityGroups.set(sg.groupId, base);
    else {
      const sameName = ours ? configByName.get(sg.groupName) : undefined;
      if (sameName !== undefined) remap.set(sg.groupId, sameName);
      else model.securityGroups.set(sg.groupId, base);
    }
  }
  if (remap.size > 0) {
    for (const g of model.securityGroups.values()) {
      for (const side of ['ingress', 'egress'] as const) {
        const seen = new Set<string>();
        g[side] = g[side]
          .map((r) => (r.referencedGroupId !== undefined && remap.has(r.referencedGroupId) ? { ...r, referencedGroupId: remap.get(r.referencedGroupId)! } : r))
          .filter((r) => !seen.has(ruleKey(r)) && seen.add(ruleKey(r)) !== undefined);
      }
    }
  }
  return remap;
}
