/**
 * Adds the platform packages that rollup lists as optional dependencies to
 * package-lock.json when npm left them out (npm/cli#4828: npm writes a lock
 * with only this machine's platform package, and npm 11's `npm ci` then
 * refuses the lock). The added entries carry os/cpu/libc, so npm ci skips
 * them on other platforms without downloading anything.
 *
 *   npx tsx scripts/fix-lockfile.ts [package-lock.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

/** Returns the names of the entries it added. */
export function addMissingPlatformPackages(lock: { packages: Record<string, LockEntry> }): string[] {
  const rollup = lock.packages['node_modules/rollup'];
  const added: string[] = [];
  for (const [name, version] of Object.entries(rollup?.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    // @rollup/rollup-<os>-<cpu>[-<abi>]
    const [os, cpu, abi = ''] = name.split('/')[1]!.split('-').slice(1);
    const entry: LockEntry = { version, cpu: [cpu], dev: true };
    if (os === 'linux') entry.libc = [abi.includes('musl') ? 'musl' : 'glibc'];
    Object.assign(entry, { license: 'MIT', optional: true, os: [os] });
    lock.packages[key] = entry;
    added.push(name);
  }
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
  return added;
}

if (process.argv[1]?.endsWith('fix-lockfile.ts')) {
  const file = process.argv[2] ?? 'package-lock.json';
  const lock = JSON.parse(readFileSync(file, 'utf8'));
  const added = addMissingPlatformPackages(lock);
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
  process.stdout.write(`${file}: added ${added.length} platform entries\n`);
}
