import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/server.js';
import { parseConfig } from '../../src/model/config.js';
import { FATTR, NfsClient, op } from '../../src/client/nfs-client.js';
import { statusOf } from './harness.js';
import { makeClientCert } from '../helpers/efs-client-cert.js';

// Issue 8, item 4 and the audit and anonymous-id items: an access point's
// jail holds at the time a handle is used, not only when it was issued.

const AP = 'fsap-0aaaaaaaaaaaaaaaa';
const accessPoints = [
  {
    accessPointId: AP,
    posixUser: { uid: 1001, gid: 1002, secondaryGids: [] },
    rootDirectory: { path: '/apps/one', creationInfo: { ownerUid: 1001, ownerGid: 1002, permissions: '0777' } },
  },
];

interface Running {
  server: RunningServer;
  dataDir: string;
  logs: Record<string, unknown>[];
  clients: NfsClient[];
}
let running: Running | undefined;

async function serve(config: object, dataDir?: string): Promise<Running> {
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'localefs-jail-')));
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, leaseSeconds: 30, log, config: await parseConfig(config, '(test)', dir) });
  running = { server, dataDir: dir, logs, clients: [] };
  return running;
}

async function stop(r: Running): Promise<void> {
  for (const c of r.clients) await c.disconnect().catch(() => undefined);
  await r.server.close();
  running = undefined;
}

afterEach(async () => {
  if (!running) return;
  const dir = running.dataDir;
  await stop(running);
  await rm(dir, { recursive: true, force: true });
});

async function client(r: Running, o: { accessPoint?: string; uid?: number; tls?: boolean } = {}): Promise<NfsClient> {
  const cert = o.accessPoint ? makeClientCert({ fsId: r.server.fileSystemId, ap: o.accessPoint }) : undefined;
  const c = await NfsClient.connect({
    host: '127.0.0.1',
    port: r.server.port,
    ...(cert || o.tls ? { tls: { ca: readFileSync(r.server.caFile), servername: 'localhost', ...(cert ?? {}) } } : {}),
    ...(o.uid !== undefined ? { cred: { flavor: 'sys' as const, uid: o.uid, gid: o.uid, gids: [], machinename: 'jail' } } : {}),
  });
  r.clients.push(c);
  return c;
}

const mountDecisions = (r: Running) => r.logs.filter((l) => l.part === 'audit' && l.msg === 'mount decision');

describe('access point jail', () => {
  it('a directory moved out of the access point by another client is refused through the handle the access point holds', async () => {
    const r = await serve({ accessPoints });
    const ap = await client(r, { accessPoint: AP });
    await ap.mkdir('/dir');
    await ap.writeFile('/dir/f.txt', Buffer.from('inside'));
    const dirFh = await ap.lookupPath('/dir');
    const fileFh = await ap.lookupPath('/dir/f.txt');
    expect((await ap.readdir(dirFh)).map((e) => e.name)).toEqual(['f.txt']);

    // another client, outside the access point, moves the directory to the file system's root
    const full = await client(r);
    await full.mkdir('/secret');
    await full.writeFile('/secret/key', Buffer.from('not for the access point'));
    await full.rename('/apps/one/dir', '/moved');

    expect(await statusOf(ap.run([op.putfh(dirFh), op.getattr([FATTR.TYPE])]))).toBe('NFS4ERR_STALE');
    expect(await statusOf(ap.run([op.putfh(dirFh), op.lookupp(), op.getfh()]))).toBe('NFS4ERR_STALE');
    expect(await statusOf(ap.readdir(dirFh))).toBe('NFS4ERR_STALE');
    expect(await statusOf(ap.run([op.putfh(fileFh), op.getattr([FATTR.SIZE])]))).toBe('NFS4ERR_STALE');
    // a handle saved before the move is checked too (RENAME/LINK use the saved one)
    expect(await statusOf(ap.run([op.putrootfh(), op.savefh(), op.putfh(dirFh), op.savefh(), op.putrootfh(), op.rename('f.txt', 'x')]))).toBe('NFS4ERR_STALE');
    const refusals = r.logs.filter((l) => l.part === 'audit' && l.event === 'AccessPointJail');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]).toMatchObject({ accessPointId: AP, rootDirectory: '/apps/one' });

    // moved back inside, the same handle works again: the check is made at the time of use
    await full.rename('/moved', '/apps/one/dir');
    expect((await ap.readdir(dirFh)).map((e) => e.name)).toEqual(['f.txt']);
    expect((await ap.run([op.putfh(dirFh), op.lookupp(), op.getfh()]))[2]!.opgetfh!.resok4!.object.equals(await ap.rootFh())).toBe(true);
  });

  it('a directory moved within the access point stays usable', async () => {
    const r = await serve({ accessPoints });
    const ap = await client(r, { accessPoint: AP });
    await ap.mkdir('/a');
    await ap.mkdir('/b');
    await ap.writeFile('/a/f.txt', Buffer.from('x'));
    const aFh = await ap.lookupPath('/a');
    const full = await client(r);
    await full.rename('/apps/one/a', '/apps/one/b/a');
    expect((await ap.readdir(aFh)).map((e) => e.name)).toEqual(['f.txt']);
  });
});

describe('mount audit and anonymous ids', () => {
  it("efs-utils' TLS probe (a connection with no RPC) is not audited: one mount, one decision", async () => {
    const r = await serve({ accessPoints });
    const cert = makeClientCert({ fsId: r.server.fileSystemId, ap: AP });
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: r.server.port, ca: readFileSync(r.server.caFile), servername: 'localhost', ...cert }, () => {
        s.end();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const c = await client(r, { accessPoint: AP });
    await c.getattr('/', [FATTR.TYPE]);
    expect(mountDecisions(r)).toHaveLength(1);
    expect(mountDecisions(r)[0]).toMatchObject({ accessPointId: AP, tls: true });
  });

  it('options.anonUid / anonGid are what a squashed root becomes', async () => {
    const open = await serve({});
    await (await client(open, { uid: 0 })).setattr('/', { mode: 0o777 });
    await stop(open);
    const noRoot = { Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'] }] };
    const r = await serve({ options: { anonUid: 4242, anonGid: 4343 }, fileSystems: [{ policy: noRoot }] }, open.dataDir);
    const root = await client(r, { uid: 0 });
    await root.writeFile('/squashed.txt', Buffer.from('x'));
    const attrs = await root.getattr('/squashed.txt', [FATTR.OWNER, FATTR.OWNER_GROUP]);
    expect([attrs.owner, attrs.owner_group]).toEqual(['4242', '4343']);
  });
});
