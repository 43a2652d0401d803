/**
 * xdr/*.x -> src/xdr/gen/*.ts
 *
 *   npm run gen:xdr          write the generated files
 *   generateFile('nfs4')     the text that would be written (used by the drift test)
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from './parser.js';
import { emitTs, type EmitOptions } from './emit.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every .x file we generate, with its per-file options. */
export const XDR_FILES: Record<string, Omit<EmitOptions, 'sourceName'>> = {
  rpc: {},
  nfs4: {
    nameTables: [
      { enumName: 'nfs_opnum4', exportName: 'NFS_OPNUM_NAMES', stripPrefix: 'OP_' },
      { enumName: 'nfsstat4', exportName: 'NFSSTAT4_NAMES' },
    ],
  },
};

export function xdrSourcePath(name: string): string {
  return resolve(ROOT, 'xdr', `${name}.x`);
}

export function generatedPath(name: string): string {
  return resolve(ROOT, 'src', 'xdr', 'gen', `${name}.ts`);
}

/** Generate TypeScript from .x source text (no file access). */
export function generateFromSource(name: string, source: string): string {
  const opts = XDR_FILES[name] ?? {};
  return emitTs(parse(source, `xdr/${name}.x`), { ...opts, sourceName: name });
}

/** Generate the TypeScript text for xdr/<name>.x in memory. */
export function generateFile(name: string): string {
  return generateFromSource(name, readFileSync(xdrSourcePath(name), 'utf8'));
}

function main(): void {
  for (const name of Object.keys(XDR_FILES)) {
    const out = generatedPath(name);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, generateFile(name));
    console.log(`wrote ${out}`);
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) main();
