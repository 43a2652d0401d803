import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'localefs-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has finished `rounds` writes, then SIGKILLs it mid-way through the next ones. */
function writeThenKill(file: string, rounds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // node itself with tsx's loader, not the tsx wrapper: SIGKILL must hit the process that writes
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/fixtures/atomic/writer.ts'), file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = chunk.trim().split('\n');
      last = Number(lines[lines.length - 1]);
      if (last >= rounds) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(last) : reject(new Error(`writer exited with ${code}`))));
  });
}

describe('writeFileAtomic under a crash', () => {
  it('leaves a whole file, old or new, whenever the writer is killed', async () => {
    for (const rounds of [3, 17, 40]) {
      const file = path.join(dir, `state-${rounds}.json`);
      const seen = await writeThenKill(file, rounds);
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { round: number; end: number; filler: string };
      expect(parsed.round).toBe(parsed.end);
      // the last reported write is there, or the one the kill caught between rename and report
      expect(parsed.round).toBeGreaterThanOrEqual(seen);
      // ...and nothing wrote on after the kill
      expect(parsed.round).toBeLessThanOrEqual(seen + 1);
      expect(parsed.filler.length).toBe(50_000 + (parsed.round % 7) * 40_000);
    }
    // the kill may leave a temporary file beside it, never a torn state file
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(3);
  });
});
