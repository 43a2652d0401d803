import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateFileSystemCommand, DeleteFileSystemCommand, DescribeFileSystemsCommand, type EFSClient } from '@aws-sdk/client-efs';
import type { Credential, PolicyDocument } from '../../src/model/types.js';
import { ACCOUNT, ROOT_ARN, auditOf, efsClient, expectErrorCode, fsArn, rawRequest, startApiServer, token, type ApiTestServer, type Keys } from './api-helpers.js';

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
    expect(res.json).toMatchObject({ ErrorCode: 'AccessDeniedException', Message: expect.stringContaining('is not authorized to perform: elasticfilesystem:DeleteFileSystem') });
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

  it('a key without identity policies is refused every call', async () => {
    await expectErrorCode(client(BARE).send(new DescribeFileSystemsCommand({})), 'AccessDeniedException', 403);
  });
});

