// End to end: the Docker image (docker/Dockerfile) serves the real Linux
// kernel NFS client, and a new container on the same volume carries on.
//
//   guest mount.nfs4 -> slirp relay -> 127.0.0.1:NFS_PORT -> the container
//                                      (docker run --network host)
//
// beforeAll builds the image from the repository (legacy builder, --network
// host, so that `npm ci` in the build reaches the registry as this host
// does).  The test runs a container with a named volume on /data and checks
// it becomes `healthy` (HEALTHCHECK -> GET /_localefs/health), runs as a
// non-root user, and answers DescribeFileSystems.  Then ONE guest boot
// (guest/docker-replace.sh) mounts it (NFSv4.1, EFS options: hard), writes
// a file, a directory and a symlink, and records their inode numbers and
// file handles; the host removes the container (`docker rm -f`), starts a
// new one on the same volume and ports and waits until it is healthy; the
// guest reads everything through the handles it cached (no ESTALE), and
// again after dropping its caches, and finds the same inode numbers and
// handles.  The host checks the file system id is the same.
//
// Needs a Docker engine (`docker info` must work), the base image the
// Dockerfile names (without a registry: tools/docker-base/build.sh makes a
// local one; .ci/run does all of it) and the kernel-client prerequisites.
// Anything missing makes the test FAIL, never skip.

import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DescribeFileSystemsCommand, EFSClient } from '@aws-sdk/client-efs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertKernelClientAvailable,
  describeRun,
  freePorts,
  GUEST_SCRIPTS,
  REPO_ROOT,
  runGuest,
  timingSummary,
} from './kclient.js';

const IMAGE = 'localefs:test';
const LEASE_SECONDS = 10;
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const VOLUME = `localefs-test-data-${RUN_ID}`;
const DOCKER_HINT =
  'the Docker test needs a running Docker engine: apt-get install docker.io, start dockerd ' +
  '(`dockerd &`, or `dockerd --iptables=false --bridge=none &`), and without a registry build the base image ' +
  'with tools/docker-base/build.sh; .ci/run does all of this';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `docker ARGS` (async, so vitest's timeouts keep working). */
function docker(args: string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { cwd: REPO_ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run docker: ${e.message}; ${DOCKER_HINT}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** `docker ARGS`, throwing with its output unless it exits 0; returns stdout trimmed. */
async function dockerOk(args: string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await docker(args, o);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout.slice(-4000)}`);
  return r.stdout.trim();
}

function assertDockerAvailable(): void {
  const which = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error(`no docker command; ${DOCKER_HINT}`);
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 30_000 });
  if (info.status !== 0) throw new Error(`the Docker engine does not answer (docker info: ${(info.stderr || '').trim()}); ${DOCKER_HINT}`);
}

interface ContainerState {
  Status: string;
  ExitCode: number;
  Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
}

const containers: string[] = [];
let cleanedUp = false;
// a test run cut short (timeout, Ctrl-C) leaves no container or volume behind
process.on('exit', () => {
  if (cleanedUp || containers.length === 0) return;
  spawnSync('docker', ['rm', '--force', ...containers], { stdio: 'ignore', timeout: 30_000 });
  spawnSync('docker', ['volume', 'rm', '--force', VOLUME], { stdio: 'ignore', timeout: 30_000 });
});

/**
 * Start a container of the image on the host's network: NFS and the API on
 * the loopback at the given ports, /data on the test's volume.  The health
 * check runs every second (the image's own interval is 5 s).
 */
async function startContainer(nfsPort: number, apiPort: number): Promise<string> {
  const name = `localefs-test-${RUN_ID}-${containers.length + 1}`;
  containers.push(name);
  await dockerOk([
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    '--volume',
    `${VOLUME}:/data`,
    '--env',
    `LOCALEFS_PORT=${nfsPort}`,
    '--env',
    `LOCALEFS_API_PORT=${apiPort}`,
    '--health-interval',
    '1s',
    IMAGE,
    // flags win over the image's LOCALEFS_HOST / LOCALEFS_API_HOST (0.0.0.0): the loopback only
    '--host',
    '127.0.0.1',
    '--api-host',
    '127.0.0.1',
    '--lease-seconds',
    String(LEASE_SECONDS),
  ]);
  return name;
}

async function containerLogs(name: string, lines = 40): Promise<string> {
  const r = await docker(['logs', '--tail', String(lines), name]);
  return `${r.stdout}${r.stderr}`;
}

/** Poll `docker inspect` until the container's health is `healthy`; throws when it exits, turns unhealthy or the time is up. */
async function waitHealthy(name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state: ContainerState | undefined;
  while (Date.now() < deadline) {
    state = JSON.parse(await dockerOk(['inspect', '--format', '{{json .State}}', name])) as ContainerState;
    if (state.Status === 'exited' || state.Status === 'dead') {
      throw new Error(`container ${name} exited (${state.ExitCode}) before it was healthy:\n${await containerLogs(name)}`);
    }
    if (state.Health?.Status === 'healthy') return;
    if (state.Health?.Status === 'unhealthy') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const probes = (state?.Health?.Log ?? []).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`).join('\n');
  throw new Error(
    `container ${name} not healthy (status ${state?.Status}, health ${state?.Health?.Status ?? 'none'}):\n` +
      `health probes:\n${probes || '(none)'}\n--- container log (tail)\n${await containerLogs(name)}`,
  );
}

/** The file system id as three sources tell it: the ready line, the health endpoint, DescribeFileSystems. */
async function fileSystemIds(name: string, apiPort: number): Promise<{ ready: string; health: string; api: string[] }> {
  const logs = await docker(['logs', name]);
  const readyLine = `${logs.stdout}\n${logs.stderr}`.split('\n').find((l) => l.includes('"msg":"localefs ready"'));
  const ready = readyLine ? (JSON.parse(readyLine) as { fileSystemId: string }).fileSystemId : '';
  const res = await fetch(`http://127.0.0.1:${apiPort}/_localefs/health`);
  expect(res.status, 'GET /_localefs/health').toBe(200);
  const health = ((await res.json()) as { defaultFileSystemId: string }).defaultFileSystemId;
  const efs = new EFSClient({
    endpoint: `http://127.0.0.1:${apiPort}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    const out = await efs.send(new DescribeFileSystemsCommand({}));
    return { ready, health, api: (out.FileSystems ?? []).map((f) => f.FileSystemId ?? '').sort() };
  } finally {
    efs.destroy();
  }
}

/** "@@LOCALEFS ID WHEN NAME INODE HANDLE" lines of the guest, by WHEN. */
function guestIds(output: string, when: string): Map<string, string> {
  const ids = new Map<string, string>();
  for (const line of output.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === '@@LOCALEFS' && w[1] === 'ID' && w[2] === when) ids.set(w[3], `${w[4]} ${w[5]}`);
  }
  return ids;
}

describe('Docker image (docker/Dockerfile) with the Linux kernel NFS client', () => {
  let buildSeconds = 0;

  beforeAll(async () => {
    assertDockerAvailable();
    assertKernelClientAvailable();
    const started = Date.now();
    const build = await docker(['build', '--network', 'host', '-f', 'docker/Dockerfile', '-t', IMAGE, '.'], {
      env: { DOCKER_BUILDKIT: '0' },
      timeoutMs: 1_140_000,
    });
    buildSeconds = (Date.now() - started) / 1000;
    if (build.code !== 0) {
      const base = /pull access denied|manifest .* not found|repository does not exist|registry-1\.docker\.io|dial tcp|TLS handshake/.test(build.stderr)
        ? '\n(the FROM image is neither local nor pullable: run tools/docker-base/build.sh)'
        : '';
      throw new Error(`docker build failed (exit ${build.code})${base}\n${build.stderr}\n--- stdout (tail)\n${build.stdout.slice(-6000)}`);
    }
    console.log(`docker build took ${buildSeconds.toFixed(1)} s`);
  }, 1_200_000);

  afterAll(async () => {
    for (const name of containers) await docker(['rm', '--force', '--volumes', name]);
    await docker(['volume', 'rm', '--force', VOLUME]);
    cleanedUp = true;
  }, 120_000);

  it('the image: non-root user, ports, volume, health check, size', async () => {
    const [img] = JSON.parse(await dockerOk(['image', 'inspect', IMAGE])) as {
      Size: number;
      Config: { User: string; ExposedPorts: Record<string, unknown>; Volumes: Record<string, unknown>; Healthcheck?: { Test: string[] } };
    }[];
    console.log(`image ${IMAGE}: ${(img.Size / 1e6).toFixed(0)} MB`);
    expect(img.Config.User, 'Config.User').not.toMatch(/^(|root|0)(:|$)/);
    expect(Object.keys(img.Config.ExposedPorts).sort()).toEqual(['2049/tcp', '8049/tcp']);
    expect(Object.keys(img.Config.Volumes)).toEqual(['/data']);
    expect(img.Config.Healthcheck?.Test.join(' ')).toContain('/_localefs/health');
    // nothing of the build in the runtime image: no TypeScript sources, no npm cache, no esbuild
    const ls = await dockerOk([
      'run', '--rm', '--network', 'none', '--user', 'root', '--entrypoint', 'sh', IMAGE, '-c',
      'cd /opt/localefs && ls; test -f dist/main.js && echo has-dist; ls node_modules | grep -x esbuild || echo no-esbuild; ' +
        'ls -d src 2>/dev/null || echo no-src; ls -d /root/.npm /home/*/.npm 2>/dev/null || echo no-npm-cache',
    ]);
    expect(ls).toContain('has-dist');
    expect(ls).toContain('no-esbuild');
    expect(ls).toContain('no-src');
    expect(ls).toContain('no-npm-cache');
  });

  it('serves the kernel client; a new container on the same volume keeps the file system id, inodes and handles', async () => {
    const [nfsPort, apiPort] = (await freePorts(2)) as [number, number];
    let current = await startContainer(nfsPort, apiPort);
    let t0 = Date.now();
    await waitHealthy(current);
    const firstHealthy = (Date.now() - t0) / 1000;

    // non-root, as configured and as running (PID 1 is node itself)
    const user = await dockerOk(['inspect', '--format', '{{.Config.User}}', current]);
    expect(user, 'Config.User of the container').not.toMatch(/^(|root|0)(:|$)/);
    const status = await dockerOk(['exec', current, 'cat', '/proc/1/status']);
    const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    expect(uids, `no Uid line in /proc/1/status:\n${status}`).not.toBeNull();
    expect(uids!.slice(1).map(Number).some((u) => u === 0), `PID 1 runs as ${uids![0]}`).toBe(false);
    expect(/^Name:\s+node$/m.test(status), `PID 1 is not node:\n${status.split('\n')[0]}`).toBe(true);

    const before = await fileSystemIds(current, apiPort);
    expect(before.ready).toMatch(/^fs-[0-9a-f]{17}$/);
    expect(before.health).toBe(before.ready);
    expect(before.api).toContain(before.ready);

    let replace: Promise<void> | undefined;
    let replaceError: Error | undefined;
    let replaceSeconds = 0;
    let secondHealthy = 0;
    const run = await runGuest({
      port: nfsPort,
      vers: '4.1',
      script: path.join(GUEST_SCRIPTS, 'docker-replace.sh'),
      timeoutSec: 480,
      onLine(line, guest) {
        if (line.trim() !== '@@LOCALEFS REPLACE' || replace) return;
        replace = (async () => {
          t0 = Date.now();
          await dockerOk(['rm', '--force', current]);
          current = await startContainer(nfsPort, apiPort);
          const t1 = Date.now();
          await waitHealthy(current);
          secondHealthy = (Date.now() - t1) / 1000;
          replaceSeconds = (Date.now() - t0) / 1000;
          guest.send('replaced');
        })().catch((e: Error) => {
          replaceError = e;
          guest.kill();
        });
      },
    });
    await replace;
    if (replaceError) throw new Error(`replacing the container failed: ${replaceError.message}`);
    console.log(timingSummary(run));
    console.log(
      `container healthy after ${firstHealthy.toFixed(1)} s; replaced (rm -f, run, healthy) in ${replaceSeconds.toFixed(1)} s ` +
        `(healthy ${secondHealthy.toFixed(1)} s after docker run)`,
    );
    const why = `${describeRun(run)}\n--- container log (tail)\n${await containerLogs(current)}`;
    expect(replace, `the guest never asked for the replacement\n${why}`).toBeDefined();
    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@LOCALEFS REPLACE-OK');
    for (const label of [
      'ok: file through the cached handle',
      'ok: symlink through the cached handle',
      'ok: directory listing',
      'ok: inode numbers and handles (cached)',
      'ok: inode numbers and handles (fresh lookups)',
      'ok: held-open file written across the replacement',
    ]) {
      expect(run.output, why).toContain(label);
    }
    expect(run.output).not.toMatch(/^(FAIL|WARN)/m);

    // the same objects before the replacement and after it, through fresh lookups
    const idsBefore = guestIds(run.output, 'before');
    expect([...idsBefore.keys()].sort()).toEqual(['data.bin', 'dir', 'dir/inner.txt', 'file.txt', 'link']);
    expect(guestIds(run.output, 'fresh')).toEqual(idsBefore);
    const handles = [...idsBefore.values()].filter((v) => !v.endsWith(' -'));
    // every object had a handle to compare (name_to_handle_at works on NFS), or handles went unchecked
    expect(handles, why).toHaveLength(idsBefore.size);
    console.log(
      `inode numbers and handles, equal before and after (fresh lookups); ${handles.length} of ${idsBefore.size} with a handle:\n` +
        [...idsBefore].map(([name, v]) => `  ${name}: ${v}`).join('\n'),
    );

    // the new container serves the same file system
    const after = await fileSystemIds(current, apiPort);
    expect(after.ready).toBe(before.ready);
    expect(after.health).toBe(before.ready);
    expect(after.api).toEqual(before.api);
  }, 900_000);
});
