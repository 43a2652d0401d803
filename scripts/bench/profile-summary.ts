/**
 * Top-N self-time summary of a V8 .cpuprofile (as written by
 * `node --cpu-prof`): by function, by enclosing project function, by file.
 *
 *   npx tsx scripts/bench/profile-summary.ts FILE.cpuprofile [N]
 *
 * Code run through tsx is whitespace-minified (every position is on line 1),
 * so positions are mapped back to TypeScript lines with the source maps in
 * tsx's cache (os.tmpdir()/tsx-UID), picking the cached version whose
 * source is the file as it is now. Without a match a frame shows no line.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/* ---------------- source maps from tsx's cache ---------------- */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Per generated line: sorted [generatedColumn, originalLine] pairs (0-based). */
type LineTable = Array<Array<[number, number]>>;

function decodeMappings(mappings: string): LineTable {
  const out: LineTable = [];
  let srcLine = 0;
  for (const line of mappings.split(';')) {
    const segs: Array<[number, number]> = [];
    let genCol = 0;
    for (const seg of line.split(',')) {
      if (!seg) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0] ?? 0;
      if (fields.length >= 4) {
        srcLine += fields[2]!;
        segs.push([genCol, srcLine]);
      }
    }
    out.push(segs);
  }
  return out;
}

class TsxSourceMaps {
  private tables: Map<string, LineTable | null> | undefined;

  /** Original 1-based line of a generated position in `file`, if known. */
  lineOf(file: string, genLine: number, genCol: number): number | undefined {
    if (!this.tables) this.tables = this.load();
    const t = this.tables.get(file);
    const segs = t?.[genLine];
    if (!segs || segs.length === 0) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    if (segs[0]![0] > genCol) return segs[0]![1] + 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]![0] <= genCol) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo]![1] + 1;
  }

  private load(): Map<string, LineTable | null> {
    const found = new Map<string, { mtime: number; exact: boolean; mappings: string }>();
    const uid = process.getuid?.() ?? 0;
    const dirs = [path.join(os.tmpdir(), `tsx-${uid}`), path.join(os.tmpdir(), 'tsx')].filter((d) => existsSync(d));
    const current = new Map<string, string | null>();
    const textOf = (f: string) => {
      if (!current.has(f)) {
        try {
          current.set(f, readFileSync(f, 'utf8'));
        } catch {
          current.set(f, null);
        }
      }
      return current.get(f);
    };
    for (const dir of dirs) {
      for (const name of readdirSync(dir)) {
        const full = path.join(dir, name);
        let entry: { map?: { sources?: string[]; sourcesContent?: string[]; mappings?: string } };
        try {
          const text = readFileSync(full, 'utf8');
          if (!text.startsWith('{')) continue;
          entry = JSON.parse(text);
        } catch {
          continue;
        }
        const src = entry.map?.sources?.[0];
        if (!src || !entry.map?.mappings || entry.map.sources!.length !== 1) continue;
        const exact = entry.map.sourcesContent?.[0] !== undefined && entry.map.sourcesContent[0] === textOf(src);
        let mtime = 0;
        try {
          mtime = statSync(full).mtimeMs;
        } catch {
          /* keep 0 */
        }
        const prev = found.get(src);
        if (!prev || (exact && !prev.exact) || (exact === prev.exact && mtime > prev.mtime)) found.set(src, { mtime, exact, mappings: entry.map.mappings });
      }
    }
    const out = new Map<string, LineTable | null>();
    for (const [src, v] of found) out.set(src, decodeMappings(v.mappings));
    return out;
  }
}

/* ---------------- the summary ---------------- */

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

export interface SummaryOptions {
  topN?: number;
  /** file:// URL prefix stripped from script URLs (default: the cwd). */
  root?: string;
  /**
   * Only samples taken inside these [start, end] windows, in µs of
   * CLOCK_MONOTONIC (what process.hrtime gives /1000; V8 stamps samples
   * with the same clock on Linux).
   */
  windows?: Array<[number, number]>;
  /** Which tables: all three (default) or only the project-function one. */
  tables?: 'all' | 'project';
  title?: string;
}

/** Text tables of the top functions, project functions and files by self time (idle excluded). */
export function summarizeProfile(file: string, o: SummaryOptions = {}): string {
  const topN = o.topN ?? 25;
  const root = o.root ?? pathToFileURL(process.cwd()).href + '/';
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const maps = new TsxSourceMaps();
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);

  const shortUrl = (url: string): string => {
    if (!url) return '';
    let u = url.startsWith(root) ? url.slice(root.length) : url;
    u = u.replace(/^file:\/\//, '');
    const nm = u.lastIndexOf('/node_modules/');
    if (nm >= 0) u = u.slice(nm + 1);
    return u;
  };
  const where = (cf: CallFrame): string => {
    const url = shortUrl(cf.url);
    if (!url) return '';
    let line: number | undefined = cf.lineNumber > 0 ? cf.lineNumber + 1 : undefined;
    if (cf.url.startsWith('file://') && cf.url.endsWith('.ts')) {
      line = maps.lineOf(fileURLToPath(cf.url), cf.lineNumber, cf.columnNumber) ?? line;
    }
    return line !== undefined ? `${url}:${line}` : url;
  };

  // self time of a sample = the time until the next sample
  const self = new Map<number, number>();
  const inWindow = (t: number) => !o.windows || o.windows.some(([a, b]) => t >= a && t <= b);
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    if (!inWindow(t)) continue;
    const dt = i + 1 < prof.timeDeltas.length ? prof.timeDeltas[i + 1]! : 0;
    const id = prof.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, dt));
  }

  // nearest enclosing frame from the project's own code (src/, its build in dist/, or scripts/)
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const ch of n.children ?? []) parent.set(ch, n.id);
  const ownFrame = new Map<number, string | null>();
  const projectFrameOf = (id: number): string | null => {
    const seen: number[] = [];
    let cur: number | undefined = id;
    let found: string | null = null;
    while (cur !== undefined) {
      const known = ownFrame.get(cur);
      if (known !== undefined) {
        found = known;
        break;
      }
      seen.push(cur);
      const cf = byId.get(cur)!.callFrame;
      if (/^(src|scripts|dist)\//.test(shortUrl(cf.url))) {
        found = `${cf.functionName || '(anonymous)'}  ${where(cf)}`;
        break;
      }
      cur = parent.get(cur);
    }
    for (const p of seen) ownFrame.set(p, found);
    return found;
  };

  const byFn = new Map<string, number>();
  const byOwn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    total += us;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const w = where(cf);
    const fnKey = `${cf.functionName || '(anonymous)'}${w ? `  ${w}` : ''}`;
    byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + us);
    const own = projectFrameOf(id) ?? '(outside project code: event loop, GC, I/O callbacks)';
    byOwn.set(own, (byOwn.get(own) ?? 0) + us);
    const url = shortUrl(cf.url);
    const fileKey = url ? url : cf.functionName;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
  }
  const busy = total - idle;
  const lines: string[] = [];
  const list = (title: string, m: Map<string, number>) => {
    lines.push('');
    lines.push(title);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, topN)) {
      lines.push(`  ${pct(us, busy).padStart(6)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
    }
  };
  lines.push(o.title ?? `profile ${file}`);
  lines.push(`sampled ${(total / 1e6).toFixed(2)} s: busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`);
  if (o.tables !== 'project') list(`top ${topN} functions by self time (% of busy):`, byFn);
  list(`top ${topN} project functions by self time, counting the node/native code they call directly (% of busy):`, byOwn);
  if (o.tables !== 'project') list(`top ${topN} files by self time (% of busy):`, byFile);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, n, ...extra] = process.argv.slice(2);
  if (!file || extra.length > 0 || (n !== undefined && !/^[1-9][0-9]*$/.test(n))) {
    process.stderr.write('usage: tsx scripts/bench/profile-summary.ts FILE.cpuprofile [N]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfile(file, { topN: n ? Number(n) : 25 }) + '\n');
}
