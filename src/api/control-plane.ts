/**
 * What the EFS operations work on: the one model (shared with the NFS side, so
 * a change is live for the next mount), its persistence, and the effects a
 * change has outside the model (listeners, data directories), which the server
 * provides. Changes run one at a time, and each is saved before it answers.
 */
import type { Logger } from 'pino';
import type { FileSystem, Model, MountTarget } from '../model/types.js';
import { restoreModel, saveModel } from '../model/persist.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { ensureDefaultSecurityGroup } from '../model/security-groups.js';
import { defaultSecurityGroupFor } from '../model/types.js';

/** What creating and deleting resources does outside the model. */
export interface ControlPlaneEffects {
  /** Create a new file system's data directory (before it is saved). */
  createFileSystemData(fs: FileSystem): Promise<void>;
  /** Mark a file system's data as being deleted (before the deletion is saved), so a crash in between is cleaned up at start. */
  markFileSystemDeleting(fs: FileSystem): Promise<void>;
  /** Remove a deleted file system's data (after the deletion is saved). */
  removeFileSystemData(fs: FileSystem): Promise<void>;
  /**
   * Start serving a mount target. Throws an error with `code` EADDRINUSE or
   * EADDRNOTAVAIL when its address cannot be bound.
   */
  openMountTarget(mt: MountTarget): Promise<void>;
  /** Stop serving a mount target and drop its connections. */
  closeMountTarget(mt: MountTarget): Promise<void>;
  /** Remove every file and directory of a file system (its root stays); returns how many objects went. */
  emptyFileSystemData(fs: FileSystem): Promise<number>;
  /** Metered size of a file system (bytes) and when it was measured (epoch seconds). */
  meteredSize(fs: FileSystem): { value: number; timestamp: number };
}

/** The authenticated caller of an API request. */
export interface Caller {
  arn: string;
  accountId: string;
  accessKeyId: string;
  /** Root / IAMUser / AssumedRole, as CloudTrail's userIdentity.type. */
  type: 'Root' | 'IAMUser' | 'AssumedRole' | 'Role';
}

export interface ControlPlaneOptions {
  model: Model;
  /** DATA/model.json */
  stateFile: string;
  /** What stateFile holds now (saveModel's result at start). */
  savedText: string;
  effects: ControlPlaneEffects;
  log: Logger;
  now?: () => number;
  /** Access point quota per file system (EFS: 10,000). */
  accessPointLimit?: number;
  /** File system quota per account (EFS: 1,000). */
  fileSystemLimit?: number;
}

export class ControlPlane {
  readonly model: Model;
  readonly effects: ControlPlaneEffects;
  readonly log: Logger;
  readonly accessPointLimit: number;
  readonly fileSystemLimit: number;
  private readonly stateFile: string;
  /**
   * The model as last saved (a change whose save fails is undone back to it), in an object of its own: region views (inRegion) share it with
   * this control plane, so a save through any of them is what every later undo goes back to.
   */
  private readonly saved: { text: string };
  private readonly clock: () => number;
  private readonly changes = new KeyedMutex<'model'>();

  constructor(o: ControlPlaneOptions) {
    this.model = o.model;
    this.effects = o.effects;
    this.log = o.log;
    this.stateFile = o.stateFile;
    this.saved = { text: o.savedText };
    this.clock = o.now ?? (() => Date.now() / 1000);
    this.accessPointLimit = o.accessPointLimit ?? 10_000;
    this.fileSystemLimit = o.fileSystemLimit ?? 1_000;
  }

  /**
   * The region a request acts in: the one its signature is scoped to, as on AWS
   * (and as LocalStack and moto answer). Resources belong to the region they
   * were made in; the config's (and the default file system's) is model.region.
   */
  get region(): string {
    return this.model.region;
  }

  /** This control plane as seen by a request signed for `region` (same model, queue and saves). */
  inRegion(region: string): ControlPlane {
    if (region === this.model.region) return this;
    return Object.create(this, { region: { value: region, enumerable: true } }) as ControlPlane;
  }

  /**
   * The VPC default security group of the request's region, made (and saved, as every change)
   * the first time a call of that region needs it.
   */
  async ensureDefaultSecurityGroup(): Promise<void> {
    const want = { accountId: this.model.accountId, region: this.region, securityGroups: this.model.securityGroups };
    if (this.model.securityGroups.has(defaultSecurityGroupFor(want.accountId, want.region))) return;
    await this.exclusive(async () => {
      if (ensureDefaultSecurityGroup(want)) await this.save();
    });
  }

  /** Epoch seconds (fractional, as the API's timestamps). */
  now(): number {
    return this.clock();
  }

  /**
   * Run a change alone: concurrent calls queue, so checks and the save see
   * one consistent model.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.changes.run('model', fn);
  }

  /**
   * Saves the model after a change. When the save fails the change is undone
   * (the model is put back as last saved), so memory never holds what the
   * disk does not; the caller undoes its effects outside the model.
   */
  async save(): Promise<void> {
    try {
      this.saved.text = await saveModel(this.stateFile, this.model);
    } catch (err) {
      restoreModel(this.model, this.saved.text);
      this.log.error({ err, stateFile: this.stateFile }, 'could not save the model; the change is undone');
      throw err;
    }
  }
}
