import type { File, Task } from '@vitest/runner';

/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped",
 * so CI logs state the outcome in a form any reader can parse.
 */
export default class SummaryReporter {
  onFinished(files: File[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const walk = (t: Task): void => {
      if (t.type === 'suite') {
        for (const c of t.tasks) walk(c);
        return;
      }
      const state = t.result?.state;
      if (state === 'pass') passed++;
      else if (state === 'fail') failed++;
      else skipped++;
    };
    for (const f of files) {
      walk(f);
      // a file that failed to load has no tests but must count as a failure
      if (f.result?.state === 'fail' && f.tasks.length === 0) failed++;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
