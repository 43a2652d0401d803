import { describe, expect, it } from 'vitest';
import { accessDeniedMessage, apiResourceArn, authorizeApiCall, type ApiAuthzInput } from '../../src/policy/api-authz.js';
import { ALL_OPERATIONS } from '../../src/api/http.js';
import { parseIdentityPolicy, type PolicyDocument } from '../../src/model/policy-document.js';

// IAM for management API calls: identity policies only, explicit Deny wins, Allow needed.

const REGION = 'us-east-1';
const ACCT = '111122223333';
const USER = `arn:aws:iam::${ACCT}:user/alice`;
const FS1 = `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/fs-0123456789abcdef0`;
const FS2 = `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/fs-0123456789abcdef1`;
const AP1 = `arn:aws:elasticfilesystem:${REGION}:${ACCT}:access-point/fsap-0123456789abcdef0`;

const policy = (...statements: object[]): PolicyDocument => parseIdentityPolicy({ Version: '2012-10-17', Statement: statements });

function decide(action: string, resourceArn: string, policies: PolicyDocument[] | undefined, o: Partial<ApiAuthzInput> = {}) {
  return authorizeApiCall({
    enforce: true,
    callerArn: USER,
    callerAccountId: ACCT,
    accountId: ACCT,
    ...(policies ? { identityPolicies: policies } : {}),
    action: `elasticfilesystem:${action}`,
    resourceArn,
    sourceIp: '127.0.0.1',
    secureTransport: false,
    nowMs: Date.parse('2026-06-01T00:00:00Z'),
    ...o,
  });
}

describe('authorizeApiCall', () => {
  it('an Allow on the action and resource allows; nothing else is allowed (implicit deny)', () => {
    const p = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:DeleteFileSystem', Resource: FS1 })];
    expect(decide('DeleteFileSystem', FS1, p)).toMatchObject({ allowed: true, reason: 'allow' });
    expect(decide('DeleteFileSystem', FS2, p)).toMatchObject({ allowed: false, reason: 'implicit-deny' });
    expect(decide('DescribeFileSystems', FS1, p)).toMatchObject({ allowed: false, reason: 'implicit-deny' });
  });

  it('no identity policy at all denies', () => {
    expect(decide('DescribeFileSystems', '*', undefined)).toMatchObject({ allowed: false, reason: 'implicit-deny' });
    expect(decide('DescribeFileSystems', '*', [])).toMatchObject({ allowed: false, reason: 'implicit-deny' });
  });

  it('an explicit Deny wins over an Allow, in the same or another policy', () => {
    const allowAll = policy({ Effect: 'Allow', Action: '*', Resource: '*' });
    const deny = policy({ Sid: 'NoDelete', Effect: 'Deny', Action: 'elasticfilesystem:Delete*', Resource: '*' });
    expect(decide('DeleteFileSystem', FS1, [allowAll, deny])).toMatchObject({ allowed: false, reason: 'explicit-deny', statement: 'NoDelete' });
    expect(decide('DeleteAccessPoint', AP1, [allowAll, deny])).toMatchObject({ allowed: false, reason: 'explicit-deny' });
    expect(decide('CreateFileSystem', '*', [allowAll, deny])).toMatchObject({ allowed: true });
    const both = policy({ Effect: 'Allow', Action: 'elasticfilesystem:*', Resource: '*' }, { Effect: 'Deny', Action: 'elasticfilesystem:DeleteFileSystem', Resource: FS1 });
    expect(decide('DeleteFileSystem', FS1, [both])).toMatchObject({ allowed: false, reason: 'explicit-deny' });
    expect(decide('DeleteFileSystem', FS2, [both])).toMatchObject({ allowed: true });
  });

  it('wildcards in Action (case-insensitive) and Resource', () => {
    const p = [policy({ Effect: 'Allow', Action: 'ElasticFileSystem:Describe*', Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/*` })];
    expect(decide('DescribeFileSystems', FS1, p).allowed).toBe(true);
    expect(decide('DescribeLifecycleConfiguration', FS2, p).allowed).toBe(true);
    expect(decide('DescribeAccessPoints', AP1, p).allowed).toBe(false);
    expect(decide('DeleteFileSystem', FS1, p).allowed).toBe(false);
    const q = [policy({ Effect: 'Allow', Action: ['elasticfilesystem:?eleteFileSystem'], Resource: `arn:aws:elasticfilesystem:*:${ACCT}:file-system/fs-0123456789abcdef?` })];
    expect(decide('DeleteFileSystem', FS1, q).allowed).toBe(true);
    expect(decide('DeleteFileSystem', `arn:aws:elasticfilesystem:${REGION}:444455556666:file-system/fs-0123456789abcdef0`, q).allowed).toBe(false);
    const star = [policy({ Effect: 'Allow', Action: '*', Resource: '*' })];
    expect(decide('PutFileSystemPolicy', FS1, star).allowed).toBe(true);
  });

  it('operations without a resource (`*`) need Resource "*": a resource ARN pattern does not match them', () => {
    const scoped = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:*', Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/*` })];
    expect(decide('CreateFileSystem', '*', scoped).allowed).toBe(false);
    expect(decide('DescribeFileSystems', '*', scoped).allowed).toBe(false);
    const star = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:CreateFileSystem', Resource: '*' })];
    expect(decide('CreateFileSystem', '*', star).allowed).toBe(true);
  });

  it('NotAction and NotResource', () => {
    const p = [policy({ Effect: 'Allow', NotAction: 'elasticfilesystem:Delete*', NotResource: FS2 })];
    expect(decide('DescribeFileSystems', FS1, p).allowed).toBe(true);
    expect(decide('DescribeFileSystems', FS2, p).allowed).toBe(false);
    expect(decide('DeleteFileSystem', FS1, p).allowed).toBe(false);
  });

  it('the account root and the no-credentials mode are allowed everything', () => {
    const deny = [policy({ Effect: 'Deny', Action: '*', Resource: '*' })];
    expect(decide('DeleteFileSystem', FS1, deny, { callerArn: `arn:aws:iam::${ACCT}:root` })).toMatchObject({ allowed: true, reason: 'root' });
    expect(decide('DeleteFileSystem', FS1, undefined, { callerArn: `arn:aws:iam::${ACCT}:root` })).toMatchObject({ allowed: true, reason: 'root' });
    expect(decide('DeleteFileSystem', FS1, deny, { enforce: false })).toMatchObject({ allowed: true, reason: 'not-enforced' });
    // another account's root is just a caller without identity policies here
    expect(decide('DescribeFileSystems', '*', undefined, { callerArn: 'arn:aws:iam::444455556666:root', callerAccountId: '444455556666' })).toMatchObject({ allowed: false, reason: 'implicit-deny' });
  });

  it('conditions: the request keys the API fills, and an unknown key never matches a positive operator', () => {
    const cond = (Condition: object) => [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition })];
    expect(decide('CreateFileSystem', '*', cond({ Bool: { 'aws:SecureTransport': 'false' } })).allowed).toBe(true);
    expect(decide('CreateFileSystem', '*', cond({ Bool: { 'aws:SecureTransport': 'true' } })).allowed).toBe(false);
    expect(decide('CreateFileSystem', '*', cond({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } })).allowed).toBe(true);
    expect(decide('CreateFileSystem', '*', cond({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })).allowed).toBe(false);
    expect(decide('CreateFileSystem', '*', cond({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }), { sourceIp: '::ffff:127.0.0.1' }).allowed).toBe(true);
    expect(decide('CreateFileSystem', '*', cond({ ArnEquals: { 'aws:PrincipalArn': USER } })).allowed).toBe(true);
    expect(decide('CreateFileSystem', '*', cond({ StringEquals: { 'aws:PrincipalAccount': '444455556666' } })).allowed).toBe(false);
    expect(decide('CreateFileSystem', '*', cond({ DateLessThan: { 'aws:CurrentTime': '2027-01-01T00:00:00Z' } })).allowed).toBe(true);
    expect(decide('CreateFileSystem', '*', cond({ DateGreaterThan: { 'aws:CurrentTime': '2027-01-01T00:00:00Z' } })).allowed).toBe(false);
    // tag and Encrypted keys not given (`keys`) are absent; test/unit/api-conditions.test.ts has them present
    expect(decide('CreateFileSystem', '*', cond({ Bool: { 'elasticfilesystem:Encrypted': 'true' } })).allowed).toBe(false);
    expect(decide('CreateFileSystem', '*', cond({ StringEquals: { 'aws:RequestTag/team': 'a' } })).allowed).toBe(false);
    expect(decide('CreateFileSystem', '*', cond({ StringEqualsIfExists: { 'aws:RequestTag/team': 'a' } })).allowed).toBe(true);
    // a Deny conditioned on an absent key does not apply
    const denyUntagged = [policy({ Effect: 'Allow', Action: '*', Resource: '*' }), policy({ Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod' } } })];
    expect(decide('DeleteFileSystem', FS1, denyUntagged).allowed).toBe(true);
  });
});

describe('accessDeniedMessage', () => {
  it('has AWS shape for the implicit and the explicit deny', () => {
    expect(accessDeniedMessage(USER, 'elasticfilesystem:DeleteFileSystem', FS1, 'implicit-deny')).toBe(
      `User: ${USER} is not authorized to perform: elasticfilesystem:DeleteFileSystem on resource: ${FS1} because no identity-based policy allows the elasticfilesystem:DeleteFileSystem action`,
    );
    expect(accessDeniedMessage(USER, 'elasticfilesystem:DeleteFileSystem', FS1, 'explicit-deny')).toBe(
      `User: ${USER} is not authorized to perform: elasticfilesystem:DeleteFileSystem on resource: ${FS1} with an explicit deny in an identity-based policy`,
    );
  });
});

describe('apiResourceArn and the operations table', () => {
  const op = (name: string) => ALL_OPERATIONS.find((o) => o.name === name)!;
  const req = (o: { labels?: Record<string, string>; query?: Record<string, string>; body?: unknown }) => ({
    labels: o.labels ?? {},
    query: new Map(Object.entries(o.query ?? {}).map(([k, v]) => [k, [v]])),
    body: o.body,
  });
  const arn = (name: string, r: Parameters<typeof req>[0]) => apiResourceArn(op(name).resource, req(r), REGION, ACCT);

  it('calls naming a file system or access point touch its ARN (bare id or ARN); list-all and create calls touch *', () => {
    expect(arn('DeleteFileSystem', { labels: { FileSystemId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('DeleteFileSystem', { labels: { FileSystemId: FS1 } })).toBe(FS1);
    expect(arn('PutFileSystemPolicy', { labels: { FileSystemId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('DeleteAccessPoint', { labels: { AccessPointId: 'fsap-0123456789abcdef0' } })).toBe(AP1);
    expect(arn('DescribeFileSystems', {})).toBe('*');
    expect(arn('DescribeFileSystems', { query: { FileSystemId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('DescribeAccessPoints', { query: { FileSystemId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('DescribeAccessPoints', { query: { AccessPointId: 'fsap-0123456789abcdef0' } })).toBe(AP1);
    expect(arn('CreateFileSystem', { body: { CreationToken: 'x' } })).toBe('*');
    expect(arn('CreateAccessPoint', { body: { FileSystemId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('CreateMountTarget', { body: { FileSystemId: FS1, SubnetId: 'subnet-1' } })).toBe(FS1);
    expect(arn('DescribeMountTargets', { query: { MountTargetId: 'fsmt-0123456789abcdef0' } })).toBe('*');
    expect(arn('DeleteMountTarget', { labels: { MountTargetId: 'fsmt-0123456789abcdef0' } })).toBe('*');
    expect(arn('TagResource', { labels: { ResourceId: 'fsap-0123456789abcdef0' } })).toBe(AP1);
    expect(arn('TagResource', { labels: { ResourceId: 'fs-0123456789abcdef0' } })).toBe(FS1);
    expect(arn('DescribeAccountPreferences', {})).toBe('*');
  });

  it('every operation declares its resource', () => {
    for (const o of ALL_OPERATIONS) expect(Array.isArray(o.resource), o.name).toBe(true);
  });
});
