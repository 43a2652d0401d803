import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { LOCALEFS_VERSION } from '../../src/version.js';

test('src/version.ts says the version package.json has', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(LOCALEFS_VERSION).toBe(pkg.version);
});
