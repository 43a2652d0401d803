/**
 * A change whose save fails is undone: the model in memory stays what
 * model.json holds, and the call fails.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlPlane, type ControlPlaneEffects } from '../../src/api/control-plane.js';
import { tagResource } from '../../src/api/ops/tags.js';
import { createFileSystem } from '../../src/api/ops/file-systems.js';
import { putFileSystemPolicyOp } from '../../src/api/ops/policies.js';
import { emptyConfig, resolveModel } from '../../src/model/config.js';
import { saveModel } from '../../src/model/persist.js';

const dir = mkdtempSync(path.join(tmpdir(), 'localefs-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const effects: ControlPlaneEffects = {
  createFileSystemData: async () => undefined,
  markFileSystemDeleting: async () => undefined,
  removeFileSystemData: async () => undefined,
  emptyFileSystemData: async () => 0,
  openMountTarget: async () => undefined,
  closeMountTarget: async () => undefined,
  meteredSize: () => ({ value: 6144, timestamp: 0 }),
};

describe('ControlPlane.save', () => {
  it('undoes the change when model.json cannot be written', async () => {
    const fsId = 'fs-0123456789abcdef0';
    const model = resolveModel(emptyConfig(), { defaultFileSystemId: fsId });
    const stateDir = path.join(dir, 'data');
    mkdirSync(stateDir);
    const stateFile = path.join(stateDir, 'model.json');
    const cp = new ControlPlane({ model, stateFile, savedText: await saveModel(stateFile, model), effects, log: pino({ level: 'silent' }) });
    const caller = { arn: 'arn:aws:iam::000000000000:root', accountId: '000000000000', accessKeyId: 'test', type: 'Root' as const };
    const req = (labels: Record<string, string>, body: unknown) => ({ labels, query: new Map<string, string[]>(), body, caller });

    await tagResource.handler(cp, req({ ResourceId: fsId }, { Tags: [{ Key: 'Name', Value: 'kept' }] }));
    expect(model.fileSystems.get(fsId)!.name).toBe('kept');

    rmSync(stateDir, { recursive: true }); // the next writes fail (ENOENT)
    await expect(tagResource.handler(cp, req({ ResourceId: fsId }, { Tags: [{ Key: 'Name', Value: 'lost' }] }))).rejects.toThrow(/ENOENT/);
    const policy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'elasticfilesystem:ClientMount' }] });
    await expect(putFileSystemPolicyOp.handler(cp, req({ FileSystemId: fsId }, { Policy: policy }))).rejects.toThrow(/ENOENT/);
    const fs = model.fileSystems.get(fsId)!;
    expect(fs.name).toBe('kept');
    expect(fs.tags).toEqual([{ key: 'Name', value: 'kept' }]);
    expect(fs.policy).toBeUndefined();
  });

  it('a save through a region view is what a later failed save in another region goes back to', async () => {
    const fsId = 'fs-0123456789abcdef1';
    const model = resolveModel(emptyConfig(), { defaultFileSystemId: fsId });
    const stateDir = path.join(dir, 'regions');
    mkdirSync(stateDir);
    const stateFile = path.join(stateDir, 'model.json');
    const cp = new ControlPlane({ model, stateFile, savedText: await saveModel(stateFile, model), effects, log: pino({ level: 'silent' }) });
    const caller = { arn: 'arn:aws:iam::000000000000:root', accountId: '000000000000', accessKeyId: 'test', type: 'Root' as const };
    const made = await createFileSystem.handler(cp.inRegion('eu-west-1'), { labels: {}, query: new Map(), body: { CreationToken: 'eu' }, caller });
    const euId = made!.FileSystemId as string;

    rmSync(stateDir, { recursive: true }); // the next write (in the config's region) fails
    await expect(tagResource.handler(cp, { labels: { ResourceId: fsId }, query: new Map(), body: { Tags: [{ Key: 'a', Value: 'b' }] }, caller })).rejects.toThrow(/ENOENT/);
    expect([...model.fileSystems.keys()].sort()).toEqual([euId, fsId].sort());
    expect(model.fileSystems.get(euId)!.region).toBe('eu-west-1');
  });
});
