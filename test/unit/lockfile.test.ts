import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { addMissingPlatformPackages } from '../../scripts/fix-lockfile.js';

describe('package-lock.json', () => {
  it('lists every platform package rollup names, or npm ci refuses it (run scripts/fix-lockfile.ts)', () => {
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));
    expect(addMissingPlatformPackages(lock)).toEqual([]);
  });
});
