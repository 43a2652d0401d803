import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  EC2ServiceException,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import {
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DeleteMountTargetCommand,
  DescribeMountTargetSecurityGroupsCommand,
  DescribeMountTargetsCommand,
  ModifyMountTargetSecurityGroupsCommand,
  SecurityGroupNotFound,
  type EFSClient,
} from '@aws-sdk/client-efs';
import { parseConfig } from '../../src/model/config.js';
import { defaultSecurityGroupFor, derivedId, vpcIdFor, type Credential } from '../../src/model/types.js';
import type { PolicyDocument } from '../../src/model/policy-document.js';
import { sdkSign } from '../helpers/sdk-signer.js';
import {
  ACCOUNT,
  REGION,
  SUBNET_A,
  SUBNET_B,
  auditOf,
  efsClient,
  expectError,
  startApiServer,
  token,
  type ApiTestServer,
  type Keys,
  TEST_KEYS,
} from './api-helpers.js';

// The EC2 security group API on the EFS endpoint, through the real
// @aws-sdk/client-ec2 (EC2's query protocol: form body in, XML out).

const DEFAULT_SG = defaultSecurityGroupFor(ACCOUNT, REGION);
const VPC = vpcIdFor(ACCOUNT, REGION);
const SG_ID = /^sg-[0-9a-f]{17}$/;
const SGR_ID = /^sgr-[0-9a-f]{17}$/;
/** Well-formed ids nothing carries. */
const NO_SG = 'sg-0000000000000000f';
const NO_SGR = 'sgr-0000000000000000f';

function ec2Client(ts: ApiTestServer, credentials: Keys = TEST_KEYS): EC2Client {
  return new EC2Client({ endpoint: ts.apiEndpoint, region: REGION, credentials, maxAttempts: 1 });
}

/** The EC2 error a call failed with: its name must be exactly `code`, its HTTP status `status`. */
async function ec2Error(p: Promise<unknown>, code: string, status = 400): Promise<EC2ServiceException> {
  let result: unknown;
  try {
    result = await p;
  } catch (err) {
    if (!(err instanceof EC2ServiceException)) throw err;
    const what = `${err.name} (${err.$metadata.httpStatusCode}): ${err.message}`;
    expect(err.name, what).toBe(code);
    expect(err.$metadata.httpStatusCode, what).toBe(status);
    return err;
  }
  throw new Error(`expected ${code}, the call succeeded with ${JSON.stringify(result)}`);
}

/** A form-encoded EC2 request signed by the SDK's signer (service ec2 unless told). */
async function rawEc2(ts: ApiTestServer, params: Record<string, string>, o: { service?: string; method?: 'GET' | 'POST' } = {}): Promise<{ status: number; text: string }> {
  const url = new URL(ts.apiEndpoint);
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const get = o.method === 'GET';
  const headers: Record<string, string> = get ? {} : { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  const signed = await sdkSign({
    method: get ? 'GET' : 'POST',
    host: url.host,
    path: '/',
    ...(get ? { query: Object.fromEntries(new URLSearchParams(body)) } : { body }),
    headers,
    ...TEST_KEYS,
    service: o.service ?? 'ec2',
  });
  const h = { ...headers, ...signed.headers };
  delete h.host;
  const res = await fetch(`${ts.apiEndpoint}${signed.rawUrl}`, { method: get ? 'GET' : 'POST', headers: h, ...(get ? {} : { body }) });
  return { status: res.status, text: await res.text() };
}

async function groupOf(ec2: EC2Client, id: string): Promise<SecurityGroup> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
  expect(out.SecurityGroups).toHaveLength(1);
  return out.SecurityGroups![0]!;
}

describe('EC2 security groups', () => {
  let ts: ApiTestServer;
  let ec2: EC2Client;
  let efs: EFSClient;
  const lines: string[] = [];

  beforeAll(async () => {
    ts = await startApiServer({ logLines: lines });
    ec2 = ec2Client(ts);
    efs = efsClient(ts);
  });
  afterAll(async () => {
    ec2?.destroy();
    efs?.destroy();
    await ts?.cleanup();
  });

  const create = async (name: string, description = `${name} group`): Promise<string> => {
    const out = await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: description }));
    return out.GroupId!;
  };

  describe('the VPC default group', () => {
    it('exists from the start, admits all traffic from everywhere (a local convenience) and sends everywhere', async () => {
      const g = await groupOf(ec2, DEFAULT_SG);
      expect(g).toEqual({
        OwnerId: ACCOUNT,
        GroupId: DEFAULT_SG,
        GroupName: 'default',
        Description: 'default VPC security group',
        VpcId: VPC,
        SecurityGroupArn: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${DEFAULT_SG}`,
        IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [], IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }], PrefixListIds: [] }],
        IpPermissionsEgress: [{ IpProtocol: '-1', UserIdGroupPairs: [], IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [], PrefixListIds: [] }],
      });
    });

    it('is found by its name', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }));
      expect(out.SecurityGroups!.map((g) => g.GroupId)).toEqual([DEFAULT_SG]);
    });

    it('cannot be deleted: CannotDelete, by id and by name', async () => {
      const err = await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: DEFAULT_SG })), 'CannotDelete');
      expect(err.message).toBe(`the specified group: "${DEFAULT_SG}" name: "default" cannot be deleted by a user`);
      await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'default' })), 'CannotDelete');
      await groupOf(ec2, DEFAULT_SG);
    });

    it('is what a mount target made without groups gets', async () => {
      const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('ec2-default') }))).FileSystemId!;
      const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET_A, IpAddress: '127.0.0.71' }));
      expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }))).SecurityGroups).toEqual([DEFAULT_SG]);
      await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId! }));
    });
  });

  describe('CreateSecurityGroup', () => {
    it('answers the new id; the group has no inbound rules and the all-traffic outbound rule', async () => {
      const out = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web servers', VpcId: VPC }));
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(out.GroupId).toMatch(SG_ID);
      expect(out.SecurityGroupArn).toBe(`arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${out.GroupId}`);
      expect(out.Tags).toBeUndefined();
      const g = await groupOf(ec2, out.GroupId!);
      expect(g).toMatchObject({ GroupName: 'web', Description: 'web servers', VpcId: VPC, OwnerId: ACCOUNT, IpPermissions: [] });
      expect(g.IpPermissionsEgress).toEqual([{ IpProtocol: '-1', UserIdGroupPairs: [], IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [], PrefixListIds: [] }]);
      expect(g.Tags).toBeUndefined();
    });

    it('takes tags (TagSpecifications) and answers them', async () => {
      const out = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: 'tagged',
          Description: 'tagged group',
          TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'team', Value: 'storage' }, { Key: 'Name', Value: 'the tagged one' }] }],
        }),
      );
      expect(out.Tags).toEqual([{ Key: 'team', Value: 'storage' }, { Key: 'Name', Value: 'the tagged one' }]);
      expect((await groupOf(ec2, out.GroupId!)).Tags).toEqual([{ Key: 'team', Value: 'storage' }, { Key: 'Name', Value: 'the tagged one' }]);
    });

    it('a description with spaces and EC2 punctuation comes back as given', async () => {
      const id = await create('punctuated', 'NFS from app + batch (10.0.0.0/8): a, b; c [d] {e} #f @g =h &i !j $k *l');
      expect((await groupOf(ec2, id)).Description).toBe('NFS from app + batch (10.0.0.0/8): a, b; c [d] {e} #f @g =h &i !j $k *l');
    });

    it('a name the VPC already has: InvalidGroup.Duplicate', async () => {
      const err = await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again' })), 'InvalidGroup.Duplicate');
      expect(err.message).toBe(`The security group 'web' already exists for VPC '${VPC}'`);
    });

    it("the name 'default': InvalidGroup.Reserved", async () => {
      await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'default', Description: 'mine' })), 'InvalidGroup.Reserved');
    });

    it('a name starting with sg-: InvalidParameterValue', async () => {
      const err = await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'sg-mine', Description: 'x' })), 'InvalidParameterValue');
      expect(err.message).toBe('Value (sg-mine) for parameter GroupName is invalid. Group names may not be in the format sg-*.');
    });

    it('another VPC: InvalidVpcID.NotFound', async () => {
      const err = await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'elsewhere', Description: 'x', VpcId: 'vpc-0123456789abcdef0' })), 'InvalidVpcID.NotFound');
      expect(err.message).toBe("The vpc ID 'vpc-0123456789abcdef0' does not exist");
    });

    it('no description: MissingParameter', async () => {
      await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'undescribed', Description: undefined as unknown as string })), 'MissingParameter');
    });

    it('a tag for another resource type: InvalidParameterValue', async () => {
      await ec2Error(
        ec2.send(new CreateSecurityGroupCommand({ GroupName: 'badtag', Description: 'x', TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'a', Value: 'b' }] }] })),
        'InvalidParameterValue',
      );
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['badtag'] })), 'InvalidGroup.NotFound');
    });
  });

  describe('DescribeSecurityGroups', () => {
    let a: string;
    let b: string;
    beforeAll(async () => {
      a = await create('describe-a', 'first of two');
      b = (
        await ec2.send(
          new CreateSecurityGroupCommand({ GroupName: 'describe-b', Description: 'second of two', TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'tier', Value: 'db' }] }] }),
        )
      ).GroupId!;
    });

    it('by GroupId.N answers those groups', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [a, b] }));
      expect(out.SecurityGroups!.map((g) => g.GroupId).sort()).toEqual([a, b].sort());
    });

    it('by GroupName.N answers those groups', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['describe-b'] }));
      expect(out.SecurityGroups!.map((g) => g.GroupId)).toEqual([b]);
    });

    it('without ids answers every group, the default one included', async () => {
      const ids = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.map((g) => g.GroupId);
      expect(ids).toEqual(expect.arrayContaining([DEFAULT_SG, a, b]));
    });

    it('filter group-name (with a wildcard)', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['describe-*'] }] }));
      expect(out.SecurityGroups!.map((g) => g.GroupName).sort()).toEqual(['describe-a', 'describe-b']);
    });

    it('filter group-id (values are ORed)', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [a, DEFAULT_SG] }] }));
      expect(out.SecurityGroups!.map((g) => g.GroupId).sort()).toEqual([a, DEFAULT_SG].sort());
    });

    it('filter vpc-id: the one VPC holds every group; another holds none', async () => {
      const all = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.length;
      expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] }))).SecurityGroups).toHaveLength(all);
      expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: ['vpc-0123456789abcdef0'] }] }))).SecurityGroups).toEqual([]);
    });

    it('filter tag:<key>', async () => {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:tier', Values: ['db'] }] }));
      expect(out.SecurityGroups!.map((g) => g.GroupId)).toEqual([b]);
    });

    it('filters are ANDed', async () => {
      const out = await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'group-name', Values: ['describe-*'] },
            { Name: 'description', Values: ['first*'] },
          ],
        }),
      );
      expect(out.SecurityGroups!.map((g) => g.GroupId)).toEqual([a]);
    });

    it('an unknown filter: InvalidParameterValue', async () => {
      const err = await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] })), 'InvalidParameterValue');
      expect(err.message).toBe("The filter 'colour' is invalid");
    });

    it('an unknown id: InvalidGroup.NotFound with EC2 message', async () => {
      const err = await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [a, NO_SG] })), 'InvalidGroup.NotFound');
      expect(err.message).toBe(`The security group '${NO_SG}' does not exist`);
    });

    it('an unknown name: InvalidGroup.NotFound', async () => {
      const err = await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['nothing-here'] })), 'InvalidGroup.NotFound');
      expect(err.message).toBe(`The security group 'nothing-here' does not exist in default VPC '${VPC}'`);
    });

    it('a malformed id: InvalidGroupId.Malformed', async () => {
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-xyz'] })), 'InvalidGroupId.Malformed');
    });

    it('MaxResults and NextToken page through every group once', async () => {
      for (let i = 0; i < 6; i++) await create(`page-${i}`);
      const all = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.map((g) => g.GroupId!);
      expect(all.length).toBeGreaterThan(10);
      const seen: string[] = [];
      let next: string | undefined;
      let pages = 0;
      do {
        const out = await ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 5, ...(next ? { NextToken: next } : {}) }));
        expect(out.SecurityGroups!.length).toBeLessThanOrEqual(5);
        seen.push(...out.SecurityGroups!.map((g) => g.GroupId!));
        next = out.NextToken;
        pages++;
      } while (next);
      expect(pages).toBe(Math.ceil(all.length / 5));
      expect(seen.sort()).toEqual([...all].sort());
    });

    it('MaxResults below 5: InvalidParameterValue; with GroupIds: InvalidParameterCombination', async () => {
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 4 })), 'InvalidParameterValue');
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 5, GroupIds: [a] })), 'InvalidParameterCombination');
    });

    it('a garbage NextToken: InvalidParameterValue', async () => {
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 5, NextToken: '%%garbage%%' })), 'InvalidParameterValue');
    });
  });

  describe('AuthorizeSecurityGroupIngress and RevokeSecurityGroupIngress', () => {
    let app: string;
    let nfs: string;
    beforeAll(async () => {
      app = await create('rules-app', 'clients');
      nfs = await create('rules-nfs', 'the file system side');
    });

    it('adds rules from CIDRs (v4 and v6) and from a group; answers true and the rules made', async () => {
      const out = await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: nfs,
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 2049,
              ToPort: 2049,
              IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'office' }],
              Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }],
              UserIdGroupPairs: [{ GroupId: app, Description: 'app servers' }],
            },
          ],
        }),
      );
      expect(out.Return).toBe(true);
      expect(out.SecurityGroupRules).toHaveLength(3);
      for (const r of out.SecurityGroupRules!) {
        expect(r.SecurityGroupRuleId).toMatch(SGR_ID);
        expect(r).toMatchObject({ GroupId: nfs, GroupOwnerId: ACCOUNT, IsEgress: false, IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049 });
      }
      expect(out.SecurityGroupRules!.map((r) => r.CidrIpv4 ?? r.CidrIpv6 ?? r.ReferencedGroupInfo?.GroupId)).toEqual(['10.0.0.0/8', '2001:db8::/32', app]);
      expect(out.SecurityGroupRules![0]!.Description).toBe('office');
      expect(out.SecurityGroupRules![2]!.ReferencedGroupInfo).toEqual({ GroupId: app, UserId: ACCOUNT });
    });

    it('DescribeSecurityGroups shows them as one permission (same protocol and ports)', async () => {
      const g = await groupOf(ec2, nfs);
      expect(g.IpPermissions).toEqual([
        {
          IpProtocol: 'tcp',
          FromPort: 2049,
          ToPort: 2049,
          UserIdGroupPairs: [{ Description: 'app servers', UserId: ACCOUNT, GroupId: app }],
          IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'office' }],
          Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }],
          PrefixListIds: [],
        },
      ]);
    });

    it('filter ip-permission.cidr and ip-permission.group-id find the group', async () => {
      const byCidr = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.cidr', Values: ['10.0.0.0/8'] }] }));
      expect(byCidr.SecurityGroups!.map((g) => g.GroupId)).toEqual([nfs]);
      const byGroup = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.group-id', Values: [app] }] }));
      expect(byGroup.SecurityGroups!.map((g) => g.GroupId)).toEqual([nfs]);
    });

    it('the legacy flat form (CidrIp, IpProtocol, FromPort, ToPort) by GroupName', async () => {
      const out = await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupName: 'rules-nfs', CidrIp: '192.168.1.0/24', IpProtocol: 'udp', FromPort: 111, ToPort: 111 }));
      expect(out.Return).toBe(true);
      expect(out.SecurityGroupRules).toHaveLength(1);
      expect(out.SecurityGroupRules![0]).toMatchObject({ IpProtocol: 'udp', FromPort: 111, ToPort: 111, CidrIpv4: '192.168.1.0/24' });
    });

    it('protocol numbers are shown by name; all traffic (-1) has no ports in the permission', async () => {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: app, IpPermissions: [{ IpProtocol: '6', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.1.0.0/16' }] }] }));
      const all = await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: app, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '10.2.0.0/16' }] }] }));
      expect(all.SecurityGroupRules![0]).toMatchObject({ IpProtocol: '-1', FromPort: -1, ToPort: -1 });
      const perms = (await groupOf(ec2, app)).IpPermissions!;
      expect(perms.map((p) => [p.IpProtocol, p.FromPort, p.ToPort])).toEqual([
        ['tcp', 22, 22],
        ['-1', undefined, undefined],
      ]);
    });

    it('a rule already there (whatever its description): InvalidPermission.Duplicate', async () => {
      const err = await ec2Error(
        ec2.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'other' }] }] }),
        ),
        'InvalidPermission.Duplicate',
      );
      expect(err.message).toBe('the specified rule "peer: 10.0.0.0/8, TCP, from port: 2049, to port: 2049, ALLOW" already exists');
      expect((await groupOf(ec2, nfs)).IpPermissions![0]!.IpRanges).toHaveLength(1);
    });

    it('a source group that does not exist: InvalidGroup.NotFound', async () => {
      const err = await ec2Error(
        ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, UserIdGroupPairs: [{ GroupId: NO_SG }] }] })),
        'InvalidGroup.NotFound',
      );
      expect(err.message).toBe(`The security group '${NO_SG}' does not exist`);
    });

    it('a target group that does not exist: InvalidGroup.NotFound', async () => {
      await ec2Error(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: NO_SG, CidrIp: '10.0.0.0/8', IpProtocol: '-1' })), 'InvalidGroup.NotFound');
    });

    it('a malformed CIDR: InvalidParameterValue', async () => {
      for (const cidr of ['10.0.0.0/33', '10.0.0/8', '10.0.0.1', '::/0']) {
        const err = await ec2Error(
          ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, IpRanges: [{ CidrIp: cidr }] }] })),
          'InvalidParameterValue',
        );
        expect(err.message, cidr).toBe(`CIDR block ${cidr} is malformed`);
      }
      await ec2Error(
        ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, Ipv6Ranges: [{ CidrIpv6: '10.0.0.0/8' }] }] })),
        'InvalidParameterValue',
      );
    });

    it('tcp or udp without ports: InvalidParameterValue', async () => {
      for (const IpProtocol of ['tcp', 'udp']) {
        const err = await ec2Error(
          ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpProtocol, IpRanges: [{ CidrIp: '10.9.0.0/16' }] }] })),
          'InvalidParameterValue',
        );
        expect(err.message).toBe("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.");
      }
    });

    it('an inverted or out-of-range port range, and an unknown protocol: InvalidParameterValue', async () => {
      const perm = (p: Record<string, unknown>) => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [{ IpRanges: [{ CidrIp: '10.9.0.0/16' }], ...p }] }));
      await ec2Error(perm({ IpProtocol: 'tcp', FromPort: 100, ToPort: 10 }), 'InvalidParameterValue');
      await ec2Error(perm({ IpProtocol: 'tcp', FromPort: 1, ToPort: 70000 }), 'InvalidParameterValue');
      await ec2Error(perm({ IpProtocol: 'nfs' }), 'InvalidParameterValue');
    });

    it('the same permission twice in one request: InvalidParameterValue, nothing added', async () => {
      const before = (await groupOf(ec2, nfs)).IpPermissions;
      const r = { IpProtocol: 'tcp', FromPort: 5, ToPort: 5, IpRanges: [{ CidrIp: '10.5.0.0/16' }] };
      await ec2Error(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [r, r] })), 'InvalidParameterValue');
      expect((await groupOf(ec2, nfs)).IpPermissions).toEqual(before);
    });

    it('Revoke by IpPermissions removes the rule (true); again: InvalidPermission.NotFound', async () => {
      const perm = { IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }] };
      const out = await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [perm] }));
      expect(out.Return).toBe(true);
      expect(out.RevokedSecurityGroupRules).toHaveLength(1);
      expect(out.RevokedSecurityGroupRules![0]).toMatchObject({ GroupId: nfs, CidrIpv6: '2001:db8::/32', IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049 });
      expect(out.UnknownIpPermissions).toBeUndefined();
      expect((await groupOf(ec2, nfs)).IpPermissions!.find((p) => p.IpProtocol === 'tcp')!.Ipv6Ranges).toEqual([]);
      const err = await ec2Error(ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: nfs, IpPermissions: [perm] })), 'InvalidPermission.NotFound');
      expect(err.message).toBe('The specified rule does not exist in this security group.');
    });

    it('Revoke in the legacy flat form, by GroupName', async () => {
      const out = await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupName: 'rules-nfs', CidrIp: '192.168.1.0/24', IpProtocol: 'udp', FromPort: 111, ToPort: 111 }));
      expect(out.Return).toBe(true);
      expect((await groupOf(ec2, nfs)).IpPermissions!.map((p) => p.IpProtocol)).toEqual(['tcp']);
    });

    it('Revoke by SecurityGroupRuleIds; an unknown rule id: InvalidSecurityGroupRuleId.NotFound', async () => {
      const made = await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: app, IpPermissions: [{ IpProtocol: 'icmp', FromPort: 8, ToPort: -1, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
      const ruleId = made.SecurityGroupRules![0]!.SecurityGroupRuleId!;
      await ec2Error(ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: app, SecurityGroupRuleIds: [NO_SGR] })), 'InvalidSecurityGroupRuleId.NotFound');
      expect((await groupOf(ec2, app)).IpPermissions!.map((p) => p.IpProtocol)).toContain('icmp');
      const out = await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: app, SecurityGroupRuleIds: [ruleId] }));
      expect(out.Return).toBe(true);
      expect(out.RevokedSecurityGroupRules!.map((r) => r.SecurityGroupRuleId)).toEqual([ruleId]);
      expect((await groupOf(ec2, app)).IpPermissions!.map((p) => p.IpProtocol)).not.toContain('icmp');
    });

    it('Revoke of some known and some unknown rules revokes the known and lists the others', async () => {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: app, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.80.0.0/16' }] }] }));
      const out = await ec2.send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: app,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.80.0.0/16' }] },
            { IpProtocol: 'tcp', FromPort: 81, ToPort: 81, IpRanges: [{ CidrIp: '10.81.0.0/16' }] },
          ],
        }),
      );
      expect(out.Return).toBe(true);
      expect(out.RevokedSecurityGroupRules!.map((r) => r.CidrIpv4)).toEqual(['10.80.0.0/16']);
      expect(out.UnknownIpPermissions).toEqual([{ IpProtocol: 'tcp', FromPort: 81, ToPort: 81, UserIdGroupPairs: [], IpRanges: [{ CidrIp: '10.81.0.0/16' }], Ipv6Ranges: [], PrefixListIds: [] }]);
    });

    it('the audit record names the call, ec2.amazonaws.com and its parameters', async () => {
      const out = await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: app, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.43.0.0/16' }] }] }));
      const [audit] = await auditOf(lines, out.$metadata.requestId);
      expect(audit).toMatchObject({
        eventName: 'AuthorizeSecurityGroupIngress',
        eventSource: 'ec2.amazonaws.com',
        readOnly: false,
        httpStatus: 200,
        requestParameters: { groupId: app, ipPermissions: [{ ipProtocol: 'tcp', fromPort: '443', toPort: '443', ipRanges: [{ cidrIp: '10.43.0.0/16' }] }] },
      });
      const failed = await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: NO_SG })), 'InvalidGroup.NotFound');
      const [bad] = await auditOf(lines, failed.$metadata.requestId);
      expect(bad).toMatchObject({ eventName: 'DeleteSecurityGroup', errorCode: 'Client.InvalidGroup.NotFound', httpStatus: 400 });
    });
  });

  describe('DeleteSecurityGroup', () => {
    it('deletes by id (true) and by name', async () => {
      const id = await create('doomed-1');
      const out = await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
      expect(out.Return).toBe(true);
      expect(out.GroupId).toBe(id);
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })), 'InvalidGroup.NotFound');
      const byName = await create('doomed-2');
      expect((await ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'doomed-2' }))).Return).toBe(true);
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [byName] })), 'InvalidGroup.NotFound');
    });

    it('an unknown group: InvalidGroup.NotFound', async () => {
      const err = await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: NO_SG })), 'InvalidGroup.NotFound');
      expect(err.message).toBe(`The security group '${NO_SG}' does not exist`);
      await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'never-made' })), 'InvalidGroup.NotFound');
    });

    it("a group another group's rule names: DependencyViolation, until the rule is revoked", async () => {
      const source = await create('dep-source');
      const target = await create('dep-target');
      const perm = { IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, UserIdGroupPairs: [{ GroupId: source }] };
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: target, IpPermissions: [perm] }));
      const err = await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: source })), 'DependencyViolation');
      expect(err.message).toBe(`resource ${source} has a dependent object`);
      await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: target, IpPermissions: [perm] }));
      expect((await ec2.send(new DeleteSecurityGroupCommand({ GroupId: source }))).Return).toBe(true);
    });

    it('a group a mount target uses: DependencyViolation, until ModifyMountTargetSecurityGroups moves it off', async () => {
      const sg = await create('mt-group');
      const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('ec2-mt') }))).FileSystemId!;
      const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET_B, IpAddress: '127.0.0.72', SecurityGroups: [sg] }));
      expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }))).SecurityGroups).toEqual([sg]);
      const err = await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg })), 'DependencyViolation');
      expect(err.message).toBe(`resource ${sg} has a dependent object`);
      await efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId, SecurityGroups: [DEFAULT_SG] }));
      expect((await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }))).Return).toBe(true);
      await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId! }));
    });
  });

  describe('mount targets name groups that exist', () => {
    let fsId: string;
    beforeAll(async () => {
      fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('ec2-mt-groups') }))).FileSystemId!;
    });

    it('CreateMountTarget with a well-formed group that does not exist: SecurityGroupNotFound, nothing made', async () => {
      const err = await expectError(efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET_A, IpAddress: '127.0.0.73', SecurityGroups: [NO_SG] })), SecurityGroupNotFound, 400);
      expect(err.message).toBe(`Security group '${NO_SG}' does not exist in VPC '${VPC}'.`);
    });

    it('ModifyMountTargetSecurityGroups with a group that does not exist: SecurityGroupNotFound, the set kept', async () => {
      const sg = await create('mt-modify');
      const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET_A, IpAddress: '127.0.0.73', SecurityGroups: [sg, DEFAULT_SG] }));
      await expectError(efs.send(new ModifyMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId, SecurityGroups: [sg, NO_SG] })), SecurityGroupNotFound, 400);
      expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }))).SecurityGroups).toEqual([sg, DEFAULT_SG]);
      await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId! }));
    });
  });

  describe('the query protocol', () => {
    it('an action other than the security group calls: InvalidAction', async () => {
      const err = await ec2Error(ec2.send(new DescribeInstancesCommand({})), 'InvalidAction');
      expect(err.message).toBe('The action DescribeInstances is not valid for this web service.');
    });

    it('on the wire: XML in EC2 namespace with requestId; errors as Response/Errors/Error with RequestID', async () => {
      const ok = await rawEc2(ts, { Action: 'DescribeSecurityGroups', 'GroupId.1': DEFAULT_SG });
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeSecurityGroupsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>[0-9a-f-]{36}<\/requestId><securityGroupInfo><item><ownerId>/);
      const bad = await rawEc2(ts, { Action: 'RunInstances' });
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Errors><Error><Code>InvalidAction<\/Code><Message>The action RunInstances is not valid for this web service.<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
      );
    });

    it('GET with the parameters in the query string works too', async () => {
      const res = await rawEc2(ts, { Action: 'DescribeSecurityGroups', 'Filter.1.Name': 'group-name', 'Filter.1.Value.1': 'default' }, { method: 'GET' });
      expect(res.status).toBe(200);
      expect(res.text).toContain(`<groupId>${DEFAULT_SG}</groupId>`);
    });

    it('a signature scoped to elasticfilesystem: 403 AuthFailure', async () => {
      const res = await rawEc2(ts, { Action: 'DescribeSecurityGroups' }, { service: 'elasticfilesystem' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('<Code>AuthFailure</Code>');
    });

    it('DryRun: DryRunOperation (412), nothing made', async () => {
      await ec2Error(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'dry', Description: 'x', DryRun: true })), 'DryRunOperation', 412);
      await ec2Error(ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['dry'] })), 'InvalidGroup.NotFound');
    });
  });
});

describe('EC2 security groups across a restart', () => {
  let ts: ApiTestServer;
  afterAll(async () => {
    await ts?.cleanup();
  });

  it('groups, rules and tags are saved; the default group stays', async () => {
    ts = await startApiServer();
    let ec2 = ec2Client(ts);
    const efs = efsClient(ts);
    const made = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'kept', Description: 'kept across restarts', TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'k', Value: 'v' }] }] }),
    );
    const id = made.GroupId!;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'lan' }] }] }));
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: DEFAULT_SG, IpPermissions: [{ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] }));
    const gone = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'gone', Description: 'deleted before the restart' }))).GroupId!;
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: gone }));
    const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: token('ec2-restart') }))).FileSystemId!;
    const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET_A, IpAddress: '127.0.0.74', SecurityGroups: [id] }));
    const before = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!;
    ec2.destroy();
    efs.destroy();

    await ts.stop();
    await ts.restart();
    ec2 = ec2Client(ts);
    const efs2 = efsClient(ts);
    try {
      const after = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!;
      expect(after).toEqual(before);
      expect(after.map((g) => g.GroupId)).not.toContain(gone);
      const kept = after.find((g) => g.GroupId === id)!;
      expect(kept).toMatchObject({ GroupName: 'kept', Description: 'kept across restarts', Tags: [{ Key: 'k', Value: 'v' }] });
      expect(kept.IpPermissions![0]!.IpRanges).toEqual([{ CidrIp: '10.0.0.0/8', Description: 'lan' }]);
      // the default group as the API left it (its IPv6 rule revoked)
      expect(after.find((g) => g.GroupId === DEFAULT_SG)!.IpPermissions![0]!.Ipv6Ranges).toEqual([]);
      // still in use by the saved mount target
      await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: id })), 'DependencyViolation');
      expect((await efs2.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }))).SecurityGroups).toEqual([id]);
    } finally {
      ec2.destroy();
      efs2.destroy();
    }
  });
});

describe('EC2 security groups from --config', () => {
  let ts: ApiTestServer;
  let ec2: EC2Client;
  const APP = derivedId('sg', `${ACCOUNT}/${REGION}/group/app`);
  const NFS = 'sg-0123456789abcdef0';
  beforeAll(async () => {
    const config = await parseConfig(
      {
        securityGroups: [
          {
            groupId: NFS,
            name: 'nfs',
            description: 'file system side',
            ingress: [
              { protocol: 'tcp', port: 2049, sourceGroup: 'app', description: 'app servers' },
              { protocol: 'tcp', fromPort: 2049, toPort: 2049, cidr: '10.0.0.0/8' },
            ],
            tags: { team: 'storage' },
          },
          { name: 'app' },
        ],
        instances: [{ address: '127.0.0.9', securityGroups: ['app'] }],
        mountTargets: [{ listen: '127.0.0.75', securityGroups: ['nfs', 'default'] }],
      },
      '(test)',
    );
    ts = await startApiServer({ config });
    ec2 = ec2Client(ts);
  });
  afterAll(async () => {
    ec2?.destroy();
    await ts?.cleanup();
  });

  it('declares groups with rules; a group without groupId gets an id derived from its name', async () => {
    const nfs = await groupOf(ec2, NFS);
    expect(nfs).toMatchObject({ GroupName: 'nfs', Description: 'file system side', VpcId: VPC, Tags: [{ Key: 'team', Value: 'storage' }] });
    expect(nfs.IpPermissions).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 2049,
        ToPort: 2049,
        UserIdGroupPairs: [{ Description: 'app servers', UserId: ACCOUNT, GroupId: APP }],
        IpRanges: [{ CidrIp: '10.0.0.0/8' }],
        Ipv6Ranges: [],
        PrefixListIds: [],
      },
    ]);
    const app = await groupOf(ec2, APP);
    expect(app).toMatchObject({ GroupName: 'app', IpPermissions: [] });
  });

  it('a config mount target names its groups', async () => {
    const efs = efsClient(ts);
    try {
      const mts = (await efs.send(new DescribeMountTargetsCommand({ FileSystemId: ts.fileSystemId }))).MountTargets!;
      const mt = mts.find((m) => m.IpAddress === '127.0.0.75')!;
      expect((await efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }))).SecurityGroups).toEqual([NFS, DEFAULT_SG]);
    } finally {
      efs.destroy();
    }
  });

  it('a group an instance is a member of cannot be deleted (DependencyViolation)', async () => {
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: NFS, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, UserIdGroupPairs: [{ GroupId: APP }] }] }));
    await ec2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: APP })), 'DependencyViolation');
  });

  it('after a restart the config wins again for what it declares; groups made through the API stay', async () => {
    const extra = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'api-made', Description: 'made through the API' }))).GroupId!;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: NFS, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.22.0.0/16' }] }] }));
    ec2.destroy();
    await ts.stop();
    await ts.restart();
    ec2 = ec2Client(ts);
    const nfs = await groupOf(ec2, NFS);
    expect(nfs.IpPermissions!.map((p) => [p.FromPort, p.UserIdGroupPairs!.map((x) => x.GroupId), p.IpRanges!.map((r) => r.CidrIp)])).toEqual([[2049, [APP], ['10.0.0.0/8']]]);
    expect((await groupOf(ec2, extra)).GroupName).toBe('api-made');
  });
});

describe('IAM for the EC2 calls', () => {
  let ts: ApiTestServer;
  const lines: string[] = [];
  const READER_ARN = `arn:aws:iam::${ACCOUNT}:user/sg-reader`;
  const READER: Keys = { accessKeyId: 'AKIDEC2READER000001', secretAccessKey: 'reader-secret' };
  const ADMIN_ARN = `arn:aws:iam::${ACCOUNT}:role/sg-admin`;
  const ADMIN: Keys = { accessKeyId: 'AKIDEC2ADMIN0000001', secretAccessKey: 'admin-secret' };
  const doc = (...Statement: PolicyDocument['Statement']): PolicyDocument[] => [{ Version: '2012-10-17', Statement }];
  let reader: EC2Client;
  let admin: EC2Client;

  beforeAll(async () => {
    const creds = new Map<string, Credential>();
    creds.set(READER.accessKeyId, { ...READER, principalArn: READER_ARN, accountId: ACCOUNT, identityPolicies: doc({ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }) });
    creds.set(ADMIN.accessKeyId, {
      ...ADMIN,
      principalArn: ADMIN_ARN,
      accountId: ACCOUNT,
      identityPolicies: doc(
        { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ec2:DeleteSecurityGroup', Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${DEFAULT_SG}` },
      ),
    });
    ts = await startApiServer({ credentials: creds, logLines: lines });
    reader = ec2Client(ts, READER);
    admin = ec2Client(ts, ADMIN);
  });
  afterAll(async () => {
    reader?.destroy();
    admin?.destroy();
    await ts?.cleanup();
  });

  it('a user allowed ec2:Describe* describes but cannot create: UnauthorizedOperation (403) with the reason', async () => {
    expect((await reader.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.map((g) => g.GroupId)).toContain(DEFAULT_SG);
    const err = await ec2Error(reader.send(new CreateSecurityGroupCommand({ GroupName: 'nope', Description: 'x' })), 'UnauthorizedOperation', 403);
    expect(err.message).toBe(
      `You are not authorized to perform this operation. User: ${READER_ARN} is not authorized to perform: ec2:CreateSecurityGroup on resource: * because no identity-based policy allows the ec2:CreateSecurityGroup action`,
    );
    await ec2Error(admin.send(new DescribeSecurityGroupsCommand({ GroupNames: ['nope'] })), 'InvalidGroup.NotFound');
    const [audit] = await auditOf(lines, err.$metadata.requestId);
    expect(audit).toMatchObject({ eventName: 'CreateSecurityGroup', eventSource: 'ec2.amazonaws.com', errorCode: 'Client.UnauthorizedOperation', httpStatus: 403, userIdentity: { arn: READER_ARN } });
  });

  it('the resource of a call naming a group is its ARN; an explicit Deny on it wins', async () => {
    const id = (await admin.send(new CreateSecurityGroupCommand({ GroupName: 'admin-made', Description: 'x' }))).GroupId!;
    const refused = await ec2Error(reader.send(new DeleteSecurityGroupCommand({ GroupId: id })), 'UnauthorizedOperation', 403);
    expect(refused.message).toBe(
      `You are not authorized to perform this operation. User: ${READER_ARN} is not authorized to perform: ec2:DeleteSecurityGroup on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${id} because no identity-based policy allows the ec2:DeleteSecurityGroup action`,
    );
    const denied = await ec2Error(admin.send(new DeleteSecurityGroupCommand({ GroupId: DEFAULT_SG })), 'UnauthorizedOperation', 403);
    expect(denied.message).toBe(
      `You are not authorized to perform this operation. User: ${ADMIN_ARN} is not authorized to perform: ec2:DeleteSecurityGroup on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${DEFAULT_SG} with an explicit deny in an identity-based policy`,
    );
    expect((await admin.send(new DeleteSecurityGroupCommand({ GroupId: id }))).Return).toBe(true);
  });

  it('an unknown access key: AuthFailure (403)', async () => {
    const stranger = ec2Client(ts, { accessKeyId: 'AKIDNOBODY000000001', secretAccessKey: 'x' });
    try {
      await ec2Error(stranger.send(new DescribeSecurityGroupsCommand({})), 'AuthFailure', 403);
    } finally {
      stranger.destroy();
    }
  });
});
