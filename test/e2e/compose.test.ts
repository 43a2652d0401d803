// End to end: the docker-compose file users copy (docs/compose/docker-compose.yml)
// works with dockerd, docker-compose and Docker's own NFS volume driver
// (`driver: local`, `type: nfs`: dockerd calls the kernel's mount(2)) against
// the real Linux kernel NFS client.
//
//   guest: docker-compose up -> dockerd -> mount(2) nfs 10.0.2.100:/ and :/app
//          -> slirp relay -> 127.0.0.1:NFS_PORT -> localefs on this host
//
// The host has no NFS client, so the stack runs in a Debian bookworm guest
// under qemu (scripts/debguest: Debian's docker.io and docker-compose in a
// debootstrapped root, cached under ~/.cache/localefs-debguest by a hash of
// its inputs; a few minutes the first time, then instant).  localefs runs on
// the host (plain NFS, a free loopback port the guest reaches as
// 10.0.2.100:2049, its only way out).  ONE guest boot (guest/compose.sh)
// starts dockerd, imports a busybox image made from the host's static
// busybox, and runs `docker-compose up -d` with the user's file plus
// guest/compose-ci.yml (LOCALEFS_ADDR=10.0.2.100; a stand-in for the
// localefs service, which runs on the host here; the app's workload).  The
// depends_on chain runs as for users: efs-init makes /app through the root
// volume, then app mounts both volumes, writes a file, a directory and a
// 3 MiB file and reads them back.  Then the host finds exactly those bytes,
// and /app owned by 1000:1000, in localefs' data directory.
//
// Needs qemu-system-x86, linux-image-amd64, busybox-static, debootstrap,
// e2fsprogs, cpio and Debian's apt repositories (first build only).  Anything
// missing makes the test FAIL, never skip.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer, type RunningServer } from './kclient.js';

const DEBGUEST = path.join(REPO_ROOT, 'scripts/debguest');
const GUEST = path.join(REPO_ROOT, 'test/e2e/guest');
const COMPOSE_FILE = path.join(REPO_ROOT, 'docs/compose/docker-compose.yml');
/** Debian packages the guest root gets on top of the harness' base. */
const GUEST_PACKAGES = 'docker.io,docker-compose';
/** Host kernel modules dockerd needs in the guest (overlay2, bridge networks). */
const GUEST_MODULES = ['overlay', 'bridge', 'veth'];
const HINT =
  'the compose test needs, as root: apt-get install qemu-system-x86 linux-image-amd64 busybox-static ' +
  'debootstrap e2fsprogs cpio (and Debian apt repositories reachable for the first guest build)';

function log(msg: string): void {
  process.stderr.write(`[compose] ${msg}\n`);
}

/** Throws, naming the packages, unless every host tool the test needs is there. */
function assertPrerequisites(): void {
  const missing: string[] = [];
  const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (process.getuid?.() !== 0) missing.push('root (debootstrap, qemu in a network namespace)');
  for (const [cmd, pkg] of [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['debootstrap', 'debootstrap'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['cpio', 'cpio'],
    ['perl', 'perl'],
    ['unshare', 'util-linux'],
  ]) {
    if (!which(cmd)) missing.push(`${cmd} (${pkg})`);
  }
  const kernels = fs.existsSync('/boot') ? fs.readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')) : [];
  if (kernels.length === 0) missing.push('a kernel image /boot/vmlinuz-* (linux-image-amd64)');
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((b) => fs.existsSync(b));
  if (!busybox || spawnSync('ldd', [busybox]).status === 0) missing.push('a static busybox (busybox-static)');
  if (missing.length > 0) throw new Error(`compose test cannot run, missing: ${missing.join(', ')}; ${HINT}`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Run a command, echoing its lines to stderr as they come (progress of long
 * builds and guest runs) and collecting them.
 */
function run(cmd: string, args: string[], prefix: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const echo = (text: string) => {
      for (const line of text.split('\n')) if (line) process.stderr.write(`[${prefix}] ${line}\n`);
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      echo(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      echo(c);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const onExit = () => child.kill('SIGTERM');
    process.on('exit', onExit);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}; ${HINT}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', onExit);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** A busybox root file system as a tar (for `docker import` in the guest). */
function busyboxTar(dir: string): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((b) => fs.existsSync(b))!;
  const root = path.join(dir, 'busybox-root');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.copyFileSync(busybox, path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
  const tar = path.join(dir, 'busybox.tar');
  const r = spawnSync('tar', ['-C', root, '--owner=0', '--group=0', '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return tar;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('docker-compose with Docker NFS volumes in a Debian guest (kernel client)', () => {
  let tmp = '';
  let dataDir = '';
  let image = '';
  let server: RunningServer | undefined;

  beforeAll(async () => {
    assertPrerequisites();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-compose-'));
    dataDir = path.join(tmp, 'data');
    log(`guest root with ${GUEST_PACKAGES}: build-rootfs.sh (cached after the first build)`);
    const b = await run(path.join(DEBGUEST, 'build-rootfs.sh'), ['--packages', GUEST_PACKAGES], 'build', 40 * 60_000);
    if (b.code !== 0) throw new Error(`build-rootfs.sh exited ${b.code}; ${HINT}\n${b.stderr.slice(-4000)}`);
    image = b.stdout.trim().split('\n').pop()!;
    log(`guest root ${image} ready after ${b.seconds.toFixed(1)} s`);
    server = await startServer({ dataDir, leaseSeconds: 15 });
    log(`localefs ${server.fileSystemId} on 127.0.0.1:${server.port}`);
  }, 45 * 60_000);

  afterAll(async () => {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('docker-compose up: the app writes through both NFS volumes into localefs', async () => {
    const nonce = randomBytes(6).toString('hex');
    const args = ['-v', '--port', String(server!.port), '--image', image, '--mem', '2048', '--smp', '2'];
    args.push('--append', 'apparmor=0', '--timeout', '900');
    for (const m of GUEST_MODULES) args.push('--module', m);
    args.push('--put', `${busyboxTar(tmp)}:/root/busybox.tar`);
    args.push('--put', `${COMPOSE_FILE}:/root/compose/docker-compose.yml`);
    args.push('--put', `${path.join(GUEST, 'compose-ci.yml')}:/root/compose/docker-compose.ci.yml`);
    args.push('--env', `NONCE=${nonce}`, path.join(GUEST, 'compose.sh'));
    log('booting the guest: dockerd, docker-compose up');
    const g = await run(path.join(DEBGUEST, 'boot.sh'), args, 'guest', 16 * 60_000);
    const lines = g.stdout.split('\n');
    const report = `boot.sh exited ${g.code} after ${g.seconds.toFixed(1)} s\n${g.stdout.slice(-6000)}\n--- harness\n${g.stderr.slice(-3000)}`;
    log(
      [...lines.filter((l) => l.startsWith('time: ')), ...g.stderr.split('\n').filter((l) => l.includes('times (s)'))].join('\n'),
    );
    expect(g.code, report).toBe(0);
    expect(lines, report).toContain('@@COMPOSE APP-OK');
    expect(lines, report).toContain('@@COMPOSE EXIT 0');
    expect(lines, report).toContain('@@COMPOSE DONE');
    // the volume options as dockerd holds them: the override's address
    expect(g.stdout, report).toMatch(/ci_efs: local .*"device":":\/".*addr=10\.0\.2\.100,nfsvers=4\.1,/);
    expect(g.stdout, report).toMatch(/ci_efs-app: local .*"device":":\/app"/);

    // the app's view: both volumes are kernel NFSv4.1 mounts of the host's
    // server (10.0.2.100) with the options from the compose file; the device
    // is what Docker passes to mount(2), the address goes in the options
    for (const [dev, dir] of [
      [':/', '/mnt/efs'],
      [':/app', '/mnt/app'],
    ]) {
      const m = lines.find((l) => l.startsWith(`@@COMPOSE MOUNT ${dev} ${dir} nfs4 `));
      expect(m, report).toBeDefined();
      const opts = m!.split(' ')[5].split(',');
      // (port=2049 is the default: the kernel does not list it)
      for (const o of ['vers=4.1', 'rsize=1048576', 'wsize=1048576', 'hard', 'timeo=600', 'retrans=2', 'noresvport', 'addr=10.0.2.100']) {
        expect(opts, m).toContain(o);
      }
    }

    // what the app read back through the mount
    const numbers = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
    expect(lines).toContain(`@@COMPOSE READ hello.txt hello from compose ${nonce}`);
    expect(lines).toContain(`@@COMPOSE SUM sub/numbers.txt ${sha256(numbers)}`);
    expect(lines).toContain(`@@COMPOSE APP from-app.txt app volume ${nonce}`);
    expect(lines).toContain('@@COMPOSE APPDIR 1000:1000 755');
    const blobLine = lines.find((l) => l.startsWith('@@COMPOSE SUM sub/blob.bin '));
    expect(blobLine, report).toBeDefined();
    const blobSum = blobLine!.split(' ').pop();

    // ... and what localefs has on disk (run as root: real owners)
    const fsDir = path.join(dataDir, 'fs');
    const dir = path.join(fsDir, `compose-${nonce}`);
    expect(fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8')).toBe(`hello from compose ${nonce}\n`);
    expect(fs.statSync(path.join(dir, 'sub')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'sub/numbers.txt'), 'utf8')).toBe(numbers);
    const blob = fs.readFileSync(path.join(dir, 'sub/blob.bin'));
    expect(blob.length).toBe(3 * 1024 * 1024);
    expect(sha256(blob)).toBe(blobSum);
    // /app: made by efs-init through the root volume, written through :/app
    const app = fs.statSync(path.join(fsDir, 'app'));
    expect([app.uid, app.gid, app.mode & 0o7777]).toEqual([1000, 1000, 0o755]);
    expect(fs.readFileSync(path.join(fsDir, 'app/from-app.txt'), 'utf8')).toBe(`app volume ${nonce}\n`);
  }, 20 * 60_000);
});
