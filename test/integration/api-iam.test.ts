import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateFileSystemCommand,
  DeleteFileSystemCommand,
  DescribeFileSystemsCommand,
  EFSServiceException,
  ListTagsForResourceCommand,
  TagResourceCommand,
  type EFSClient,
} from '@aws-sdk/client-efs';
import type { Credential } from '../../src/model/types.js';
import type { PolicyDocument } from '../../src/model/policy-document.js';
import { ACCOUNT, REGION, ROOT_ARN, auditOf, efsClient, expectErrorCode, fsArn, rawRequest, rejection, startApiServer, token, type ApiTestServer, type Keys } from './api-helpers.js';

// IAM for the management API: with credentials configured, the caller's
// identity policies decide each call (elasticfilesystem:<Operation> on the
// file system / access point ARN, or *).

const doc = (...Statement: PolicyDocument['Statement']): PolicyDocument[] => [{ Version: '2012-10-17', Statement }];

const READER_ARN = `arn:aws:iam::${ACCOUNT}:user/reader`;
const READER: Keys = { accessKeyId: 'AKIDIAMREADER000001', secretAccessKey: 'reader-secret' };
const DELETER_ARN = `arn:aws:iam::${ACCOUNT}:role/deleter`;
const DELETER: Keys = { accessKeyId: 'AKIDIAMDELETER00001', secretAccessKey: 'deleter-secret' };
const DENIED_ARN = `arn:aws:iam::${ACCOUNT}:user/denied`;
const DENIED: Keys = { accessKeyId: 'AKIDIAMDENIED000001', secretAccessKey: 'denied-secret' };
const ROOT: Keys = { accessKeyId: 'AKIDIAMROOT00000001', secretAccessKey: 'root-secret' };
const BARE: Keys = { accessKeyId: 'AKIDIAMBARE00000001', secretAccessKey: 'bare-secret' };
const ENCRYPTOR_ARN = `arn:aws:iam::${ACCOUNT}:user/encryptor`;
const ENCRYPTOR: Keys = { accessKeyId: 'AKIDIAMENCRYPTOR001', secretAccessKey: 'encryptor-secret' };
const TAGGER_ARN = `arn:aws:iam::${ACCOUNT}:role/tagger`;
const TAGGER: Keys = { accessKeyId: 'AKIDIAMTAGGER000001', secretAccessKey: 'tagger-secret' };

/** The callers; the deleter's policy names a file system made first, so it is added before a restart. */
function credentials(): Map<string, Credential> {
  const m = new Map<string, Credential>();
  m.set(ROOT.accessKeyId, { ...ROOT, principalArn: ROOT_ARN, accountId: ACCOUNT });
  m.set(READER.accessKeyId, { ...READER, principalArn: READER_ARN, accountId: ACCOUNT, identityPolicies: doc({ Effect: 'Allow', Action: 'elasticfilesystem:Describe*', Resource: '*' }) });
  m.set(DENIED.accessKeyId, {
    ...DENIED,
    principalArn: DENIED_ARN,
    accountId: ACCOUNT,
    identityPolicies: [...doc({ Effect: 'Allow', Action: '*', Resource: '*' }), ...doc({ Effect: 'Deny', Action: 'elasticfilesystem:DeleteFileSystem', Resource: '*' })],
  });
  m.set(BARE.accessKeyId, { ...BARE, principalArn: `arn:aws:iam::${ACCOUNT}:user/bare`, accountId: ACCOUNT });
  // AWS's example: create only encrypted file systems
  m.set(ENCRYPTOR.accessKeyId, {
    ...ENCRYPTOR,
    principalArn: ENCRYPTOR_ARN,
    accountId: ACCOUNT,
    identityPolicies: doc({ Effect: 'Allow', Action: 'elasticfilesystem:CreateFileSystem', Condition: { Bool: { 'elasticfilesystem:Encrypted': 'true' } }, Resource: '*' }),
  });
  // AWS's tag-on-create example: TagResource only while creating a file system
  m.set(TAGGER.accessKeyId, {
    ...TAGGER,
    principalArn: TAGGER_ARN,
    accountId: ACCOUNT,
    identityPolicies: doc(
      { Effect: 'Allow', Action: ['elasticfilesystem:CreateFileSystem', 'elasticfilesystem:ListTagsForResource'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: 'elasticfilesystem:TagResource',
        Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/*`,
        Condition: { StringEquals: { 'elasticfilesystem:CreateAction': 'CreateFileSystem' } },
      },
    ),
  });
  return m;
}

describe('IAM for API calls (identity-based policies)', () => {
  let ts: ApiTestServer;
  const lines: string[] = [];
  const clients: EFSClient[] = [];
  let reader: EFSClient;
  let deleter: EFSClient;
  let denied: EFSClient;
  let root: EFSClient;
  // file systems made by the root; the deleter may delete only `doomed`
  let doomed: string;
  let kept: string;

  beforeAll(async () => {
    const creds = credentials();
    ts = await startApiServer({ credentials: creds, logLines: lines });
    const first = efsClient(ts, ROOT);
    doomed = (await first.send(new CreateFileSystemCommand({ CreationToken: token() }))).FileSystemId!;
    kept = (await first.send(new CreateFileSystemCommand({ CreationToken: token() }))).FileSystemId!;
    first.destroy();
    creds.set(DELETER.accessKeyId, {
      ...DELETER,
      principalArn: DELETER_ARN,
      accountId: ACCOUNT,
      identityPolicies: doc(
        { Effect: 'Allow', Action: 'elasticfilesystem:DeleteFileSystem', Resource: fsArn(doomed) },
        { Effect: 'Allow', Action: 'elasticfilesystem:DescribeFileSystems', Resource: '*' },
      ),
    });
    await ts.restart(); // the harness hands the same credentials map to the restarted server
    root = client(ROOT);
    reader = client(READER);
    deleter = client(DELETER);
    denied = client(DENIED);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await ts?.cleanup();
  });

  const client = (keys: Keys): EFSClient => {
    const c = efsClient(ts, keys);
    clients.push(c);
    return c;
  };

  it('the account root key is allowed everything, without any policy', async () => {
    const made = await root.send(new CreateFileSystemCommand({ CreationToken: token() }));
    const all = await root.send(new DescribeFileSystemsCommand({}));
    expect(all.FileSystems!.map((f) => f.FileSystemId)).toEqual(expect.arrayContaining([doomed, kept, made.FileSystemId]));
    await root.send(new DeleteFileSystemCommand({ FileSystemId: made.FileSystemId! }));
  });

  it('a user allowed only elasticfilesystem:Describe* can describe but not create or delete (AccessDeniedException, 403)', async () => {
    const out = await reader.send(new DescribeFileSystemsCommand({}));
    expect(out.FileSystems!.length).toBeGreaterThanOrEqual(2);
    expect((await reader.send(new DescribeFileSystemsCommand({ FileSystemId: kept }))).FileSystems![0]!.FileSystemId).toBe(kept);

    const create = await expectErrorCode(reader.send(new CreateFileSystemCommand({ CreationToken: token() })), 'AccessDeniedException', 403);
    expect(create.message).toBe(
      `User: ${READER_ARN} is not authorized to perform: elasticfilesystem:CreateFileSystem on resource: * because no identity-based policy allows the elasticfilesystem:CreateFileSystem action`,
    );
    const del = await expectErrorCode(reader.send(new DeleteFileSystemCommand({ FileSystemId: kept })), 'AccessDeniedException', 403);
    expect(del.message).toBe(
      `User: ${READER_ARN} is not authorized to perform: elasticfilesystem:DeleteFileSystem on resource: ${fsArn(kept)} because no identity-based policy allows the elasticfilesystem:DeleteFileSystem action`,
    );
    expect((await root.send(new DescribeFileSystemsCommand({ FileSystemId: kept }))).FileSystems).toHaveLength(1);
    // nothing was created by the refused call
    expect((await root.send(new DescribeFileSystemsCommand({}))).FileSystems!.length).toBe(out.FileSystems!.length);

    const [audit] = await auditOf(lines, del.$metadata.requestId);
    expect(audit).toMatchObject({ eventName: 'DeleteFileSystem', errorCode: 'AccessDenied', httpStatus: 403, userIdentity: { arn: READER_ARN } });
  });

  it('on the wire: 403, x-amzn-ErrorType AccessDeniedException, {ErrorCode, Message}', async () => {
    const res = await rawRequest(ts, { method: 'DELETE', path: `/2015-02-01/file-systems/${kept}`, sign: READER });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('AccessDeniedException');
    expect(res.json).toEqual({
      ErrorCode: 'AccessDeniedException',
      Message: `User: ${READER_ARN} is not authorized to perform: elasticfilesystem:DeleteFileSystem on resource: ${fsArn(kept)} because no identity-based policy allows the elasticfilesystem:DeleteFileSystem action`,
    });
  });

  it('DeleteFileSystem allowed on one file system ARN deletes that one and not another', async () => {
    const refused = await expectErrorCode(deleter.send(new DeleteFileSystemCommand({ FileSystemId: kept })), 'AccessDeniedException', 403);
    expect(refused.message).toContain(`on resource: ${fsArn(kept)} because no identity-based policy allows`);
    // the ARN form of the id names the same resource
    await expectErrorCode(deleter.send(new DeleteFileSystemCommand({ FileSystemId: fsArn(kept) })), 'AccessDeniedException', 403);
    await deleter.send(new DeleteFileSystemCommand({ FileSystemId: doomed }));
    const left = (await deleter.send(new DescribeFileSystemsCommand({}))).FileSystems!.map((f) => f.FileSystemId);
    expect(left).toContain(kept);
    expect(left).not.toContain(doomed);
  });

  it('an explicit Deny wins over an Allow *', async () => {
    const err = await expectErrorCode(denied.send(new DeleteFileSystemCommand({ FileSystemId: kept })), 'AccessDeniedException', 403);
    expect(err.message).toBe(
      `User: ${DENIED_ARN} is not authorized to perform: elasticfilesystem:DeleteFileSystem on resource: ${fsArn(kept)} with an explicit deny in an identity-based policy`,
    );
    // everything else is allowed
    const made = await denied.send(new CreateFileSystemCommand({ CreationToken: token() }));
    expect((await denied.send(new DescribeFileSystemsCommand({ FileSystemId: made.FileSystemId! }))).FileSystems).toHaveLength(1);
    expect((await root.send(new DescribeFileSystemsCommand({ FileSystemId: kept }))).FileSystems).toHaveLength(1);
  });

  it('elasticfilesystem:Encrypted: a user allowed only encrypted creates is refused an unencrypted one and may make an encrypted one', async () => {
    const enc = client(ENCRYPTOR);
    const before = (await root.send(new DescribeFileSystemsCommand({}))).FileSystems!.length;
    const err = await rejection(enc.send(new CreateFileSystemCommand({ CreationToken: token() })));
    expect(err).toBeInstanceOf(EFSServiceException); // the EFS model declares no AccessDeniedException class
    expect([err.name, err.$metadata.httpStatusCode, err.message]).toEqual([
      'AccessDeniedException',
      403,
      `User: ${ENCRYPTOR_ARN} is not authorized to perform: elasticfilesystem:CreateFileSystem on resource: * because no identity-based policy allows the elasticfilesystem:CreateFileSystem action`,
    ]);
    await expectErrorCode(enc.send(new CreateFileSystemCommand({ CreationToken: token(), Encrypted: false })), 'AccessDeniedException', 403);
    expect((await root.send(new DescribeFileSystemsCommand({}))).FileSystems!.length).toBe(before);

    const made = await enc.send(new CreateFileSystemCommand({ CreationToken: token(), Encrypted: true }));
    expect(made.Encrypted).toBe(true);
    expect((await root.send(new DescribeFileSystemsCommand({ FileSystemId: made.FileSystemId! }))).FileSystems![0]!.Encrypted).toBe(true);
    // tags on create need TagResource too, which this user does not have
    const tagged = await expectErrorCode(
      enc.send(new CreateFileSystemCommand({ CreationToken: token(), Encrypted: true, Tags: [{ Key: 'env', Value: 'dev' }] })),
      'AccessDeniedException',
      403,
    );
    expect(tagged.message).toBe(
      `User: ${ENCRYPTOR_ARN} is not authorized to perform: elasticfilesystem:TagResource on resource: arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/* because no identity-based policy allows the elasticfilesystem:TagResource action`,
    );
    expect((await root.send(new DescribeFileSystemsCommand({}))).FileSystems!.length).toBe(before + 1);
  });

  it('elasticfilesystem:CreateAction: TagResource allowed only during CreateFileSystem tags new file systems, and nothing later', async () => {
    const tagger = client(TAGGER);
    const made = await tagger.send(new CreateFileSystemCommand({ CreationToken: token(), Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'Name', Value: 'tagged' }] }));
    expect(made.Name).toBe('tagged');
    const listed = await tagger.send(new ListTagsForResourceCommand({ ResourceId: made.FileSystemId! }));
    expect(listed.Tags).toEqual([
      { Key: 'env', Value: 'dev' },
      { Key: 'Name', Value: 'tagged' },
    ]);
    const later = await expectErrorCode(tagger.send(new TagResourceCommand({ ResourceId: made.FileSystemId!, Tags: [{ Key: 'team', Value: 'a' }] })), 'AccessDeniedException', 403);
    expect(later.message).toBe(
      `User: ${TAGGER_ARN} is not authorized to perform: elasticfilesystem:TagResource on resource: ${fsArn(made.FileSystemId!)} because no identity-based policy allows the elasticfilesystem:TagResource action`,
    );
    expect((await tagger.send(new ListTagsForResourceCommand({ ResourceId: made.FileSystemId! }))).Tags).toEqual(listed.Tags);
    // untagged creates need no TagResource
    expect((await tagger.send(new CreateFileSystemCommand({ CreationToken: token() }))).Tags).toEqual([]);
  });

  it('a key without identity policies is refused every call', async () => {
    await expectErrorCode(client(BARE).send(new DescribeFileSystemsCommand({})), 'AccessDeniedException', 403);
  });
});

