import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessPointNotFound,
  BadRequest,
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  CreateReplicationConfigurationCommand,
  CreateTagsCommand,
  DeleteAccessPointCommand,
  DeleteFileSystemCommand,
  DeleteFileSystemPolicyCommand,
  DeleteMountTargetCommand,
  DeleteReplicationConfigurationCommand,
  DeleteTagsCommand,
  DescribeAccessPointsCommand,
  DescribeAccountPreferencesCommand,
  DescribeBackupPolicyCommand,
  DescribeFileSystemPolicyCommand,
  DescribeFileSystemsCommand,
  DescribeLifecycleConfigurationCommand,
  DescribeMountTargetsCommand,
  DescribeReplicationConfigurationsCommand,
  DescribeTagsCommand,
  FileSystemAlreadyExists,
  FileSystemNotFound,
  InvalidPolicyException,
  MountTargetNotFound,
  ListTagsForResourceCommand,
  PolicyNotFound,
  PutAccountPreferencesCommand,
  PutBackupPolicyCommand,
  PutFileSystemPolicyCommand,
  PutLifecycleConfigurationCommand,
  ReplicationNotFound,
  TagResourceCommand,
  TooManyRequests,
  UntagResourceCommand,
  UpdateFileSystemCommand,
  UpdateFileSystemProtectionCommand,
  ValidationException,
  paginateDescribeTags,
  paginateListTagsForResource,
  type CreateFileSystemCommandInput,
  type EFSClient,
  type FileSystemDescription,
  type LifecyclePolicy,
  type Tag,
} from '@aws-sdk/client-efs';
import * as N from '../../src/xdr/gen/nfs4.js';
import type { NfsClient } from '../../src/client/nfs-client.js';
import { defaultSecurityGroupFor } from '../../src/model/types.js';
import {
  ACCOUNT,
  NO_AP,
  NO_FS,
  REGION,
  SUBNET_A,
  apArn,
  caFileOf,
  closeAll,
  efsClient,
  expectError,
  fsArn,
  nfsClient,
  nfsStatus,
  rejection,
  startApiServer,
  tcpProbe,
  token,
  type ApiTestServer,
} from './api-helpers.js';

// File system policies (validation, normalisation, lockout check, live effect
// on NFS mounts), lifecycle, backup policy, account preferences, tags (current
// and deprecated APIs), replication protection and configurations, and
// persistence of all of it across a restart.

let ts: ApiTestServer;
let efs: EFSClient;
const clients: NfsClient[] = [];

beforeAll(async () => {
  ts = await startApiServer();
  efs = efsClient(ts);
});
afterEach(async () => {
  await closeAll(clients);
});
afterAll(async () => {
  efs?.destroy();
  await ts?.cleanup();
});

async function newFs(input: Partial<CreateFileSystemCommandInput> = {}): Promise<FileSystemDescription> {
  return efs.send(new CreateFileSystemCommand({ CreationToken: token('pol'), ...input }));
}

async function describeFs(id: string): Promise<FileSystemDescription> {
  return (await efs.send(new DescribeFileSystemsCommand({ FileSystemId: id }))).FileSystems![0]!;
}

const sortTags = (t: Tag[] | undefined): Tag[] => [...(t ?? [])].sort((a, b) => (a.Key! < b.Key! ? -1 : 1));

/** Spec §3.6 P6 with the file system's ARN: only one role may mount, anonymous clients may not. */
const p6 = (fsId: string): string =>
  JSON.stringify({
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/EfsReadOnly' }, Action: ['elasticfilesystem:ClientMount'], Resource: fsArn(fsId) }],
  });
/** Spec §3.6 P3: everyone may mount, nobody may write. */
const P3 = JSON.stringify({
  Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount', Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } } }],
});

describe('file system policy', () => {
  it('DescribeFileSystemPolicy without a policy answers 404 PolicyNotFound', async () => {
    const fs = await newFs();
    await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
    await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: ts.fileSystemId })), PolicyNotFound, 404);
  });

  it('is normalised: Version 2012-10-17, efs-statement-<uuid> Sids, Resource = the file system ARN; Describe returns the same', async () => {
    const fs = await newFs();
    const put = await efs.send(
      new PutFileSystemPolicyCommand({
        FileSystemId: fs.FileSystemId,
        Policy: JSON.stringify({
          Statement: [
            { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount' },
            { Sid: 'mine', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientWrite' },
          ],
        }),
      }),
    );
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect(put.FileSystemId).toBe(fs.FileSystemId);
    const doc = JSON.parse(put.Policy!);
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement).toHaveLength(2);
    expect(doc.Statement[0].Sid).toMatch(/^efs-statement-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(doc.Statement[1].Sid).toBe('mine');
    for (const s of doc.Statement) expect([s.Resource].flat()).toEqual([fs.FileSystemArn]);
    expect([doc.Statement[0].Action].flat()).toEqual(['elasticfilesystem:ClientMount']);
    expect(doc.Statement[0].Effect).toBe('Allow');

    const described = await efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs.FileSystemArn }));
    expect(described.FileSystemId).toBe(fs.FileSystemId);
    expect(JSON.parse(described.Policy!)).toEqual(doc);
  });

  it('DeleteFileSystemPolicy (200) brings back the default: Describe answers 404 PolicyNotFound', async () => {
    const fs = await newFs();
    await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: P3 }));
    const del = await efs.send(new DeleteFileSystemPolicyCommand({ FileSystemId: fs.FileSystemArn }));
    expect(del.$metadata.httpStatusCode).toBe(200);
    await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
  });

  it('an unknown file system answers 404 FileSystemNotFound for Put, Describe and Delete', async () => {
    await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: NO_FS, Policy: P3 })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
    await expectError(efs.send(new DeleteFileSystemPolicyCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
  });

  describe('rejects invalid policies with 400 InvalidPolicyException', () => {
    const cases: [string, string][] = [
      ['not JSON', 'not json'],
      ['no Statement', JSON.stringify({ Version: '2012-10-17' })],
      ['no Principal', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:ClientMount' }] })],
      ['a bad Effect', JSON.stringify({ Statement: [{ Effect: 'Maybe', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount' }] })],
      ['an action of another service', JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject' }] })],
      ['an invalid principal', JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'not-an-arn' }, Action: 'elasticfilesystem:ClientMount' }] })],
    ];
    for (const [what, policy] of cases) {
      it(what, async () => {
        const fs = await newFs();
        await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy })), InvalidPolicyException, 400);
        await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
      });
    }
  });

  it('a policy of 20,001 characters answers 400', async () => {
    const fs = await newFs();
    const policy = P3 + ' '.repeat(20_001 - P3.length);
    expect(policy).toHaveLength(20_001);
    const err = await rejection(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy })));
    expect(err.$metadata.httpStatusCode).toBe(400);
    // a length violation of a request member is BadRequest (efs-behaviour.md 1.7); InvalidPolicyException is
    // for a policy document that parses but is refused (3.5), ValidationException for AWS Backup (1.7)
    expect(err.name).toBe('BadRequest');
    // exactly 20,000 is fine
    await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy.slice(0, 20_000) }));
  });

  describe('lockout safety check (caller: the default root arn:aws:iam::000000000000:root)', () => {
    const denyPut = (principal: unknown, action: string = 'elasticfilesystem:PutFileSystemPolicy'): string =>
      JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: principal, Action: action }] });

    for (const [what, policy] of [
      ['a Deny of PutFileSystemPolicy to the caller', denyPut({ AWS: `arn:aws:iam::${ACCOUNT}:root` })],
      ['a Deny of PutFileSystemPolicy to the caller account by id', denyPut({ AWS: ACCOUNT })],
      ['a Deny of elasticfilesystem:* to everyone', denyPut('*', 'elasticfilesystem:*')],
      ['a Deny of elasticfilesystem:Put* to AWS *', denyPut({ AWS: '*' }, 'elasticfilesystem:Put*')],
      [
        'a Deny of everything but ClientMount (NotAction) to everyone',
        JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', NotAction: 'elasticfilesystem:ClientMount' }] }),
      ],
      [
        'a Deny of * to everyone but another role (NotPrincipal)',
        JSON.stringify({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:role/other' }, Action: '*' }] }),
      ],
    ] as const) {
      it(`${what}: 400 InvalidPolicyException without the bypass, 200 with it`, async () => {
        const fs = await newFs();
        await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy })), InvalidPolicyException, 400);
        await expectError(efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
        const put = await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy, BypassPolicyLockoutSafetyCheck: true }));
        expect(put.$metadata.httpStatusCode).toBe(200);
        expect(JSON.parse(put.Policy!).Statement[0].Effect).toBe('Deny');
      });
    }

    it('a Deny to another principal, or of another action, is no lockout', async () => {
      const fs = await newFs();
      await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: denyPut({ AWS: 'arn:aws:iam::111122223333:role/admin' }) }));
      const fs2 = await newFs();
      await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs2.FileSystemId, Policy: denyPut({ AWS: '*' }, 'elasticfilesystem:ClientWrite') }));
      expect(JSON.parse((await efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: fs2.FileSystemId }))).Policy!).Statement).toHaveLength(1);
    });
  });

  it('takes effect on new NFS connections at once: P6 refuses an anonymous mount, DeleteFileSystemPolicy lets it in again', async () => {
    const before = await nfsClient(ts.host, ts.port, clients);
    expect((await before.rootFh()).length).toBeGreaterThan(0);

    await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: ts.fileSystemId, Policy: p6(ts.fileSystemId) }));
    expect(await nfsStatus(nfsClient(ts.host, ts.port, clients))).toBe(N.NFS4ERR_ACCESS);

    await efs.send(new DeleteFileSystemPolicyCommand({ FileSystemId: ts.fileSystemId }));
    const after = await nfsClient(ts.host, ts.port, clients);
    expect((await after.rootFh()).length).toBeGreaterThan(0);
  });

  it('conditions on elasticfilesystem:AccessPointArn see access points made through the API (spec P8)', async () => {
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: token('p8'),
        FileSystemId: ts.fileSystemId,
        RootDirectory: { Path: '/p8', CreationInfo: { OwnerUid: 0, OwnerGid: 0, Permissions: '0777' } },
      }),
    );
    const p8 = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 'elasticfilesystem:Client*' },
        { Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:ClientWrite', Condition: { StringNotEquals: { 'elasticfilesystem:AccessPointArn': ap.AccessPointArn } } },
      ],
    });
    await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: ts.fileSystemId, Policy: p8 }));
    try {
      const viaAp = await nfsClient(ts.host, ts.port, clients, { tls: { caFile: caFileOf(ts), fsId: ts.fileSystemId, accessPoint: ap.AccessPointId } });
      await viaAp.writeFile('/written-through-ap.txt', Buffer.from('p8'));
      const plain = await nfsClient(ts.host, ts.port, clients);
      expect((await plain.readFile('/p8/written-through-ap.txt')).toString()).toBe('p8');
      expect(await nfsStatus(plain.writeFile('/not-through-ap.txt', Buffer.from('x')))).toBe(N.NFS4ERR_ACCESS);
    } finally {
      await efs.send(new DeleteFileSystemPolicyCommand({ FileSystemId: ts.fileSystemId }));
    }
  });

  it('applies to a file system made through the API, through its mount target: P3 makes it read-only', async () => {
    const fs = await newFs();
    await efs.send(new CreateMountTargetCommand({ FileSystemId: fs.FileSystemId, SubnetId: SUBNET_A, IpAddress: '127.0.0.21' }));
    await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: P3 }));
    const c = await nfsClient('127.0.0.21', ts.port, clients);
    expect(await c.readdir('/')).toEqual([]);
    expect(await nfsStatus(c.writeFile('/nope.txt', Buffer.from('x')))).toBe(N.NFS4ERR_ACCESS);
    // the default file system keeps its default policy
    const d = await nfsClient(ts.host, ts.port, clients);
    await d.writeFile('/still-writable.txt', Buffer.from('y'));
  });
});

describe('lifecycle configuration', () => {
  it('is empty at first; Put echoes and stores the policies; [] removes them', async () => {
    const fs = await newFs();
    expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId }))).LifecyclePolicies).toEqual([]);
    const policies: LifecyclePolicy[] = [{ TransitionToIA: 'AFTER_30_DAYS' }, { TransitionToPrimaryStorageClass: 'AFTER_1_ACCESS' }];
    const put = await efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId, LifecyclePolicies: policies }));
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect(put.LifecyclePolicies).toEqual(policies);
    expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemArn }))).LifecyclePolicies).toEqual(policies);
    await efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId, LifecyclePolicies: [] }));
    expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId }))).LifecyclePolicies).toEqual([]);
  });

  it('TransitionToArchive works on an elastic generalPurpose file system when later than TransitionToIA', async () => {
    const fs = await newFs({ ThroughputMode: 'elastic' });
    const policies: LifecyclePolicy[] = [{ TransitionToIA: 'AFTER_30_DAYS' }, { TransitionToArchive: 'AFTER_90_DAYS' }, { TransitionToPrimaryStorageClass: 'AFTER_1_ACCESS' }];
    await efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId, LifecyclePolicies: policies }));
    expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId }))).LifecyclePolicies).toEqual(policies);
  });

  describe('rejects invalid configurations with 400 BadRequest', () => {
    const cases: [string, Partial<CreateFileSystemCommandInput>, LifecyclePolicy[]][] = [
      ['four objects', {}, [{ TransitionToIA: 'AFTER_30_DAYS' }, { TransitionToPrimaryStorageClass: 'AFTER_1_ACCESS' }, { TransitionToIA: 'AFTER_7_DAYS' }, { TransitionToIA: 'AFTER_1_DAY' }]],
      ['two keys in one object', {}, [{ TransitionToIA: 'AFTER_30_DAYS', TransitionToPrimaryStorageClass: 'AFTER_1_ACCESS' }]],
      ['an empty object', {}, [{}]],
      ['an unknown transition value', {}, [{ TransitionToIA: 'AFTER_2_DAYS' as 'AFTER_1_DAY' }]],
      ['Archive on a bursting file system', {}, [{ TransitionToIA: 'AFTER_30_DAYS' }, { TransitionToArchive: 'AFTER_90_DAYS' }]],
      ['Archive on a provisioned file system', { ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 10 }, [{ TransitionToIA: 'AFTER_30_DAYS' }, { TransitionToArchive: 'AFTER_90_DAYS' }]],
      ['Archive before IA', { ThroughputMode: 'elastic' }, [{ TransitionToIA: 'AFTER_90_DAYS' }, { TransitionToArchive: 'AFTER_30_DAYS' }]],
    ];
    for (const [what, fsInput, policies] of cases) {
      it(what, async () => {
        const fs = await newFs(fsInput);
        await expectError(efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId, LifecyclePolicies: policies })), BadRequest, 400);
        expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: fs.FileSystemId }))).LifecyclePolicies).toEqual([]);
      });
    }
  });

  it('an unknown file system answers 404 FileSystemNotFound', async () => {
    await expectError(efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
    await expectError(efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: NO_FS, LifecyclePolicies: [] })), FileSystemNotFound, 404);
  });
});

describe('backup policy', () => {
  it('Describe before any Put answers 404 PolicyNotFound; Put ENABLED / DISABLED are stored', async () => {
    const fs = await newFs();
    await expectError(efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
    const put = await efs.send(new PutBackupPolicyCommand({ FileSystemId: fs.FileSystemId, BackupPolicy: { Status: 'ENABLED' } }));
    expect(put.$metadata.httpStatusCode).toBe(200);
    // EFS may echo the transitional ENABLING here (efs-behaviour.md 1.2, PutBackupPolicy: "may echo
    // ENABLING/DISABLING"), so a client must accept both; Describe below pins the stored ENABLED
    expect(['ENABLED', 'ENABLING']).toContain(put.BackupPolicy?.Status);
    expect((await efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemArn }))).BackupPolicy?.Status).toBe('ENABLED');
    await efs.send(new PutBackupPolicyCommand({ FileSystemId: fs.FileSystemId, BackupPolicy: { Status: 'DISABLED' } }));
    expect((await efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemId }))).BackupPolicy?.Status).toBe('DISABLED');
  });

  it('CreateFileSystem with Backup: true enables it', async () => {
    const fs = await newFs({ Backup: true });
    expect((await efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemId }))).BackupPolicy?.Status).toBe('ENABLED');
  });

  it('an unknown status answers 400 BadRequest; an unknown file system 404 FileSystemNotFound', async () => {
    const fs = await newFs();
    await expectError(efs.send(new PutBackupPolicyCommand({ FileSystemId: fs.FileSystemId, BackupPolicy: { Status: 'ON' as 'ENABLED' } })), BadRequest, 400);
    await expectError(efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemId })), PolicyNotFound, 404);
    await expectError(efs.send(new PutBackupPolicyCommand({ FileSystemId: NO_FS, BackupPolicy: { Status: 'ENABLED' } })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeBackupPolicyCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
  });
});

describe('account preferences', () => {
  it('are LONG_ID for file systems and mount targets; Put LONG_ID is fine, SHORT_ID answers 400 BadRequest', async () => {
    const out = await efs.send(new DescribeAccountPreferencesCommand({}));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.ResourceIdPreference?.ResourceIdType).toBe('LONG_ID');
    expect(out.ResourceIdPreference?.Resources).toEqual(expect.arrayContaining(['FILE_SYSTEM', 'MOUNT_TARGET']));
    const put = await efs.send(new PutAccountPreferencesCommand({ ResourceIdType: 'LONG_ID' }));
    expect(put.ResourceIdPreference?.ResourceIdType).toBe('LONG_ID');
    await expectError(efs.send(new PutAccountPreferencesCommand({ ResourceIdType: 'SHORT_ID' })), BadRequest, 400);
    expect((await efs.send(new DescribeAccountPreferencesCommand({ MaxResults: 5 }))).ResourceIdPreference?.ResourceIdType).toBe('LONG_ID');
  });
});

describe('tags (TagResource, UntagResource, ListTagsForResource)', () => {
  it('on a file system by id and by ARN; the Name tag becomes the Name; same key overwrites', async () => {
    const fs = await newFs({ Tags: [{ Key: 'keep', Value: '1' }] });
    await efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemId, Tags: [{ Key: 'Name', Value: 'tagged' }, { Key: 'k 2', Value: 'two' }] }));
    await efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemArn, Tags: [{ Key: 'a/b:c=d+e@f.g_h-i', Value: 'odd' }, { Key: 'keep', Value: '2' }] }));
    const listed = await efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemId }));
    expect(sortTags(listed.Tags)).toEqual(
      sortTags([
        { Key: 'keep', Value: '2' },
        { Key: 'Name', Value: 'tagged' },
        { Key: 'k 2', Value: 'two' },
        { Key: 'a/b:c=d+e@f.g_h-i', Value: 'odd' },
      ]),
    );
    const described = await describeFs(fs.FileSystemId!);
    expect(described.Name).toBe('tagged');
    expect(sortTags(described.Tags)).toEqual(sortTags(listed.Tags));

    await efs.send(new UntagResourceCommand({ ResourceId: fs.FileSystemArn, TagKeys: ['k 2', 'a/b:c=d+e@f.g_h-i', 'Name', 'no-such-key'] }));
    expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemArn }))).Tags).toEqual([{ Key: 'keep', Value: '2' }]);
    expect((await describeFs(fs.FileSystemId!)).Name).toBeUndefined();
  });

  it('on an access point by id and by ARN', async () => {
    const fs = await newFs();
    const ap = await efs.send(new CreateAccessPointCommand({ ClientToken: token('tag-ap'), FileSystemId: fs.FileSystemId }));
    await efs.send(new TagResourceCommand({ ResourceId: ap.AccessPointId, Tags: [{ Key: 'Name', Value: 'ap name' }] }));
    await efs.send(new TagResourceCommand({ ResourceId: ap.AccessPointArn, Tags: [{ Key: 'x', Value: 'y' }] }));
    expect(sortTags((await efs.send(new ListTagsForResourceCommand({ ResourceId: ap.AccessPointArn }))).Tags)).toEqual([
      { Key: 'Name', Value: 'ap name' },
      { Key: 'x', Value: 'y' },
    ]);
    const described = (await efs.send(new DescribeAccessPointsCommand({ AccessPointId: ap.AccessPointId }))).AccessPoints![0]!;
    expect(described.Name).toBe('ap name');
    await efs.send(new UntagResourceCommand({ ResourceId: ap.AccessPointId, TagKeys: ['x'] }));
    expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: ap.AccessPointId }))).Tags).toEqual([{ Key: 'Name', Value: 'ap name' }]);
  });

  it('ListTagsForResource pages with MaxResults and NextToken, and through the SDK paginator', async () => {
    const tags = Array.from({ length: 5 }, (_, i) => ({ Key: `page${i}`, Value: String(i) }));
    const fs = await newFs({ Tags: tags });
    const paged: Tag[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const out = await efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemId, MaxResults: 2, ...(next ? { NextToken: next } : {}) }));
      expect(out.Tags!.length).toBeLessThanOrEqual(2);
      paged.push(...out.Tags!);
      next = out.NextToken;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (next);
    expect(pages).toBe(3);
    expect(sortTags(paged)).toEqual(sortTags(tags));
    const viaPaginator: Tag[] = [];
    for await (const page of paginateListTagsForResource({ client: efs, pageSize: 2 }, { ResourceId: fs.FileSystemId })) viaPaginator.push(...page.Tags!);
    expect(sortTags(viaPaginator)).toEqual(sortTags(tags));
    await expectError(efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemId, NextToken: 'garbage!!' })), BadRequest, 400);
  });

  it('unknown resources answer 404 FileSystemNotFound / AccessPointNotFound', async () => {
    await expectError(efs.send(new TagResourceCommand({ ResourceId: NO_FS, Tags: [{ Key: 'a', Value: 'b' }] })), FileSystemNotFound, 404);
    await expectError(efs.send(new ListTagsForResourceCommand({ ResourceId: fsArn(NO_FS) })), FileSystemNotFound, 404);
    await expectError(efs.send(new UntagResourceCommand({ ResourceId: NO_FS, TagKeys: ['a'] })), FileSystemNotFound, 404);
    await expectError(efs.send(new TagResourceCommand({ ResourceId: NO_AP, Tags: [{ Key: 'a', Value: 'b' }] })), AccessPointNotFound, 404);
    await expectError(efs.send(new ListTagsForResourceCommand({ ResourceId: apArn(NO_AP) })), AccessPointNotFound, 404);
  });

  it('tag rules: an aws: key, too long a key, more than 50 tags in all answer 400 BadRequest and change nothing', async () => {
    const fs = await newFs({ Tags: Array.from({ length: 49 }, (_, i) => ({ Key: `t${i}`, Value: 'v' })) });
    await expectError(efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemId, Tags: [{ Key: 'aws:reserved', Value: 'v' }] })), BadRequest, 400);
    await expectError(efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemId, Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] })), BadRequest, 400);
    await expectError(
      efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemId, Tags: [{ Key: 'new1', Value: 'v' }, { Key: 'new2', Value: 'v' }] })),
      BadRequest,
      400,
    );
    expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemId }))).Tags).toHaveLength(49);
    // the 50th is fine, and overwriting an existing key does not count
    await efs.send(new TagResourceCommand({ ResourceId: fs.FileSystemId, Tags: [{ Key: 'new1', Value: 'v' }, { Key: 't0', Value: 'w' }] }));
    expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: fs.FileSystemId }))).Tags).toHaveLength(50);
  });
});

describe('deprecated tag APIs (CreateTags, DeleteTags, DescribeTags)', () => {
  it('CreateTags (204) adds and overwrites; DeleteTags (204) removes and ignores unknown keys; DescribeTags lists', async () => {
    const fs = await newFs({ Tags: [{ Key: 'old', Value: '1' }] });
    const created = await efs.send(new CreateTagsCommand({ FileSystemId: fs.FileSystemId, Tags: [{ Key: 'old', Value: '2' }, { Key: 'Name', Value: 'legacy' }, { Key: 'x y', Value: 'z' }] }));
    expect(created.$metadata.httpStatusCode).toBe(204);
    const described = await efs.send(new DescribeTagsCommand({ FileSystemId: fs.FileSystemId }));
    expect(sortTags(described.Tags)).toEqual(
      sortTags([
        { Key: 'old', Value: '2' },
        { Key: 'Name', Value: 'legacy' },
        { Key: 'x y', Value: 'z' },
      ]),
    );
    expect((await describeFs(fs.FileSystemId!)).Name).toBe('legacy');
    const deleted = await efs.send(new DeleteTagsCommand({ FileSystemId: fs.FileSystemId, TagKeys: ['x y', 'never-there'] }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    expect(sortTags((await efs.send(new DescribeTagsCommand({ FileSystemId: fs.FileSystemId }))).Tags)).toEqual(
      sortTags([
        { Key: 'old', Value: '2' },
        { Key: 'Name', Value: 'legacy' },
      ]),
    );
  });

  it('DescribeTags pages with MaxItems and Marker, and through the SDK paginator', async () => {
    const tags = Array.from({ length: 5 }, (_, i) => ({ Key: `d${i}`, Value: String(i) }));
    const fs = await newFs({ Tags: tags });
    const paged: Tag[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await efs.send(new DescribeTagsCommand({ FileSystemId: fs.FileSystemId, MaxItems: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(out.Tags!.length).toBeLessThanOrEqual(2);
      paged.push(...out.Tags!);
      marker = out.NextMarker;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (marker);
    expect(pages).toBe(3);
    expect(sortTags(paged)).toEqual(sortTags(tags));
    const viaPaginator: Tag[] = [];
    for await (const page of paginateDescribeTags({ client: efs, pageSize: 4 }, { FileSystemId: fs.FileSystemId })) viaPaginator.push(...page.Tags!);
    expect(sortTags(viaPaginator)).toEqual(sortTags(tags));
  });

  it('an unknown file system answers 404 FileSystemNotFound; an aws: key 400 BadRequest', async () => {
    await expectError(efs.send(new DescribeTagsCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
    await expectError(efs.send(new CreateTagsCommand({ FileSystemId: NO_FS, Tags: [{ Key: 'a', Value: 'b' }] })), FileSystemNotFound, 404);
    await expectError(efs.send(new DeleteTagsCommand({ FileSystemId: NO_FS, TagKeys: ['a'] })), FileSystemNotFound, 404);
    const fs = await newFs();
    await expectError(efs.send(new CreateTagsCommand({ FileSystemId: fs.FileSystemId, Tags: [{ Key: 'aws:x', Value: 'b' }] })), BadRequest, 400);
  });
});

describe('replication', () => {
  it('UpdateFileSystemProtection: ENABLED by default, DISABLED when told', async () => {
    const fs = await newFs();
    expect((await describeFs(fs.FileSystemId!)).FileSystemProtection?.ReplicationOverwriteProtection).toBe('ENABLED');
    const out = await efs.send(new UpdateFileSystemProtectionCommand({ FileSystemId: fs.FileSystemId, ReplicationOverwriteProtection: 'DISABLED' }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.ReplicationOverwriteProtection).toBe('DISABLED');
    expect((await describeFs(fs.FileSystemId!)).FileSystemProtection?.ReplicationOverwriteProtection).toBe('DISABLED');
    await efs.send(new UpdateFileSystemProtectionCommand({ FileSystemId: fs.FileSystemArn, ReplicationOverwriteProtection: 'ENABLED' }));
    expect((await describeFs(fs.FileSystemId!)).FileSystemProtection?.ReplicationOverwriteProtection).toBe('ENABLED');
    await expectError(
      efs.send(new UpdateFileSystemProtectionCommand({ FileSystemId: fs.FileSystemId, ReplicationOverwriteProtection: 'MAYBE' as 'ENABLED' })),
      BadRequest,
      400,
    );
    await expectError(efs.send(new UpdateFileSystemProtectionCommand({ FileSystemId: NO_FS, ReplicationOverwriteProtection: 'DISABLED' })), FileSystemNotFound, 404);
  });

  it('CreateReplicationConfiguration answers 400 ValidationException (404 FileSystemNotFound for an unknown file system)', async () => {
    const fs = await newFs();
    await expectError(
      efs.send(new CreateReplicationConfigurationCommand({ SourceFileSystemId: fs.FileSystemId, Destinations: [{ Region: 'us-west-2' }] })),
      ValidationException,
      400,
    );
    await expectError(
      efs.send(new CreateReplicationConfigurationCommand({ SourceFileSystemId: NO_FS, Destinations: [{ Region: 'us-west-2' }] })),
      FileSystemNotFound,
      404,
    );
  });

  it('DescribeReplicationConfigurations: 404 ReplicationNotFound for a file system, an empty list without one; Delete answers 404 ReplicationNotFound', async () => {
    const fs = await newFs();
    await expectError(efs.send(new DescribeReplicationConfigurationsCommand({ FileSystemId: fs.FileSystemId })), ReplicationNotFound, 404);
    const all = await efs.send(new DescribeReplicationConfigurationsCommand({}));
    expect(all.$metadata.httpStatusCode).toBe(200);
    expect(all.Replications).toEqual([]);
    await expectError(efs.send(new DeleteReplicationConfigurationCommand({ SourceFileSystemId: fs.FileSystemId })), ReplicationNotFound, 404);
  });
});

describe('persistence', () => {
  it('after a restart everything made through the API is still there, and the mount target listens again', async () => {
    const fs = await newFs({ Tags: [{ Key: 'Name', Value: 'durable' }], ThroughputMode: 'elastic' });
    const id = fs.FileSystemId!;
    await efs.send(new TagResourceCommand({ ResourceId: id, Tags: [{ Key: 'later', Value: 'added' }] }));
    const policy = (await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: id, Policy: p6(id) }))).Policy!;
    const lifecycle: LifecyclePolicy[] = [{ TransitionToIA: 'AFTER_7_DAYS' }];
    await efs.send(new PutLifecycleConfigurationCommand({ FileSystemId: id, LifecyclePolicies: lifecycle }));
    await efs.send(new PutBackupPolicyCommand({ FileSystemId: id, BackupPolicy: { Status: 'ENABLED' } }));
    await efs.send(new UpdateFileSystemProtectionCommand({ FileSystemId: id, ReplicationOverwriteProtection: 'DISABLED' }));
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: token('durable-ap'),
        FileSystemId: id,
        PosixUser: { Uid: 7, Gid: 8 },
        RootDirectory: { Path: '/kept', CreationInfo: { OwnerUid: 7, OwnerGid: 8, Permissions: '700' } },
        Tags: [{ Key: 'Name', Value: 'durable ap' }],
      }),
    );
    const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: id, SubnetId: SUBNET_A, IpAddress: '127.0.0.22', SecurityGroups: [defaultSecurityGroupFor(ACCOUNT, REGION)] }));
    // the second file system: open, with data written through its mount target
    const open = await newFs();
    await efs.send(new CreateMountTargetCommand({ FileSystemId: open.FileSystemId, SubnetId: SUBNET_A, IpAddress: '127.0.0.23' }));
    await (await nfsClient('127.0.0.23', ts.port, clients)).writeFile('/kept.txt', Buffer.from('kept across restarts'));
    await efs.send(new TagResourceCommand({ ResourceId: ts.fileSystemId, Tags: [{ Key: 'default', Value: 'tagged' }] }));
    await efs.send(new UpdateFileSystemCommand({ FileSystemId: open.FileSystemId, ThroughputMode: 'elastic' }));
    // P6 keeps anonymous clients out of the first one
    expect(await nfsStatus(nfsClient('127.0.0.22', ts.port, clients))).toBe(N.NFS4ERR_ACCESS);
    // things deleted before the restart must stay deleted
    const gone = await newFs();
    const goneAp = await efs.send(new CreateAccessPointCommand({ ClientToken: token('gone-ap'), FileSystemId: id }));
    const goneMt = await efs.send(new CreateMountTargetCommand({ FileSystemId: gone.FileSystemId, SubnetId: SUBNET_A, IpAddress: '127.0.0.24' }));
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: goneMt.MountTargetId }));
    await efs.send(new DeleteFileSystemCommand({ FileSystemId: gone.FileSystemId }));
    await efs.send(new DeleteAccessPointCommand({ AccessPointId: goneAp.AccessPointId }));
    await efs.send(new UntagResourceCommand({ ResourceId: id, TagKeys: ['later'] }));
    await efs.send(new TagResourceCommand({ ResourceId: id, Tags: [{ Key: 'later', Value: 'added again' }] }));

    const beforeFs = await describeFs(id);
    await closeAll(clients);

    await ts.restart();
    efs.destroy();
    efs = efsClient(ts);

    const afterFs = await describeFs(id);
    expect(afterFs).toMatchObject({
      FileSystemId: id,
      FileSystemArn: beforeFs.FileSystemArn,
      CreationToken: beforeFs.CreationToken,
      Name: 'durable',
      ThroughputMode: 'elastic',
      LifeCycleState: 'available',
      NumberOfMountTargets: 1,
      FileSystemProtection: { ReplicationOverwriteProtection: 'DISABLED' },
    });
    expect(afterFs.CreationTime?.getTime()).toBe(beforeFs.CreationTime?.getTime());
    expect(sortTags(afterFs.Tags)).toEqual(
      sortTags([
        { Key: 'Name', Value: 'durable' },
        { Key: 'later', Value: 'added again' },
      ]),
    );
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: gone.FileSystemId })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: goneAp.AccessPointId })), AccessPointNotFound, 404);
    await expectError(efs.send(new DescribeMountTargetsCommand({ MountTargetId: goneMt.MountTargetId })), MountTargetNotFound, 404);
    expect(await tcpProbe('127.0.0.24', ts.port)).toBe('refused');
    expect(JSON.parse((await efs.send(new DescribeFileSystemPolicyCommand({ FileSystemId: id }))).Policy!)).toEqual(JSON.parse(policy));
    expect((await efs.send(new DescribeLifecycleConfigurationCommand({ FileSystemId: id }))).LifecyclePolicies).toEqual(lifecycle);
    expect((await efs.send(new DescribeBackupPolicyCommand({ FileSystemId: id }))).BackupPolicy?.Status).toBe('ENABLED');
    const aps = (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: id }))).AccessPoints!;
    expect(aps).toHaveLength(1);
    expect(aps[0]).toMatchObject({
      AccessPointId: ap.AccessPointId,
      ClientToken: ap.ClientToken,
      Name: 'durable ap',
      PosixUser: { Uid: 7, Gid: 8 },
      RootDirectory: { Path: '/kept', CreationInfo: { OwnerUid: 7, OwnerGid: 8, Permissions: '700' } },
      LifeCycleState: 'available',
    });
    const mts = (await efs.send(new DescribeMountTargetsCommand({ FileSystemId: id }))).MountTargets!;
    expect(mts).toHaveLength(1);
    expect(mts[0]).toMatchObject({ MountTargetId: mt.MountTargetId, IpAddress: '127.0.0.22', SubnetId: SUBNET_A, LifeCycleState: 'available' });
    expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: ts.fileSystemId }))).Tags).toEqual(expect.arrayContaining([{ Key: 'default', Value: 'tagged' }]));
    // ids and tokens are still taken
    await expectError(efs.send(new CreateFileSystemCommand({ CreationToken: fs.CreationToken })), FileSystemAlreadyExists, 409);

    // the listeners are back, the policy still applies, the data is there
    expect(await tcpProbe('127.0.0.22', ts.port)).toBe('open');
    expect(await nfsStatus(nfsClient('127.0.0.22', ts.port, clients))).toBe(N.NFS4ERR_ACCESS);
    const c = await nfsClient('127.0.0.23', ts.port, clients);
    expect((await c.readFile('/kept.txt')).toString()).toBe('kept across restarts');
    // and the throughput history: a second mode change within 24 hours is still refused
    await expectError(efs.send(new UpdateFileSystemCommand({ FileSystemId: open.FileSystemId, ThroughputMode: 'bursting' })), TooManyRequests, 429);
    expect((await describeFs(open.FileSystemId!)).ThroughputMode).toBe('elastic');
  });
});
