/**
 * The package as npm would publish it (`npm pack`): installed into an empty
 * project, `npx localefs` runs the compiled command and `import { startLocalEfs }
 * from 'localefs'` starts a server, with types for TypeScript users.
 */
import { afterAll, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(path.join(os.tmpdir(), 'localefs-pkg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sh = (cmd: string, args: string[], cwd: string): string => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

test('npm pack, npm install, npx localefs --help, and startLocalEfs from the installed package', { timeout: 600_000 }, () => {
  sh('npm', ['pack', '--pack-destination', work], ROOT);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  expect(tarball).toMatch(/^localefs-\d+\.\d+\.\d+\.tgz$/);
  const app = path.join(work, 'app');
  sh('mkdir', ['-p', app], work);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  sh('npm', ['install', '--no-audit', '--no-fund', path.join(work, tarball)], app);
  // compiled output only: no TypeScript sources, no tsx or esbuild needed at run time
  const installed = path.join(app, 'node_modules', 'localefs');
  expect(existsSync(path.join(installed, 'dist', 'main.js'))).toBe(true);
  expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
  expect(existsSync(path.join(installed, 'src'))).toBe(false);
  expect(existsSync(path.join(app, 'node_modules', 'tsx'))).toBe(false);
  expect(existsSync(path.join(app, 'node_modules', 'esbuild'))).toBe(false);

  const help = sh('npx', ['--no-install', 'localefs', '--help'], app);
  expect(help.split('\n')[0]).toBe('Usage: localefs [options]    (npm start -- [options], npx localefs [options])');

  writeFileSync(
    path.join(app, 'use.mjs'),
    `import { startLocalEfs } from 'localefs';
const efs = await startLocalEfs();
const health = await (await fetch(efs.apiEndpoint + '/_localefs/health')).json();
await efs.stop();
console.log(JSON.stringify({ id: efs.fileSystemId, health: health.defaultFileSystemId, status: health.status, port: efs.nfsPort > 0 }));
`,
  );
  const out = JSON.parse(sh('node', ['use.mjs'], app).trim()) as { id: string; health: string; status: string; port: boolean };
  expect(out.id).toMatch(/^fs-[0-9a-f]{17}$/);
  expect(out).toEqual({ id: out.id, health: out.id, status: 'healthy', port: true });
});
