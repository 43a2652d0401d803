import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessPointLimitExceeded,
  AccessPointAlreadyExists,
  AccessPointNotFound,
  BadRequest,
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  DeleteAccessPointCommand,
  DescribeAccessPointsCommand,
  FileSystemNotFound,
  paginateDescribeAccessPoints,
  type AccessPointDescription,
  type CreateAccessPointCommandInput,
  type EFSClient,
} from '@aws-sdk/client-efs';
import * as N from '../../src/xdr/gen/nfs4.js';
import { emptyConfig } from '../../src/model/config.js';
import { FATTR, type NfsClient } from '../../src/client/nfs-client.js';
import {
  ACCOUNT,
  AP_ID,
  NO_AP,
  NO_FS,
  REGION,
  apArn,
  caFileOf,
  closeAll,
  efsClient,
  expectError,
  fsArn,
  nfsClient,
  nfsStatus,
  startApiServer,
  token,
  type ApiTestServer,
} from './api-helpers.js';

// Access points through the EFS management API (real AWS SDK), and their
// effect on the NFS side: an access point made through the API can be
// mounted at once over TLS with an efs-utils client certificate.
//
// The quota of 10,000 access points per file system is reached through
// --config (10,000 declared access points), as 10,000 creates would take
// longer than the suite may.

let ts: ApiTestServer;
let efs: EFSClient;
/** A file system made through the API for these tests. */
let fsId: string;
const clients: NfsClient[] = [];

beforeAll(async () => {
  ts = await startApiServer();
  efs = efsClient(ts);
  fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('ap-fs') }))).FileSystemId!;
});
afterEach(async () => {
  await closeAll(clients);
});
afterAll(async () => {
  efs?.destroy();
  await ts?.cleanup();
});

function create(input: Partial<CreateAccessPointCommandInput> = {}): Promise<AccessPointDescription> {
  return efs.send(new CreateAccessPointCommand({ ClientToken: token('ap'), FileSystemId: fsId, ...input }));
}

async function describeOne(idOrArn: string): Promise<AccessPointDescription> {
  const out = await efs.send(new DescribeAccessPointsCommand({ AccessPointId: idOrArn }));
  expect(out.AccessPoints).toHaveLength(1);
  return out.AccessPoints![0]!;
}

describe('CreateAccessPoint', () => {
  it('answers with a creating access point that then describes as available, with everything it was given', async () => {
    const clientToken = token('full');
    const out = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: clientToken,
        FileSystemId: fsId,
        PosixUser: { Uid: 1001, Gid: 1002, SecondaryGids: [5, 6] },
        RootDirectory: { Path: '/apps/one', CreationInfo: { OwnerUid: 1001, OwnerGid: 1002, Permissions: '0750' } },
        Tags: [
          { Key: 'Name', Value: 'app one' },
          { Key: 'tier', Value: 'web' },
        ],
      }),
    );
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.LifeCycleState).toBe('creating');
    expect(out.AccessPointId).toMatch(AP_ID);
    const id = out.AccessPointId!;
    const expected = {
      AccessPointId: id,
      AccessPointArn: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:access-point/${id}`,
      ClientToken: clientToken,
      FileSystemId: fsId,
      OwnerId: ACCOUNT,
      Name: 'app one',
      PosixUser: { Uid: 1001, Gid: 1002, SecondaryGids: [5, 6] },
      RootDirectory: { Path: '/apps/one', CreationInfo: { OwnerUid: 1001, OwnerGid: 1002, Permissions: '0750' } },
    };
    expect(out).toMatchObject(expected);
    expect(out.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Name', Value: 'app one' },
        { Key: 'tier', Value: 'web' },
      ]),
    );
    const described = await describeOne(id);
    expect(described).toMatchObject({ ...expected, LifeCycleState: 'available' });
    expect(described.Tags).toHaveLength(2);
  });

  it('without a RootDirectory reports Path "/", and without a Name tag no Name', async () => {
    const ap = await create();
    expect(ap.RootDirectory?.Path).toBe('/');
    expect(ap.Name).toBeUndefined();
    expect(ap.PosixUser).toBeUndefined();
    expect((await describeOne(ap.AccessPointId!)).RootDirectory?.Path).toBe('/');
  });

  it('takes the file system ARN and reports the bare id', async () => {
    const ap = await create({ FileSystemId: fsArn(fsId) });
    expect(ap.FileSystemId).toBe(fsId);
  });

  it('reusing a ClientToken answers 409 AccessPointAlreadyExists naming the existing access point', async () => {
    const clientToken = token('dup');
    const first = await create({ ClientToken: clientToken });
    const err = await expectError(create({ ClientToken: clientToken, RootDirectory: { Path: '/other' } }), AccessPointAlreadyExists, 409);
    expect(err.AccessPointId).toBe(first.AccessPointId);
    const onFs = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }));
    expect(onFs.AccessPoints!.filter((a) => a.ClientToken === clientToken)).toHaveLength(1);
  });

  it('concurrent creates with one ClientToken make one access point; the others answer 409 naming it', async () => {
    const clientToken = token('race');
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => create({ ClientToken: clientToken })));
    const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.AccessPointId] : []));
    expect(made).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(AccessPointAlreadyExists);
        expect((r.reason as AccessPointAlreadyExists).AccessPointId).toBe(made[0]);
      }
    }
    const onFs = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }));
    expect(onFs.AccessPoints!.filter((a) => a.ClientToken === clientToken).map((a) => a.AccessPointId)).toEqual(made);
  });

  it('an unknown file system answers 404 FileSystemNotFound', async () => {
    await expectError(create({ FileSystemId: NO_FS }), FileSystemNotFound, 404);
    await expectError(create({ FileSystemId: fsArn(NO_FS) }), FileSystemNotFound, 404);
  });

  it('accepts the edges of the ranges: uid/gid 0 and 4294967295, 16 secondary gids, a 4-component path, 3- and 4-digit modes', async () => {
    const ap = await create({
      PosixUser: { Uid: 4294967295, Gid: 0, SecondaryGids: Array.from({ length: 16 }, (_, i) => i) },
      RootDirectory: { Path: '/a/b.c/d-e_f/g h', CreationInfo: { OwnerUid: 0, OwnerGid: 4294967295, Permissions: '755' } },
    });
    expect(ap.PosixUser).toEqual({ Uid: 4294967295, Gid: 0, SecondaryGids: Array.from({ length: 16 }, (_, i) => i) });
    expect(ap.RootDirectory).toEqual({ Path: '/a/b.c/d-e_f/g h', CreationInfo: { OwnerUid: 0, OwnerGid: 4294967295, Permissions: '755' } });
    const ap2 = await create({ RootDirectory: { Path: '/x', CreationInfo: { OwnerUid: 1, OwnerGid: 1, Permissions: '1777' } } });
    expect(ap2.RootDirectory?.CreationInfo?.Permissions).toBe('1777');
  });

  describe('rejects invalid fields with 400 BadRequest', () => {
    const ci = { OwnerUid: 1000, OwnerGid: 1000, Permissions: '755' };
    const cases: [string, Partial<CreateAccessPointCommandInput>][] = [
      ['a relative path', { RootDirectory: { Path: 'data' } }],
      ['a trailing slash', { RootDirectory: { Path: '/data/' } }],
      ['an empty component', { RootDirectory: { Path: '/a//b' } }],
      ['a component starting with a dot', { RootDirectory: { Path: '/.hidden' } }],
      ['.. as a component', { RootDirectory: { Path: '/a/../b' } }],
      ['five components', { RootDirectory: { Path: '/a/b/c/d/e' } }],
      ['a dollar sign', { RootDirectory: { Path: '/a$b' } }],
      ['a semicolon', { RootDirectory: { Path: '/a;b' } }],
      ['a backtick', { RootDirectory: { Path: '/a`b' } }],
      ['an asterisk', { RootDirectory: { Path: '/a*' } }],
      ['a newline', { RootDirectory: { Path: '/a\nb' } }],
      ['a path of 101 characters', { RootDirectory: { Path: '/' + 'p'.repeat(100) } }],
      ['Permissions 999', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, Permissions: '999' } } }],
      ['Permissions of 2 digits', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, Permissions: '75' } } }],
      ['Permissions of 5 digits', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, Permissions: '07555' } } }],
      ['symbolic Permissions', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, Permissions: 'rwx' } } }],
      ['CreationInfo without Permissions', { RootDirectory: { Path: '/p', CreationInfo: { OwnerUid: 1, OwnerGid: 1 } as typeof ci } }],
      ['CreationInfo without OwnerGid', { RootDirectory: { Path: '/p', CreationInfo: { OwnerUid: 1, Permissions: '755' } as typeof ci } }],
      ['CreationInfo with a negative OwnerUid', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, OwnerUid: -1 } } }],
      ['CreationInfo with OwnerGid 2^32', { RootDirectory: { Path: '/p', CreationInfo: { ...ci, OwnerGid: 4294967296 } } }],
      ['a negative Uid', { PosixUser: { Uid: -1, Gid: 1 } }],
      ['Uid 2^32', { PosixUser: { Uid: 4294967296, Gid: 1 } }],
      ['Gid 2^32', { PosixUser: { Uid: 1, Gid: 4294967296 } }],
      ['a fractional Uid', { PosixUser: { Uid: 1.5, Gid: 1 } }],
      ['PosixUser without Gid', { PosixUser: { Uid: 1 } as { Uid: number; Gid: number } }],
      ['17 secondary gids', { PosixUser: { Uid: 1, Gid: 1, SecondaryGids: Array.from({ length: 17 }, (_, i) => i) } }],
      ['a secondary gid of 2^32', { PosixUser: { Uid: 1, Gid: 1, SecondaryGids: [4294967296] } }],
      ['a tag key starting with aws:', { Tags: [{ Key: 'aws:x', Value: 'y' }] }],
      ['51 tags', { Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }],
      ['a ClientToken of 65 characters', { ClientToken: 'c'.repeat(65) }],
    ];
    for (const [what, input] of cases) {
      it(what, async () => {
        const before = (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }))).AccessPoints!.length;
        await expectError(create(input), BadRequest, 400);
        expect((await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }))).AccessPoints).toHaveLength(before);
      });
    }
  });
});

describe('DescribeAccessPoints', () => {
  it('by id or ARN; by file system (id or ARN) lists only that file system; with neither lists all', async () => {
    const mine = await create({ Tags: [{ Key: 'Name', Value: 'mine' }] });
    const onDefault = await create({ FileSystemId: ts.fileSystemId });
    expect((await describeOne(mine.AccessPointArn!)).AccessPointId).toBe(mine.AccessPointId);
    expect((await describeOne(apArn(mine.AccessPointId!))).Name).toBe('mine');

    const forFs = (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }))).AccessPoints!;
    expect(forFs.map((a) => a.AccessPointId)).toContain(mine.AccessPointId);
    expect(forFs.map((a) => a.AccessPointId)).not.toContain(onDefault.AccessPointId);
    expect(forFs.every((a) => a.FileSystemId === fsId)).toBe(true);
    const forArn = (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsArn(fsId) }))).AccessPoints!;
    expect(forArn.map((a) => a.AccessPointId).sort()).toEqual(forFs.map((a) => a.AccessPointId).sort());

    const all = (await efs.send(new DescribeAccessPointsCommand({}))).AccessPoints!.map((a) => a.AccessPointId);
    expect(all).toEqual(expect.arrayContaining([mine.AccessPointId, onDefault.AccessPointId]));
  });

  it('both AccessPointId and FileSystemId answer 400 BadRequest', async () => {
    const ap = await create();
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: ap.AccessPointId, FileSystemId: fsId })), BadRequest, 400);
  });

  it('an ARN of another account names another access point: 404 AccessPointNotFound', async () => {
    const real = await create();
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: apArn(real.AccessPointId!, '999999999999') })), AccessPointNotFound, 404);
    await expectError(efs.send(new DeleteAccessPointCommand({ AccessPointId: apArn(real.AccessPointId!, '999999999999') })), AccessPointNotFound, 404);
    expect((await describeOne(real.AccessPointId!)).LifeCycleState).toBe('available');
  });

  it('an unknown access point answers 404 AccessPointNotFound; an unknown file system 404 FileSystemNotFound', async () => {
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: NO_AP })), AccessPointNotFound, 404);
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: apArn(NO_AP) })), AccessPointNotFound, 404);
    await expectError(efs.send(new DescribeAccessPointsCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
  });

  it('pages with MaxResults and NextToken, and through the SDK paginator', async () => {
    const own = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('paging') }))).FileSystemId!;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await create({ FileSystemId: own })).AccessPointId!);

    const paged: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const out = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: own, MaxResults: 2, ...(next ? { NextToken: next } : {}) }));
      expect(out.AccessPoints!.length).toBeLessThanOrEqual(2);
      paged.push(...out.AccessPoints!.map((a) => a.AccessPointId!));
      next = out.NextToken;
      pages++;
      expect(pages).toBeLessThan(20);
    } while (next);
    expect(pages).toBe(3);
    expect(paged.sort()).toEqual([...made].sort());

    const viaPaginator: string[] = [];
    for await (const page of paginateDescribeAccessPoints({ client: efs, pageSize: 2 }, { FileSystemId: own })) {
      viaPaginator.push(...page.AccessPoints!.map((a) => a.AccessPointId!));
    }
    expect(viaPaginator.sort()).toEqual([...made].sort());

    // all access points of the account, a page at a time
    const everything = (await efs.send(new DescribeAccessPointsCommand({}))).AccessPoints!.map((a) => a.AccessPointId!);
    const allPaged: string[] = [];
    for await (const page of paginateDescribeAccessPoints({ client: efs, pageSize: 3 }, {})) allPaged.push(...page.AccessPoints!.map((a) => a.AccessPointId!));
    expect(allPaged.sort()).toEqual(everything.sort());
  });

  it('a garbage NextToken answers 400 BadRequest', async () => {
    await expectError(efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId, NextToken: 'garbage-token!!' })), BadRequest, 400);
  });
});

describe('DeleteAccessPoint', () => {
  it('answers 204, takes the ARN, and a second delete answers 404 AccessPointNotFound', async () => {
    const a = await create();
    const out = await efs.send(new DeleteAccessPointCommand({ AccessPointId: a.AccessPointId }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    await expectError(efs.send(new DescribeAccessPointsCommand({ AccessPointId: a.AccessPointId })), AccessPointNotFound, 404);
    await expectError(efs.send(new DeleteAccessPointCommand({ AccessPointId: a.AccessPointId })), AccessPointNotFound, 404);

    const b = await create();
    await efs.send(new DeleteAccessPointCommand({ AccessPointId: b.AccessPointArn }));
    const left = (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }))).AccessPoints!.map((x) => x.AccessPointId);
    expect(left).not.toContain(b.AccessPointId);
    // its ClientToken is free again
    const again = await create({ ClientToken: b.ClientToken });
    expect(again.AccessPointId).not.toBe(b.AccessPointId);
  });
});

describe('access points made through the API serve NFS at once', () => {
  it('mounts over TLS with an efs-utils certificate: root made with CreationInfo, requests run as the PosixUser', async () => {
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: token('mount'),
        FileSystemId: ts.fileSystemId,
        PosixUser: { Uid: 1001, Gid: 1002 },
        RootDirectory: { Path: '/api/app', CreationInfo: { OwnerUid: 1001, OwnerGid: 1002, Permissions: '0750' } },
      }),
    );
    const c = await nfsClient(ts.host, ts.port, clients, { uid: 0, tls: { caFile: caFileOf(ts), fsId: ts.fileSystemId, accessPoint: ap.AccessPointId } });
    await c.writeFile('/hello.txt', Buffer.from('through the API access point'));
    const attrs = await c.getattr('/hello.txt', [FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect([attrs.owner, attrs.owner_group]).toEqual(['1001', '1002']);

    const full = await nfsClient(ts.host, ts.port, clients);
    expect((await full.readFile('/api/app/hello.txt')).toString()).toBe('through the API access point');
    const root = await full.getattr('/api/app', [FATTR.OWNER, FATTR.OWNER_GROUP, FATTR.MODE]);
    expect([root.owner, root.owner_group, root.mode]).toEqual(['1001', '1002', 0o750]);
  });

  it('a deleted access point can no longer be mounted; a client already mounted through it keeps working', async () => {
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: token('gone'),
        FileSystemId: ts.fileSystemId,
        RootDirectory: { Path: '/api/gone', CreationInfo: { OwnerUid: 0, OwnerGid: 0, Permissions: '755' } },
      }),
    );
    const before = await nfsClient(ts.host, ts.port, clients, { tls: { caFile: caFileOf(ts), fsId: ts.fileSystemId, accessPoint: ap.AccessPointId } });
    expect((await before.rootFh()).length).toBeGreaterThan(0);
    await efs.send(new DeleteAccessPointCommand({ AccessPointId: ap.AccessPointId }));
    const status = await nfsStatus(
      (async () => {
        const c = await nfsClient(ts.host, ts.port, clients, { tls: { caFile: caFileOf(ts), fsId: ts.fileSystemId, accessPoint: ap.AccessPointId } });
        await c.rootFh();
      })(),
    ).catch(() => 'connection refused');
    expect(status).not.toBe(N.NFS4_OK);
    await before.writeFile('/still-here.txt', Buffer.from('mounted before the delete'));
    expect((await before.readFile('/still-here.txt')).toString()).toBe('mounted before the delete');
  });
});

describe('the access point quota', () => {
  it('10,000 access points on a file system: the next CreateAccessPoint answers 403 AccessPointLimitExceeded; another file system is not affected', async () => {
    const config = emptyConfig();
    for (let i = 0; i < 10_000; i++) config.accessPoints.push({ name: `quota-${i}`, rootDirectory: { path: '/' }, tags: [] });
    const full = await startApiServer({ config });
    const client = efsClient(full);
    try {
      const listed = await client.send(new DescribeAccessPointsCommand({ FileSystemId: full.fileSystemId, MaxResults: 10_000 }));
      expect(listed.AccessPoints).toHaveLength(10_000);
      await expectError(
        client.send(new CreateAccessPointCommand({ ClientToken: token('over'), FileSystemId: full.fileSystemId })),
        AccessPointLimitExceeded,
        403,
      );
      const other = (await client.send(new CreateFileSystemCommand({ CreationToken: token('quota-other') }))).FileSystemId!;
      const ap = await client.send(new CreateAccessPointCommand({ ClientToken: token('ok'), FileSystemId: other }));
      expect(ap.AccessPointId).toMatch(AP_ID);
    } finally {
      client.destroy();
      await full.cleanup();
    }
  });
});
