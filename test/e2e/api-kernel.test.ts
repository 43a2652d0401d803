// End to end: a file system and a mount target made with the EFS management
// API (@aws-sdk/client-efs) are mounted by the real Linux kernel NFS client
// (scripts/kclient/kclient.sh --host-addr <the mount target's address>),
// and DeleteMountTarget takes the mount target away from that client.
//
//   guest mount.nfs4 -> slirp relay -> 127.0.0.x:NFS_PORT (the mount target's
//                                      listener) -> the new file system
//
// One guest boot (guest/api-mount-target.sh): the guest mounts NFSv4.1 with
// the EFS options, writes a file and reads it back; the host finds it in the
// new file system's data (DATA/file-systems/<fs-id>/fs/) and not in the
// default file system's (DATA/fs/).  Then the guest asks on its output, the
// host deletes the mount target through the API and answers on the control
// channel, and the guest shows that a new mount of the address fails and the
// existing mount no longer reads.
//
// A missing qemu/kernel/busybox makes the test FAIL (never skip), naming the
// packages to install.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DeleteMountTargetCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetsCommand,
  EFSClient,
  MountTargetNotFound,
} from '@aws-sdk/client-efs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertKernelClientAvailable,
  describeRun,
  freeLoopbackAddress,
  GUEST_SCRIPTS,
  runGuest,
  sha256File,
  startServer,
  timingSummary,
  type GuestControl,
  type RunningServer,
  accepts,
  until as untilReached,
  FAIL_FAST_OPTS,
  HARNESS_SOFT_V40_OPTS,
  MOUNT_TARGET_OPTS,
} from './kclient.js';

const LEASE_SECONDS = 10;
const REGION = 'us-east-1';
const SUBNET = 'subnet-0123456789abcdef0';
const FILE_NAME = 'written-through-mount-target.bin';
const API_OPTS = MOUNT_TARGET_OPTS;
const API_RETRY_OPTS = FAIL_FAST_OPTS;
const HARNESS_OPTS = HARNESS_SOFT_V40_OPTS;

let dataDir = '';
let server: RunningServer | undefined;
let efs: EFSClient | undefined;

function serverLogTail(n = 60): string {
  return server ? server.logs.slice(-n).join('\n') : '(no server)';
}

/** kclient's until(), with this file's server log tail in its error. */
const until = (what: string, tries: number, probe: () => Promise<boolean>): Promise<void> => untilReached(what, tries, probe, () => serverLogTail());

interface DataCheck {
  inFileSystem: string;
  inFileSystemSha: string;
  inFileSystemSize: number;
  inDefault: boolean;
}

function checkDataDir(fsId: string, name: string): DataCheck {
  const file = path.join(dataDir, 'file-systems', fsId, 'fs', name);
  const exists = fs.existsSync(file);
  return {
    inFileSystem: exists ? file : '',
    inFileSystemSha: exists ? sha256File(file) : '',
    inFileSystemSize: exists ? fs.statSync(file).size : -1,
    inDefault: fs.existsSync(path.join(dataDir, 'fs', name)),
  };
}

describe('EFS management API + the Linux kernel client: a mount target made and deleted through the API', () => {
  beforeAll(() => {
    assertKernelClientAvailable();
  });

  afterAll(async () => {
    efs?.destroy();
    await server?.stop();
    server = undefined;
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('mounts a new file system through its mount target; DeleteMountTarget ends mounts through it', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-api-kernel-data-'));
    const srv = await startServer({ dataDir, leaseSeconds: LEASE_SECONDS });
    server = srv;
    expect(srv.apiEndpoint, `no apiEndpoint in the ready line\n${serverLogTail()}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    efs = new EFSClient({
      region: REGION,
      endpoint: srv.apiEndpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });

    // ---- a new file system and a mount target on its own loopback address --
    const created = await efs.send(
      new CreateFileSystemCommand({ CreationToken: `api-kernel-${process.pid}-${Date.now()}`, Tags: [{ Key: 'Name', Value: 'api-kernel' }] }),
    );
    const fsId = created.FileSystemId!;
    expect(fsId).toMatch(/^fs-[0-9a-f]{17}$/);
    expect(fsId).not.toBe(srv.fileSystemId);
    await until(`file system ${fsId} available`, 120, async () => {
      const d = await efs!.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }));
      return d.FileSystems?.[0]?.LifeCycleState === 'available';
    });

    const mtIp = await freeLoopbackAddress(srv.port, ['127.0.0.6', '127.0.0.16', '127.0.0.26', '127.0.0.36']);
    const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: SUBNET, IpAddress: mtIp }));
    const mtId = mt.MountTargetId!;
    expect(mtId).toMatch(/^fsmt-[0-9a-f]{17}$/);
    expect(mt.IpAddress).toBe(mtIp);
    await until(`mount target ${mtId} available`, 120, async () => {
      const d = await efs!.send(new DescribeMountTargetsCommand({ MountTargetId: mtId }));
      return d.MountTargets?.[0]?.LifeCycleState === 'available';
    });
    expect(await accepts(mtIp, srv.port), `the mount target ${mtIp}:${srv.port} does not accept connections\n${serverLogTail()}`).toBe(true);

    // ---- one guest boot ------------------------------------------------------
    const wrote: { line: string; check: DataCheck }[] = [];
    let deletion: Promise<void> | undefined;
    let deletionError: Error | undefined;
    let deletedAndClosed = false;
    const deleteMountTarget = async (guest: GuestControl) => {
      await efs!.send(new DeleteMountTargetCommand({ MountTargetId: mtId }));
      await until(`mount target ${mtId} gone from DescribeMountTargets`, 120, async () => {
        try {
          await efs!.send(new DescribeMountTargetsCommand({ MountTargetId: mtId }));
          return false;
        } catch (e) {
          if (e instanceof MountTargetNotFound) return true;
          throw e;
        }
      });
      await until(`nothing accepting connections on ${mtIp}:${srv.port}`, 60, async () => !(await accepts(mtIp, srv.port)));
      deletedAndClosed = true;
      guest.send('mt-deleted');
    };

    const run = await runGuest({
      port: srv.port,
      hostAddr: mtIp,
      vers: '4.0',
      opts: HARNESS_OPTS,
      script: path.join(GUEST_SCRIPTS, 'api-mount-target.sh'),
      timeoutSec: 480,
      env: { API_OPTS, API_RETRY_OPTS, API_FILE: FILE_NAME },
      onLine(line, guest) {
        const t = line.trim();
        if (t.startsWith('@@API WROTE ')) {
          // at once, while the client still has it: sync, not the umount, put it there
          const [, , name] = t.split(/\s+/);
          wrote.push({ line: t, check: checkDataDir(fsId, name) });
        } else if (t === '@@API DELETE-MT' && !deletion) {
          deletion = deleteMountTarget(guest).catch((e: Error) => {
            deletionError = e;
            guest.kill();
          });
        }
      },
    });
    await deletion;
    const outcomes = run.output.split('\n').filter((l) => /^(mount after the delete|read through the existing mount)/.test(l));
    console.log([...outcomes, timingSummary(run)].join('\n'));
    const why = `${describeRun(run)}\n--- server log (tail)\n${serverLogTail()}`;
    if (deletionError) throw new Error(`deleting the mount target failed: ${deletionError.message}\n${why}`);

    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@API DONE');
    expect(run.output).not.toMatch(/^FAIL/m);
    for (const label of [
      'ok: harness mount is NFSv4.0',
      'ok: mounted with NFSv4.1 through the mount target',
      'ok: the new file system is empty',
      'ok: read back through the mount target',
      'ok: the file through the harness mount (NFSv4.0, same mount target)',
      'ok: unmounted /mnt/api',
      'ok: a new mount fails after DeleteMountTarget',
      'ok: the existing mount fails after DeleteMountTarget',
    ]) {
      expect(run.output, why).toContain(label);
    }

    // the new mount failed by itself (mount.nfs's status, 32 for a failed
    // mount), rather than hanging until the guest's guard stopped it (124/143);
    // the read through the old mount failed or hung (see the guest script)
    expect(run.output, why).toMatch(/^@@API VAL remount-status (?!(?:0|124|143)$)\d+$/m);
    expect(run.output, why).toMatch(/^@@API VAL old-mount-status (?!0$)\d+$/m);

    // the file is in the new file system's data, not in the default one's
    expect(wrote, `no "@@API WROTE" line\n${why}`).toHaveLength(1);
    const [, , name, sizeText, sha] = wrote[0]!.line.split(/\s+/);
    expect(name).toBe(FILE_NAME);
    const during = wrote[0]!.check;
    const where = `DATA/file-systems/${fsId}/fs/${name}`;
    expect(during.inFileSystem, `${where} is missing right after the guest's sync\n${why}`).not.toBe('');
    expect(during.inFileSystemSize, where).toBe(Number(sizeText));
    expect(during.inFileSystemSha, where).toBe(sha);
    expect(during.inDefault, `DATA/fs/${name} exists: the write went to the default file system`).toBe(false);
    const after = checkDataDir(fsId, name!);
    expect(after.inFileSystemSha, `${where} after the run`).toBe(sha);
    expect(after.inDefault, `DATA/fs/${name} exists after the run`).toBe(false);

    // the delete happened through the API while the guest waited
    expect(deletion, `the guest never asked for the delete\n${why}`).toBeDefined();
    expect(deletedAndClosed).toBe(true);
    const left = await efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }));
    expect(left.MountTargets ?? []).toEqual([]);
    const fsAfter = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }));
    expect(fsAfter.FileSystems?.[0]?.NumberOfMountTargets).toBe(0);
  }, 600_000);
});
