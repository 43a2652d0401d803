/**
 * One client opening more files than the server may hold fds for must not
 * starve anyone else: opens share a bounded fd pool (the store's fdLimit,
 * 4096 by default), so while one client keeps thousands of files open, the
 * process's fd count stays bounded and another client connects, creates,
 * writes and reads as usual.
 *
 * To show the old failure mode (every open holding an fd until the process
 * hits EMFILE), the test lowers this process's soft fd limit below the number
 * of files the flood keeps open (prlimit(1); restored afterwards).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import type { NfsClient, OpenResult } from '../../src/client/nfs-client.js';
import { pool, randomData, sha256, startTestServer, type TestServer } from './harness.js';

/** Files the flooding client keeps open. */
const FLOOD = 6000;
/** The store's default fd capacity (LocalStoreOptions.fdLimit). */
const CAPACITY = 4096;
/** The soft fd limit the test runs under: above the capacity, below the flood. */
const SOFT_LIMIT = 5000;

const fdCount = (): number => readdirSync('/proc/self/fd').length;

function setSoftFdLimit(n: number): boolean {
  try {
    const hard = fdLimits()?.hard;
    if (hard === undefined) return false;
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${n}:${hard}`], { stdio: 'ignore' });
    return processFdLimit() === n;
  } catch {
    return false;
  }
}

/** This process's soft and hard fd limits (Linux /proc), or undefined. */
function fdLimits(): { soft: number; hard: string } | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m || m[1] === 'unlimited') return undefined;
    return { soft: Number(m[1]), hard: m[2]! };
  } catch {
    return undefined;
  }
}
const processFdLimit = (): number | undefined => fdLimits()?.soft;

describe('one client flooding opens', () => {
  let srv: TestServer;
  let flooder: NfsClient;
  let originalSoft: number | undefined;
  let lowered = false;
  const held: OpenResult[] = [];

  beforeAll(async () => {
    originalSoft = processFdLimit();
    srv = await startTestServer();
    flooder = await srv.client();
    await flooder.mkdir('/flood', 0o777);
    await flooder.mkdir('/calm', 0o777);
    if (originalSoft !== undefined && originalSoft > SOFT_LIMIT) lowered = setSoftFdLimit(SOFT_LIMIT);
    // without the lower limit the flood would not press against the fd limit the test is about
    expect(lowered, `prlimit (util-linux) could not lower RLIMIT_NOFILE to ${SOFT_LIMIT} (soft limit now ${originalSoft})`).toBe(true);
  });
  afterAll(async () => {
    await srv?.cleanup();
    if (lowered && originalSoft !== undefined) setSoftFdLimit(originalSoft);
  });

  it(`holds ${FLOOD} open files with at most ${CAPACITY} fds; another client carries on meanwhile`, async () => {
    const base = fdCount();
    let peak = base;
    const names = Array.from({ length: FLOOD }, (_, i) => `/flood/f${i}`);
    await pool(names, 32, async (name, i) => {
      const f = await flooder.create(name);
      held.push(f);
      if (i % 500 === 0) {
        await flooder.write(f.fh, f.stateid, 0, Buffer.from(name), N.UNSTABLE4);
        peak = Math.max(peak, fdCount());
      }
    });
    peak = Math.max(peak, fdCount());
    expect(held.length).toBe(FLOOD);

    // the flood's files are all still usable through their open stateids (fds reopened on demand)
    for (const i of [0, 1, FLOOD / 2, FLOOD - 1]) {
      const f = held[i]!;
      await flooder.write(f.fh, f.stateid, 0, Buffer.from(`still open ${i}`), N.FILE_SYNC4);
      expect((await flooder.read(f.fh, f.stateid, 0, 100)).data.toString()).toBe(`still open ${i}`);
    }

    // a second client: connects, creates, writes, reads
    const other = await srv.client();
    const data = randomData(300_000);
    const f = await other.create('/calm/file');
    await other.write(f.fh, f.stateid, 0, data, N.FILE_SYNC4, 64 * 1024);
    expect(sha256(await other.readAll(f.fh, f.stateid))).toBe(sha256(data));
    await other.close(f.fh, f.stateid);
    expect(sha256(await other.readFile('/calm/file'))).toBe(sha256(data));
    peak = Math.max(peak, fdCount());

    // the store's fds (pool + parked create fds) stay within its capacity; the rest is
    // connections and in-flight I/O
    const connections = 4;
    console.log(`open-flood: ${FLOOD} opens held; fds: base ${base}, peak ${peak} (+${peak - base}), soft limit ${processFdLimit()}${lowered ? ' (lowered)' : ''}`);
    expect(peak - base).toBeLessThanOrEqual(CAPACITY + connections + 64);
  });

  it('closing the flood leaves at most the pool capacity of fds cached; removing its files releases them', async () => {
    const base = fdCount();
    await pool(held.splice(0), 32, async (f) => {
      await flooder.close(f.fh, f.stateid);
    });
    const closed = fdCount();
    expect(closed - base).toBeLessThanOrEqual(64);
    await pool(
      Array.from({ length: FLOOD }, (_, i) => i),
      32,
      (i) => flooder.remove(`/flood/f${i}`).then(() => undefined),
    );
    const after = fdCount();
    console.log(`open-flood: after closing every open: fds ${closed} (was ${base}); after removing the files: ${after}`);
    expect(after).toBeLessThan(base - CAPACITY / 2);
  });
});
