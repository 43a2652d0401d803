import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

// The README shows the compose file CI runs (test/e2e/compose.test.ts): they must not drift apart.
test("README's compose example is docs/compose/docker-compose.yml, verbatim", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const compose = readFileSync(new URL('../../docs/compose/docker-compose.yml', import.meta.url), 'utf8');
  expect(readme).toContain('```yaml\n' + compose + '```\n');
});
