/**
 * Recursive-descent parser for the RFC 4506 section 6 language, restricted to
 * what xdr/*.x use: const, enum, struct, union (switch/case/default), typedef,
 * optional-data '*', fixed [n] and variable <n>/<> arrays, opaque, string,
 * void, bool, int, unsigned int, hyper, unsigned hyper and the
 * (u)int32_t / (u)int64_t spellings. Inline (anonymous) struct/union/enum
 * bodies inside declarations are deliberately not supported: name them.
 */
import { type Token, tokenize, parseNumber } from './lexer.js';

export type PrimName = 'int' | 'uint' | 'hyper' | 'uhyper' | 'bool';

export type BaseType =
  | { kind: 'prim'; prim: PrimName }
  | { kind: 'named'; name: string }
  | { kind: 'opaque' }
  | { kind: 'string' }
  | { kind: 'void' };

/** A literal or a reference to a const / enum member. */
export type Value = { num: bigint } | { ref: string };

export interface Decl {
  name: string;
  type: BaseType;
  /** none: scalar; fixed: [size]; var: <size> or <> (size undefined). */
  array: 'none' | 'fixed' | 'var';
  size?: Value;
  optional: boolean;
  line: number;
}

export interface ConstDef {
  kind: 'const';
  name: string;
  value: Value;
}
export interface EnumDef {
  kind: 'enum';
  name: string;
  members: { name: string; value: Value }[];
}
export interface StructDef {
  kind: 'struct';
  name: string;
  fields: Decl[];
}
export interface UnionArm {
  cases: Value[];
  decl: Decl;
}
export interface UnionDef {
  kind: 'union';
  name: string;
  disc: Decl;
  arms: UnionArm[];
  defaultArm?: Decl;
}
export interface TypedefDef {
  kind: 'typedef';
  name: string;
  decl: Decl;
}
export type Definition = ConstDef | EnumDef | StructDef | UnionDef | TypedefDef;

export class ParseError extends Error {}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly file: string,
  ) {}

  private peek(off = 0): Token {
    return this.toks[Math.min(this.i + off, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private fail(msg: string, t = this.peek()): never {
    throw new ParseError(`${this.file}:${t.line}: ${msg} (at ${JSON.stringify(t.text || '<eof>')})`);
  }
  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text || (t.kind !== 'punct' && t.kind !== 'ident')) this.fail(`expected '${text}'`, t);
    return t;
  }
  private accept(text: string): boolean {
    const t = this.peek();
    if ((t.kind === 'punct' || t.kind === 'ident') && t.text === text) {
      this.i++;
      return true;
    }
    return false;
  }
  private ident(): string {
    const t = this.next();
    if (t.kind !== 'ident') this.fail('expected identifier', t);
    return t.text;
  }
  private value(): Value {
    const t = this.next();
    if (t.kind === 'number') return { num: parseNumber(t.text) };
    if (t.kind === 'ident') return { ref: t.text };
    return this.fail('expected number or constant name', t);
  }

  parseSpec(): Definition[] {
    const defs: Definition[] = [];
    while (this.peek().kind !== 'eof') defs.push(this.definition());
    return defs;
  }

  private definition(): Definition {
    const kw = this.ident();
    switch (kw) {
      case 'const': {
        const name = this.ident();
        this.expect('=');
        const value = this.value();
        this.expect(';');
        return { kind: 'const', name, value };
      }
      case 'enum': {
        const name = this.ident();
        const members = this.enumBody();
        this.expect(';');
        return { kind: 'enum', name, members };
      }
      case 'struct': {
        const name = this.ident();
        const fields = this.structBody();
        this.expect(';');
        return { kind: 'struct', name, fields };
      }
      case 'union': {
        const name = this.ident();
        const u = this.unionBody(name);
        this.expect(';');
        return u;
      }
      case 'typedef': {
        const decl = this.declaration();
        if (decl.type.kind === 'void') this.fail('typedef void');
        this.expect(';');
        return { kind: 'typedef', name: decl.name, decl };
      }
      default:
        return this.fail(`unexpected keyword '${kw}'`, this.toks[this.i - 1]);
    }
  }

  private enumBody(): { name: string; value: Value }[] {
    this.expect('{');
    const members: { name: string; value: Value }[] = [];
    for (;;) {
      const name = this.ident();
      this.expect('=');
      members.push({ name, value: this.value() });
      if (this.accept(',')) {
        if (this.accept('}')) break; // tolerate trailing comma
        continue;
      }
      this.expect('}');
      break;
    }
    return members;
  }

  private structBody(): Decl[] {
    this.expect('{');
    const fields: Decl[] = [];
    while (!this.accept('}')) {
      const d = this.declaration();
      if (d.type.kind === 'void') this.fail('void struct member');
      this.expect(';');
      fields.push(d);
    }
    if (fields.length === 0) this.fail('empty struct');
    return fields;
  }

  private unionBody(name: string): UnionDef {
    this.expect('switch');
    this.expect('(');
    const disc = this.declaration();
    this.expect(')');
    if (disc.array !== 'none' || disc.optional || disc.type.kind === 'void') this.fail('bad union discriminant');
    this.expect('{');
    const arms: UnionArm[] = [];
    let defaultArm: Decl | undefined;
    while (!this.accept('}')) {
      if (this.accept('default')) {
        this.expect(':');
        if (defaultArm) this.fail('duplicate default');
        defaultArm = this.declaration();
        this.expect(';');
        continue;
      }
      const cases: Value[] = [];
      while (this.accept('case')) {
        cases.push(this.value());
        this.expect(':');
      }
      if (cases.length === 0) this.fail("expected 'case' or 'default'");
      const decl = this.declaration();
      this.expect(';');
      arms.push({ cases, decl });
    }
    return { kind: 'union', name, disc, arms, defaultArm };
  }

  private typeSpecifier(): BaseType {
    const t = this.next();
    if (t.kind !== 'ident') this.fail('expected type', t);
    switch (t.text) {
      case 'void':
        return { kind: 'void' };
      case 'opaque':
        return { kind: 'opaque' };
      case 'string':
        return { kind: 'string' };
      case 'bool':
        return { kind: 'prim', prim: 'bool' };
      case 'int':
      case 'int32_t':
        return { kind: 'prim', prim: 'int' };
      case 'uint32_t':
        return { kind: 'prim', prim: 'uint' };
      case 'hyper':
      case 'int64_t':
        return { kind: 'prim', prim: 'hyper' };
      case 'uint64_t':
        return { kind: 'prim', prim: 'uhyper' };
      case 'unsigned': {
        if (this.accept('hyper')) return { kind: 'prim', prim: 'uhyper' };
        this.accept('int');
        return { kind: 'prim', prim: 'uint' };
      }
      case 'float':
      case 'double':
      case 'quadruple':
        return this.fail('floating point types are not supported', t);
      case 'struct':
      case 'union':
      case 'enum':
        return this.fail('inline struct/union/enum bodies are not supported; give the type a name', t);
      default:
        return { kind: 'named', name: t.text };
    }
  }

  private declaration(): Decl {
    const line = this.peek().line;
    const type = this.typeSpecifier();
    if (type.kind === 'void') return { name: '', type, array: 'none', optional: false, line };
    if (this.accept('*')) {
      if (type.kind === 'opaque' || type.kind === 'string') this.fail('optional opaque/string');
      return { name: this.ident(), type, array: 'none', optional: true, line };
    }
    const name = this.ident();
    if (this.accept('[')) {
      const size = this.value();
      this.expect(']');
      if (type.kind === 'string') this.fail('string needs <>');
      return { name, type, array: 'fixed', size, optional: false, line };
    }
    if (this.accept('<')) {
      let size: Value | undefined;
      if (!this.accept('>')) {
        size = this.value();
        this.expect('>');
      }
      return { name, type, array: 'var', size, optional: false, line };
    }
    if (type.kind === 'opaque' || type.kind === 'string') this.fail(`${type.kind} needs a [n] or <n> size`);
    return { name, type, array: 'none', optional: false, line };
  }
}

export function parse(src: string, file = '<input>'): Definition[] {
  return new Parser(tokenize(src, file), file).parseSpec();
}
