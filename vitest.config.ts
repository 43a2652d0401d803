import { defineConfig } from 'vitest/config';

// One config for unit, integration and e2e tests.  Test files run one at a
// time: the e2e files boot qemu guests (TCG, CPU-bound) next to the server
// under test, and on a 2-core machine running other files beside them only
// makes every guest slower.  Tests inside a file are sequential anyway.
// The e2e tests set their own, much longer, timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
