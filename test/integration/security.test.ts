import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as N from '../../src/xdr/gen/nfs4.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { parseConfig } from '../../src/model/config.js';
import { FATTR, NfsClient, NfsStatusError, op } from '../../src/client/nfs-client.js';
import { makeClientCert, type IamSigning } from '../helpers/efs-client-cert.js';

// The EFS security model through the whole server: TLS on the NFS port,
// file system policies deciding ClientMount / ClientWrite / ClientRootAccess
// per connection, root squash, and one audit line per mount decision.

const P4_DENY_PLAIN = {
  Statement: [
    { Effect: 'Allow', Principal: { AWS: '*' }, Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientRootAccess'] },
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  ],
};
const P3_READ_ONLY = { Statement: [{ Sid: 'readonly', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount' }] };
const P2_NO_ROOT = {
  Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'] }],
};

interface Running {
  server: RunningServer;
  dataDir: string;
  audit: Record<string, unknown>[];
  clients: NfsClient[];
}
let running: Running | undefined;

async function serve(policy?: object, existingDataDir?: string, extra: object = {}): Promise<Running> {
  const dataDir = existingDataDir ?? (await mkdtemp(path.join(tmpdir(), 'localefs-sec-')));
  const audit: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.includes('"part":"audit"')) audit.push(JSON.parse(line));
      done();
    },
  });
  const config = await parseConfig({ ...(policy ? { fileSystems: [{ policy }] } : {}), ...extra }, '(test)', dataDir);
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, leaseSeconds: 30, log: pino({ level: 'info' }, sink), config });
  running = { server, dataDir, audit, clients: [] };
  return running;
}

async function client(r: Running, opts: { tls?: boolean; uid?: number; accessPoint?: string; iam?: IamSigning } = {}): Promise<NfsClient> {
  const cert =
    opts.accessPoint || opts.iam
      ? makeClientCert({ fsId: r.server.fileSystemId, ...(opts.accessPoint ? { ap: opts.accessPoint } : {}), ...(opts.iam ? { iam: opts.iam } : {}) })
      : undefined;
  const c = await NfsClient.connect({
    host: '127.0.0.1',
    port: r.server.port,
    ...(opts.tls || cert ? { tls: { ca: readFileSync(r.server.caFile), servername: 'localhost', ...(cert ?? {}) } } : {}),
    ...(opts.uid !== undefined ? { cred: { flavor: 'sys' as const, uid: opts.uid, gid: opts.uid, gids: [], machinename: 'sec' } } : {}),
  });
  r.clients.push(c);
  return c;
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return N.NFS4_OK;
  } catch (err) {
    if (err instanceof NfsStatusError) return err.status;
    throw err;
  }
}

afterEach(async () => {
  if (!running) return;
  for (const c of running.clients) await c.disconnect().catch(() => undefined);
  await running.server.close();
  await rm(running.dataDir, { recursive: true, force: true });
  running = undefined;
});

describe('EFS security model over NFS', () => {
  it('serves TLS and plain RPC on the same port; the server certificate verifies against the printed CA', async () => {
    const r = await serve();
    const plain = await client(r);
    const secure = await client(r, { tls: true });
    await secure.writeFile('/over-tls', Buffer.from('secret'));
    expect((await plain.readFile('/over-tls')).toString()).toBe('secret');
    expect(r.audit.map((a) => a.tls).sort()).toEqual([false, true]);
  });

  it('a policy denying aws:SecureTransport=false refuses the plain mount and allows the TLS one', async () => {
    const r = await serve(P4_DENY_PLAIN);
    // refused at the first call of the mount, so Linux says "access denied by server"
    expect(await status(client(r))).toBe(N.NFS4ERR_ACCESS);
    const secure = await client(r, { tls: true });
    expect((await secure.rootFh()).length).toBeGreaterThan(0);
    const denied = r.audit.find((a) => a.tls === false)!;
    expect(denied.decisions).toEqual({ ClientMount: false, ClientWrite: false, ClientRootAccess: false });
    expect(denied.sourceIPAddress).toMatch(/127\.0\.0\.1/);
  });

  it('without ClientWrite every change fails with ACCESS and nothing changes on disk', async () => {
    const r = await serve(P3_READ_ONLY);
    const c = await client(r);
    const before = await readdir(path.join(r.dataDir, 'fs'));
    expect(await status(c.mkdir('/nope'))).toBe(N.NFS4ERR_ACCESS);
    expect(await status(c.writeFile('/nope.txt', Buffer.from('x')))).toBe(N.NFS4ERR_ACCESS);
    expect(await status(c.setattr('/', { mode: 0o777 }))).toBe(N.NFS4ERR_ACCESS);
    expect(await readdir(path.join(r.dataDir, 'fs'))).toEqual(before);
    expect((await c.getattr('/', [FATTR.MODE])).mode).toBe(0o755);
    expect(r.audit[0]!.decidedBy).toMatchObject({ ClientMount: 'readonly' });
  });

  it('without ClientRootAccess root is squashed to 65534: cannot write a root-owned 0755 dir, creates files as 65534, cannot chown', async () => {
    // first, with the default policy, root opens the root directory for everyone
    const open = await serve();
    await (await client(open, { uid: 0 })).setattr('/', { mode: 0o777 });
    await (await client(open, { uid: 0 })).mkdir('/root-only', 0o755);
    for (const c of open.clients) await c.disconnect();
    await open.server.close();
    // then the policy without ClientRootAccess applies
    const r = await serve(P2_NO_ROOT, open.dataDir);
    const root = await client(r, { uid: 0 });
    expect(await status(root.mkdir('/root-only/sub'))).toBe(N.NFS4ERR_ACCESS);
    await root.writeFile('/squashed.txt', Buffer.from('x'));
    const attrs = await root.getattr('/squashed.txt', [FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect([attrs.owner, attrs.owner_group]).toEqual(['65534', '65534']);
    if (process.getuid?.() === 0) expect((await stat(path.join(r.dataDir, 'fs', 'squashed.txt'))).uid).toBe(65534);
    expect(await status(root.setattr('/squashed.txt', { owner: '0' }))).toBe(N.NFS4ERR_PERM);
  });


  describe('access points', () => {
    const AP = 'fsap-0aaaaaaaaaaaaaaaa';
    const accessPoints = [
      {
        accessPointId: AP,
        posixUser: { uid: 1001, gid: 1002, secondaryGids: [] },
        rootDirectory: { path: '/apps/one', creationInfo: { ownerUid: 1001, ownerGid: 1002, permissions: '0750' } },
      },
      { accessPointId: 'fsap-0bbbbbbbbbbbbbbbb', rootDirectory: { path: '/missing' } },
    ];

    it('creates the root with CreationInfo at first mount, shows it as /, runs every request as the PosixUser', async () => {
      const r = await serve(undefined, undefined, { accessPoints });
      const c = await client(r, { accessPoint: AP, uid: 0 });
      await c.writeFile('/hello.txt', Buffer.from('from the access point'));
      const attrs = await c.getattr('/hello.txt', [FATTR.OWNER, FATTR.OWNER_GROUP]);
      expect([attrs.owner, attrs.owner_group]).toEqual(['1001', '1002']);
      // on the file system it lies under the access point's directory, made with CreationInfo
      const full = await client(r);
      expect((await full.readFile('/apps/one/hello.txt')).toString()).toBe('from the access point');
      const root = await full.getattr('/apps/one', [FATTR.OWNER, FATTR.OWNER_GROUP, FATTR.MODE]);
      expect([root.owner, root.owner_group, root.mode]).toEqual(['1001', '1002', 0o750]);
      expect(r.audit.find((a) => a.accessPointId === AP)).toBeDefined();
    });

    it('keeps the client inside: LOOKUPP at the root stays there, handles from outside are refused', async () => {
      const r = await serve(undefined, undefined, { accessPoints });
      const full = await client(r);
      await full.mkdir('/apps', 0o755);
      await full.writeFile('/outside.txt', Buffer.from('not for the access point'));
      const outsideFh = await full.lookupPath('/outside.txt');
      const c = await client(r, { accessPoint: AP });
      const rootFh = await c.rootFh();
      const up = await c.run([op.putrootfh(), op.lookupp(), op.getfh()]);
      expect(up[2]!.opgetfh?.resok4?.object.equals(rootFh)).toBe(true);
      expect(await status(c.run([op.putrootfh(), op.lookupp(), op.lookup('outside.txt')]))).toBe(N.NFS4ERR_NOENT);
      expect(await status(c.run([op.putfh(outsideFh), op.getattr([FATTR.SIZE])]))).toBe(N.NFS4ERR_STALE);
      expect(await status(c.run([op.putfh(await full.rootFh()), op.getattr([FATTR.SIZE])]))).toBe(N.NFS4ERR_STALE);
    });

    it('escape attempts fail: LOOKUPP loops, a symlink to /, renames and handles of another access point', async () => {
      const r = await serve(undefined, undefined, {
        accessPoints: [
          ...accessPoints,
          { accessPointId: 'fsap-0cccccccccccccccc', rootDirectory: { path: '/other', creationInfo: { ownerUid: 0, ownerGid: 0, permissions: '0777' } } },
        ],
      });
      const c = await client(r, { accessPoint: AP });
      const rootFh = await c.rootFh();
      const loop = await c.run([op.putrootfh(), op.lookupp(), op.lookupp(), op.lookupp(), op.lookupp(), op.getfh()]);
      expect(loop[5]!.opgetfh?.resok4?.object.equals(rootFh)).toBe(true);
      // the server never follows a symlink: a link to / is just a name holding "/"
      await c.symlink('/escape', '/');
      expect(await c.readlink('/escape')).toBe('/');
      expect(await status(c.run([op.putrootfh(), op.lookup('escape'), op.lookup('etc')]))).toBe(N.NFS4ERR_SYMLINK);
      // a handle handed out through another access point is refused, so nothing can be renamed or linked out
      const other = await client(r, { accessPoint: 'fsap-0cccccccccccccccc' });
      const otherRoot = await other.rootFh();
      await c.mkdir('/inside');
      expect(await status(c.run([op.putrootfh(), op.savefh(), op.putfh(otherRoot), op.rename('inside', 'moved')]))).toBe(N.NFS4ERR_STALE);
      expect(await status(c.run([op.putfh(otherRoot), op.savefh(), op.putrootfh(), op.rename('inside', 'moved')]))).toBe(N.NFS4ERR_STALE);
      const full = await client(r);
      expect((await full.readdir('/other')).map((e) => e.name)).toEqual([]);
      expect((await full.readdir('/apps/one')).map((e) => e.name).sort()).toEqual(['escape', 'inside']);
    });

    it('a missing root without CreationInfo makes the mount fail', async () => {
      const r = await serve(undefined, undefined, { accessPoints });
      const c = await client(r, { accessPoint: 'fsap-0bbbbbbbbbbbbbbbb' });
      expect(await status(c.rootFh())).toBe(N.NFS4ERR_NOENT);
    });
  });

  describe('IAM mounts (SigV4 Connect token in the client certificate)', () => {
    const ROLE = 'arn:aws:iam::111122223333:role/EfsReadOnly';
    const key = { accessKeyId: 'AKIDLOCALEFSTEST01', secretAccessKey: 'local-secret', region: 'us-east-1' };
    const P6_ROLE_READ_ONLY = { Statement: [{ Sid: 'ro-role', Effect: 'Allow', Principal: { AWS: ROLE }, Action: ['elasticfilesystem:ClientMount'] }] };
    const extra = {
      region: 'us-east-1',
      accountId: '111122223333',
      credentials: { [key.accessKeyId]: { secretAccessKey: key.secretAccessKey, principalArn: ROLE, accountId: '111122223333' } },
    };

    it('the verified principal is what the policy sees: the role mounts read-only, anonymous TLS is refused, a bad signature is refused and audited', async () => {
      const r = await serve(P6_ROLE_READ_ONLY, undefined, extra);
      const role = await client(r, { iam: key });
      expect((await role.rootFh()).length).toBeGreaterThan(0);
      expect(await status(role.mkdir('/nope'))).toBe(N.NFS4ERR_ACCESS);
      expect(await status(client(r, { tls: true }))).toBe(N.NFS4ERR_ACCESS);
      expect(await status(client(r, { iam: { ...key, secretAccessKey: 'wrong' } }))).toBe(N.NFS4ERR_ACCESS);
      const byPrincipal = r.audit.filter((a) => a.principal === ROLE);
      expect(byPrincipal[0]!.decisions).toEqual({ ClientMount: true, ClientWrite: false, ClientRootAccess: false });
      expect(r.audit.some((a) => String(a.refusal).includes('bad-signature'))).toBe(true);
    });
  });
});
