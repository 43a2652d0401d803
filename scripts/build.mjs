// Compiles src/ to dist/ (plain JavaScript, one file per module) with esbuild:
// what `npm start` and the Docker image run, so no TypeScript is transpiled at
// run time. Type checking is `npm run typecheck` (tsc); this only strips types.
// It takes a fraction of a second, so `npm start` runs it every time and the
// output can never be older than the sources.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const out = path.join(root, 'dist');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const started = performance.now();
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: sources(src),
  outdir: out,
  outbase: src,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
if (!process.argv.includes('--quiet')) {
  process.stderr.write(`localefs: compiled src/ to dist/ in ${Math.round(performance.now() - started)} ms\n`);
}
