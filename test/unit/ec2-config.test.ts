import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, emptyConfig, parseConfig, resolveModel } from '../../src/model/config.js';
import { loadSavedModel, mergeSaved, saveModel, snapshot, type SavedModel } from '../../src/model/persist.js';
import { defaultSecurityGroupFor, derivedId, newMountTarget, vpcIdFor, type ModelConfig } from '../../src/model/types.js';
import { ControlPlane, type ControlPlaneEffects } from '../../src/api/control-plane.js';
import { createSecurityGroup } from '../../src/api/ec2/security-groups.js';
import { Ec2Input, parseForm } from '../../src/api/ec2/query.js';

// Security groups and instances in --config, and in model.json.

const FS = 'fs-0123456789abcdef0';
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const DEFAULT_SG = defaultSecurityGroupFor(ACCOUNT, REGION);
const APP = derivedId('sg', `${ACCOUNT}/${REGION}/group/app`);
const dir = mkdtempSync(path.join(tmpdir(), 'localefs-ec2-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (doc: unknown): Promise<ModelConfig> => parseConfig(doc, '/etc/localefs.json', dir);

async function configError(doc: unknown): Promise<string> {
  try {
    await parse(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config: securityGroups', () => {
  it('a group without groupId gets an id derived from its name, stable across loads', async () => {
    const a = await parse({ securityGroups: [{ name: 'app' }] });
    const b = await parse({ securityGroups: [{ name: 'app' }] });
    expect(a.securityGroups![0]!.groupId).toBe(APP);
    expect(b.securityGroups![0]!.groupId).toBe(APP);
  });

  it('rules: protocol, port or fromPort/toPort, cidr (v4 or v6) or sourceGroup (name or id), description', async () => {
    const c = await parse({
      securityGroups: [
        {
          name: 'nfs',
          groupId: 'sg-0123456789abcdef0',
          ingress: [
            { protocol: 'TCP', port: 2049, cidr: '10.0.0.0/8', description: 'lan' },
            { protocol: 'tcp', fromPort: 1, toPort: 1024, cidr: '2001:DB8::/32' },
            { protocol: 'all', sourceGroup: 'app' },
            { protocol: '6', port: 2049, sourceGroup: 'sg-0123456789abcdef0' },
          ],
        },
        { name: 'app' },
      ],
    });
    expect(c.securityGroups![0]!.ingress).toEqual([
      { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '10.0.0.0/8', description: 'lan' },
      { ipProtocol: 'tcp', fromPort: 1, toPort: 1024, cidrIpv6: '2001:db8::/32' },
      { ipProtocol: '-1', referencedGroupId: APP },
      { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, referencedGroupId: 'sg-0123456789abcdef0' },
    ]);
  });

  it('instances: addresses (IPv6 in canonical form) and their groups by name or id', async () => {
    const c = await parse({
      securityGroups: [{ name: 'app' }],
      instances: [
        { address: '10.0.0.5', securityGroups: ['app'] },
        { address: '2001:DB8:0:0::1', securityGroups: [APP, 'default'] },
      ],
    });
    expect(c.instances).toEqual([
      { address: '10.0.0.5', securityGroups: [APP] },
      { address: '2001:db8::1', securityGroups: [APP, DEFAULT_SG] },
    ]);
    const model = resolveModel(c, { defaultFileSystemId: FS });
    expect([...model.instances]).toEqual([
      ['10.0.0.5', [APP]],
      ['2001:db8::1', [APP, DEFAULT_SG]],
    ]);
  });

  it('mount targets name their groups', async () => {
    const c = await parse({ securityGroups: [{ name: 'app' }], mountTargets: [{ listen: '127.0.0.5', securityGroups: ['app', 'default'] }] });
    expect(c.mountTargets[0]!.securityGroups).toEqual([APP, DEFAULT_SG]);
    const mt = [...resolveModel(c, { defaultFileSystemId: FS }).mountTargets.values()][0]!;
    expect(mt.securityGroups).toEqual([APP, DEFAULT_SG]);
  });

  it('a mount target without securityGroups gets the default group', async () => {
    const c = await parse({ mountTargets: [{ listen: '127.0.0.5' }] });
    expect([...resolveModel(c, { defaultFileSystemId: FS }).mountTargets.values()][0]!.securityGroups).toEqual([DEFAULT_SG]);
  });

  it('resolveModel: declared groups with rule ids derived from the rule, EC2 egress, tags; the default group beside them', async () => {
    const c = await parse({ securityGroups: [{ name: 'app', description: 'apps', ingress: [{ protocol: 'tcp', port: 22, cidr: '10.0.0.0/8' }], tags: { team: 'x' } }] });
    const model = resolveModel(c, { defaultFileSystemId: FS });
    expect([...model.securityGroups.keys()].sort()).toEqual([APP, DEFAULT_SG].sort());
    const app = model.securityGroups.get(APP)!;
    expect(app).toMatchObject({ groupName: 'app', description: 'apps', vpcId: vpcIdFor(ACCOUNT, REGION), ownerId: ACCOUNT, tags: [{ key: 'team', value: 'x' }] });
    expect(app.ingress).toEqual([{ ruleId: expect.stringMatching(/^sgr-[0-9a-f]{17}$/), ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '10.0.0.0/8' }]);
    expect(app.egress).toEqual([{ ruleId: expect.stringMatching(/^sgr-[0-9a-f]{17}$/), ipProtocol: '-1', cidrIpv4: '0.0.0.0/0' }]);
    expect(resolveModel(c, { defaultFileSystemId: FS }).securityGroups.get(APP)!.ingress[0]!.ruleId).toBe(app.ingress[0]!.ruleId);
  });

  it('declaring "default" replaces the default group\'s rules (e.g. EC2\'s members-only rule)', async () => {
    const c = await parse({ securityGroups: [{ name: 'default', ingress: [{ protocol: '-1', sourceGroup: 'default' }] }] });
    const g = resolveModel(c, { defaultFileSystemId: FS }).securityGroups.get(DEFAULT_SG)!;
    expect(g.description).toBe('default VPC security group');
    expect(g.ingress.map((r) => [r.ipProtocol, r.referencedGroupId])).toEqual([['-1', DEFAULT_SG]]);
  });

  it('a config without groups still has the default group', () => {
    expect([...resolveModel(emptyConfig(), { defaultFileSystemId: FS }).securityGroups.keys()]).toEqual([DEFAULT_SG]);
  });

  it.each([
    [{ securityGroups: [{ name: 'a' }, { name: 'a' }] }, 'securityGroups[1].name: "a" is declared twice'],
    [{ securityGroups: [{ name: 'sg-a' }] }, 'Group names may not be in the format sg-*'],
    [{ securityGroups: [{ name: 'a', groupId: 'sg-zz' }] }, 'securityGroups[0].groupId: "sg-zz" is not a security group id'],
    [{ securityGroups: [{ name: 'a', groupId: DEFAULT_SG }] }, 'name the group "default"'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'tcp', cidr: '10.0.0.0/8' }] }] }, 'Must specify both from and to ports with TCP/UDP'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'tcp', port: 1, cidr: '10.0.0.0/33' }] }] }, 'securityGroups[0].ingress[0].cidr: "10.0.0.0/33" is not a CIDR'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'tcp', port: 1 }] }] }, 'needs exactly one source: cidr or sourceGroup'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'tcp', port: 1, sourceGroup: 'b' }] }] }, 'no security group named "b"'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'nfs', cidr: '10.0.0.0/8' }] }] }, 'securityGroups[0].ingress[0].protocol: "nfs" is not a protocol'],
    [{ securityGroups: [{ name: 'a', ingress: [{ protocol: 'tcp', port: 1, cidr: '10.0.0.0/8' }, { protocol: 'tcp', port: 1, cidr: '10.0.0.0/8' }] }] }, 'repeats ingress[0]'],
    [{ securityGroups: [{ name: 'a', colour: 'red' }] }, 'securityGroups[0].colour: unknown field'],
    [{ instances: [{ address: 'host.example', securityGroups: ['default'] }] }, 'instances[0].address: "host.example" is not a literal IPv4 or IPv6 address'],
    [{ instances: [{ address: '10.0.0.1', securityGroups: [] }] }, 'must name at least one security group'],
    [{ instances: [{ address: '10.0.0.1', securityGroups: ['sg-0123456789abcdef0'] }] }, 'sg-0123456789abcdef0 is not declared in securityGroups'],
    [{ instances: [{ address: '10.0.0.1', securityGroups: ['default'] }, { address: '10.0.0.1', securityGroups: ['default'] }] }, '10.0.0.1 is declared twice'],
    [{ mountTargets: [{ listen: '127.0.0.5', securityGroups: ['nope'] }] }, 'mountTargets[0].securityGroups[0]: no security group named "nope"'],
    [{ mountTargets: [{ listen: '127.0.0.5', securityGroups: ['default', 'default', 'default', 'default', 'default', 'default'] }] }, 'must name 1 to 5 security groups'],
  ])('refuses %j', async (doc, message) => {
    expect(await configError(doc)).toContain(message);
  });
});

describe('model.json: security groups', () => {
  const fresh = async (doc: unknown = {}) => resolveModel(await parse(doc), { defaultFileSystemId: FS });

  it('a saved model without securityGroups (older) loads; the default group is there', async () => {
    const file = path.join(dir, 'old-model.json');
    const old = snapshot(await fresh());
    delete (old as Partial<SavedModel>).securityGroups;
    writeFileSync(file, JSON.stringify(old));
    const saved = await loadSavedModel(file);
    const model = await fresh();
    mergeSaved(model, saved, emptyConfig(), { defaultFileSystemId: FS });
    expect([...model.securityGroups.keys()]).toEqual([DEFAULT_SG]);
  });

  it('saved groups come back; the config wins for what it declares', async () => {
    const doc = { securityGroups: [{ name: 'app', description: 'declared', ingress: [{ protocol: 'tcp', port: 22, cidr: '10.0.0.0/8' }] }] };
    const before = await fresh(doc);
    const app = before.securityGroups.get(APP)!;
    app.ingress = []; // changed through the API
    app.tags = [{ key: 'added', value: 'by the API' }];
    before.securityGroups.set('sg-0aaaaaaaaaaaaaaaa', { ...app, groupId: 'sg-0aaaaaaaaaaaaaaaa', groupName: 'api-made', ingress: [], egress: [], tags: [] });
    const saved = JSON.parse(JSON.stringify(snapshot(before))) as SavedModel;
    const after = await fresh(doc);
    mergeSaved(after, saved, await parse(doc), { defaultFileSystemId: FS });
    expect(after.securityGroups.get(APP)!.ingress.map((r) => r.cidrIpv4)).toEqual(['10.0.0.0/8']);
    expect(after.securityGroups.get(APP)!.tags).toEqual([{ key: 'added', value: 'by the API' }]);
    expect(after.securityGroups.get('sg-0aaaaaaaaaaaaaaaa')!.groupName).toBe('api-made');
  });

  it('the default group as the API left it, unless the config declares it', async () => {
    const before = await fresh();
    before.securityGroups.get(DEFAULT_SG)!.ingress.pop();
    const saved = JSON.parse(JSON.stringify(snapshot(before))) as SavedModel;
    const kept = await fresh();
    mergeSaved(kept, saved, emptyConfig(), { defaultFileSystemId: FS });
    expect(kept.securityGroups.get(DEFAULT_SG)!.ingress).toHaveLength(1);
    const doc = { securityGroups: [{ name: 'default', ingress: [{ protocol: '-1', cidr: '10.0.0.0/8' }] }] };
    const declared = await fresh(doc);
    mergeSaved(declared, saved, await parse(doc), { defaultFileSystemId: FS });
    expect(declared.securityGroups.get(DEFAULT_SG)!.ingress.map((r) => r.cidrIpv4)).toEqual(['10.0.0.0/8']);
  });

  it('a saved group whose name the config now declares becomes the config group; references follow', async () => {
    const before = await fresh();
    const old = 'sg-0bbbbbbbbbbbbbbbb';
    before.securityGroups.set(old, { ...before.securityGroups.get(DEFAULT_SG)!, groupId: old, groupName: 'app', ingress: [], egress: [] });
    before.securityGroups.get(DEFAULT_SG)!.ingress.push({ ruleId: 'sgr-0cccccccccccccccc', ipProtocol: 'tcp', fromPort: 1, toPort: 1, referencedGroupId: old });
    const saved = JSON.parse(JSON.stringify(snapshot(before))) as SavedModel;
    const mt = newMountTarget(before, { mountTargetId: 'fsmt-0dddddddddddddddd', fileSystemId: FS, ipAddress: '127.0.0.9', allowedCidrs: [], securityGroups: [old] });
    saved.mountTargets.push(mt);
    const doc = { securityGroups: [{ name: 'app' }] };
    const after = await fresh(doc);
    mergeSaved(after, saved, await parse(doc), { defaultFileSystemId: FS });
    expect(after.securityGroups.has(old)).toBe(false);
    expect(after.securityGroups.get(DEFAULT_SG)!.ingress.find((r) => r.ruleId === 'sgr-0cccccccccccccccc')!.referencedGroupId).toBe(APP);
    expect(after.mountTargets.get('fsmt-0dddddddddddddddd')!.securityGroups).toEqual([APP]);
  });

  it('a CreateSecurityGroup whose save fails is undone', async () => {
    const model = await fresh();
    const stateDir = path.join(dir, 'undo');
    mkdirSync(stateDir);
    const stateFile = path.join(stateDir, 'model.json');
    const effects = {} as ControlPlaneEffects;
    const cp = new ControlPlane({ model, stateFile, savedText: await saveModel(stateFile, model), effects, log: pino({ level: 'silent' }) });
    await createSecurityGroup.handler(cp, new Ec2Input(parseForm('GroupName=kept&GroupDescription=x')));
    expect(model.securityGroups.size).toBe(2);
    rmSync(stateDir, { recursive: true });
    await expect(createSecurityGroup.handler(cp, new Ec2Input(parseForm('GroupName=lost&GroupDescription=x')))).rejects.toThrow(/ENOENT/);
    expect([...model.securityGroups.values()].map((g) => g.groupName).sort()).toEqual(['default', 'kept']);
  });
});
