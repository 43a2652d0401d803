/**
 * Emits straight-line TypeScript codecs for a parsed .x file.
 *
 * Conventions (relied on by the rest of the code base):
 *  - const / enum member  -> `export const NAME = value;`
 *  - enum E               -> `export type E = number;`
 *  - typedef T            -> `export type T = ...;` + encode_T/decode_T
 *                            (typedefs of primitives/enums/opaque/string are also inlined at use sites)
 *  - struct S             -> `export interface S { ... }` + encode_S/decode_S
 *  - union U switch (D d) -> `export interface U { d: D; arm?: T; ... }` + encode_U/decode_U
 */
import type { BaseType, Decl, Definition, EnumDef, StructDef, TypedefDef, UnionDef, Value } from './parser.js';
import { OVERRIDES, type LinkedListOverride, type Override } from './overrides.js';

export interface NameTable {
  /** enum whose members become the table */
  enumName: string;
  exportName: string;
  /** removed from the front of each member name (e.g. 'OP_') */
  stripPrefix?: string;
}

export interface EmitOptions {
  /** base name of the .x file, for the banner (e.g. 'nfs4') */
  sourceName: string;
  nameTables?: NameTable[];
  overrides?: Override[];
}

/** The shape of a value at one use site: base type plus array/optional modifiers. */
interface Shape {
  type: BaseType;
  array: 'none' | 'fixed' | 'var';
  size?: Value;
  optional: boolean;
  /** a uint64_t carried as a bigint (a `bigint` override, possibly through an alias) */
  big?: boolean;
}

type Named =
  | { kind: 'enum'; def: EnumDef }
  | { kind: 'struct'; def: StructDef }
  | { kind: 'union'; def: UnionDef }
  | { kind: 'typedef'; def: TypedefDef };

class Emitter {
  private readonly consts = new Map<string, bigint>();
  private readonly types = new Map<string, Named>();
  private readonly omitted = new Set<string>(); // "type.field"
  private readonly lists = new Map<string, LinkedListOverride>(); // "type.field"
  private readonly bigs = new Set<string>(); // uint64_t typedefs carried as bigint
  private readonly minCache = new Map<string, number>();
  private tmp = 0;

  constructor(
    private readonly defs: Definition[],
    private readonly opts: EmitOptions,
  ) {
    for (const d of defs) {
      switch (d.kind) {
        case 'const':
          this.defineConst(d.name, this.value(d.value));
          break;
        case 'enum':
          this.defineType(d.name, { kind: 'enum', def: d });
          for (const m of d.members) this.defineConst(m.name, this.value(m.value));
          break;
        case 'struct':
          this.defineType(d.name, { kind: 'struct', def: d });
          break;
        case 'union':
          this.defineType(d.name, { kind: 'union', def: d });
          break;
        case 'typedef':
          this.defineType(d.name, { kind: 'typedef', def: d });
          break;
      }
    }
    for (const o of opts.overrides ?? OVERRIDES) {
      if (!this.types.has(o.type)) continue; // override for a type this file does not declare
      if (o.kind === 'omitField') this.omitted.add(`${o.type}.${o.field}`);
      else if (o.kind === 'linkedList') this.lists.set(`${o.type}.${o.field}`, o);
      else {
        const n = this.types.get(o.type)!;
        const d = n.kind === 'typedef' ? n.def.decl : undefined;
        if (!d || d.type.kind !== 'prim' || d.type.prim !== 'uhyper' || d.array !== 'none' || d.optional)
          throw new Error(`bigint override: ${o.type} is not a typedef of a scalar uint64_t`);
        this.bigs.add(o.type);
      }
    }
    for (const d of defs) this.check(d);
  }

  private defineConst(name: string, v: bigint): void {
    if (this.consts.has(name) || this.types.has(name)) throw new Error(`duplicate name ${name}`);
    this.consts.set(name, v);
  }
  private defineType(name: string, n: Named): void {
    if (this.consts.has(name) || this.types.has(name)) throw new Error(`duplicate name ${name}`);
    this.types.set(name, n);
  }

  private value(v: Value): bigint {
    if ('num' in v) return v.num;
    if (v.ref === 'TRUE') return 1n;
    if (v.ref === 'FALSE') return 0n;
    const c = this.consts.get(v.ref);
    if (c === undefined) throw new Error(`unknown constant ${v.ref}`);
    return c;
  }

  private sizeOf(v: Value | undefined): number | undefined {
    if (v === undefined) return undefined;
    const n = this.value(v);
    if (n < 0n || n > 0xffffffffn) throw new Error(`bad size ${n}`);
    return Number(n);
  }

  /** Validate references so mistakes in the .x fail at generation time. */
  private check(d: Definition): void {
    const checkDecl = (decl: Decl, where: string): void => {
      if (decl.type.kind === 'named' && !this.types.has(decl.type.name))
        throw new Error(`${where}: unknown type ${decl.type.name} (line ${decl.line})`);
      if (decl.size) this.sizeOf(decl.size);
    };
    if (d.kind === 'struct') for (const f of d.fields) checkDecl(f, `${d.name}.${f.name}`);
    if (d.kind === 'typedef') checkDecl(d.decl, d.name);
    if (d.kind === 'union') {
      checkDecl(d.disc, `${d.name} discriminant`);
      const seen = new Set<bigint>();
      for (const a of d.arms) {
        checkDecl(a.decl, `${d.name}.${a.decl.name}`);
        for (const c of a.cases) {
          const v = this.value(c);
          if (seen.has(v)) throw new Error(`${d.name}: duplicate case ${v}`);
          seen.add(v);
        }
      }
      if (d.defaultArm) checkDecl(d.defaultArm, `${d.name} default`);
      const dk = this.discKind(d);
      if (dk === 'bool') for (const a of d.arms) for (const c of a.cases) if (this.value(c) > 1n) throw new Error(`${d.name}: bad bool case`);
    }
  }

  // ---------- type classification ----------

  /** For a named type: the underlying "leaf" shape if it is a simple typedef chain, else undefined. */
  private simpleTypedef(name: string): Shape | undefined {
    const n = this.types.get(name);
    if (!n || n.kind !== 'typedef') return undefined;
    if (this.bigs.has(name)) return { type: { kind: 'prim', prim: 'uhyper' }, array: 'none', optional: false, big: true };
    const d = n.def.decl;
    if (d.optional) return undefined;
    if (d.type.kind === 'opaque' || d.type.kind === 'string') return { type: d.type, array: d.array, size: d.size, optional: false };
    if (d.array !== 'none') return undefined;
    if (d.type.kind === 'prim') return { type: d.type, array: 'none', optional: false };
    if (d.type.kind === 'named') {
      const inner = this.types.get(d.type.name);
      if (inner?.kind === 'enum') return { type: d.type, array: 'none', optional: false };
      return this.simpleTypedef(d.type.name);
    }
    return undefined;
  }

  /** Replace a named simple typedef at a plain use site by its leaf shape (for inlining). */
  private normalize(s: Shape): Shape {
    if (s.type.kind === 'named' && s.array === 'none' && !s.optional) {
      const leaf = this.simpleTypedef(s.type.name);
      if (leaf) return leaf;
    }
    return s;
  }

  /** Function-name target for a complex named type, skipping pure alias typedefs (typedef S T;). */
  private codecTarget(name: string): string {
    const n = this.types.get(name);
    if (n?.kind === 'typedef') {
      const d = n.def.decl;
      if (d.type.kind === 'named' && d.array === 'none' && !d.optional) return this.codecTarget(d.type.name);
    }
    return name;
  }

  private discKind(u: UnionDef): 'bool' | 'int' | 'uint' {
    const s = this.normalize({ type: u.disc.type, array: 'none', optional: false });
    if (s.type.kind === 'prim') {
      if (s.type.prim === 'bool') return 'bool';
      if (s.type.prim === 'uint') return 'uint';
      if (s.type.prim === 'int') return 'int';
      throw new Error(`${u.name}: unsupported discriminant type`);
    }
    if (s.type.kind === 'named' && this.types.get(s.type.name)?.kind === 'enum') return 'int';
    throw new Error(`${u.name}: unsupported discriminant type`);
  }

  // ---------- TS types ----------

  private tsBase(t: BaseType): string {
    switch (t.kind) {
      case 'prim':
        return t.prim === 'bool' ? 'boolean' : 'number';
      case 'opaque':
        return 'Buffer';
      case 'string':
        return 'string';
      case 'named':
        return t.name;
      case 'void':
        throw new Error('void has no TS type');
    }
  }

  private tsShape(s: Shape): string {
    let t: string;
    if (s.type.kind === 'opaque' || s.type.kind === 'string') t = this.tsBase(s.type);
    else if (s.big) t = s.array !== 'none' ? 'bigint[]' : 'bigint';
    else if (s.array !== 'none') {
      const b = this.tsBase(s.type);
      t = `${b}[]`;
    } else t = this.tsBase(s.type);
    return s.optional ? `${t} | undefined` : t;
  }

  private shapeOf(d: Decl): Shape {
    return { type: d.type, array: d.array, size: d.size, optional: d.optional };
  }

  // ---------- minimum encoded sizes (for hostile-count checks) ----------

  private minShape(s: Shape, depth = 0): number {
    if (depth > 64) return 4;
    if (s.optional) return 4;
    if (s.type.kind === 'opaque') return s.array === 'fixed' ? (this.sizeOf(s.size)! + 3) & ~3 : 4;
    if (s.type.kind === 'string') return 4;
    if (s.array === 'var') return 4;
    const one = this.minBase(s.type, depth);
    if (s.array === 'fixed') return one * this.sizeOf(s.size)!;
    return one;
  }

  private minBase(t: BaseType, depth: number): number {
    switch (t.kind) {
      case 'void':
        return 0;
      case 'prim':
        return t.prim === 'hyper' || t.prim === 'uhyper' ? 8 : 4;
      case 'opaque':
      case 'string':
        return 4;
      case 'named':
        return this.minNamed(t.name, depth + 1);
    }
  }

  private minNamed(name: string, depth: number): number {
    const cached = this.minCache.get(name);
    if (cached !== undefined) return cached;
    const n = this.types.get(name)!;
    let v: number;
    switch (n.kind) {
      case 'enum':
        v = 4;
        break;
      case 'typedef':
        v = this.minShape(this.shapeOf(n.def.decl), depth);
        break;
      case 'struct':
        v = 0;
        for (const f of n.def.fields) {
          if (this.omitted.has(`${name}.${f.name}`)) continue;
          if (this.lists.has(`${name}.${f.name}`)) v += 4;
          else v += this.minShape(this.shapeOf(f), depth);
        }
        break;
      case 'union': {
        const arms = n.def.arms.map((a) => a.decl);
        if (n.def.defaultArm) arms.push(n.def.defaultArm);
        v = 4 + Math.min(...arms.map((a) => (a.type.kind === 'void' ? 0 : this.minShape(this.shapeOf(a), depth))));
        break;
      }
    }
    this.minCache.set(name, v);
    return v;
  }

  // ---------- decode ----------

  private t(prefix: string): string {
    return `${prefix}${++this.tmp}`;
  }

  private decodeShape(s0: Shape): { stmts: string[]; expr: string } {
    const s = this.normalize(s0);
    if (s.optional) {
      const inner = this.decodeShape({ ...s, optional: false });
      if (inner.stmts.length === 0) return { stmts: [], expr: `r.bool() ? ${inner.expr} : undefined` };
      const o = this.t('o');
      return {
        stmts: [
          `let ${o}: ${this.tsShape({ ...s, optional: false })} | undefined;`,
          `if (r.bool()) {`,
          ...indent(inner.stmts),
          `  ${o} = ${inner.expr};`,
          `}`,
        ],
        expr: o,
      };
    }
    if (s.type.kind === 'opaque') {
      const n = this.sizeOf(s.size);
      if (s.array === 'fixed') return { stmts: [], expr: `r.fixedOpaque(${n})` };
      return { stmts: [], expr: n === undefined ? 'r.opaque()' : `r.opaque(${n})` };
    }
    if (s.type.kind === 'string') {
      const n = this.sizeOf(s.size);
      return { stmts: [], expr: n === undefined ? 'r.string()' : `r.string(${n})` };
    }
    if (s.array !== 'none') {
      const elem: Shape = { type: s.type, array: 'none', optional: false };
      const e = this.decodeShape(elem);
      const a = this.t('a');
      const i = this.t('i');
      const ts = this.tsShape(elem);
      if (s.array === 'var') {
        const n = this.t('n');
        const max = this.sizeOf(s.size);
        const minB = Math.max(1, this.minShape(elem));
        return {
          stmts: [
            `const ${n} = r.length(${max === undefined ? 'XDR_MAX_LENGTH' : max}, ${minB});`,
            `const ${a}: ${ts}[] = [];`,
            `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`,
            ...indent(e.stmts),
            `  ${a}.push(${e.expr});`,
            `}`,
          ],
          expr: a,
        };
      }
      const count = this.sizeOf(s.size)!;
      return {
        stmts: [`const ${a}: ${ts}[] = [];`, `for (let ${i} = 0; ${i} < ${count}; ${i}++) {`, ...indent(e.stmts), `  ${a}.push(${e.expr});`, `}`],
        expr: a,
      };
    }
    switch (s.type.kind) {
      case 'prim':
        return { stmts: [], expr: s.big ? 'r.u64big()' : primRead(s.type.prim) };
      case 'named': {
        const n = this.types.get(s.type.name)!;
        if (n.kind === 'enum') return { stmts: [], expr: 'r.i32()' };
        return { stmts: [], expr: `decode_${this.codecTarget(s.type.name)}(r)` };
      }
      default:
        throw new Error('unreachable decode');
    }
  }

  // ---------- encode ----------

  private encodeShape(s0: Shape, v: string, what: string): string[] {
    const s = this.normalize(s0);
    if (s.optional) {
      const x = this.t('x');
      return [
        `const ${x} = ${v};`,
        `if (${x} === undefined) {`,
        `  w.bool(false);`,
        `} else {`,
        `  w.bool(true);`,
        ...indent(this.encodeShape({ ...s, optional: false }, x, what)),
        `}`,
      ];
    }
    if (s.type.kind === 'opaque') {
      const n = this.sizeOf(s.size);
      if (s.array === 'fixed') return [`w.fixedOpaque(${v}, ${n});`];
      if (n === undefined) return [`w.opaque(${v});`];
      const x = this.t('x');
      return [
        `const ${x} = ${v};`,
        `if (${x}.length > ${n}) throw new XdrError(\`${what}: opaque length \${${x}.length} exceeds bound ${n}\`);`,
        `w.opaque(${x});`,
      ];
    }
    if (s.type.kind === 'string') {
      const n = this.sizeOf(s.size);
      if (n === undefined) return [`w.string(${v});`];
      const x = this.t('x');
      return [
        `const ${x} = ${v};`,
        `if (Buffer.byteLength(${x}, 'utf8') > ${n}) throw new XdrError('${what}: string exceeds bound ${n}');`,
        `w.string(${x});`,
      ];
    }
    if (s.array !== 'none') {
      const elem: Shape = { type: s.type, array: 'none', optional: false };
      const a = this.t('a');
      const i = this.t('i');
      const body = this.encodeShape(elem, `${a}[${i}]`, what);
      const out = [`const ${a} = ${v};`];
      if (s.array === 'var') {
        const max = this.sizeOf(s.size);
        if (max !== undefined) out.push(`if (${a}.length > ${max}) throw new XdrError(\`${what}: array length \${${a}.length} exceeds bound ${max}\`);`);
        out.push(`w.u32(${a}.length);`);
      } else {
        const count = this.sizeOf(s.size)!;
        out.push(`if (${a}.length !== ${count}) throw new XdrError(\`${what}: fixed array needs ${count} elements, got \${${a}.length}\`);`);
      }
      out.push(`for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`, ...indent(body), `}`);
      return out;
    }
    switch (s.type.kind) {
      case 'prim':
        return [`${s.big ? 'w.u64big' : primWrite(s.type.prim)}(${v});`];
      case 'named': {
        const n = this.types.get(s.type.name)!;
        if (n.kind === 'enum') return [`w.i32(${v});`];
        return [`encode_${this.codecTarget(s.type.name)}(w, ${v});`];
      }
      default:
        throw new Error('unreachable encode');
    }
  }

  // ---------- definitions ----------

  private emitConst(name: string): string {
    const v = this.consts.get(name)!;
    const big = v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER);
    return `export const ${name} = ${v.toString()};${big ? ' // not exactly representable as a JS number' : ''}`;
  }

  private emitStruct(d: StructDef): string[] {
    const fields = d.fields.filter((f) => !this.omitted.has(`${d.name}.${f.name}`));
    const out: string[] = [];
    out.push(`export interface ${d.name} {`);
    for (const f of fields) {
      const list = this.lists.get(`${d.name}.${f.name}`);
      out.push(`  ${f.name}: ${list ? `${list.elem}[]` : this.tsShape(this.shapeOf(f))};`);
    }
    out.push('}', '');

    // encode
    out.push(`export function encode_${d.name}(w: XdrWriter, v: ${d.name}): void {`);
    for (const f of fields) {
      const list = this.lists.get(`${d.name}.${f.name}`);
      if (list) {
        const a = this.t('a');
        const i = this.t('i');
        out.push(
          `  // XDR linked list (override): TRUE before each element, FALSE after the last`,
          `  const ${a} = v.${f.name};`,
          `  for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`,
          `    w.bool(true);`,
          `    encode_${list.elem}(w, ${a}[${i}]);`,
          `  }`,
          `  w.bool(false);`,
        );
      } else out.push(...indent(this.encodeShape(this.shapeOf(f), `v.${f.name}`, `${d.name}.${f.name}`)));
    }
    out.push('}', '');

    // decode
    out.push(`export function decode_${d.name}(r: XdrReader): ${d.name} {`);
    const parts: { name: string; stmts: string[]; expr: string }[] = [];
    for (const f of fields) {
      const list = this.lists.get(`${d.name}.${f.name}`);
      if (list) {
        const a = this.t('a');
        parts.push({
          name: f.name,
          stmts: [`// XDR linked list (override): decoded iteratively`, `const ${a}: ${list.elem}[] = [];`, `while (r.bool()) ${a}.push(decode_${list.elem}(r));`],
          expr: a,
        });
      } else parts.push({ name: f.name, ...this.decodeShape(this.shapeOf(f)) });
    }
    if (parts.every((p) => p.stmts.length === 0)) {
      if (parts.length <= 2) out.push(`  return { ${parts.map((p) => `${p.name}: ${p.expr}`).join(', ')} };`);
      else out.push('  return {', ...parts.map((p) => `    ${p.name}: ${p.expr},`), '  };');
    } else {
      for (const p of parts) {
        out.push(...indent(p.stmts));
        out.push(`  const f_${p.name} = ${p.expr};`);
      }
      out.push('  return {', ...parts.map((p) => `    ${p.name}: f_${p.name},`), '  };');
    }
    out.push('}', '');
    return out;
  }

  private caseLabel(u: UnionDef, c: Value, dk: 'bool' | 'int' | 'uint'): string {
    if (dk === 'bool') return this.value(c) === 1n ? 'true' : 'false';
    if ('ref' in c && this.consts.has(c.ref)) return c.ref;
    return this.value(c).toString();
  }

  private emitUnion(u: UnionDef): string[] {
    const dk = this.discKind(u);
    const dn = u.disc.name;
    const discTs = dk === 'bool' ? 'boolean' : u.disc.type.kind === 'named' ? u.disc.type.name : 'number';
    const out: string[] = [];
    // interface: one optional property per distinct non-void arm name
    const armDecls = new Map<string, Decl>();
    const allArms = [...u.arms.map((a) => a.decl), ...(u.defaultArm ? [u.defaultArm] : [])];
    for (const a of allArms) {
      if (a.type.kind === 'void') continue;
      if (a.name === dn) throw new Error(`${u.name}: arm ${a.name} has the discriminant's name`);
      const prev = armDecls.get(a.name);
      if (prev && this.tsShape(this.shapeOf(prev)) !== this.tsShape(this.shapeOf(a))) throw new Error(`${u.name}: arm ${a.name} declared with two types`);
      armDecls.set(a.name, a);
    }
    out.push(`export interface ${u.name} {`, `  ${dn}: ${discTs};`);
    for (const [name, a] of armDecls) out.push(`  ${name}?: ${this.tsShape(this.shapeOf(a))};`);
    out.push('}', '');

    const discW = dk === 'bool' ? 'w.bool' : dk === 'uint' ? 'w.u32' : 'w.i32';
    const discR = dk === 'bool' ? 'r.bool()' : dk === 'uint' ? 'r.u32()' : 'r.i32()';

    // encode
    out.push(`export function encode_${u.name}(w: XdrWriter, v: ${u.name}): void {`);
    out.push(`  ${discW}(v.${dn});`);
    out.push(`  switch (v.${dn}) {`);
    const encArm = (a: Decl): string[] => {
      if (a.type.kind === 'void') return ['break;'];
      const x = this.t('x');
      const lines = [`const ${x} = v.${a.name};`];
      if (!a.optional) lines.push(`if (${x} === undefined) throw new Error(\`${u.name}: arm '${a.name}' missing for ${dn}=\${v.${dn}}\`);`);
      lines.push(...this.encodeShape(this.shapeOf(a), x, `${u.name}.${a.name}`), 'break;');
      return lines;
    };
    for (const arm of u.arms) pushCase(out, arm.cases.map((c) => `case ${this.caseLabel(u, c, dk)}:`), encArm(arm.decl));
    if (u.defaultArm) pushCase(out, ['default:'], encArm(u.defaultArm));
    else out.push('    default:', `      throw new XdrError(\`${u.name}: no arm for ${dn}=\${v.${dn}}\`);`);
    out.push('  }', '}', '');

    // decode
    out.push(`export function decode_${u.name}(r: XdrReader): ${u.name} {`);
    out.push(`  const d = ${discR};`);
    out.push('  switch (d) {');
    const decArm = (a: Decl): string[] => {
      if (a.type.kind === 'void') return [`return { ${dn}: d };`];
      const { stmts, expr } = this.decodeShape(this.shapeOf(a));
      return [...stmts, `return { ${dn}: d, ${a.name}: ${expr} };`];
    };
    for (const arm of u.arms) pushCase(out, arm.cases.map((c) => `case ${this.caseLabel(u, c, dk)}:`), decArm(arm.decl));
    if (u.defaultArm) pushCase(out, ['default:'], decArm(u.defaultArm));
    else out.push('    default:', `      throw new XdrError(\`${u.name}: unknown ${dn} \${d}\`);`);
    out.push('  }', '}', '');
    return out;
  }

  private emitTypedef(d: TypedefDef): string[] {
    const s: Shape = { ...this.shapeOf(d.decl), big: this.bigs.has(d.name) };
    // Every typedef gets encode_/decode_ (scalar ones are also inlined at use sites).
    const out = [`export type ${d.name} = ${this.tsShape(s)};`, ''];
    out.push(`export function encode_${d.name}(w: XdrWriter, v: ${d.name}): void {`);
    out.push(...indent(this.encodeShape(s, 'v', d.name)));
    out.push('}', '');
    const { stmts, expr } = this.decodeShape(s);
    out.push(`export function decode_${d.name}(r: XdrReader): ${d.name} {`);
    out.push(...indent(stmts), `  return ${expr};`);
    out.push('}', '');
    return out;
  }

  private emitNameTable(t: NameTable): string[] {
    const n = this.types.get(t.enumName);
    if (!n || n.kind !== 'enum') throw new Error(`name table: ${t.enumName} is not an enum`);
    const out = [`/** ${t.enumName} value -> name (generated from the enum). */`, `export const ${t.exportName}: Record<number, string> = {`];
    for (const m of n.def.members) {
      let name = m.name;
      if (t.stripPrefix && name.startsWith(t.stripPrefix)) name = name.slice(t.stripPrefix.length);
      out.push(`  ${this.value(m.value).toString()}: '${name}',`);
    }
    out.push('};', '');
    return out;
  }

  emit(): string {
    this.tmp = 0;
    const body: string[] = [];
    for (const d of this.defs) {
      switch (d.kind) {
        case 'const':
          body.push(this.emitConst(d.name), '');
          break;
        case 'enum':
          body.push(`export type ${d.name} = number;`);
          for (const m of d.members) body.push(this.emitConst(m.name));
          body.push('');
          break;
        case 'struct':
          body.push(...this.emitStruct(d));
          break;
        case 'union':
          body.push(...this.emitUnion(d));
          break;
        case 'typedef':
          body.push(...this.emitTypedef(d));
          break;
      }
    }
    for (const t of this.opts.nameTables ?? []) body.push(...this.emitNameTable(t));
    const text = body.join('\n');
    const imports: string[] = [];
    const usesReader = /\(r: XdrReader\)/.test(text);
    const usesWriter = /\(w: XdrWriter/.test(text);
    const usesMax = text.includes('XDR_MAX_LENGTH');
    if (usesReader || usesMax)
      imports.push(`import { ${[usesReader ? 'XdrReader' : '', usesMax ? 'XDR_MAX_LENGTH' : ''].filter(Boolean).join(', ')} } from '../reader.js';`);
    if (usesWriter) imports.push(`import { XdrWriter } from '../writer.js';`);
    if (text.includes('XdrError')) imports.push(`import { XdrError } from '../errors.js';`);
    const header = [
      `// GENERATED by scripts/xdrgen from xdr/${this.opts.sourceName}.x. Do not edit; run npm run gen:xdr.`,
      '/* eslint-disable */',
      ...imports,
      '',
    ];
    return (header.join('\n') + '\n' + text).replace(/\n{3,}/g, '\n\n').replace(/\s*$/, '\n');
  }
}

/** One switch clause: labels, then a one-liner or a braced block. */
function pushCase(out: string[], labels: string[], body: string[]): void {
  if (body.length === 1) {
    out.push(...labels.map((l) => `    ${l}`), `      ${body[0]}`);
    return;
  }
  const last = labels.length - 1;
  out.push(...labels.map((l, i) => `    ${l}${i === last ? ' {' : ''}`), ...body.map((b) => `      ${b}`), '    }');
}

function indent(lines: string[]): string[] {
  return lines.map((l) => (l ? `  ${l}` : l));
}

function primRead(p: string): string {
  switch (p) {
    case 'int':
      return 'r.i32()';
    case 'uint':
      return 'r.u32()';
    case 'hyper':
      return 'r.i64()';
    case 'uhyper':
      return 'r.u64()';
    case 'bool':
      return 'r.bool()';
  }
  throw new Error(`unknown primitive ${p}`);
}

function primWrite(p: string): string {
  switch (p) {
    case 'int':
      return 'w.i32';
    case 'uint':
      return 'w.u32';
    case 'hyper':
      return 'w.i64';
    case 'uhyper':
      return 'w.u64';
    case 'bool':
      return 'w.bool';
  }
  throw new Error(`unknown primitive ${p}`);
}

export function emitTs(defs: Definition[], opts: EmitOptions): string {
  return new Emitter(defs, opts).emit();
}
