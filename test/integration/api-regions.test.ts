/**
 * The region comes from each request's signature (as on AWS, and as LocalStack
 * and moto answer): SDK clients in two regions see their own ARNs and
 * resources, and only those; the config's region holds the default file system.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DescribeAccessPointsCommand,
  DescribeFileSystemsCommand,
  EFSClient,
  FileSystemNotFound,
} from '@aws-sdk/client-efs';
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { vpcIdFor } from '../../src/model/types.js';
import { ACCOUNT, TEST_KEYS, expectError, startApiServer, type ApiTestServer } from './api-helpers.js';

let ts: ApiTestServer;
const clients: { destroy(): void }[] = [];
const efsIn = (region: string) => {
  const c = new EFSClient({ endpoint: ts.apiEndpoint, region, credentials: TEST_KEYS, maxAttempts: 1 });
  clients.push(c);
  return c;
};
const ec2In = (region: string) => {
  const c = new EC2Client({ endpoint: ts.apiEndpoint, region, credentials: TEST_KEYS, maxAttempts: 1 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  ts = await startApiServer();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await ts?.cleanup();
});

describe('two regions on one endpoint', () => {
  let euFs = '';

  test('a file system made in eu-west-1 has an eu-west-1 ARN and is listed there only', async () => {
    const eu = efsIn('eu-west-1');
    const us = efsIn('us-east-1');
    const made = await eu.send(new CreateFileSystemCommand({ CreationToken: 'regional', Encrypted: true }));
    euFs = made.FileSystemId!;
    expect(made.FileSystemArn).toBe(`arn:aws:elasticfilesystem:eu-west-1:${ACCOUNT}:file-system/${euFs}`);
    expect(made.KmsKeyId).toMatch(new RegExp(`^arn:aws:kms:eu-west-1:${ACCOUNT}:key/`));
    expect((await eu.send(new DescribeFileSystemsCommand({}))).FileSystems?.map((f) => f.FileSystemId)).toEqual([euFs]);
    // the default file system lives in the config's region (us-east-1)
    expect((await us.send(new DescribeFileSystemsCommand({}))).FileSystems?.map((f) => f.FileSystemId)).toEqual([ts.fileSystemId]);
    await expectError(us.send(new DescribeFileSystemsCommand({ FileSystemId: euFs })), FileSystemNotFound, 404);
    // found by its ARN from its own region
    const byArn = await eu.send(new DescribeFileSystemsCommand({ FileSystemId: made.FileSystemArn }));
    expect(byArn.FileSystems?.[0]?.FileSystemId).toBe(euFs);
    // a creation token is unique per region: the same token in us-east-1 makes another file system
    const usSame = await us.send(new CreateFileSystemCommand({ CreationToken: 'regional' }));
    expect(usSame.FileSystemId).not.toBe(euFs);
    expect(usSame.FileSystemArn).toBe(`arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:file-system/${usSame.FileSystemId}`);
  });

  test('access points and mount targets take their region from the request: ARNs, zones, VPC and groups', async () => {
    const eu = efsIn('eu-west-1');
    const ap = await eu.send(new CreateAccessPointCommand({ FileSystemId: euFs, RootDirectory: { Path: '/eu' } }));
    expect(ap.AccessPointArn).toBe(`arn:aws:elasticfilesystem:eu-west-1:${ACCOUNT}:access-point/${ap.AccessPointId}`);
    expect((await efsIn('us-east-1').send(new DescribeAccessPointsCommand({}))).AccessPoints).toEqual([]);

    const ec2eu = ec2In('eu-west-1');
    const ec2us = ec2In('us-east-1');
    const sg = await ec2eu.send(new CreateSecurityGroupCommand({ GroupName: 'eu-clients', Description: 'clients in eu-west-1' }));
    const euGroups = await ec2eu.send(new DescribeSecurityGroupsCommand({}));
    expect(euGroups.SecurityGroups?.map((g) => g.GroupName).sort()).toEqual(['default', 'eu-clients']);
    const euVpc = euGroups.SecurityGroups!.find((g) => g.GroupName === 'default')!.VpcId;
    const usGroups = await ec2us.send(new DescribeSecurityGroupsCommand({}));
    expect(usGroups.SecurityGroups?.map((g) => g.GroupName)).toEqual(['default']);
    expect(usGroups.SecurityGroups![0]!.VpcId).not.toBe(euVpc);
    const notThere = await ec2us.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg.GroupId!] })).then(
      () => 'found',
      (e: Error) => e.name,
    );
    expect(notThere).toBe('InvalidGroup.NotFound');

    const mt = await eu.send(new CreateMountTargetCommand({ FileSystemId: euFs, SubnetId: 'subnet-0123456789abcdef9', SecurityGroups: [sg.GroupId!] }));
    expect(mt.AvailabilityZoneName).toMatch(/^eu-west-1[a-z]$/);
    expect(mt.AvailabilityZoneId).toMatch(/^euw1-az\d+$/);
    expect(mt.VpcId).toBe(euVpc);
  });

  test('after a restart every resource is still in its own region', async () => {
    await ts.restart();
    const eu = efsIn('eu-west-1');
    const list = await eu.send(new DescribeFileSystemsCommand({}));
    expect(list.FileSystems?.map((f) => [f.FileSystemId, f.FileSystemArn])).toEqual([[euFs, `arn:aws:elasticfilesystem:eu-west-1:${ACCOUNT}:file-system/${euFs}`]]);
    const aps = await eu.send(new DescribeAccessPointsCommand({ FileSystemId: euFs }));
    expect(aps.AccessPoints?.[0]?.AccessPointArn).toMatch(/^arn:aws:elasticfilesystem:eu-west-1:/);
    const groups = await ec2In('eu-west-1').send(new DescribeSecurityGroupsCommand({}));
    expect(groups.SecurityGroups?.map((g) => g.GroupName).sort()).toEqual(['default', 'eu-clients']);
  });

  test("a region's default group is made and saved by its first real call, not by a DryRun", async () => {
    const saved = () => JSON.parse(readFileSync(path.join(ts.dataDir, 'model.json'), 'utf8')) as { securityGroups: { vpcId: string; groupName: string }[] };
    const vpc = vpcIdFor(ACCOUNT, 'ap-south-1');
    const ec2 = ec2In('ap-south-1');
    const dry = await ec2.send(new DescribeSecurityGroupsCommand({ DryRun: true })).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    expect(dry).toBe('DryRunOperation');
    expect(saved().securityGroups.filter((g) => g.vpcId === vpc)).toEqual([]);
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({}));
    expect(groups.SecurityGroups?.map((g) => [g.GroupName, g.VpcId])).toEqual([['default', vpc]]);
    expect(saved().securityGroups.filter((g) => g.vpcId === vpc).map((g) => g.groupName)).toEqual(['default']);
  });
});
