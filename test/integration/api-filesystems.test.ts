import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessPointNotFound,
  BadRequest,
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  DeleteFileSystemCommand,
  DescribeAccessPointsCommand,
  DescribeBackupPolicyCommand,
  DescribeFileSystemsCommand,
  FileSystemAlreadyExists,
  FileSystemInUse,
  FileSystemNotFound,
  TooManyRequests,
  UpdateFileSystemCommand,
  paginateDescribeFileSystems,
  type CreateFileSystemCommandInput,
  type EFSClient,
  type FileSystemDescription,
} from '@aws-sdk/client-efs';
import { ACCOUNT, FS_ID, NO_FS, REGION, efsClient, expectError, fsArn, startApiServer, token, type ApiTestServer } from './api-helpers.js';

// File systems through the EFS management API, driven by the real AWS SDK:
// CreateFileSystem / DescribeFileSystems / UpdateFileSystem / DeleteFileSystem.

let ts: ApiTestServer;
let efs: EFSClient;

beforeAll(async () => {
  ts = await startApiServer();
  efs = efsClient(ts);
});
afterAll(async () => {
  efs?.destroy();
  await ts?.cleanup();
});

async function create(input: Partial<CreateFileSystemCommandInput> = {}): Promise<FileSystemDescription> {
  return efs.send(new CreateFileSystemCommand({ CreationToken: token('fs'), ...input }));
}

async function describeOne(id: string): Promise<FileSystemDescription> {
  const out = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: id }));
  expect(out.FileSystems).toHaveLength(1);
  return out.FileSystems![0]!;
}

async function allIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of paginateDescribeFileSystems({ client: efs, pageSize: 100 }, {})) ids.push(...(page.FileSystems ?? []).map((f) => f.FileSystemId!));
  return ids;
}

describe('the default file system', () => {
  it('is listed like any other, available, with its one mount target', async () => {
    const out = await efs.send(new DescribeFileSystemsCommand({}));
    expect(out.$metadata.httpStatusCode).toBe(200);
    const fs = out.FileSystems!.find((f) => f.FileSystemId === ts.fileSystemId);
    expect(fs).toBeDefined();
    expect(fs).toMatchObject({
      OwnerId: ACCOUNT,
      FileSystemArn: fsArn(ts.fileSystemId),
      LifeCycleState: 'available',
      NumberOfMountTargets: 1,
      PerformanceMode: 'generalPurpose',
    });
    expect(typeof fs!.CreationToken).toBe('string');
    expect(fs!.CreationTime).toBeInstanceOf(Date);
    expect(fs!.SizeInBytes!.Value).toBeGreaterThanOrEqual(6144);
    expect(fs!.Tags).toBeInstanceOf(Array);
  });

  it('cannot be deleted while its mount target exists', async () => {
    await expectError(efs.send(new DeleteFileSystemCommand({ FileSystemId: ts.fileSystemId })), FileSystemInUse, 409);
    expect((await describeOne(ts.fileSystemId)).LifeCycleState).toBe('available');
  });
});

describe('CreateFileSystem', () => {
  it('answers 201 with a creating file system that then describes as available', async () => {
    const creationToken = token('create');
    const out = await efs.send(
      new CreateFileSystemCommand({
        CreationToken: creationToken,
        Tags: [
          { Key: 'Name', Value: 'my files' },
          { Key: 'team', Value: 'storage' },
        ],
      }),
    );
    expect(out.$metadata.httpStatusCode).toBe(201);
    expect(out.LifeCycleState).toBe('creating');
    expect(out.FileSystemId).toMatch(FS_ID);
    const id = out.FileSystemId!;
    expect(out).toMatchObject({
      OwnerId: ACCOUNT,
      CreationToken: creationToken,
      FileSystemArn: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/${id}`,
      Name: 'my files',
      NumberOfMountTargets: 0,
      PerformanceMode: 'generalPurpose',
      ThroughputMode: 'bursting',
      Encrypted: false,
    });
    expect(out.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Name', Value: 'my files' },
        { Key: 'team', Value: 'storage' },
      ]),
    );
    expect(out.Tags).toHaveLength(2);
    expect(out.SizeInBytes!.Value).toBeGreaterThanOrEqual(6144);
    expect(out.CreationTime).toBeInstanceOf(Date);
    expect(Math.abs(out.CreationTime!.getTime() - Date.now())).toBeLessThan(3600_000);

    const described = await describeOne(id);
    expect(described).toMatchObject({ FileSystemId: id, LifeCycleState: 'available', Name: 'my files', CreationToken: creationToken });
    expect(described.FileSystemProtection?.ReplicationOverwriteProtection).toBe('ENABLED');
  });

  it('without a Name tag has no Name', async () => {
    const fs = await create({ Tags: [{ Key: 'env', Value: 'dev' }] });
    expect(fs.Name).toBeUndefined();
    expect((await describeOne(fs.FileSystemId!)).Name).toBeUndefined();
  });

  it('fills in the SDK-generated CreationToken when none is given', async () => {
    const out = await efs.send(new CreateFileSystemCommand({} as CreateFileSystemCommandInput));
    expect(out.FileSystemId).toMatch(FS_ID);
    expect(out.CreationToken!.length).toBeGreaterThan(0);
  });

  it('reusing a CreationToken answers 409 FileSystemAlreadyExists naming the existing file system', async () => {
    const creationToken = token('dup');
    const first = await create({ CreationToken: creationToken });
    const err = await expectError(efs.send(new CreateFileSystemCommand({ CreationToken: creationToken })), FileSystemAlreadyExists, 409);
    expect(err.FileSystemId).toBe(first.FileSystemId);
    // only one file system carries the token
    const byToken = await efs.send(new DescribeFileSystemsCommand({ CreationToken: creationToken }));
    expect(byToken.FileSystems!.map((f) => f.FileSystemId)).toEqual([first.FileSystemId]);
  });

  it('keeps the performance, throughput and encryption settings', async () => {
    const prov = await create({ ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 10, PerformanceMode: 'maxIO' });
    expect(prov).toMatchObject({ ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 10, PerformanceMode: 'maxIO' });
    expect(await describeOne(prov.FileSystemId!)).toMatchObject({ ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 10, PerformanceMode: 'maxIO' });

    const elastic = await create({ ThroughputMode: 'elastic' });
    expect((await describeOne(elastic.FileSystemId!)).ThroughputMode).toBe('elastic');

    const kmsKeyId = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const enc = await create({ Encrypted: true, KmsKeyId: kmsKeyId });
    expect(enc).toMatchObject({ Encrypted: true, KmsKeyId: kmsKeyId });
    expect(await describeOne(enc.FileSystemId!)).toMatchObject({ Encrypted: true, KmsKeyId: kmsKeyId });
  });

  it('concurrent creates with one CreationToken make one file system; the others answer 409 naming it', async () => {
    const creationToken = token('race');
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => efs.send(new CreateFileSystemCommand({ CreationToken: creationToken }))));
    const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.FileSystemId] : []));
    expect(made).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(FileSystemAlreadyExists);
        expect((r.reason as FileSystemAlreadyExists).FileSystemId).toBe(made[0]);
      }
    }
    const byToken = await efs.send(new DescribeFileSystemsCommand({ CreationToken: creationToken }));
    expect(byToken.FileSystems!.map((f) => f.FileSystemId)).toEqual(made);
  });

  it('One Zone: AvailabilityZoneName is kept, backups default to on, maxIO is refused', async () => {
    const fs = await create({ AvailabilityZoneName: 'us-east-1a' });
    expect(fs.AvailabilityZoneName).toBe('us-east-1a');
    expect(typeof fs.AvailabilityZoneId).toBe('string');
    expect((await describeOne(fs.FileSystemId!)).AvailabilityZoneName).toBe('us-east-1a');
    expect((await efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fs.FileSystemId }))).BackupPolicy?.Status).toBe('ENABLED');
    await expectError(create({ AvailabilityZoneName: 'us-east-1a', PerformanceMode: 'maxIO' }), BadRequest, 400);
  });

  describe('rejects invalid requests with 400 BadRequest', () => {
    const cases: [string, Partial<CreateFileSystemCommandInput>][] = [
      ['KmsKeyId without Encrypted', { KmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab' }],
      ['KmsKeyId with Encrypted=false', { Encrypted: false, KmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab' }],
      ['provisioned without ProvisionedThroughputInMibps', { ThroughputMode: 'provisioned' }],
      ['maxIO with elastic throughput', { PerformanceMode: 'maxIO', ThroughputMode: 'elastic' }],
      ['an unknown PerformanceMode', { PerformanceMode: 'fast' as 'maxIO' }],
      ['an unknown ThroughputMode', { ThroughputMode: 'turbo' as 'elastic' }],
      ['a CreationToken of 65 characters', { CreationToken: 'x'.repeat(65) }],
      ['a tag key starting with aws:', { Tags: [{ Key: 'aws:owner', Value: 'me' }] }],
      ['a tag key starting with AWS: in capitals', { Tags: [{ Key: 'AWS:owner', Value: 'me' }] }],
      ['a tag key of 129 characters', { Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] }],
      ['a tag value of 257 characters', { Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }],
      ['a tag key with a forbidden character', { Tags: [{ Key: 'bad#key', Value: 'v' }] }],
      ['an empty tag key', { Tags: [{ Key: '', Value: 'v' }] }],
      ['51 tags', { Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }],
    ];
    for (const [what, input] of cases) {
      it(what, async () => {
        const creationToken = input.CreationToken ?? token('bad');
        await expectError(efs.send(new CreateFileSystemCommand({ ...input, CreationToken: creationToken })), BadRequest, 400);
        // nothing was created
        if (creationToken.length <= 64) {
          expect((await efs.send(new DescribeFileSystemsCommand({ CreationToken: creationToken }))).FileSystems).toEqual([]);
        }
      });
    }

    it('accepts the limits themselves: 50 tags, a 128-character key, a 256-character value, an empty value', async () => {
      const tags = Array.from({ length: 47 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      tags.push({ Key: 'K'.repeat(128), Value: 'v' }, { Key: 'long', Value: 'V'.repeat(256) }, { Key: 'empty', Value: '' });
      const fs = await create({ Tags: tags, CreationToken: 'c'.repeat(64) });
      expect(fs.Tags).toHaveLength(50);
    });
  });
});

describe('DescribeFileSystems', () => {
  it('takes the id or the ARN', async () => {
    const fs = await create();
    expect((await describeOne(fs.FileSystemId!)).FileSystemId).toBe(fs.FileSystemId);
    expect((await describeOne(fs.FileSystemArn!)).FileSystemId).toBe(fs.FileSystemId);
  });

  it('an unknown id answers 404 FileSystemNotFound; an unknown CreationToken an empty list', async () => {
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsArn(NO_FS) })), FileSystemNotFound, 404);
    const out = await efs.send(new DescribeFileSystemsCommand({ CreationToken: token('never-used') }));
    expect(out.FileSystems).toEqual([]);
  });

  it('an ARN of another account or region names another file system: 404 FileSystemNotFound', async () => {
    const fs = await create();
    const id = fs.FileSystemId!;
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsArn(id, '999999999999') })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: `arn:aws:elasticfilesystem:eu-west-1:${ACCOUNT}:file-system/${id}` })), FileSystemNotFound, 404);
    await expectError(efs.send(new DeleteFileSystemCommand({ FileSystemId: fsArn(id, '999999999999') })), FileSystemNotFound, 404);
    expect((await describeOne(id)).LifeCycleState).toBe('available');
  });

  it('CreationToken and FileSystemId together answer 400 BadRequest', async () => {
    const fs = await create();
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: fs.FileSystemId, CreationToken: fs.CreationToken })), BadRequest, 400);
  });

  it('pages with MaxItems and Marker/NextMarker, and through the SDK paginator', async () => {
    for (let i = 0; i < 5; i++) await create();
    const everything = (await efs.send(new DescribeFileSystemsCommand({}))).FileSystems!.map((f) => f.FileSystemId!);
    expect(everything.length).toBeGreaterThanOrEqual(6);
    expect(new Set(everything).size).toBe(everything.length);

    const paged: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await efs.send(new DescribeFileSystemsCommand({ MaxItems: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(out.FileSystems!.length).toBeLessThanOrEqual(2);
      if (marker) expect(out.Marker).toBe(marker);
      paged.push(...out.FileSystems!.map((f) => f.FileSystemId!));
      marker = out.NextMarker;
      pages++;
      expect(pages).toBeLessThan(100);
    } while (marker);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(paged.sort()).toEqual([...everything].sort());

    const viaPaginator: string[] = [];
    let paginatorPages = 0;
    for await (const page of paginateDescribeFileSystems({ client: efs, pageSize: 3 }, {})) {
      expect(page.FileSystems!.length).toBeLessThanOrEqual(3);
      viaPaginator.push(...page.FileSystems!.map((f) => f.FileSystemId!));
      paginatorPages++;
    }
    expect(paginatorPages).toBeGreaterThanOrEqual(2);
    expect(viaPaginator.sort()).toEqual([...everything].sort());
  });

  it('a garbage Marker answers 400 BadRequest', async () => {
    await expectError(efs.send(new DescribeFileSystemsCommand({ Marker: 'not-a-marker!!' })), BadRequest, 400);
  });
});

describe('UpdateFileSystem', () => {
  it('answers 202 with the new throughput settings, taking the id or the ARN', async () => {
    const fs = await create();
    const out = await efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 50 }));
    expect(out.$metadata.httpStatusCode).toBe(202);
    expect(out).toMatchObject({ FileSystemId: fs.FileSystemId, ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 50 });
    expect(await describeOne(fs.FileSystemId!)).toMatchObject({ ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 50 });
    // increases are allowed at any time
    const more = await efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemArn, ProvisionedThroughputInMibps: 100 }));
    expect(more.$metadata.httpStatusCode).toBe(202);
    expect((await describeOne(fs.FileSystemId!)).ProvisionedThroughputInMibps).toBe(100);
  });

  it('a second throughput-mode change within 24 hours answers 429 TooManyRequests and changes nothing', async () => {
    const fs = await create();
    await efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ThroughputMode: 'elastic' }));
    await expectError(efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ThroughputMode: 'bursting' })), TooManyRequests, 429);
    expect((await describeOne(fs.FileSystemId!)).ThroughputMode).toBe('elastic');
  });

  it('a provisioned decrease right after a mode change answers 429 TooManyRequests', async () => {
    const fs = await create();
    await efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ThroughputMode: 'provisioned', ProvisionedThroughputInMibps: 64 }));
    await expectError(efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ProvisionedThroughputInMibps: 32 })), TooManyRequests, 429);
    expect((await describeOne(fs.FileSystemId!)).ProvisionedThroughputInMibps).toBe(64);
  });

  it('an unknown file system answers 404 FileSystemNotFound; provisioned without a rate 400 BadRequest', async () => {
    await expectError(efs.send(new UpdateFileSystemCommand({ FileSystemId: NO_FS, ThroughputMode: 'elastic' })), FileSystemNotFound, 404);
    const fs = await create();
    await expectError(efs.send(new UpdateFileSystemCommand({ FileSystemId: fs.FileSystemId, ThroughputMode: 'provisioned' })), BadRequest, 400);
    expect((await describeOne(fs.FileSystemId!)).ThroughputMode).toBe('bursting');
  });
});

describe('DeleteFileSystem', () => {
  it('answers 204; the file system is gone, its access points too, and its CreationToken is free again', async () => {
    const fs = await create();
    const ap = await efs.send(new CreateAccessPointCommand({ FileSystemId: fs.FileSystemId, ClientToken: token('ap') }));
    const out = await efs.send(new DeleteFileSystemCommand({ FileSystemId: fs.FileSystemId }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: fs.FileSystemId })), FileSystemNotFound, 404);
    expect(await allIds()).not.toContain(fs.FileSystemId);
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: ap.AccessPointId })), AccessPointNotFound, 404);
    const all = await efs.send(new DescribeAccessPointsCommand({}));
    expect(all.AccessPoints!.map((a) => a.AccessPointId)).not.toContain(ap.AccessPointId);
    // the token can be used again
    const again = await create({ CreationToken: fs.CreationToken });
    expect(again.FileSystemId).not.toBe(fs.FileSystemId);
  });

  it('takes the ARN; a second delete answers 404 FileSystemNotFound', async () => {
    const fs = await create();
    await efs.send(new DeleteFileSystemCommand({ FileSystemId: fs.FileSystemArn }));
    expect(await allIds()).not.toContain(fs.FileSystemId);
    await expectError(efs.send(new DeleteFileSystemCommand({ FileSystemId: fs.FileSystemId })), FileSystemNotFound, 404);
  });
});
