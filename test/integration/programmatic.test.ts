/**
 * localefs as a library (src/index.ts): two instances in one test file on free
 * ports with ephemeral data, and POST /_localefs/reset for test isolation.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { CreateAccessPointCommand, CreateFileSystemCommand, DescribeAccessPointsCommand, DescribeFileSystemsCommand, EFSClient } from '@aws-sdk/client-efs';
import { startLocalEfs, type LocalEfs } from '../../src/index.js';
import { NfsClient } from '../../src/client/nfs-client.js';
import { LOCALEFS_VERSION } from '../../src/version.js';

const started: LocalEfs[] = [];
afterAll(async () => {
  for (const e of started) await e.stop();
});

async function start(o: Parameters<typeof startLocalEfs>[0] = {}): Promise<LocalEfs> {
  const e = await startLocalEfs(o);
  started.push(e);
  return e;
}

const efsClient = (e: LocalEfs) => new EFSClient({ endpoint: e.apiEndpoint!, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });

describe('startLocalEfs', () => {
  test('two instances in one process: own free ports, own file systems, each mountable; stop() removes ephemeral data', async () => {
    const a = await start();
    const b = await start();
    expect(a.nfsPort).not.toBe(b.nfsPort);
    expect(a.apiEndpoint).not.toBe(b.apiEndpoint);
    expect(a.fileSystemId).not.toBe(b.fileSystemId);
    expect(a.ephemeral).toBe(true);
    expect(existsSync(a.caFile)).toBe(true);
    for (const e of [a, b]) {
      const c = await NfsClient.connect({ host: e.nfsHost, port: e.nfsPort, timeoutMs: 20000 });
      await c.writeFile('/hello.txt', Buffer.from(e.fileSystemId));
      expect((await c.readFile('/hello.txt')).toString()).toBe(e.fileSystemId);
      await c.disconnect();
      const health = (await (await fetch(`${e.apiEndpoint}/_localefs/health`)).json()) as { defaultFileSystemId: string; version: string };
      expect(health).toMatchObject({ defaultFileSystemId: e.fileSystemId, version: LOCALEFS_VERSION });
    }
    await a.stop();
    expect(existsSync(a.dataDir)).toBe(false);
    await a.stop(); // twice is harmless
    expect(existsSync(b.dataDir)).toBe(true);
  });

  test('a given dataDir is kept at stop() and serves the same file system again', async () => {
    const first = await start();
    const dir = `${first.dataDir}-kept`;
    const a = await start({ dataDir: dir });
    expect(a.ephemeral).toBe(false);
    const id = a.fileSystemId;
    await a.stop();
    expect(existsSync(dir)).toBe(true);
    const again = await start({ dataDir: dir, ephemeral: true });
    expect(again.fileSystemId).toBe(id);
    await again.stop();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('POST /_localefs/reset', () => {
  test('back to one empty default file system: others, access points and files go; the default id stays', async () => {
    const e = await start({ enableReset: true });
    const efs = efsClient(e);
    const other = await efs.send(new CreateFileSystemCommand({ CreationToken: 'reset-me' }));
    await efs.send(new CreateAccessPointCommand({ FileSystemId: e.fileSystemId, RootDirectory: { Path: '/app' } }));
    const c = await NfsClient.connect({ host: e.nfsHost, port: e.nfsPort, timeoutMs: 20000 });
    await c.mkdir('/dir');
    await c.writeFile('/dir/a.txt', Buffer.from('a'));
    await c.writeFile('/b.txt', Buffer.from('b'));

    const res = await fetch(`${e.apiEndpoint}/_localefs/reset`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'reset',
      defaultFileSystemId: e.fileSystemId,
      fileSystemsDeleted: 1,
      accessPointsDeleted: 1,
      mountTargetsDeleted: 0,
      securityGroupsDeleted: 0,
      filesRemoved: 3,
    });
    const list = await efs.send(new DescribeFileSystemsCommand({}));
    expect(list.FileSystems?.map((f) => f.FileSystemId)).toEqual([e.fileSystemId]);
    expect(list.FileSystems?.map((f) => f.FileSystemId)).not.toContain(other.FileSystemId);
    expect((await efs.send(new DescribeAccessPointsCommand({ FileSystemId: e.fileSystemId }))).AccessPoints).toEqual([]);
    // the mounted client still has its root, now empty
    expect(await c.readdir('/')).toEqual([]);
    await c.disconnect();
    efs.destroy();
  });

  test('refused unless enabled, refused with credentials, and only POST', async () => {
    const off = await start();
    const r1 = await fetch(`${off.apiEndpoint}/_localefs/reset`, { method: 'POST' });
    expect(r1.status).toBe(403);
    expect(await r1.json()).toEqual({ error: 'ResetDisabled', message: 'Reset is off: start localefs with --enable-reset (LOCALEFS_ENABLE_RESET=1) to allow POST /_localefs/reset.' });
    const guarded = await start({
      enableReset: true,
      credentials: new Map([['AKIDRESET', { accessKeyId: 'AKIDRESET', secretAccessKey: 's', principalArn: 'arn:aws:iam::000000000000:root', accountId: '000000000000' }]]),
    });
    const r2 = await fetch(`${guarded.apiEndpoint}/_localefs/reset`, { method: 'POST' });
    expect(r2.status).toBe(403);
    expect(((await r2.json()) as { message: string }).message).toBe('Reset is refused while --credentials is set: it would wipe every file system without a signature.');
    const r3 = await fetch(`${off.apiEndpoint}/_localefs/reset`);
    expect(r3.status).toBe(405);
  });
});

describe('--host 0.0.0.0 (a container)', () => {
  test('the listener binds the wildcard; DescribeMountTargets reports a real address of the machine, never 0.0.0.0', async () => {
    const e = await start({ host: '0.0.0.0' });
    const { advertisedAddress } = await import('../../src/server.js');
    const expected = advertisedAddress('0.0.0.0');
    expect(expected).not.toBe('0.0.0.0');
    const efs = efsClient(e);
    const { DescribeMountTargetsCommand } = await import('@aws-sdk/client-efs');
    const mts = await efs.send(new DescribeMountTargetsCommand({ FileSystemId: e.fileSystemId }));
    expect(mts.MountTargets?.map((m) => m.IpAddress)).toEqual([expected]);
    const health = (await (await fetch(`${e.apiEndpoint}/_localefs/health`)).json()) as { nfs: { listeners: { address: string }[] } };
    expect(health.nfs.listeners.map((l) => l.address)).toEqual(['0.0.0.0']);
    // reachable through loopback and through the reported address
    for (const host of ['127.0.0.1', expected]) {
      const c = await NfsClient.connect({ host, port: e.nfsPort, timeoutMs: 20000 });
      await c.writeFile(`/via-${host}`, Buffer.from(host));
      await c.disconnect();
    }
    efs.destroy();
  });

  test('CreateMountTarget works beside the wildcard listener (as behind docker run -p): its address reaches its own file system', async () => {
    const e = await start({ host: '0.0.0.0' });
    const efs = efsClient(e);
    const { CreateMountTargetCommand, DeleteMountTargetCommand } = await import('@aws-sdk/client-efs');
    const other = await efs.send(new CreateFileSystemCommand({ CreationToken: 'beside-the-wildcard' }));
    const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: other.FileSystemId!, SubnetId: 'subnet-0123456789abcdef0' }));
    expect(mt.IpAddress).toMatch(/^127\.0\.0\.\d+$/);
    expect(mt.IpAddress).not.toBe('127.0.0.1');
    const viaTarget = await NfsClient.connect({ host: mt.IpAddress!, port: e.nfsPort, timeoutMs: 20000 });
    await viaTarget.writeFile('/in-other.txt', Buffer.from('other'));
    await viaTarget.disconnect();
    const viaDefault = await NfsClient.connect({ host: '127.0.0.1', port: e.nfsPort, timeoutMs: 20000 });
    expect((await viaDefault.readdir('/')).map((d) => d.name)).not.toContain('in-other.txt');
    await viaDefault.disconnect();
    expect(existsSync(`${e.dataDir}/file-systems/${other.FileSystemId}/fs/in-other.txt`)).toBe(true);
    // a second target on the same address is refused as on AWS
    const again = await efs.send(new CreateMountTargetCommand({ FileSystemId: e.fileSystemId, SubnetId: 'subnet-0123456789abcdef1', IpAddress: mt.IpAddress! })).then(
      () => 'created',
      (err: Error) => err.name,
    );
    expect(again).toBe('IpAddressInUse');
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId! }));
    efs.destroy();
  });
});
