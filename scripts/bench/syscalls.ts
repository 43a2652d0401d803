/**
 * System calls per NFS operation, localefs next to nfs-ganesha: starts each
 * server, attaches `strace -f -c` to it around one phase at a time (create,
 * stat, remove, small write, small read: the same compounds as the
 * benchmark, 8 in flight) and prints the calls per file. strace slows the
 * servers down, so this counts work; it does not time it.
 *
 *   npx tsx scripts/bench/syscalls.ts [--files N] [--only localefs|ganesha]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NfsClient, op, DEFAULT_GETATTR } from '../../src/client/nfs-client.js';
import * as N from '../../src/xdr/gen/nfs4.js';
import { startGanesha, startLocalefs, killAllSync, ganeshaMissing, type BenchServer, type ServerName } from './servers.js';
import { openIn, closeFile, mkdirIn, removeIn, run, pool } from './workloads.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Count {
  total: number;
  top: Array<[string, number]>;
}

/** Runs fn with strace counting the server's system calls; returns calls per `n`. */
async function traced(server: BenchServer, dir: string, label: string, n: number, fn: () => Promise<void>): Promise<Count> {
  const out = path.join(dir, `strace-${server.name}-${label}.txt`);
  const st = spawn('strace', ['-f', '-c', '-o', out, '-p', String(server.pid)], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => st.once('exit', () => r()));
  await new Promise((r) => setTimeout(r, 1000)); // let strace attach to every thread
  try {
    await fn();
  } finally {
    st.kill('SIGINT');
    await exited;
  }
  const rows: Array<[string, number]> = [];
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length < 5 || !/^[\d.]+$/.test(f[0]!) || f[f.length - 1] === 'total') continue;
    rows.push([f[f.length - 1]!, Number(f[3])]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  return { total: rows.reduce((a, r) => a + r[1], 0) / n, top: rows.slice(0, 8).map(([k, v]) => [k, v / n]) };
}

async function measure(server: BenchServer, dir: string, n: number): Promise<Map<string, Count>> {
  const res = new Map<string, Count>();
  const c = await NfsClient.connect({ host: '127.0.0.1', port: server.port, minorVersion: 1, slots: 64, maxOps: 16, timeoutMs: 300_000 });
  try {
    const root = await c.lookupPath('/');
    const d = await mkdirIn(c, root, 'sc');
    const name = (i: number) => `f${String(i).padStart(7, '0')}`;
    // warm-up (untraced)
    await pool(100, 8, async (i) => {
      await closeFile(c, await openIn(c, d, `w${i}`, N.OPEN4_SHARE_ACCESS_WRITE, true));
      await removeIn(c, d, `w${i}`);
    });
    const data = Buffer.alloc(4096, 7);
    const phases: Array<[string, () => Promise<void>]> = [
      ['create+close', () => pool(n, 8, async (i) => closeFile(c, await openIn(c, d, name(i), N.OPEN4_SHARE_ACCESS_WRITE, true)))],
      ['stat', () => pool(n, 8, async (i) => void (await run(c, [op.putfh(d), op.lookup(name(i)), op.getfh(), op.getattr(DEFAULT_GETATTR)])))],
      ['remove', () => pool(n, 8, (i) => removeIn(c, d, name(i)))],
      [
        'small write',
        () =>
          pool(n, 8, async (i) => {
            const f = await openIn(c, d, name(i), N.OPEN4_SHARE_ACCESS_BOTH, true);
            await run(c, [op.putfh(f.fh), op.write(f.stateid, 0, data, N.FILE_SYNC4)]);
            await closeFile(c, f);
          }),
      ],
      [
        'small read',
        () =>
          pool(n, 8, async (i) => {
            const f = await openIn(c, d, name(i), N.OPEN4_SHARE_ACCESS_READ, false);
            await run(c, [op.putfh(f.fh), op.read(f.stateid, 0, 4096)]);
            await closeFile(c, f);
          }),
      ],
    ];
    for (const [label, fn] of phases) {
      res.set(label, await traced(server, dir, label.replace(/\W+/g, '-'), n, fn));
      process.stderr.write(`${server.name} ${label}: ${res.get(label)!.total.toFixed(1)} syscalls/file\n`);
    }
    await pool(n, 8, (i) => removeIn(c, d, name(i)));
    await removeIn(c, root, 'sc');
  } finally {
    await c.destroy().catch(() => c.disconnect().catch(() => {}));
  }
  return res;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { files: { type: 'string' }, only: { type: 'string' } }, strict: true });
  const n = Number(values.files ?? 500);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--files must be an integer from 1 to 100000');
  const names: ServerName[] = values.only === 'localefs' || values.only === 'ganesha' ? [values.only] : ['localefs', 'ganesha'];
  if (names.includes('ganesha') && ganeshaMissing()) {
    process.stderr.write(ganeshaMissing() + '\n');
    return 2;
  }
  const base = mkdtempSync(path.join(os.tmpdir(), 'localefs-syscalls-'));
  const all = new Map<ServerName, Map<string, Count>>();
  try {
    for (const name of names) {
      const dir = path.join(base, name);
      const s = name === 'localefs' ? await startLocalefs({ repo: REPO, dir, leaseSeconds: 120 }) : await startGanesha({ dir, leaseSeconds: 120 });
      try {
        all.set(name, await measure(s, base, n));
      } finally {
        await s.stop();
      }
    }
  } finally {
    killAllSync();
    rmSync(base, { recursive: true, force: true });
  }
  process.stdout.write(`\nsystem calls per file (${n} files, 8 in flight), all threads of the server:\n\n`);
  process.stdout.write(`| phase | ${names.join(' | ')} |\n|---|${names.map(() => '---|').join('')}\n`);
  const phases = [...(all.get(names[0]!)?.keys() ?? [])];
  for (const ph of phases) {
    const cells = names.map((s) => {
      const c = all.get(s)!.get(ph)!;
      return `${c.total.toFixed(1)} (${c.top.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')})`;
    });
    process.stdout.write(`| ${ph} | ${cells.join(' | ')} |\n`);
  }
  return 0;
}

process.on('exit', killAllSync);
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`syscalls: ${(err as Error).stack ?? String(err)}\n`);
    killAllSync();
    process.exit(1);
  },
);
