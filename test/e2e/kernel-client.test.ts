// End-to-end tests with the real Linux kernel NFS client: a Debian kernel in
// qemu (scripts/kclient/kclient.sh) mounts localefs, which runs on the host
// loopback, and runs the busybox workloads in test/e2e/guest/.
//
// Each test starts its own server on a fresh data directory.  A missing qemu,
// kernel or busybox makes the tests FAIL (never skip), with the apt-get line
// to run.  Every guest boot costs ~5 s, so each test is one guest run.

import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertKernelClientAvailable,
  checkDurableLine,
  describeRun,
  GUEST_SCRIPTS,
  runGuest,
  startServer,
  timingSummary,
  type DurableCheck,
  type RunningServer,
} from './kclient.js';

const LEASE_SECONDS = 10;

let dataDir = '';
let server: RunningServer | undefined;

async function freshServer(): Promise<RunningServer> {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'localefs-e2e-data-'));
  server = await startServer({ dataDir, leaseSeconds: LEASE_SECONDS });
  return server;
}

function serverLogTail(n = 40): string {
  return server ? server.logs.slice(-n).join('\n') : '(no server)';
}

function expectDurable(checks: DurableCheck[], how: string) {
  const c = checks.find((d) => d.how === how);
  expect(c, `no "@@LOCALEFS DURABLE ... ${how}" line from the guest`).toBeDefined();
  expect(c!.match, `${how}'d file ${c!.name} in the server's data dir: ${c!.detail}`).toMatch(/^(name|content)$/);
}

describe('Linux kernel NFS client (qemu guest)', () => {
  beforeAll(() => {
    assertKernelClientAvailable();
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    dataDir = '';
  });

  it('NFSv4.1 with the EFS mount options: full workload', async () => {
    const srv = await freshServer();
    const durable: DurableCheck[] = [];
    const run = await runGuest({
      port: srv.port,
      vers: '4.1',
      script: path.join(GUEST_SCRIPTS, 'full-v41.sh'),
      timeoutSec: 420,
      onLine(line) {
        // compare with the data dir at once, while the client still has the
        // file open/cached: only fsync/sync, not the umount, may have put it there
        if (line.startsWith('@@LOCALEFS DURABLE ')) durable.push(checkDurableLine(dataDir, line));
      },
    });
    console.log(timingSummary(run));
    const why = `${describeRun(run)}\n--- server log (tail)\n${serverLogTail()}`;
    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@LOCALEFS DONE full');
    expect(run.output).not.toMatch(/^(FAIL|WARN)/m);
    for (const label of [
      'ok: rename over an existing file: inode',
      'ok: dir rename across parents',
      'ok: same inode',
      'ok: readlink relative',
      'ok: rm -r',
      'ok: chown 1000:1000',
      'ok: file created by uid 1001',
      'ok: marker at 5 GiB + 1',
      'ok: blocking fcntl lock waited',
      'ok: ls -ln: regular files listed',
      'ok: df size is at least 1 EiB',
    ]) {
      expect(run.output).toContain(label);
    }
    expectDurable(durable, 'fsync');
    expectDurable(durable, 'sync');
  }, 480_000);

  it('NFSv4.0: core workload', async () => {
    const srv = await freshServer();
    const durable: DurableCheck[] = [];
    const run = await runGuest({
      port: srv.port,
      vers: '4.0',
      script: path.join(GUEST_SCRIPTS, 'core-v40.sh'),
      timeoutSec: 180,
      onLine(line) {
        if (line.startsWith('@@LOCALEFS DURABLE ')) durable.push(checkDurableLine(dataDir, line));
      },
    });
    console.log(timingSummary(run));
    const why = `${describeRun(run)}\n--- server log (tail)\n${serverLogTail()}`;
    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@LOCALEFS DONE core');
    expect(run.output).toContain('ok: mounted with NFSv4.0');
    expect(run.output).toContain('ok: fcntl: blocking lock after release');
    expect(run.output).toContain('ok: df size is at least 1 EiB');
    expect(run.output).toContain('ok: the host loopback is not reachable');
    expectDurable(durable, 'fsync');
  }, 240_000);

  it('NFSv4.1: the server restarts under a mounted client (same handles, reclaim)', async () => {
    let srv = await freshServer();
    const port = srv.port;
    let restart: Promise<void> | undefined;
    let restartError: Error | undefined;
    let restartSeconds = 0;
    const run = await runGuest({
      port,
      vers: '4.1',
      script: path.join(GUEST_SCRIPTS, 'restart.sh'),
      timeoutSec: 240,
      onLine(line, guest) {
        if (line.trim() !== '@@LOCALEFS RESTART' || restart) return;
        restart = (async () => {
          const t0 = Date.now();
          await srv.stop();
          srv = await startServer({ dataDir, port, leaseSeconds: LEASE_SECONDS });
          server = srv;
          restartSeconds = (Date.now() - t0) / 1000;
          guest.send('restarted');
        })().catch((e: Error) => {
          restartError = e;
          guest.kill();
        });
      },
    });
    await restart;
    if (restartError) throw new Error(`restarting the server failed: ${restartError.message}`);
    console.log(timingSummary(run));
    const why = `${describeRun(run)}\n(server restart took ${restartSeconds.toFixed(1)} s)\n--- server log (tail)\n${serverLogTail()}`;
    expect(restart, `the guest never asked for a restart\n${why}`).toBeDefined();
    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@LOCALEFS RESTART-OK');
    expect(run.output).toContain('ok: content read through the cached handle');
    expect(run.output).toContain('ok: lock still held after the restart');
  }, 300_000);
});
