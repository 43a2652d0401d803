import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { ConfigError, emptyConfig, loadConfig, loadCredentials, parseConfig, parseListen, resolveModel } from '../../src/model/config.js';
import { authorizeClient } from '../../src/policy/iam.js';

let dir: string;
const DEFAULT_FS = 'fs-0123456789abcdef0';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'localefs-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

async function configError(doc: unknown): Promise<ConfigError> {
  try {
    await parseConfig(doc, '/etc/localefs.json', dir);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const FULL = {
  $comment: 'example',
  region: 'eu-west-1',
  accountId: '111122223333',
  options: { readOnlyError: 'ROFS' },
  fileSystems: [
    {
      name: 'shared',
      tags: { team: 'infra' },
      policy: {
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
            Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
          },
        ],
      },
    },
  ],
  accessPoints: [
    {
      accessPointId: 'fsap-0aaaaaaaaaaaaaaaa',
      name: 'app1',
      posixUser: { uid: 1000, gid: 1000, secondaryGids: [27] },
      rootDirectory: { path: '/app1', creationInfo: { ownerUid: 1000, ownerGid: 1000, permissions: '0750' } },
    },
    { name: 'scratch', rootDirectory: { Path: '/scratch' } },
  ],
  mountTargets: [
    { listen: '127.0.0.1:2049', allowedCidrs: ['127.0.0.0/8'] },
    { listen: '[::1]:12049' },
  ],
  credentials: {
    AKIAEXAMPLEAPP1: {
      secretAccessKey: 'secret1',
      principalArn: 'arn:aws:iam::111122223333:role/app1',
      identityPolicies: [{ Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:Client*', Resource: '*' }] }],
    },
  },
};

describe('loadConfig', () => {
  it('loads a full config and resolves ids, ARNs and the policy', async () => {
    const file = await write('full.json', FULL);
    const config = await loadConfig(file);
    expect(config.source).toBe(file);
    expect(config.region).toBe('eu-west-1');
    expect(config.options).toEqual({ readOnlyError: 'ROFS', anonUid: 65534, anonGid: 65534 });
    expect(config.fileSystems).toHaveLength(1);
    expect(config.fileSystems[0].name).toBe('shared');
    expect(config.accessPoints[1].rootDirectory).toEqual({ path: '/scratch' });
    expect(config.mountTargets).toEqual([
      { ipAddress: '127.0.0.1', port: 2049, allowedCidrs: ['127.0.0.0/8'] },
      { ipAddress: '::1', port: 12049, allowedCidrs: ['0.0.0.0/0', '::/0'] },
    ]);
    expect(config.credentials.get('AKIAEXAMPLEAPP1')?.accountId).toBe('111122223333');

    const model = resolveModel(config, { defaultFileSystemId: DEFAULT_FS, now: 1700000000, uuid: () => 'fixed-uuid' });
    const fs = model.fileSystems.get(DEFAULT_FS)!;
    expect(fs.arn).toBe(`arn:aws:elasticfilesystem:eu-west-1:111122223333:file-system/${DEFAULT_FS}`);
    expect(fs.name).toBe('shared');
    expect(fs.tags).toEqual([
      { key: 'Name', value: 'shared' },
      { key: 'team', value: 'infra' },
    ]);
    expect(fs.creationTime).toBe(1700000000);
    expect(fs.policy?.Statement[0]).toMatchObject({ Sid: 'efs-statement-fixed-uuid', Resource: fs.arn });
    const ap1 = model.accessPoints.get('fsap-0aaaaaaaaaaaaaaaa')!;
    expect(ap1.arn).toBe('arn:aws:elasticfilesystem:eu-west-1:111122223333:access-point/fsap-0aaaaaaaaaaaaaaaa');
    expect(ap1.fileSystemId).toBe(DEFAULT_FS);
    expect(ap1.posixUser).toEqual({ uid: 1000, gid: 1000, secondaryGids: [27] });
    const scratch = [...model.accessPoints.values()].find((a) => a.name === 'scratch')!;
    expect(scratch.accessPointId).toMatch(/^fsap-[0-9a-f]{17}$/);
    // derived ids are stable across loads
    const again = resolveModel(await loadConfig(file), { defaultFileSystemId: DEFAULT_FS });
    expect(again.accessPoints.has(scratch.accessPointId)).toBe(true);
    expect([...model.mountTargets.values()].map((m) => m.mountTargetId)).toEqual([...again.mountTargets.values()].map((m) => m.mountTargetId));

    // the configured policy drives authorization
    const r = authorizeClient({ principal: { kind: 'anonymous' }, fileSystemArn: fs.arn, fsPolicy: fs.policy, secureTransport: false });
    expect([r.mount, r.write, r.root]).toEqual([true, true, false]);
    const cred = model.credentials.get('AKIAEXAMPLEAPP1')!;
    const r2 = authorizeClient({
      principal: { kind: 'iam', arn: cred.principalArn, accountId: cred.accountId },
      fileSystemArn: fs.arn,
      fsPolicy: fs.policy,
      identityPolicies: cred.identityPolicies,
      secureTransport: true,
    });
    expect([r2.mount, r2.write, r2.root]).toEqual([true, true, true]);
  });

  it('an empty object gives defaults; resolve adds the default file system', async () => {
    const config = await loadConfig(await write('empty.json', {}));
    expect(config.region).toBe('us-east-1');
    expect(config.accountId).toBe('000000000000');
    expect(config.options.readOnlyError).toBe('ACCESS');
    const model = resolveModel(config, { defaultFileSystemId: DEFAULT_FS });
    expect([...model.fileSystems.keys()]).toEqual([DEFAULT_FS]);
    expect(model.fileSystems.get(DEFAULT_FS)?.policy).toBeUndefined();
    expect(resolveModel(emptyConfig(), { defaultFileSystemId: DEFAULT_FS }).fileSystems.size).toBe(1);
  });

  it('policy as a string and from policyFile (relative to the config)', async () => {
    await write('policy.json', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:ClientMount"}]}');
    const a = await loadConfig(await write('pf.json', { fileSystems: [{ policyFile: 'policy.json' }] }));
    const b = await loadConfig(
      await write('ps.json', { fileSystems: [{ policy: '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:ClientMount"}]}' }] }),
    );
    for (const c of [a, b]) {
      const fs = resolveModel(c, { defaultFileSystemId: DEFAULT_FS }).fileSystems.get(DEFAULT_FS)!;
      expect(fs.policy?.Statement[0].Action).toBe('elasticfilesystem:ClientMount');
    }
  });

  it('explicit file system ids: the default id maps onto its entry, others are extra file systems', async () => {
    const config = await parseConfig(
      {
        fileSystems: [{ fileSystemId: DEFAULT_FS, name: 'main' }, { fileSystemId: 'fs-0ffffffffffffffff' }],
        accessPoints: [{ fileSystemId: 'fs-0ffffffffffffffff', name: 'x' }],
      },
      '/c.json',
    );
    const model = resolveModel(config, { defaultFileSystemId: DEFAULT_FS });
    expect([...model.fileSystems.keys()]).toEqual([DEFAULT_FS, 'fs-0ffffffffffffffff']);
    expect(model.fileSystems.get(DEFAULT_FS)?.name).toBe('main');
    expect([...model.accessPoints.values()][0].fileSystemId).toBe('fs-0ffffffffffffffff');
    // an id-less entry plus an entry with the default id collide
    const clash = await parseConfig({ fileSystems: [{}, { fileSystemId: DEFAULT_FS }] }, '/c.json');
    expect(() => resolveModel(clash, { defaultFileSystemId: DEFAULT_FS })).toThrow(/also the default file system's id/);
  });

  it('names the file when it is missing or not JSON', async () => {
    await expect(loadConfig(path.join(dir, 'nope.json'))).rejects.toThrow(/nope\.json: config file not found/);
    const bad = await write('bad.json', '{ "region": ');
    await expect(loadConfig(bad)).rejects.toThrow(/bad\.json: not valid JSON/);
  });

  it.each([
    ['unknown top-level field', { regoin: 'x' }, 'regoin', /unknown field/],
    ['bad region', { region: 'mars' }, 'region', /region name/],
    ['bad account', { accountId: '123' }, 'accountId', /12 digits/],
    ['bad readOnlyError', { options: { readOnlyError: 'EPERM' } }, 'options.readOnlyError', /"ACCESS" or "ROFS"/],
    ['bad anonUid', { options: { anonUid: -1 } }, 'options.anonUid', /integer/],
    ['bad fs id', { fileSystems: [{ fileSystemId: 'fs-xyz' }] }, 'fileSystems[0].fileSystemId', /not a file system id/],
    ['two default file systems', { fileSystems: [{}, {}] }, 'fileSystems[1].fileSystemId', /only one/],
    ['duplicate fs id', { fileSystems: [{ fileSystemId: DEFAULT_FS }, { fileSystemId: DEFAULT_FS }] }, 'fileSystems[1].fileSystemId', /twice/],
    ['invalid policy', { fileSystems: [{ policy: { Statement: [{ Effect: 'Allow', Action: '*' }] } }] }, 'fileSystems[0].policy', /InvalidPolicyException.*missing Principal/],
    ['policy and policyFile', { fileSystems: [{ policy: {}, policyFile: 'x' }] }, 'fileSystems[0].policy', /either/],
    ['missing policyFile', { fileSystems: [{ policyFile: 'missing.json' }] }, 'fileSystems[0].policyFile', /cannot read/],
    ['bad tag', { fileSystems: [{ tags: { 'aws:x': '1' } }] }, 'fileSystems[0].tags.aws:x', /aws:/],
    ['name and Name tag', { fileSystems: [{ name: 'a', tags: { Name: 'b' } }] }, 'fileSystems[0].name', /not both/],
    ['bad ap path', { accessPoints: [{ rootDirectory: { path: 'relative' } }] }, 'accessPoints[0].rootDirectory.path', /absolute path/],
    ['bad ap uid', { accessPoints: [{ posixUser: { uid: 1e10, gid: 0 } }] }, 'accessPoints[0].posixUser.uid', /0 to 4294967295/],
    ['too many gids', { accessPoints: [{ posixUser: { uid: 1, gid: 1, secondaryGids: Array(17).fill(1) } }] }, 'accessPoints[0].posixUser.secondaryGids', /at most 16/],
    ['partial creationInfo', { accessPoints: [{ rootDirectory: { path: '/a', creationInfo: { ownerUid: 1, permissions: '755' } } }] }, 'accessPoints[0].rootDirectory.creationInfo', /missing ownerGid/],
    ['numeric permissions', { accessPoints: [{ rootDirectory: { path: '/a', creationInfo: { ownerUid: 1, ownerGid: 1, permissions: 755 } } }] }, 'accessPoints[0].rootDirectory.creationInfo.permissions', /string/],
    ['unknown ap field', { accessPoints: [{ root: '/' }] }, 'accessPoints[0].root', /unknown field/],
    ['unknown posixUser field', { accessPoints: [{ posixUser: { uid: 1, gid: 1, gids: [] } }] }, 'accessPoints[0].posixUser.gids', /unknown field/],
    ['bad ap id', { accessPoints: [{ accessPointId: 'ap-1' }] }, 'accessPoints[0].accessPointId', /not an access point id/],
    ['duplicate ap id', { accessPoints: [{ accessPointId: 'fsap-0aaaaaaaaaaaaaaaa' }, { accessPointId: 'fsap-0aaaaaaaaaaaaaaaa' }] }, 'accessPoints[1].accessPointId', /twice/],
    ['ap on undeclared fs', { accessPoints: [{ fileSystemId: 'fs-0ffffffffffffffff' }] }, 'accessPoints[0].fileSystemId', /not declared/],
    ['long clientToken', { accessPoints: [{ clientToken: 'x'.repeat(65) }] }, 'accessPoints[0].clientToken', /1 to 64/],
    ['listen without ip', { mountTargets: [{ listen: 'localhost:2049' }] }, 'mountTargets[0].listen', /literal IP/],
    ['listen bad port', { mountTargets: [{ listen: '127.0.0.1:70000' }] }, 'mountTargets[0].listen', /address:port/],
    ['missing listen', { mountTargets: [{}] }, 'mountTargets[0].listen', /required/],
    ['bad cidr', { mountTargets: [{ listen: '127.0.0.1:2049', allowedCidrs: ['127.0.0.1'] }] }, 'mountTargets[0].allowedCidrs[0]', /CIDR/],
    ['duplicate listener', { mountTargets: [{ listen: '127.0.0.1:2049' }, { listen: '127.0.0.1:2049' }] }, 'mountTargets[1].listen', /another mount target/],
    ['credential without secret', { credentials: { AKIA1: { principalArn: 'arn:aws:iam::111122223333:role/r' } } }, 'credentials.AKIA1.secretAccessKey', /required/],
    ['credential bad arn', { credentials: { AKIA1: { secretAccessKey: 's', principalArn: 'arn:aws:s3:::bucket' } } }, 'credentials.AKIA1.principalArn', /not an IAM principal ARN/],
    ['credential account mismatch', { credentials: { AKIA1: { secretAccessKey: 's', principalArn: 'arn:aws:iam::111122223333:role/r', accountId: '444455556666' } } }, 'credentials.AKIA1.accountId', /does not match/],
    ['credential identity policy with Principal', { credentials: { AKIA1: { secretAccessKey: 's', principalArn: 'arn:aws:iam::111122223333:role/r', identityPolicies: [{ Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] }] } } }, 'credentials.AKIA1.identityPolicies[0]', /Principal/],
    ['bad access key id', { credentials: { 'has space': { secretAccessKey: 's', principalArn: 'arn:aws:iam::111122223333:role/r' } } }, 'credentials.has space', /access key id/],
  ])('rejects %s', async (_name, doc, field, message) => {
    const err = await configError(doc);
    expect(err.file).toBe('/etc/localefs.json');
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`/etc/localefs.json: ${field}: `)).toBe(true);
  });
});

describe('credentials files', () => {
  it('loads a credentials file and merges it via credentialsFile', async () => {
    const credFile = await write('creds.json', {
      AKIAADMIN: { secretAccessKey: 'a', principalArn: 'arn:aws:sts::111122223333:assumed-role/admin/me', sessionToken: 'tok' },
    });
    const creds = await loadCredentials(credFile);
    expect(creds.get('AKIAADMIN')).toEqual({
      accessKeyId: 'AKIAADMIN',
      secretAccessKey: 'a',
      sessionToken: 'tok',
      principalArn: 'arn:aws:sts::111122223333:assumed-role/admin/me',
      accountId: '111122223333',
    });
    const config = await loadConfig(
      await write('withcreds.json', {
        credentialsFile: 'creds.json',
        credentials: { AKIAOTHER: { secretAccessKey: 'b', principalArn: 'arn:aws:iam::111122223333:user/bob' } },
      }),
    );
    expect([...config.credentials.keys()].sort()).toEqual(['AKIAADMIN', 'AKIAOTHER']);
  });

  it('reports clashes and bad entries with the credentials file name', async () => {
    const credFile = await write('creds2.json', { AKIAX: { secretAccessKey: 'a', principalArn: 'arn:aws:iam::111122223333:user/x' } });
    await expect(loadConfig(await write('clash.json', { credentialsFile: 'creds2.json', credentials: { AKIAX: { secretAccessKey: 'a', principalArn: 'arn:aws:iam::111122223333:user/x' } } }))).rejects.toThrow(
      /credentialsFile: access key id AKIAX is declared both/,
    );
    const badFile = await write('creds3.json', { AKIAY: { secretAccessKey: 'a' } });
    await expect(loadCredentials(badFile)).rejects.toThrow(`${badFile}: AKIAY.principalArn: is required`);
    await expect(loadCredentials(await write('creds4.json', '[]'))).rejects.toThrow(/must be an object/);
    // --credentials on top of --config: clashes reported by resolveModel
    const config = await parseConfig({ credentials: { AKIAX: { secretAccessKey: 'a', principalArn: 'arn:aws:iam::111122223333:user/x' } } }, '/c.json');
    const extra = await loadCredentials(credFile);
    expect(() => resolveModel(config, { defaultFileSystemId: DEFAULT_FS, credentials: extra })).toThrow(/declared both/);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:2049', { ipAddress: '127.0.0.1', port: 2049 }],
    ['0.0.0.0:0', { ipAddress: '0.0.0.0', port: 0 }],
    ['[::1]:2049', { ipAddress: '::1', port: 2049 }],
    ['[::]', { ipAddress: '::' }],
    ['::1', { ipAddress: '::1' }],
    ['10.0.0.1', { ipAddress: '10.0.0.1' }],
  ])('%s', (s, want) => expect(parseListen(s)).toEqual(want));
  it.each(['host:2049', '127.0.0.1:', '127.0.0.1:x', '[::1]:99999', ''])('rejects %j', (s) => expect(parseListen(s)).toBeUndefined());
});
