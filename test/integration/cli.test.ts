/**
 * The command itself (src/main.ts as `tsx src/main.ts`): configured only by
 * LOCALEFS_* variables, JSON lines when output is not a terminal, the readable
 * summary with --log-format pretty, and an ephemeral data directory gone at exit.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeAccessPointsCommand, EFSClient } from '@aws-sdk/client-efs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// node with tsx's loader, not the tsx wrapper: signals reach the server itself, whose exit code is checked
const NODE_TSX = [process.execPath, '--import', 'tsx'];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'localefs-cli-'));
chmodSync(tmp, 0o755); // the unprivileged run below must reach into it
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

/** Starts the command with only `env` (plus PATH/HOME) and resolves once `ready(line)` holds for a line of `stream`. */
function run(env: Record<string, string>, ready: (line: string) => boolean, stream: 'stdout' | 'stderr' = 'stdout'): Promise<Run> {
  const child = spawn(NODE_TSX[0]!, [...NODE_TSX.slice(1), 'src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const r: Run = { child, stdout: [], stderr: [], exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  return new Promise((resolve, reject) => {
    for (const name of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[name]!.setEncoding('utf8');
      child[name]!.on('data', (chunk: string) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop()!;
        for (const l of lines) {
          r[name].push(l);
          if (name === stream && ready(l)) resolve(r);
        }
      });
    }
    void r.exited.then((code) => reject(new Error(`exited with ${code} before ready:\n${[...r.stdout, ...r.stderr].join('\n')}`)));
  });
}

describe('configured by LOCALEFS_* variables only', () => {
  test('data, ports, lease, config, reset and log format come from the environment', async () => {
    const dataDir = path.join(tmp, 'env-data');
    const config = path.join(tmp, 'config.json');
    writeFileSync(config, JSON.stringify({ accessPoints: [{ accessPointId: 'fsap-0aaaaaaaaaaaaaaaa', rootDirectory: { path: '/app' } }] }));
    const r = await run(
      {
        LOCALEFS_DATA: dataDir,
        LOCALEFS_PORT: '0',
        LOCALEFS_HOST: '127.0.0.1',
        LOCALEFS_API_PORT: '0',
        LOCALEFS_API_HOST: '127.0.0.1',
        LOCALEFS_LEASE_SECONDS: '30',
        LOCALEFS_CONFIG: config,
        LOCALEFS_ENABLE_RESET: '1',
        LOCALEFS_LOG_LEVEL: 'info',
        LOCALEFS_LOG_FORMAT: 'json',
      },
      (l) => l.includes('"msg":"localefs ready"'),
    );
    const ready = JSON.parse(r.stdout.find((l) => l.includes('"msg":"localefs ready"'))!) as Record<string, unknown>;
    expect(ready).toMatchObject({ dataDir, leaseSeconds: 30, ephemeral: false, host: '127.0.0.1' });
    expect(ready.port).not.toBe(2049);
    // every stdout line is a pino JSON line when the format is json
    for (const l of r.stdout) expect(() => JSON.parse(l)).not.toThrow();
    const endpoint = ready.apiEndpoint as string;
    const efs = new EFSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const aps = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: ready.fileSystemId as string }));
    expect(aps.AccessPoints?.map((a) => a.AccessPointId)).toEqual(['fsap-0aaaaaaaaaaaaaaaa']);
    efs.destroy();
    const reset = await fetch(`${endpoint}/_localefs/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'model.json'))).toBe(true);
  });

  test('LOCALEFS_CREDENTIALS turns signature checks on (an unsigned call answers 403)', async () => {
    const creds = path.join(tmp, 'credentials.json');
    writeFileSync(creds, JSON.stringify({ AKIDCLITEST00000001: { secretAccessKey: 's', principalArn: 'arn:aws:iam::000000000000:root' } }));
    const r = await run(
      { LOCALEFS_EPHEMERAL: 'true', LOCALEFS_PORT: '0', LOCALEFS_API_PORT: '0', LOCALEFS_CREDENTIALS: creds, LOCALEFS_LOG_FORMAT: 'json' },
      (l) => l.includes('"msg":"localefs ready"'),
    );
    const ready = JSON.parse(r.stdout.find((l) => l.includes('"msg":"localefs ready"'))!) as { apiEndpoint: string };
    const res = await fetch(`${ready.apiEndpoint}/2015-02-01/file-systems`);
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationToken');
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });
});

describe('for a person at a terminal', () => {
  test('--log-format pretty prints the summary on stdout and readable log lines; ephemeral data is gone at exit', async () => {
    const r = await run({ LOCALEFS_EPHEMERAL: '1', LOCALEFS_PORT: '0', LOCALEFS_API_PORT: '0', LOCALEFS_LOG_FORMAT: 'pretty' }, (l) => l.startsWith('    aws efs describe-file-systems'));
    const out = r.stdout.join('\n');
    expect(out).toMatch(/localefs \d+\.\d+\.\d+ ready/);
    expect(out).toMatch(/ {2}file system {2}fs-[0-9a-f]{17} {2}\(region us-east-1\)/);
    expect(out).toContain('(ephemeral: removed at exit)');
    expect(out).toMatch(/sudo mount -t nfs4 -o nfsvers=4\.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,port=\d+ 127\.0\.0\.1:\/ \/mnt\/efs/);
    const dataDir = /\n {2}data {9}(\S+)/.exec(`\n${out}`)![1]!;
    expect(existsSync(dataDir)).toBe(true);
    // log lines on stderr are readable, not JSON
    const readyLine = r.stderr.find((l) => l.includes(' localefs ready'));
    expect(readyLine).toMatch(/^\d\d:\d\d:\d\d INFO {2}localefs ready {2}fileSystemId=fs-/);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
  });

  test('a bad variable stops the command with a message naming it (exit 2)', async () => {
    const child = spawn(NODE_TSX[0]!, [...NODE_TSX.slice(1), 'src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LOCALEFS_PORT: 'twenty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err.split('\n')[0]).toBe('localefs: LOCALEFS_PORT must be an integer from 0 to 65535, got "twenty"');
  });

  test('a data directory the user cannot write is named as the cause (not "not allowed to listen")', async () => {
    // the image's case: a non-root server on a volume owned by root. As an unprivileged uid here (setpriv).
    const locked = path.join(tmp, 'root-owned');
    mkdirSync(locked, { mode: 0o755 });
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...NODE_TSX, 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: tmp, LOCALEFS_DATA: path.join(locked, 'data'), LOCALEFS_PORT: '0', LOCALEFS_API_PORT: '0', LOCALEFS_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (out += c));
    child.stderr.on('data', () => undefined);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    const fatal = out.split('\n').filter((l) => l.includes('"level":60')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(fatal).toEqual([
      `cannot write the data directory (${path.join(locked, 'data')}): EACCES; give the user localefs runs as (uid 65534) write access, e.g. chown the volume`,
    ]);
  });
});
