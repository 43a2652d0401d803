import { describe, expect, it } from 'vitest';
import { authorizeConnection, effectiveIdentity, type Grant } from '../../src/policy/authorizer.js';
import { ANON_ID } from '../../src/protocol/efs-limits.js';
import { DEFAULT_OPTIONS, type AccessPoint, type FileSystem } from '../../src/model/types.js';
import type { PolicyDocument } from '../../src/model/policy-document.js';
import type { PeerIdentity } from '../../src/transport/front.js';

const FS_ID = 'fs-0123456789abcdef0';
const fsArn = `arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/${FS_ID}`;
function fs(policy?: PolicyDocument): FileSystem {
  return { fileSystemId: FS_ID, arn: fsArn, ownerId: '111122223333', region: 'us-east-1', creationToken: 't', tags: [], ...(policy ? { policy } : {}) } as unknown as FileSystem;
}
const ap: AccessPoint = {
  accessPointId: 'fsap-0aaaaaaaaaaaaaaaa',
  arn: 'arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0aaaaaaaaaaaaaaaa',
  fileSystemId: FS_ID,
  ownerId: '111122223333',
  clientToken: 'c',
  posixUser: { uid: 1001, gid: 1002, secondaryGids: [7] },
  rootDirectory: { path: '/app' },
  tags: [],
  lifeCycleState: 'available',
};
const model = { accessPoints: new Map([[ap.accessPointId, ap]]), credentials: new Map(), options: { ...DEFAULT_OPTIONS } };
const plain: PeerIdentity = { secure: false, remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2049 };
const tlsPeer = (extra: Partial<PeerIdentity> = {}): PeerIdentity => ({ ...plain, secure: true, ...extra });
const denyPlain: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:Client*' },
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  ],
};
const readOnly: PolicyDocument = { Version: '2012-10-17', Statement: [{ Sid: 'ro', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount' }] };

describe('connection authorization', () => {
  it('no policy: full access for anonymous plain clients', () => {
    const { grant, audit } = authorizeConnection(plain, fs(), model);
    expect(grant).toMatchObject({ mount: true, write: true, root: true });
    expect(audit.decidedBy.ClientMount).toBe('default-policy');
  });
  it('a policy denying non-TLS refuses plain mounts and allows TLS', () => {
    expect(authorizeConnection(plain, fs(denyPlain), model).grant.mount).toBe(false);
    expect(authorizeConnection(tlsPeer(), fs(denyPlain), model).grant).toMatchObject({ mount: true, write: true, root: true, secure: true });
  });
  it('read-only policy: mount yes, write and root no; the audit names the statement', () => {
    const { grant, audit } = authorizeConnection(plain, fs(readOnly), model);
    expect(grant).toMatchObject({ mount: true, write: false, root: false });
    expect(audit.decidedBy.ClientMount).toBe('ro');
  });
  it('refuses a bad IAM token, another file system, or an unknown access point, saying why', () => {
    const bad = authorizeConnection(tlsPeer({ tokenCheck: { ok: false, reason: 'bad-signature', detail: 'x' } }), fs(), model);
    expect(bad.grant.mount).toBe(false);
    expect(bad.audit.refusal).toMatch(/bad-signature/);
    const other = authorizeConnection(tlsPeer({ sniFileSystemId: 'fs-11111111111111111' }), fs(), model);
    expect(other.grant.refusal).toMatch(/fs-11111111111111111/);
    const noAp = authorizeConnection(tlsPeer({ clientCert: { accessPointId: 'fsap-0bbbbbbbbbbbbbbbb' } as never }), fs(), model);
    expect(noAp.grant.refusal).toMatch(/fsap-0bbbbbbbbbbbbbbbb/);
  });
  it('an access point from the certificate is attached to the grant', () => {
    const { grant, audit } = authorizeConnection(tlsPeer({ clientCert: { accessPointId: ap.accessPointId, fileSystemId: FS_ID } as never }), fs(), model);
    expect(grant.accessPoint?.accessPointId).toBe(ap.accessPointId);
    expect(audit.accessPointId).toBe(ap.accessPointId);
  });
});

describe('effective identity', () => {
  const full: Grant = { mount: true, write: true, root: true, secure: false, principal: { kind: 'anonymous' }, exportIndex: 0, anon: { uid: ANON_ID, gid: ANON_ID } };
  it('keeps AUTH_SYS ids with root access', () => {
    expect(effectiveIdentity({ uid: 0, gid: 0, gids: [0, 5] }, full)).toEqual({ uid: 0, gid: 0, gids: [0, 5] });
  });
  it('squashes uid and gid 0 to 65534 without ClientRootAccess', () => {
    expect(effectiveIdentity({ uid: 0, gid: 0, gids: [0, 5] }, { ...full, root: false })).toEqual({ uid: ANON_ID, gid: ANON_ID, gids: [ANON_ID, 5] });
    expect(effectiveIdentity({ uid: 1000, gid: 1000, gids: [] }, { ...full, root: false })).toEqual({ uid: 1000, gid: 1000, gids: [] });
  });
  it('an access point PosixUser replaces the client ids; a 0 there is squashed without root access', () => {
    expect(effectiveIdentity({ uid: 0, gid: 0, gids: [] }, { ...full, accessPoint: ap })).toEqual({ uid: 1001, gid: 1002, gids: [7] });
    const rootAp = { ...ap, posixUser: { uid: 0, gid: 0, secondaryGids: [] } };
    expect(effectiveIdentity({ uid: 5, gid: 5, gids: [] }, { ...full, root: false, accessPoint: rootAp })).toEqual({ uid: ANON_ID, gid: ANON_ID, gids: [] });
  });
});
