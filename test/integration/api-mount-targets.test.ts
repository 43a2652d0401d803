import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BadRequest,
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DeleteFileSystemCommand,
  DeleteMountTargetCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetSecurityGroupsCommand,
  DescribeMountTargetsCommand,
  FileSystemInUse,
  FileSystemNotFound,
  IpAddressInUse,
  ModifyMountTargetSecurityGroupsCommand,
  MountTargetConflict,
  MountTargetNotFound,
  AccessPointNotFound,
  SecurityGroupLimitExceeded,
  SecurityGroupNotFound,
  SubnetNotFound,
  type CreateMountTargetCommandInput,
  type EFSClient,
  type MountTargetDescription,
} from '@aws-sdk/client-efs';
import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, EC2Client } from '@aws-sdk/client-ec2';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR, type NfsClient } from '../../src/client/nfs-client.js';
import {
  ACCOUNT,
  MT_ID,
  NO_AP,
  REGION,
  TEST_KEYS,
  NO_FS,
  NO_MT,
  SUBNET_A,
  SUBNET_B,
  SUBNET_C,
  SUBNET_D,
  caFileOf,
  closeAll,
  efsClient,
  expectError,
  fsArn,
  nfsClient,
  nfsStatus,
  startApiServer,
  tcpProbe,
  token,
  type ApiTestServer,
} from './api-helpers.js';

// Mount targets through the EFS management API (real AWS SDK). A mount
// target is a real NFS listener on its IpAddress at the server's NFS port.

let ts: ApiTestServer;
let efs: EFSClient;
/** A file system made through the API, with a mount target on 127.0.0.5 (made by the first test). */
let fsA: string;
let mtA: MountTargetDescription & { $metadata: { httpStatusCode?: number } };
/** Security groups made through the EC2 API (mount targets may name only groups that exist), admitting NFS from loopback. */
let sg0: string;
let sgPair: string[];
const clients: NfsClient[] = [];

beforeAll(async () => {
  ts = await startApiServer();
  efs = efsClient(ts);
  fsA = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('mt-a') }))).FileSystemId!;
  const ec2 = new EC2Client({ endpoint: ts.apiEndpoint, region: REGION, credentials: TEST_KEYS, maxAttempts: 1 });
  const group = async (name: string) => {
    const GroupId = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name }))).GroupId!;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, IpRanges: [{ CidrIp: '127.0.0.0/8' }] }] }));
    return GroupId;
  };
  sg0 = await group('mt-sg0');
  sgPair = [await group('mt-sg1'), await group('mt-sg2')];
  ec2.destroy();
});
afterEach(async () => {
  await closeAll(clients);
});
afterAll(async () => {
  efs?.destroy();
  await ts?.cleanup();
});

const newFs = async (): Promise<string> => (await efs.send(new CreateFileSystemCommand({ CreationToken: token('mt') }))).FileSystemId!;

const createMt = (input: Partial<CreateMountTargetCommandInput>) =>
  efs.send(new CreateMountTargetCommand({ FileSystemId: fsA, SubnetId: SUBNET_A, ...input }));

async function mountTargetsOf(fsId: string): Promise<MountTargetDescription[]> {
  return (await efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }))).MountTargets!;
}

const mountTargetCount = async (fsId: string): Promise<number | undefined> =>
  (await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }))).FileSystems![0]!.NumberOfMountTargets;

describe('the default file system', () => {
  it('has one mount target, on 127.0.0.1', async () => {
    const mts = await mountTargetsOf(ts.fileSystemId);
    expect(mts).toHaveLength(1);
    expect(mts[0]).toMatchObject({ FileSystemId: ts.fileSystemId, IpAddress: '127.0.0.1', LifeCycleState: 'available', OwnerId: ACCOUNT });
    expect(mts[0]!.MountTargetId).toMatch(/^fsmt-[0-9a-f]{8,40}$/);
    expect(await tcpProbe('127.0.0.1', ts.port)).toBe('open');
  });
});

describe('CreateMountTarget', () => {
  it('answers with a creating mount target that then describes as available, and listens on its address', async () => {
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('refused');
    mtA = await createMt({ IpAddress: '127.0.0.5', SecurityGroups: [sg0] });
    expect(mtA.$metadata.httpStatusCode).toBe(200);
    expect(mtA).toMatchObject({ FileSystemId: fsA, SubnetId: SUBNET_A, IpAddress: '127.0.0.5', LifeCycleState: 'creating', OwnerId: ACCOUNT });
    expect(mtA.MountTargetId).toMatch(MT_ID);
    const described = (await efs.send(new DescribeMountTargetsCommand({ MountTargetId: mtA.MountTargetId }))).MountTargets!;
    expect(described).toHaveLength(1);
    expect(described[0]).toMatchObject({ MountTargetId: mtA.MountTargetId, FileSystemId: fsA, SubnetId: SUBNET_A, IpAddress: '127.0.0.5', LifeCycleState: 'available' });
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('open');
    expect(await mountTargetCount(fsA)).toBe(1);
  });

  it('serves its own file system over NFS: empty at first, and not the default one', async () => {
    const viaMt = await nfsClient('127.0.0.5', ts.port, clients);
    expect(await viaMt.readdir('/')).toEqual([]);
    await viaMt.writeFile('/only-in-a.txt', Buffer.from('file system A'));
    expect((await viaMt.readFile('/only-in-a.txt')).toString()).toBe('file system A');

    const viaDefault = await nfsClient(ts.host, ts.port, clients);
    await viaDefault.writeFile('/only-in-default.txt', Buffer.from('default'));
    expect((await viaDefault.readdir('/')).map((e) => e.name)).not.toContain('only-in-a.txt');
    expect((await viaMt.readdir('/')).map((e) => e.name)).toEqual(['only-in-a.txt']);
  });

  it('a second mount target of the same file system in the same subnet (Availability Zone) answers 409 MountTargetConflict', async () => {
    await expectError(createMt({ SubnetId: SUBNET_A, IpAddress: '127.0.0.6' }), MountTargetConflict, 409);
    expect(await tcpProbe('127.0.0.6', ts.port)).toBe('refused');
    expect(await mountTargetsOf(fsA)).toHaveLength(1);
  });

  it('an address another mount target uses answers 409 IpAddressInUse', async () => {
    const other = await newFs();
    await expectError(createMt({ FileSystemId: other, IpAddress: '127.0.0.5' }), IpAddressInUse, 409);
    await expectError(createMt({ FileSystemId: other, IpAddress: '127.0.0.1' }), IpAddressInUse, 409);
    expect(await mountTargetsOf(other)).toEqual([]);
  });

  it('an address the machine does not have answers 400 BadRequest', async () => {
    await expectError(createMt({ SubnetId: SUBNET_B, IpAddress: '192.0.2.10' }), BadRequest, 400);
    expect(await mountTargetsOf(fsA)).toHaveLength(1);
  });

  it('subnets and security groups: malformed ids, too many groups', async () => {
    await expectError(createMt({ SubnetId: 'subnet-0123456789abcdefg', IpAddress: '127.0.0.6' }), SubnetNotFound, 400);
    await expectError(createMt({ SubnetId: 'subnet-ZZZZZZZZZZZZZZZZZ', IpAddress: '127.0.0.6' }), SubnetNotFound, 400);
    await expectError(createMt({ SubnetId: 'vpc-0123456789abcdef0', IpAddress: '127.0.0.6' }), SubnetNotFound, 400);
    // shorter than the model's minimum of 15 characters: the request itself is malformed, BadRequest
    // (efs-behaviour.md 1.7: pattern/length violation), before any subnet is looked up
    await expectError(createMt({ SubnetId: 'subnet-1234', IpAddress: '127.0.0.6' }), BadRequest, 400);
    await expectError(createMt({ SubnetId: SUBNET_B, IpAddress: '127.0.0.6', SecurityGroups: ['sg-bad'] }), SecurityGroupNotFound, 400);
    const six = Array.from({ length: 6 }, (_, i) => `sg-0123456789abcdef${i}`);
    await expectError(createMt({ SubnetId: SUBNET_B, IpAddress: '127.0.0.6', SecurityGroups: six }), SecurityGroupLimitExceeded, 400);
    expect(await mountTargetsOf(fsA)).toHaveLength(1);
    expect(await tcpProbe('127.0.0.6', ts.port)).toBe('refused');
  });

  it('an unknown file system answers 404 FileSystemNotFound', async () => {
    await expectError(createMt({ FileSystemId: NO_FS, IpAddress: '127.0.0.6' }), FileSystemNotFound, 404);
  });

  it('takes the file system ARN', async () => {
    const fs = await newFs();
    const mt = await createMt({ FileSystemId: fsArn(fs), SubnetId: SUBNET_B, IpAddress: '127.0.0.7' });
    expect(mt.FileSystemId).toBe(fs);
    expect(await tcpProbe('127.0.0.7', ts.port)).toBe('open');
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId }));
    expect(await tcpProbe('127.0.0.7', ts.port)).toBe('refused');
  });
});

describe('mount targets and the file systems behind them', () => {
  it('concurrent creates on one address: one mount target listens, the others answer 409 IpAddressInUse', async () => {
    const systems = [await newFs(), await newFs(), await newFs(), await newFs()];
    const results = await Promise.allSettled(systems.map((fs) => createMt({ FileSystemId: fs, SubnetId: SUBNET_C, IpAddress: '127.0.0.11' })));
    const made = results.filter((r) => r.status === 'fulfilled');
    expect(made).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(IpAddressInUse);
    expect(await tcpProbe('127.0.0.11', ts.port)).toBe('open');
    const counts = await Promise.all(systems.map((fs) => mountTargetsOf(fs)));
    expect(counts.map((m) => m.length).sort()).toEqual([0, 0, 0, 1]);
    const mt = counts.flat()[0]!;
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId }));
    expect(await tcpProbe('127.0.0.11', ts.port)).toBe('refused');
  });

  it('concurrent creates of one file system in one subnet: one mount target, the others answer 409 MountTargetConflict', async () => {
    const fs = await newFs();
    const ips = ['127.0.0.14', '127.0.0.15', '127.0.0.16'];
    const results = await Promise.allSettled(ips.map((ip) => createMt({ FileSystemId: fs, SubnetId: SUBNET_D, IpAddress: ip })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(MountTargetConflict);
    const probes = await Promise.all(ips.map((ip) => tcpProbe(ip, ts.port)));
    expect(probes.sort()).toEqual(['open', 'refused', 'refused']);
    const [mt] = await mountTargetsOf(fs);
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt!.MountTargetId }));
  });

  it('DeleteFileSystem racing CreateMountTarget never leaves a mount target without its file system', async () => {
    for (let round = 0; round < 5; round++) {
      const fs = await newFs();
      const [mt, del] = await Promise.allSettled([
        createMt({ FileSystemId: fs, SubnetId: SUBNET_A, IpAddress: '127.0.0.17' }),
        efs.send(new DeleteFileSystemCommand({ FileSystemId: fs })),
      ]);
      expect(mt!.status === 'fulfilled' && del!.status === 'fulfilled').toBe(false);
      if (mt!.status === 'fulfilled') {
        expect(del!.status === 'rejected' && (del as PromiseRejectedResult).reason).toBeInstanceOf(FileSystemInUse);
        expect(await tcpProbe('127.0.0.17', ts.port)).toBe('open');
        await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt!.value.MountTargetId }));
        await efs.send(new DeleteFileSystemCommand({ FileSystemId: fs }));
      } else {
        expect(mt!.reason).toBeInstanceOf(FileSystemNotFound);
      }
      expect(await tcpProbe('127.0.0.17', ts.port)).toBe('refused');
    }
  });

  it('an access point of a file system made through the API mounts over TLS through that file system\'s mount target, and not through another one', async () => {
    const fs = await newFs();
    await createMt({ FileSystemId: fs, SubnetId: SUBNET_B, IpAddress: '127.0.0.12' });
    const other = await newFs();
    await createMt({ FileSystemId: other, SubnetId: SUBNET_B, IpAddress: '127.0.0.13' });
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: token('mt-tls'),
        FileSystemId: fs,
        PosixUser: { Uid: 2001, Gid: 2002 },
        RootDirectory: { Path: '/home/app', CreationInfo: { OwnerUid: 2001, OwnerGid: 2002, Permissions: '0755' } },
      }),
    );
    const c = await nfsClient('127.0.0.12', ts.port, clients, { tls: { caFile: caFileOf(ts), fsId: fs, accessPoint: ap.AccessPointId } });
    await c.writeFile('/via-ap.txt', Buffer.from('inside the access point'));
    const full = await nfsClient('127.0.0.12', ts.port, clients);
    expect((await full.readFile('/home/app/via-ap.txt')).toString()).toBe('inside the access point');
    expect((await full.getattr('/home/app/via-ap.txt', [FATTR.OWNER])).owner).toBe('2001');

    // the access point belongs to fs, not to the file system behind 127.0.0.13
    const status = await nfsStatus(
      (async () => {
        const wrong = await nfsClient('127.0.0.13', ts.port, clients, { tls: { caFile: caFileOf(ts), fsId: fs, accessPoint: ap.AccessPointId } });
        await wrong.readdir('/');
      })(),
    ).catch(() => 'connection refused');
    expect(status).not.toBe(N.NFS4_OK);
    const otherTree = await nfsClient('127.0.0.13', ts.port, clients);
    expect(await otherTree.readdir('/')).toEqual([]);
  });
});

describe('DescribeMountTargets', () => {
  it('by file system (id or ARN), by mount target, by access point; pages with MaxItems and Marker', async () => {
    const fs = await newFs();
    const made = [
      await createMt({ FileSystemId: fs, SubnetId: SUBNET_B, IpAddress: '127.0.0.8' }),
      await createMt({ FileSystemId: fs, SubnetId: SUBNET_C, IpAddress: '127.0.0.9' }),
      await createMt({ FileSystemId: fs, SubnetId: SUBNET_D, IpAddress: '127.0.0.10' }),
    ].map((m) => m.MountTargetId!);
    expect((await mountTargetsOf(fs)).map((m) => m.MountTargetId).sort()).toEqual([...made].sort());
    expect((await mountTargetsOf(fsArn(fs))).map((m) => m.MountTargetId).sort()).toEqual([...made].sort());
    expect(await mountTargetCount(fs)).toBe(3);

    const ap = await efs.send(new CreateAccessPointCommand({ ClientToken: token('mt-ap'), FileSystemId: fs }));
    const byAp = (await efs.send(new DescribeMountTargetsCommand({ AccessPointId: ap.AccessPointId }))).MountTargets!;
    expect(byAp.map((m) => m.MountTargetId).sort()).toEqual([...made].sort());
    const byApArn = (await efs.send(new DescribeMountTargetsCommand({ AccessPointId: ap.AccessPointArn }))).MountTargets!;
    expect(byApArn).toHaveLength(3);

    const paged: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await efs.send(new DescribeMountTargetsCommand({ FileSystemId: fs, MaxItems: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(out.MountTargets!.length).toBeLessThanOrEqual(2);
      paged.push(...out.MountTargets!.map((m) => m.MountTargetId!));
      marker = out.NextMarker;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (marker);
    expect(pages).toBe(2);
    expect(paged.sort()).toEqual([...made].sort());

    for (const id of made) await efs.send(new DeleteMountTargetCommand({ MountTargetId: id }));
    expect(await mountTargetsOf(fs)).toEqual([]);
  });

  it('with none of FileSystemId, MountTargetId, AccessPointId answers 400 BadRequest', async () => {
    await expectError(efs.send(new DescribeMountTargetsCommand({})), BadRequest, 400);
  });

  it('unknown ids answer 404 with the matching error', async () => {
    await expectError(efs.send(new DescribeMountTargetsCommand({ MountTargetId: NO_MT })), MountTargetNotFound, 404);
    await expectError(efs.send(new DescribeMountTargetsCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
    await expectError(efs.send(new DescribeMountTargetsCommand({ AccessPointId: NO_AP })), AccessPointNotFound, 404);
  });

  it('a garbage Marker answers 400 BadRequest', async () => {
    await expectError(efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsA, Marker: '%%garbage%%' })), BadRequest, 400);
  });
});

describe('mount target security groups', () => {
  it('Describe returns the groups given at creation; Modify replaces the whole set (204)', async () => {
    const sgs = (await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId }))).SecurityGroups;
    expect(sgs).toEqual([sg0]);
    const two = [...sgPair].sort();
    const out = await efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId, SecurityGroups: two }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId }))).SecurityGroups!.sort()).toEqual(two);
  });

  it('Modify with a malformed group or more than five answers 400 and keeps the old set', async () => {
    const before = (await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId }))).SecurityGroups;
    await expectError(efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId, SecurityGroups: ['sg-xyz'] })), SecurityGroupNotFound, 400);
    const six = Array.from({ length: 6 }, (_, i) => `sg-0123456789abcdef${i}`);
    await expectError(efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId, SecurityGroups: six })), SecurityGroupLimitExceeded, 400);
    expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mtA.MountTargetId }))).SecurityGroups).toEqual(before);
  });

  it('an unknown mount target answers 404 MountTargetNotFound', async () => {
    await expectError(efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: NO_MT })), MountTargetNotFound, 404);
    await expectError(efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: NO_MT, SecurityGroups: ['sg-0123456789abcdef0'] })), MountTargetNotFound, 404);
  });
});

describe('DeleteMountTarget and DeleteFileSystem', () => {
  it('a file system with a mount target answers 409 FileSystemInUse; after DeleteMountTarget (204) the listener is closed and the delete works', async () => {
    await expectError(efs.send(new DeleteFileSystemCommand({ FileSystemId: fsA })), FileSystemInUse, 409);
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('open');

    const mounted = await nfsClient('127.0.0.5', ts.port, clients, { timeoutMs: 5000 });
    expect((await mounted.rootFh()).length).toBeGreaterThan(0);

    const out = await efs.send(new DeleteMountTargetCommand({ MountTargetId: mtA.MountTargetId }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('refused');
    await expectError(efs.send(new DescribeMountTargetsCommand({ MountTargetId: mtA.MountTargetId })), MountTargetNotFound, 404);
    expect(await mountTargetCount(fsA)).toBe(0);
    // existing mounts through it break
    await expect(mounted.readdir('/')).rejects.toThrow();
    await expectError(efs.send(new DeleteMountTargetCommand({ MountTargetId: mtA.MountTargetId })), MountTargetNotFound, 404);

    const del = await efs.send(new DeleteFileSystemCommand({ FileSystemId: fsA }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsA })), FileSystemNotFound, 404);
  });

  it('the address of a deleted mount target can be used again', async () => {
    const fs = await newFs();
    const mt = await createMt({ FileSystemId: fs, IpAddress: '127.0.0.5' });
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('open');
    const c = await nfsClient('127.0.0.5', ts.port, clients);
    expect(await c.readdir('/')).toEqual([]);
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId }));
    expect(await tcpProbe('127.0.0.5', ts.port)).toBe('refused');
  });
});
