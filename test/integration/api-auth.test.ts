import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateTagsCommand,
  DeleteAccessPointCommand,
  DeleteFileSystemCommand,
  DescribeAccessPointsCommand,
  DescribeAccountPreferencesCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetsCommand,
  DescribeTagsCommand,
  FileSystemNotFound,
  InvalidPolicyException,
  ListTagsForResourceCommand,
  PutFileSystemPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type EFSClient,
} from '@aws-sdk/client-efs';
import type { Credential } from '../../src/model/types.js';
import {
  ACCOUNT,
  NO_FS,
  ROOT_ARN,
  apiAudits,
  auditOf,
  efsClient,
  expectError,
  expectErrorCode,
  fsArn,
  rawRequest,
  startApiServer,
  token,
  type ApiAudit,
  type ApiTestServer,
} from './api-helpers.js';

// SigV4 authentication of the EFS management API, the wire format of its
// answers, and the audit line every call writes.

const ADMIN_ARN = 'arn:aws:iam::111122223333:role/admin';
const ADMIN = { accessKeyId: 'AKIDLOCALEFSADMIN01', secretAccessKey: 'admin-secret/with+odd=chars' };
const ALICE_ARN = 'arn:aws:iam::111122223333:user/alice';
const ALICE = { accessKeyId: 'AKIDLOCALEFSALICE01', secretAccessKey: 'alice-secret' };
const SESSION_ARN = 'arn:aws:sts::111122223333:assumed-role/deployer/session-1';
const SESSION = { accessKeyId: 'ASIALOCALEFSSESSION1', secretAccessKey: 'session-secret', sessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN//////////wEaDEXAMPLE==' };

// With credentials every API call needs an identity-policy Allow (test/integration/api-iam.test.ts); these callers may do everything.
const ALLOW_ALL = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: 'elasticfilesystem:*', Resource: '*' }] }];

function credentials(): Map<string, Credential> {
  const m = new Map<string, Credential>();
  m.set(ADMIN.accessKeyId, { ...ADMIN, principalArn: ADMIN_ARN, accountId: '111122223333', identityPolicies: ALLOW_ALL });
  m.set(ALICE.accessKeyId, { ...ALICE, principalArn: ALICE_ARN, accountId: '111122223333', identityPolicies: ALLOW_ALL });
  m.set(SESSION.accessKeyId, { ...SESSION, principalArn: SESSION_ARN, accountId: '111122223333', identityPolicies: ALLOW_ALL });
  return m;
}

const CREATE_PATH = '/2015-02-01/file-systems';

describe('without credentials configured', () => {
  let ts: ApiTestServer;
  let efs: EFSClient;
  const lines: string[] = [];

  beforeAll(async () => {
    ts = await startApiServer({ logLines: lines });
    efs = efsClient(ts);
  });
  afterAll(async () => {
    efs?.destroy();
    await ts?.cleanup();
  });

  it('any well-formed signature is accepted, as the root of the default account', async () => {
    const other = efsClient(ts, { accessKeyId: 'AKIAANYTHINGATALL99', secretAccessKey: 'whatever' });
    const out = await other.send(new DescribeFileSystemsCommand({ FileSystemId: ts.fileSystemId }));
    other.destroy();
    expect(out.FileSystems![0]!.OwnerId).toBe(ACCOUNT);
    const [audit] = await auditOf(lines, out.$metadata.requestId);
    expect(audit!.userIdentity).toMatchObject({ arn: ROOT_ARN, accountId: ACCOUNT, accessKeyId: 'AKIAANYTHINGATALL99' });
    const raw = await rawRequest(ts, { method: 'GET', path: CREATE_PATH, sign: { accessKeyId: 'AKIDRAW', secretAccessKey: 'raw' } });
    expect(raw.status).toBe(200);
  });

  it('success on the wire: status, x-amzn-RequestId, JSON with PascalCase members and epoch-second timestamps', async () => {
    const creationToken = token('wire');
    const res = await rawRequest(ts, { method: 'POST', path: CREATE_PATH, body: { CreationToken: creationToken }, sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/\S/);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json).toMatchObject({ CreationToken: creationToken, LifeCycleState: 'creating', OwnerId: ACCOUNT, NumberOfMountTargets: 0 });
    expect(typeof res.json.CreationTime).toBe('number');
    expect(Math.abs(res.json.CreationTime - Date.now() / 1000)).toBeLessThan(3600);
    expect(typeof res.json.SizeInBytes.Value).toBe('number');
    expect(res.json.FileSystemId).toMatch(/^fs-[0-9a-f]{17}$/);

    const del = await rawRequest(ts, { method: 'DELETE', path: `${CREATE_PATH}/${res.json.FileSystemId}`, sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
  });

  it('errors on the wire: status, x-amzn-ErrorType, x-amzn-RequestId, {ErrorCode, Message} (+FileSystemId)', async () => {
    const res = await rawRequest(ts, { method: 'GET', path: CREATE_PATH, query: { FileSystemId: NO_FS }, sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('FileSystemNotFound');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/\S/);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json.ErrorCode).toBe('FileSystemNotFound');
    expect(typeof res.json.Message).toBe('string');
    expect(res.json.Message).toContain(NO_FS);

    const creationToken = token('dup');
    const first = await rawRequest(ts, { method: 'POST', path: CREATE_PATH, body: { CreationToken: creationToken }, sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    const dup = await rawRequest(ts, { method: 'POST', path: CREATE_PATH, body: { CreationToken: creationToken }, sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('FileSystemAlreadyExists');
    expect(dup.json).toMatchObject({ ErrorCode: 'FileSystemAlreadyExists', FileSystemId: first.json.FileSystemId });

    const bad = await rawRequest(ts, { method: 'POST', path: CREATE_PATH, body: '{"CreationToken": ', sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('BadRequest');
    expect(bad.json.ErrorCode).toBe('BadRequest');

    const unknownPath = await rawRequest(ts, { method: 'GET', path: '/2015-02-01/no-such-thing', sign: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(unknownPath.status).toBeGreaterThanOrEqual(400);
    expect(unknownPath.status).toBeLessThan(500);
    expect(unknownPath.headers.get('x-amzn-errortype')).toMatch(/\S/);
  });

  describe('audit', () => {
    it('a successful call writes one line with the call, its answer, the caller and the request id', async () => {
      const creationToken = token('audited');
      const out = await efs.send(new CreateFileSystemCommand({ CreationToken: creationToken, Tags: [{ Key: 'Name', Value: 'audited' }] }));
      const audits = await auditOf(lines, out.$metadata.requestId);
      expect(audits).toHaveLength(1);
      const a = audits[0]!;
      expect(a).toMatchObject({
        part: 'audit',
        msg: 'api call',
        eventName: 'CreateFileSystem',
        eventSource: 'elasticfilesystem.amazonaws.com',
        requestID: out.$metadata.requestId,
        userIdentity: { arn: ROOT_ARN, accountId: ACCOUNT, accessKeyId: 'test' },
      });
      expect(typeof a.userIdentity.type).toBe('string');
      expect(a.userIdentity.type.length).toBeGreaterThan(0);
      expect(a.sourceIPAddress).toContain('127.0.0.1');
      expect(JSON.stringify(a.requestParameters)).toContain(creationToken);
      expect(JSON.stringify(a.responseElements)).toContain(out.FileSystemId!);
      expect(a.errorCode).toBeUndefined();
    });

    it('a failed call writes one line with errorCode and no responseElements', async () => {
      const err = await expectError(efs.send(new DescribeFileSystemsCommand({ FileSystemId: NO_FS })), FileSystemNotFound, 404);
      const audits = await auditOf(lines, err.$metadata.requestId);
      expect(audits).toHaveLength(1);
      expect(audits[0]).toMatchObject({ eventName: 'DescribeFileSystems', errorCode: 'FileSystemNotFound', requestID: err.$metadata.requestId });
      expect(audits[0]!.responseElements ?? null).toBeNull();
      expect(JSON.stringify(audits[0]!.requestParameters)).toContain(NO_FS);
    });

    it('every operation is named by its operation name, one line per call', async () => {
      const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: token('names') }));
      const id = fs.FileSystemId!;
      const before = apiAudits(lines).length;
      const calls: [string, () => Promise<{ $metadata: { requestId?: string } }>][] = [
        ['DescribeFileSystems', () => efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsArn(id) }))],
        ['TagResource', () => efs.send(new TagResourceCommand({ ResourceId: id, Tags: [{ Key: 'a', Value: 'b' }] }))],
        ['ListTagsForResource', () => efs.send(new ListTagsForResourceCommand({ ResourceId: id }))],
        ['UntagResource', () => efs.send(new UntagResourceCommand({ ResourceId: id, TagKeys: ['a'] }))],
        ['CreateTags', () => efs.send(new CreateTagsCommand({ FileSystemId: id, Tags: [{ Key: 'c', Value: 'd' }] }))],
        ['DescribeTags', () => efs.send(new DescribeTagsCommand({ FileSystemId: id }))],
        ['DescribeMountTargets', () => efs.send(new DescribeMountTargetsCommand({ FileSystemId: ts.fileSystemId }))],
        ['CreateAccessPoint', () => efs.send(new CreateAccessPointCommand({ FileSystemId: id, ClientToken: token('names-ap') }))],
        ['DescribeAccessPoints', () => efs.send(new DescribeAccessPointsCommand({ FileSystemId: id }))],
        ['DescribeAccountPreferences', () => efs.send(new DescribeAccountPreferencesCommand({}))],
        ['DeleteFileSystem', () => efs.send(new DeleteFileSystemCommand({ FileSystemId: id }))],
      ];
      let last: string | undefined;
      for (const [eventName, call] of calls) {
        const out = await call();
        last = out.$metadata.requestId;
        const audits = await auditOf(lines, last);
        expect(audits.map((a) => a.eventName)).toEqual([eventName]);
      }
      expect(apiAudits(lines).length - before).toBe(calls.length);
      const ids = apiAudits(lines)
        .slice(before)
        .map((a) => a.requestID);
      expect(new Set(ids).size).toBe(calls.length);
    });
  });

  it('the lockout check applies to the root caller', async () => {
    const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: token('lock-root') }));
    const policy = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: ROOT_ARN }, Action: 'elasticfilesystem:PutFileSystemPolicy' }] });
    await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: policy })), InvalidPolicyException, 400);
  });
});

describe('with credentials configured', () => {
  let ts: ApiTestServer;
  const lines: string[] = [];

  beforeAll(async () => {
    ts = await startApiServer({ credentials: credentials(), logLines: lines });
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  it('a known key with its secret works for every kind of request (paths with ARNs, repeated query keys, GET with a body, DELETE)', async () => {
    const efs = efsClient(ts, ADMIN);
    try {
      const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: token('signed'), Tags: [{ Key: 'Name', Value: 'signed' }] }));
      const arn = fs.FileSystemArn!;
      expect((await efs.send(new DescribeFileSystemsCommand({ FileSystemId: arn }))).FileSystems![0]!.Name).toBe('signed');
      await efs.send(new TagResourceCommand({ ResourceId: arn, Tags: [{ Key: 'k 1', Value: 'v/1' }, { Key: 'a:b=c+d@e', Value: 'x' }, { Key: 'ü', Value: 'ä' }] }));
      await efs.send(new UntagResourceCommand({ ResourceId: arn, TagKeys: ['k 1', 'a:b=c+d@e', 'ü'] }));
      expect((await efs.send(new ListTagsForResourceCommand({ ResourceId: arn }))).Tags).toEqual([{ Key: 'Name', Value: 'signed' }]);
      expect((await efs.send(new DescribeTagsCommand({ FileSystemId: fs.FileSystemId, MaxItems: 10 }))).Tags).toEqual([{ Key: 'Name', Value: 'signed' }]);
      expect((await efs.send(new DescribeAccountPreferencesCommand({ MaxResults: 10 }))).ResourceIdPreference?.ResourceIdType).toBe('LONG_ID');
      const ap = await efs.send(new CreateAccessPointCommand({ FileSystemId: arn, ClientToken: token('signed-ap'), RootDirectory: { Path: '/a b/c' } }));
      expect((await efs.send(new DescribeAccessPointsCommand({ AccessPointId: ap.AccessPointArn }))).AccessPoints).toHaveLength(1);
      await efs.send(new DeleteAccessPointCommand({ AccessPointId: ap.AccessPointArn }));
      const del = await efs.send(new DeleteFileSystemCommand({ FileSystemId: arn }));
      expect(del.$metadata.httpStatusCode).toBe(204);
    } finally {
      efs.destroy();
    }
  });

  it('a request signed by hand with a known key works; a change after signing answers 403 SignatureDoesNotMatch', async () => {
    const ok = await rawRequest(ts, { method: 'GET', path: CREATE_PATH, query: { MaxItems: '5' }, sign: ADMIN });
    expect(ok.status).toBe(200);
    const tampered = await rawRequest(ts, {
      method: 'GET',
      path: CREATE_PATH,
      query: { MaxItems: '5' },
      sign: ADMIN,
      afterSign: (r) => {
        r.url = r.url.replace('MaxItems=5', 'MaxItems=6');
      },
    });
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('SignatureDoesNotMatch');
    const creationToken = token('tampered');
    const body = await rawRequest(ts, {
      method: 'POST',
      path: CREATE_PATH,
      body: { CreationToken: creationToken },
      sign: ADMIN,
      afterSign: (r) => {
        r.body = r.body.replace(creationToken, `${creationToken}x`);
      },
    });
    expect(body.status).toBe(403);
    const efs = efsClient(ts, ADMIN);
    expect((await efs.send(new DescribeFileSystemsCommand({ CreationToken: `${creationToken}x` }))).FileSystems).toEqual([]);
    efs.destroy();
  });

  it('an unknown key answers 403 UnrecognizedClientException and does nothing', async () => {
    const stranger = efsClient(ts, { accessKeyId: 'AKIDNOBODYKNOWSTHIS', secretAccessKey: 'x' });
    const creationToken = token('stranger');
    const err = await expectErrorCode(stranger.send(new CreateFileSystemCommand({ CreationToken: creationToken })), 'UnrecognizedClientException', 403);
    stranger.destroy();
    const efs = efsClient(ts, ADMIN);
    expect((await efs.send(new DescribeFileSystemsCommand({ CreationToken: creationToken }))).FileSystems).toEqual([]);
    efs.destroy();
    const audits = await auditOf(lines, err.$metadata.requestId);
    expect(audits).toHaveLength(1);
    expect(audits[0]!.errorCode).toBe('UnrecognizedClientException');
    expect(audits[0]!.responseElements ?? null).toBeNull();
  });

  it('a known key with a wrong secret answers 403 SignatureDoesNotMatch', async () => {
    const wrong = efsClient(ts, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret' });
    await expectErrorCode(wrong.send(new DescribeFileSystemsCommand({})), 'SignatureDoesNotMatch', 403);
    await expectErrorCode(wrong.send(new DeleteFileSystemCommand({ FileSystemId: NO_FS })), 'SignatureDoesNotMatch', 403);
    wrong.destroy();
    // another known key's secret does not do either
    const swapped = efsClient(ts, { accessKeyId: ALICE.accessKeyId, secretAccessKey: ADMIN.secretAccessKey });
    await expectErrorCode(swapped.send(new DescribeFileSystemsCommand({})), 'SignatureDoesNotMatch', 403);
    swapped.destroy();
  });

  it('a request without Authorization answers 403 MissingAuthenticationToken', async () => {
    const res = await rawRequest(ts, { method: 'GET', path: CREATE_PATH });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('MissingAuthenticationToken');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/\S/);
    const creationToken = token('anonymous');
    const post = await rawRequest(ts, { method: 'POST', path: CREATE_PATH, body: { CreationToken: creationToken } });
    expect(post.status).toBe(403);
    const efs = efsClient(ts, ADMIN);
    expect((await efs.send(new DescribeFileSystemsCommand({ CreationToken: creationToken }))).FileSystems).toEqual([]);
    efs.destroy();
  });

  it('a signature from 20 minutes ago or ahead answers 403 InvalidSignatureException; so does a scope for another service', async () => {
    for (const offset of [-20 * 60_000, 20 * 60_000, -7 * 86400_000]) {
      const res = await rawRequest(ts, { method: 'GET', path: CREATE_PATH, sign: { ...ADMIN, date: new Date(Date.now() + offset) } });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-amzn-errortype')?.split(':')[0]).toBe('InvalidSignatureException');
    }
    const s3 = await rawRequest(ts, {
      method: 'GET',
      path: CREATE_PATH,
      sign: ADMIN,
      afterSign: (r) => {
        r.headers['authorization'] = r.headers['authorization']!.replace('/elasticfilesystem/', '/s3/');
      },
    });
    expect(s3.status).toBe(403);
  });

  it('temporary credentials: the session token goes with the key', async () => {
    const efs = efsClient(ts, SESSION);
    const out = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: ts.fileSystemId }));
    efs.destroy();
    const [audit] = await auditOf(lines, out.$metadata.requestId);
    expect(audit!.userIdentity).toMatchObject({ arn: SESSION_ARN, accountId: '111122223333', accessKeyId: SESSION.accessKeyId });
    // without the token, or with another one, the key is not recognised
    const { sessionToken: _omit, ...keyOnly } = SESSION;
    const bare = efsClient(ts, keyOnly);
    await expectErrorCode(bare.send(new DescribeFileSystemsCommand({})), 'UnrecognizedClientException', 403);
    bare.destroy();
    const other = efsClient(ts, { ...SESSION, sessionToken: 'some-other-token' });
    await expectErrorCode(other.send(new DescribeFileSystemsCommand({})), 'UnrecognizedClientException', 403);
    other.destroy();
  });

  it('the audit line names the verified principal', async () => {
    const efs = efsClient(ts, ALICE);
    const out = await efs.send(new DescribeMountTargetsCommand({ FileSystemId: ts.fileSystemId }));
    efs.destroy();
    const audits: ApiAudit[] = await auditOf(lines, out.$metadata.requestId);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      eventName: 'DescribeMountTargets',
      userIdentity: { arn: ALICE_ARN, accountId: '111122223333', accessKeyId: ALICE.accessKeyId },
    });
  });

  describe('lockout safety check (spec §3.6 control-plane vectors, caller role/admin)', () => {
    const denyPut = (principal: string): string =>
      JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: principal }, Action: 'elasticfilesystem:PutFileSystemPolicy' }] });

    it('a Deny of PutFileSystemPolicy to the caller: 400 InvalidPolicyException, 200 with the bypass', async () => {
      const efs = efsClient(ts, ADMIN);
      try {
        const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: token('lock') }));
        await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: denyPut(ADMIN_ARN) })), InvalidPolicyException, 400);
        // the whole account of the caller counts too
        await expectError(efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: denyPut('arn:aws:iam::111122223333:root') })), InvalidPolicyException, 400);
        const put = await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: denyPut(ADMIN_ARN), BypassPolicyLockoutSafetyCheck: true }));
        expect(put.$metadata.httpStatusCode).toBe(200);
      } finally {
        efs.destroy();
      }
    });

    it('a Deny to another principal is no lockout for role/admin', async () => {
      const efs = efsClient(ts, ADMIN);
      try {
        const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: token('nolock') }));
        for (const other of ['arn:aws:iam::111122223333:role/someone-else', ALICE_ARN, ROOT_ARN, 'arn:aws:iam::444455556666:root']) {
          const put = await efs.send(new PutFileSystemPolicyCommand({ FileSystemId: fs.FileSystemId, Policy: denyPut(other) }));
          expect(put.$metadata.httpStatusCode).toBe(200);
        }
      } finally {
        efs.destroy();
      }
    });
  });
});
