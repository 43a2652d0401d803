import { describe, expect, it } from 'vitest';
import { authorizeOperation, requestKeyFacts, type ApiCallEnv, type ApiCallRequest } from '../../src/policy/api-authz.js';
import { CONDITION_KEYS, conditionKeyDef, conditionLookup, tagValue } from '../../src/policy/condition-keys.js';
import { authorizeClient, evaluate } from '../../src/policy/iam.js';
import { authorizeConnection } from '../../src/policy/authorizer.js';
import { ALL_OPERATIONS } from '../../src/api/http.js';
import { parseIdentityPolicy, normaliseFileSystemPolicy, type PolicyDocument } from '../../src/model/policy-document.js';
import { DEFAULT_OPTIONS, type AccessPoint, type FileSystem, type Tag } from '../../src/model/types.js';
import type { PeerIdentity } from '../../src/transport/front.js';

// Condition keys in IAM decisions on management API calls (and aws:SourceIp
// for file system policies), with the examples of AWS's EFS documentation.

const REGION = 'us-east-1';
const ACCT = '111122223333';
const USER = `arn:aws:iam::${ACCT}:user/alice`;
const ROLE = `arn:aws:iam::${ACCT}:role/builder`;
const FS_ARN = (id: string) => `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/${id}`;
const AP_ARN = (id: string) => `arn:aws:elasticfilesystem:${REGION}:${ACCT}:access-point/${id}`;
const NEW_FS = `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/*`;
const NEW_AP = `arn:aws:elasticfilesystem:${REGION}:${ACCT}:access-point/*`;

const DEV = 'fs-0000000000000de00';
const PROD = 'fs-00000000000000900';
const BARE = 'fs-00000000000000b00';
const UNKNOWN = 'fs-00000000000000f00';
const AP = 'fsap-0000000000000a000';

const tags = (o: Record<string, string>): Tag[] => Object.entries(o).map(([key, value]) => ({ key, value }));
const fs = (id: string, t: Tag[]): FileSystem => ({ fileSystemId: id, arn: FS_ARN(id), tags: t }) as unknown as FileSystem;
const model: ApiCallEnv['model'] = {
  accountId: ACCT,
  fileSystems: new Map([
    [DEV, fs(DEV, tags({ env: 'dev', team: 'storage' }))],
    [PROD, fs(PROD, tags({ env: 'prod' }))],
    [BARE, fs(BARE, [])],
  ]),
  accessPoints: new Map([[AP, { accessPointId: AP, arn: AP_ARN(AP), fileSystemId: DEV, tags: tags({ app: 'web' }) } as unknown as AccessPoint]]),
};

const NOW = Date.parse('2026-06-01T00:00:00Z');
const policy = (...Statement: object[]): PolicyDocument => parseIdentityPolicy({ Version: '2012-10-17', Statement });

interface Call {
  labels?: Record<string, string>;
  query?: Record<string, string[]>;
  body?: unknown;
}

function decide(opName: string, call: Call, policies: PolicyDocument[] | undefined, env: Partial<ApiCallEnv> = {}) {
  const op = ALL_OPERATIONS.find((o) => o.name === opName);
  if (!op) throw new Error(`no operation ${opName}`);
  const req: ApiCallRequest = { labels: call.labels ?? {}, query: new Map(Object.entries(call.query ?? {})), body: call.body };
  return authorizeOperation(op, req, {
    enforce: true,
    callerArn: USER,
    callerAccountId: ACCT,
    ...(policies ? { identityPolicies: policies } : {}),
    model,
    region: REGION,
    sourceIp: '192.0.2.10',
    secureTransport: false,
    nowMs: NOW,
    ...env,
  });
}

const ALLOW = { allowed: true, reason: 'allow' };
const implicitDeny = (action: string, resourceArn: string) => ({ allowed: false, reason: 'implicit-deny', action: `elasticfilesystem:${action}`, resourceArn });
const explicitDeny = (action: string, resourceArn: string, statement: string) => ({
  allowed: false,
  reason: 'explicit-deny',
  action: `elasticfilesystem:${action}`,
  resourceArn,
  statement,
});
const create = (body: Record<string, unknown> = {}) => ({ body: { CreationToken: 'tok', ...body } });
const wireTags = (o: Record<string, string>) => Object.entries(o).map(([Key, Value]) => ({ Key, Value }));

describe('elasticfilesystem:Encrypted (AWS example: create only encrypted file systems)', () => {
  const encryptedOnly = [
    policy({ Effect: 'Allow', Action: 'elasticfilesystem:CreateFileSystem', Condition: { Bool: { 'elasticfilesystem:Encrypted': 'true' } }, Resource: '*' }),
  ];

  it('an unencrypted CreateFileSystem is refused (Encrypted absent counts as false), an encrypted one allowed', () => {
    expect(decide('CreateFileSystem', create(), encryptedOnly)).toEqual(implicitDeny('CreateFileSystem', '*'));
    expect(decide('CreateFileSystem', create({ Encrypted: false }), encryptedOnly)).toEqual(implicitDeny('CreateFileSystem', '*'));
    expect(decide('CreateFileSystem', create({ Encrypted: true }), encryptedOnly)).toEqual(ALLOW);
  });

  it('the Deny form: Bool Encrypted "false" denies unencrypted creates despite an Allow *', () => {
    const p = [
      policy({ Effect: 'Allow', Action: '*', Resource: '*' }),
      policy({ Sid: 'DenyUnencrypted', Effect: 'Deny', Action: 'elasticfilesystem:CreateFileSystem', Condition: { Bool: { 'elasticfilesystem:Encrypted': 'false' } }, Resource: '*' }),
    ];
    expect(decide('CreateFileSystem', create(), p)).toEqual(explicitDeny('CreateFileSystem', '*', 'DenyUnencrypted'));
    expect(decide('CreateFileSystem', create({ Encrypted: true }), p)).toEqual(ALLOW);
  });

  it('is a key of CreateFileSystem only: on other calls it is absent', () => {
    const p = [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: { 'elasticfilesystem:Encrypted': 'false' } } })];
    expect(decide('DescribeFileSystems', {}, p)).toEqual(implicitDeny('DescribeFileSystems', '*'));
    const ifExists = [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { BoolIfExists: { 'elasticfilesystem:Encrypted': 'true' } } })];
    expect(decide('DescribeFileSystems', {}, ifExists)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create(), ifExists)).toEqual(implicitDeny('CreateFileSystem', '*'));
  });
});

describe('aws:ResourceTag (tag-based access control)', () => {
  const devOnly = [
    policy({
      Effect: 'Allow',
      Action: 'elasticfilesystem:DeleteFileSystem',
      Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/*`,
      Condition: { StringEquals: { 'aws:ResourceTag/env': 'dev' } },
    }),
  ];
  const del = (id: string) => ({ labels: { FileSystemId: id } });

  it('DeleteFileSystem only on file systems tagged env=dev', () => {
    expect(decide('DeleteFileSystem', del(DEV), devOnly)).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(FS_ARN(DEV)), devOnly)).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(PROD), devOnly)).toEqual(implicitDeny('DeleteFileSystem', FS_ARN(PROD)));
    expect(decide('DeleteFileSystem', del(BARE), devOnly)).toEqual(implicitDeny('DeleteFileSystem', FS_ARN(BARE)));
    // a file system the model does not have has no tags
    expect(decide('DeleteFileSystem', del(UNKNOWN), devOnly)).toEqual(implicitDeny('DeleteFileSystem', FS_ARN(UNKNOWN)));
  });

  it('the tag key part and the key name are case-insensitive; the tag value is compared as the operator says', () => {
    const p = (Condition: object) => [policy({ Effect: 'Allow', Action: 'elasticfilesystem:DeleteFileSystem', Resource: '*', Condition })];
    expect(decide('DeleteFileSystem', del(DEV), p({ StringEquals: { 'aws:ResourceTag/ENV': 'dev' } }))).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(DEV), p({ StringEquals: { 'AWS:resourcetag/Env': 'dev' } }))).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(DEV), p({ StringEquals: { 'aws:ResourceTag/env': 'Dev' } }))).toEqual(implicitDeny('DeleteFileSystem', FS_ARN(DEV)));
    expect(decide('DeleteFileSystem', del(DEV), p({ StringEqualsIgnoreCase: { 'aws:ResourceTag/env': 'DEV' } }))).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(DEV), p({ StringLike: { 'aws:ResourceTag/team': 'stor*' } }))).toEqual(ALLOW);
  });

  it('an access point call sees the access point tags; CreateAccessPoint sees its file system tags', () => {
    const web = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:DeleteAccessPoint', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/app': 'web' } } })];
    expect(decide('DeleteAccessPoint', { labels: { AccessPointId: AP } }, web)).toEqual(ALLOW);
    const onDev = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:CreateAccessPoint', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/env': 'dev' } } })];
    expect(decide('CreateAccessPoint', { body: { ClientToken: 'c', FileSystemId: DEV } }, onDev)).toEqual(ALLOW);
    expect(decide('CreateAccessPoint', { body: { ClientToken: 'c', FileSystemId: PROD } }, onDev)).toEqual(implicitDeny('CreateAccessPoint', FS_ARN(PROD)));
  });

  it('an explicit Deny on a resource tag beats an Allow *', () => {
    const p = [
      policy({ Effect: 'Allow', Action: 'elasticfilesystem:*', Resource: '*' }),
      policy({ Sid: 'KeepProd', Effect: 'Deny', Action: 'elasticfilesystem:Delete*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod' } } }),
    ];
    expect(decide('DeleteFileSystem', del(PROD), p)).toEqual(explicitDeny('DeleteFileSystem', FS_ARN(PROD), 'KeepProd'));
    expect(decide('DeleteFileSystem', del(DEV), p)).toEqual(ALLOW);
    expect(decide('DeleteFileSystem', del(BARE), p)).toEqual(ALLOW);
  });
});

describe('aws:RequestTag and aws:TagKeys', () => {
  // AWS: allow tagging only with keys from a set, and env only dev or test
  const allowedKeys = [
    policy({
      Effect: 'Allow',
      Action: ['elasticfilesystem:TagResource', 'elasticfilesystem:CreateTags'],
      Resource: '*',
      Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] }, StringEqualsIfExists: { 'aws:RequestTag/env': ['dev', 'test'] } },
    }),
  ];
  const tagFs = (id: string, t: Record<string, string>) => ({ labels: { ResourceId: id }, body: { Tags: wireTags(t) } });

  it('ForAllValues: every tag key of the request must be in the set', () => {
    expect(decide('TagResource', tagFs(DEV, { env: 'dev' }), allowedKeys)).toEqual(ALLOW);
    expect(decide('TagResource', tagFs(DEV, { team: 'a', env: 'test' }), allowedKeys)).toEqual(ALLOW);
    expect(decide('TagResource', tagFs(DEV, { env: 'dev', owner: 'x' }), allowedKeys)).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
    expect(decide('TagResource', tagFs(AP, { Team: 'a' }), allowedKeys)).toEqual(implicitDeny('TagResource', AP_ARN(AP)));
    expect(decide('CreateTags', { labels: { FileSystemId: DEV }, body: { Tags: wireTags({ owner: 'x' }) } }, allowedKeys)).toEqual(implicitDeny('CreateTags', FS_ARN(DEV)));
    expect(decide('CreateTags', { labels: { FileSystemId: DEV }, body: { Tags: wireTags({ team: 'x' }) } }, allowedKeys)).toEqual(ALLOW);
  });

  it('aws:RequestTag/<key> is the value the request sets', () => {
    expect(decide('TagResource', tagFs(DEV, { env: 'prod' }), allowedKeys)).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
    const exact = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:TagResource', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/Owner': 'alice' } } })];
    expect(decide('TagResource', tagFs(DEV, { owner: 'alice' }), exact)).toEqual(ALLOW);
    expect(decide('TagResource', tagFs(DEV, { owner: 'bob' }), exact)).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
  });

  it('ForAllValues on an absent key is true, ForAnyValue false; Null tells them apart', () => {
    const all = [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } } })];
    const any = [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } } })];
    expect(decide('DescribeFileSystems', {}, all)).toEqual(ALLOW);
    expect(decide('DescribeFileSystems', {}, any)).toEqual(implicitDeny('DescribeFileSystems', '*'));
    expect(decide('TagResource', tagFs(DEV, { team: 'a', env: 'dev' }), any)).toEqual(ALLOW);
    expect(decide('TagResource', tagFs(DEV, { team: 'a' }), any)).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
    // AWS: pair ForAllValues with Null "false" so a request without tags does not pass
    const guarded = [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { Null: { 'aws:TagKeys': 'false' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } } })];
    expect(decide('DescribeFileSystems', {}, guarded)).toEqual(implicitDeny('DescribeFileSystems', '*'));
    expect(decide('TagResource', tagFs(DEV, { env: 'dev' }), guarded)).toEqual(ALLOW);
  });

  it('ForAllValues:StringLike with prefixes (AWS example) in a Deny', () => {
    const p = [
      policy({ Effect: 'Allow', Action: '*', Resource: '*' }),
      policy({ Sid: 'DenyRestrictedTags', Effect: 'Deny', Action: 'elasticfilesystem:*Tag*', Resource: '*', Condition: { Null: { 'aws:TagKeys': 'false' }, 'ForAllValues:StringLike': { 'aws:TagKeys': ['key1*', 'key2*'] } } }),
    ];
    expect(decide('TagResource', tagFs(DEV, { key1a: 'x', key2b: 'y' }), p)).toEqual(explicitDeny('TagResource', FS_ARN(DEV), 'DenyRestrictedTags'));
    expect(decide('TagResource', tagFs(DEV, { key1a: 'x', other: 'y' }), p)).toEqual(ALLOW);
    expect(decide('ListTagsForResource', { labels: { ResourceId: DEV } }, p)).toEqual(ALLOW);
  });

  it('UntagResource (query tagKeys) and DeleteTags (body TagKeys) carry the removed keys in aws:TagKeys', () => {
    const p = [
      policy({ Effect: 'Allow', Action: '*', Resource: '*' }),
      policy({ Sid: 'KeepEnv', Effect: 'Deny', Action: ['elasticfilesystem:UntagResource', 'elasticfilesystem:DeleteTags'], Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'env' } } }),
    ];
    expect(decide('UntagResource', { labels: { ResourceId: DEV }, query: { tagKeys: ['team', 'env'] } }, p)).toEqual(explicitDeny('UntagResource', FS_ARN(DEV), 'KeepEnv'));
    expect(decide('UntagResource', { labels: { ResourceId: DEV }, query: { tagKeys: ['team'] } }, p)).toEqual(ALLOW);
    expect(decide('DeleteTags', { labels: { FileSystemId: DEV }, body: { TagKeys: ['env'] } }, p)).toEqual(explicitDeny('DeleteTags', FS_ARN(DEV), 'KeepEnv'));
    expect(decide('DeleteTags', { labels: { FileSystemId: DEV }, body: { TagKeys: ['team'] } }, p)).toEqual(ALLOW);
  });

  it('a multi-valued key without a set operator: a positive operator matches when any value does, a negated one when none does', () => {
    const p = (Condition: object) => [policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition })];
    expect(decide('TagResource', tagFs(DEV, { env: 'dev', team: 'a' }), p({ StringEquals: { 'aws:TagKeys': 'env' } }))).toEqual(ALLOW);
    expect(decide('TagResource', tagFs(DEV, { env: 'dev', team: 'a' }), p({ StringNotEquals: { 'aws:TagKeys': 'env' } }))).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
    expect(decide('TagResource', tagFs(DEV, { team: 'a' }), p({ StringNotEquals: { 'aws:TagKeys': 'env' } }))).toEqual(ALLOW);
  });
});

describe('tag-on-create: elasticfilesystem:CreateAction', () => {
  // AWS example: TagResource only while creating a file system
  const createTagged = [
    policy(
      { Effect: 'Allow', Action: ['elasticfilesystem:CreateFileSystem', 'elasticfilesystem:CreateAccessPoint'], Resource: '*' },
      { Effect: 'Allow', Action: 'elasticfilesystem:TagResource', Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCT}:file-system/*`, Condition: { StringEquals: { 'elasticfilesystem:CreateAction': 'CreateFileSystem' } } },
    ),
  ];

  it('a create with Tags also needs TagResource on the new resource; without Tags it does not', () => {
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ Name: 'x' }) }), createTagged)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create(), createTagged)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create({ Tags: [] }), createTagged)).toEqual(ALLOW);
    const createOnly = [policy({ Effect: 'Allow', Action: 'elasticfilesystem:CreateFileSystem', Resource: '*' })];
    expect(decide('CreateFileSystem', create(), createOnly)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ Name: 'x' }) }), createOnly)).toEqual(implicitDeny('TagResource', NEW_FS));
  });

  it('TagResource later (no CreateAction) is refused', () => {
    expect(decide('TagResource', { labels: { ResourceId: DEV }, body: { Tags: wireTags({ a: 'b' }) } }, createTagged)).toEqual(implicitDeny('TagResource', FS_ARN(DEV)));
  });

  it('CreateAccessPoint: CreateAction is CreateAccessPoint and the new resource an access point', () => {
    const body = { ClientToken: 'c', FileSystemId: DEV, Tags: wireTags({ app: 'x' }) };
    expect(decide('CreateAccessPoint', { body }, createTagged)).toEqual(implicitDeny('TagResource', NEW_AP));
    const apTagged = [
      policy(
        { Effect: 'Allow', Action: 'elasticfilesystem:CreateAccessPoint', Resource: FS_ARN(DEV) },
        { Effect: 'Allow', Action: 'elasticfilesystem:TagResource', Resource: `arn:aws:elasticfilesystem:*:${ACCT}:access-point/*`, Condition: { StringEquals: { 'elasticfilesystem:CreateAction': 'CreateAccessPoint' } } },
      ),
    ];
    expect(decide('CreateAccessPoint', { body }, apTagged)).toEqual(ALLOW);
  });

  it('the TagResource check sees the request tags; an explicit Deny of it refuses the create', () => {
    const envDev = [
      policy(
        { Effect: 'Allow', Action: 'elasticfilesystem:CreateFileSystem', Resource: '*' },
        { Effect: 'Allow', Action: 'elasticfilesystem:TagResource', Resource: '*', Condition: { StringEquals: { 'elasticfilesystem:CreateAction': 'CreateFileSystem', 'aws:RequestTag/env': 'dev' } } },
      ),
    ];
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ env: 'dev' }) }), envDev)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ env: 'prod' }) }), envDev)).toEqual(implicitDeny('TagResource', NEW_FS));
    const denyTag = [policy({ Effect: 'Allow', Action: '*', Resource: '*' }), policy({ Sid: 'NoTags', Effect: 'Deny', Action: 'elasticfilesystem:TagResource', Resource: '*' })];
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ env: 'dev' }) }), denyTag)).toEqual(explicitDeny('TagResource', NEW_FS, 'NoTags'));
    expect(decide('CreateFileSystem', create(), denyTag)).toEqual(ALLOW);
  });

  it('requiring a tag on create: Null aws:RequestTag/<key> "false"', () => {
    const p = [policy({ Effect: 'Allow', Action: ['elasticfilesystem:CreateFileSystem', 'elasticfilesystem:TagResource'], Resource: '*', Condition: { Null: { 'aws:RequestTag/cost-center': 'false' } } })];
    expect(decide('CreateFileSystem', create(), p)).toEqual(implicitDeny('CreateFileSystem', '*'));
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ 'cost-center': '42' }) }), p)).toEqual(ALLOW);
  });

  it('...IfExists: a request tag, when present, must match', () => {
    const p = [policy({ Effect: 'Allow', Action: ['elasticfilesystem:CreateFileSystem', 'elasticfilesystem:TagResource'], Resource: '*', Condition: { StringEqualsIfExists: { 'aws:RequestTag/env': 'dev' } } })];
    expect(decide('CreateFileSystem', create(), p)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ env: 'dev' }) }), p)).toEqual(ALLOW);
    expect(decide('CreateFileSystem', create({ Tags: wireTags({ env: 'prod' }) }), p)).toEqual(implicitDeny('CreateFileSystem', '*'));
  });
});

describe('the account root and the no-credentials mode', () => {
  const denyAll = [policy({ Effect: 'Deny', Action: '*', Resource: '*' })];
  it('are allowed everything, tag-on-create included', () => {
    const tagged = create({ Tags: wireTags({ env: 'x' }) });
    expect(decide('CreateFileSystem', tagged, denyAll, { callerArn: `arn:aws:iam::${ACCT}:root` })).toEqual({ allowed: true, reason: 'root' });
    expect(decide('CreateFileSystem', tagged, undefined, { callerArn: `arn:aws:iam::${ACCT}:root` })).toEqual({ allowed: true, reason: 'root' });
    expect(decide('CreateFileSystem', tagged, denyAll, { enforce: false })).toEqual({ allowed: true, reason: 'not-enforced' });
    expect(decide('CreateFileSystem', tagged, denyAll)).toEqual({ ...implicitDeny('CreateFileSystem', '*'), reason: 'explicit-deny', statement: 'identity[0].Statement[0]' });
  });
});

describe('request keys every call has', () => {
  const p = (Condition: object) => [policy({ Effect: 'Allow', Action: 'elasticfilesystem:DescribeFileSystems', Resource: '*', Condition })];
  const describeFs = (policies: PolicyDocument[], env: Partial<ApiCallEnv> = {}) => decide('DescribeFileSystems', {}, policies, env);
  const DENIED = implicitDeny('DescribeFileSystems', '*');

  it('aws:SourceIp: the HTTP peer (IPv4-mapped IPv6 is the IPv4 address)', () => {
    const net10 = p({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } });
    expect(describeFs(net10, { sourceIp: '10.1.2.3' })).toEqual(ALLOW);
    expect(describeFs(net10, { sourceIp: '::ffff:10.1.2.3' })).toEqual(ALLOW);
    expect(describeFs(net10, { sourceIp: '192.168.0.1' })).toEqual(DENIED);
    expect(describeFs(p({ NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }), { sourceIp: '2001:db8::1' })).toEqual(DENIED);
    expect(describeFs(p({ NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }), { sourceIp: '192.168.0.1' })).toEqual(ALLOW);
  });

  it('aws:SecureTransport: as the server says (plain HTTP: false)', () => {
    expect(describeFs(p({ Bool: { 'aws:SecureTransport': 'true' } }))).toEqual(DENIED);
    expect(describeFs(p({ Bool: { 'aws:SecureTransport': 'true' } }), { secureTransport: true })).toEqual(ALLOW);
  });

  it('aws:PrincipalArn and aws:PrincipalAccount: the caller', () => {
    const users = p({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCT}:user/*` } });
    expect(describeFs(users)).toEqual(ALLOW);
    expect(describeFs(users, { callerArn: ROLE })).toEqual(DENIED);
    expect(describeFs(p({ StringEquals: { 'aws:PrincipalAccount': ACCT } }))).toEqual(ALLOW);
    expect(describeFs(p({ StringEquals: { 'aws:PrincipalAccount': '444455556666' } }))).toEqual(DENIED);
  });

  it('aws:CurrentTime with DateLessThan (a grant that expires) and aws:EpochTime', () => {
    const until = p({ DateLessThan: { 'aws:CurrentTime': '2026-07-01T00:00:00Z' } });
    expect(describeFs(until)).toEqual(ALLOW);
    expect(describeFs(until, { nowMs: Date.parse('2026-08-01T00:00:00Z') })).toEqual(DENIED);
    expect(describeFs(p({ DateGreaterThanEquals: { 'aws:EpochTime': Math.floor(NOW / 1000) } }))).toEqual(ALLOW);
    expect(describeFs(p({ DateGreaterThan: { 'aws:EpochTime': Math.floor(NOW / 1000) } }))).toEqual(DENIED);
  });

  it('a key not in the table is absent: a positive operator is false, a negated one true', () => {
    expect(describeFs(p({ StringEquals: { 'aws:SourceVpc': 'vpc-1' } }))).toEqual(DENIED);
    expect(describeFs(p({ StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } }))).toEqual(ALLOW);
    expect(describeFs(p({ Null: { 'aws:SourceVpc': 'true' } }))).toEqual(ALLOW);
  });
});

describe('the condition-key table', () => {
  it('finds keys case-insensitively, with the ${TagKey} part as written', () => {
    expect(conditionKeyDef('AWS:SOURCEIP')).toMatchObject({ def: { key: 'aws:SourceIp', type: 'IpAddress', multiValued: false }, param: '' });
    expect(conditionKeyDef('aws:requesttag/Cost-Center')).toMatchObject({ def: { key: 'aws:RequestTag/${TagKey}', type: 'String' }, param: 'Cost-Center' });
    expect(conditionKeyDef('aws:TagKeys')).toMatchObject({ def: { type: 'String', multiValued: true } });
    expect(conditionKeyDef('ElasticFileSystem:Encrypted')).toMatchObject({ def: { type: 'Bool' } });
    expect(conditionKeyDef('aws:RequestTag/')).toBeUndefined();
    expect(conditionKeyDef('aws:SourceVpc')).toBeUndefined();
  });

  it('has each key once', () => {
    const names = CONDITION_KEYS.map((k) => k.key.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    expect(CONDITION_KEYS.map((k) => k.key)).toEqual([
      'aws:SecureTransport',
      'aws:SourceIp',
      'aws:PrincipalArn',
      'aws:PrincipalAccount',
      'aws:CurrentTime',
      'aws:EpochTime',
      'aws:RequestTag/${TagKey}',
      'aws:ResourceTag/${TagKey}',
      'aws:TagKeys',
      'elasticfilesystem:Encrypted',
      'elasticfilesystem:CreateAction',
      'elasticfilesystem:AccessPointArn',
      'elasticfilesystem:AccessedViaMountTarget',
    ]);
  });

  it('looks values up in the request facts; an unknown fact or an empty list is absent', () => {
    const look = conditionLookup({ requestTags: tags({ Env: 'dev', env: 'test' }), tagKeys: [], nowMs: 0, encrypted: false });
    expect(look('aws:RequestTag/env')).toBe('test');
    expect(look('aws:RequestTag/Env')).toBe('dev');
    expect(look('aws:RequestTag/ENV')).toBe('dev');
    expect(look('aws:RequestTag/other')).toBeUndefined();
    expect(look('aws:TagKeys')).toBeUndefined();
    expect(look('aws:CurrentTime')).toBe('1970-01-01T00:00:00.000Z');
    expect(look('elasticfilesystem:Encrypted')).toBe(false);
    expect(look('aws:SourceIp')).toBeUndefined();
    expect(tagValue(undefined, 'x')).toBeUndefined();
  });

  it('request facts come from the members each operation declares; malformed members are absent', () => {
    const op = (name: string) => ALL_OPERATIONS.find((o) => o.name === name)!.requestKeys;
    const req = (body: unknown, query: Record<string, string[]> = {}): ApiCallRequest => ({ labels: {}, query: new Map(Object.entries(query)), body });
    expect(requestKeyFacts(op('CreateFileSystem'), req({ Tags: [{ Key: 'a', Value: 'b' }, { Key: 'c' }, 'junk'], Encrypted: true }))).toEqual({
      requestTags: [
        { key: 'a', value: 'b' },
        { key: 'c', value: '' },
      ],
      tagKeys: ['a', 'c'],
      encrypted: true,
    });
    expect(requestKeyFacts(op('CreateFileSystem'), req({ Tags: 'no', Encrypted: 'true' }))).toEqual({ encrypted: false });
    expect(requestKeyFacts(op('CreateFileSystem'), req(undefined))).toEqual({ encrypted: false });
    expect(requestKeyFacts(op('UntagResource'), req(undefined, { tagKeys: ['x', 'y'] }))).toEqual({ tagKeys: ['x', 'y'] });
    expect(requestKeyFacts(op('DeleteTags'), req({ TagKeys: ['x', 3] }))).toEqual({ tagKeys: ['x'] });
    expect(requestKeyFacts(op('DescribeFileSystems'), req({ Tags: [{ Key: 'a', Value: 'b' }] }))).toEqual({});
  });

  it('operations that put tags on, take them off, or create declare it', () => {
    const declared = Object.fromEntries(ALL_OPERATIONS.filter((o) => o.requestKeys).map((o) => [o.name, o.requestKeys]));
    expect(declared).toEqual({
      CreateFileSystem: { tags: 'Tags', encrypted: 'Encrypted', creates: 'file-system' },
      CreateAccessPoint: { tags: 'Tags', creates: 'access-point' },
      TagResource: { tags: 'Tags' },
      UntagResource: { tagKeys: { from: 'query', member: 'tagKeys' } },
      CreateTags: { tags: 'Tags' },
      DeleteTags: { tagKeys: { from: 'body', member: 'TagKeys' } },
    });
  });
});

describe('file system policies (NFS) see aws:SourceIp', () => {
  const FS = FS_ARN(DEV);
  const fromNet10 = normaliseFileSystemPolicy(
    { Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'], Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }] },
    FS,
    { uuid: () => '00000000-0000-4000-8000-000000000000' },
  );
  const anon = { kind: 'anonymous' } as const;

  it('authorizeClient: the client address decides an IpAddress condition; without an address the key is absent', () => {
    const at = (sourceIp?: string) => authorizeClient({ principal: anon, fileSystemArn: FS, fsPolicy: fromNet10, secureTransport: false, ...(sourceIp ? { sourceIp } : {}) });
    expect([at('10.9.8.7').mount, at('10.9.8.7').write, at('10.9.8.7').root]).toEqual([true, true, false]);
    expect([at('192.168.1.1').mount, at('192.168.1.1').write]).toEqual([false, false]);
    expect(at().mount).toBe(false);
  });

  it('authorizeConnection passes the peer address', () => {
    const peer = (remoteAddress: string): PeerIdentity => ({ secure: false, remoteAddress, remotePort: 1, localAddress: '127.0.0.1', localPort: 2049 });
    const theFs = { fileSystemId: DEV, arn: FS, policy: fromNet10, tags: [] } as unknown as FileSystem;
    const m = { accessPoints: new Map(), credentials: new Map(), options: { ...DEFAULT_OPTIONS } };
    expect(authorizeConnection(peer('::ffff:10.0.0.1'), theFs, m).grant).toMatchObject({ mount: true, write: true, root: false });
    expect(authorizeConnection(peer('127.0.0.1'), theFs, m).grant).toMatchObject({ mount: false, write: false, root: false });
  });

  it('the principal and time keys stay absent on the NFS side, as before', () => {
    const ctx = { principal: { kind: 'iam', arn: ROLE, accountId: ACCT } as const, action: 'elasticfilesystem:ClientMount', resourceArn: FS };
    const p = normaliseFileSystemPolicy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Condition: { Null: { 'aws:PrincipalArn': 'true', 'aws:CurrentTime': 'true' } } }] }, FS, { uuid: () => 'u' });
    expect(evaluate({ ...ctx, conditions: conditionLookup({ secureTransport: false, viaMountTarget: true }) }, p).decision).toBe('allow');
    const r = authorizeClient({ principal: ctx.principal, fileSystemArn: FS, fsPolicy: p, secureTransport: false, sourceIp: '10.0.0.1' });
    expect(r.mount).toBe(true);
  });
});
