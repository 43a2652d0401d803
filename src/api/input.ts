/**
 * Reading request members with the checks the EFS API makes (types, lengths,
 * enums, ranges): botocore and the JS SDK check only required members and
 * minimums, so the server checks the rest. Every problem is a 400 BadRequest
 * that names the member.
 */
import { badRequest } from './errors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Input {
  constructor(
    private readonly values: Record<string, unknown>,
    private readonly where = '',
  ) {}

  static body(body: unknown): Input {
    if (body === undefined) return new Input({});
    if (!isObject(body)) throw badRequest('The request body must be a JSON object.');
    return new Input(body);
  }

  private name(key: string): string {
    return this.where ? `${this.where}.${key}` : key;
  }

  has(key: string): boolean {
    return this.values[key] !== undefined && this.values[key] !== null;
  }

  raw(key: string): unknown {
    return this.values[key];
  }

  string(key: string, o: { required: true; min?: number; max?: number; pattern?: RegExp }): string;
  string(key: string, o?: { required?: false; min?: number; max?: number; pattern?: RegExp }): string | undefined;
  string(key: string, o: { required?: boolean; min?: number; max?: number; pattern?: RegExp } = {}): string | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) {
      if (o.required) throw badRequest(`${this.name(key)} is required.`);
      return undefined;
    }
    if (typeof v !== 'string') throw badRequest(`${this.name(key)} must be a string.`);
    const min = o.min ?? 0;
    if (v.length < min || (o.max !== undefined && v.length > o.max)) {
      throw badRequest(`${this.name(key)} must be ${o.max !== undefined ? `${min} to ${o.max}` : `at least ${min}`} characters long.`);
    }
    if (o.pattern && !o.pattern.test(v)) throw badRequest(`${this.name(key)} '${v}' does not match the pattern ${o.pattern.source}.`);
    return v;
  }

  enumOf<T extends string>(key: string, allowed: readonly T[], required: true): T;
  enumOf<T extends string>(key: string, allowed: readonly T[], required?: false): T | undefined;
  enumOf<T extends string>(key: string, allowed: readonly T[], required = false): T | undefined {
    const v = required ? this.string(key, { required: true }) : this.string(key);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw badRequest(`${this.name(key)} must be one of ${allowed.join(', ')}; got '${v}'.`);
    return v as T;
  }

  bool(key: string): boolean | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    throw badRequest(`${this.name(key)} must be true or false.`);
  }

  /** A number from JSON or a query string. */
  number(key: string, o: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || (o.integer && !Number.isInteger(n))) throw badRequest(`${this.name(key)} must be ${o.integer ? 'an integer' : 'a number'}.`);
    if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
      throw badRequest(`${this.name(key)} must be ${o.max !== undefined ? `from ${o.min ?? '-inf'} to ${o.max}` : `at least ${o.min}`}.`);
    }
    return n;
  }

  list(key: string, o: { required?: boolean; max?: number; min?: number } = {}): unknown[] | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) {
      if (o.required) throw badRequest(`${this.name(key)} is required.`);
      return undefined;
    }
    if (!Array.isArray(v)) throw badRequest(`${this.name(key)} must be a list.`);
    if (o.min !== undefined && v.length < o.min) throw badRequest(`${this.name(key)} must have at least ${o.min} member(s).`);
    if (o.max !== undefined && v.length > o.max) throw badRequest(`${this.name(key)} must have at most ${o.max} members; got ${v.length}.`);
    return v;
  }

  stringList(key: string, o: { required?: boolean; max?: number; min?: number } = {}): string[] | undefined {
    const v = this.list(key, o);
    if (v === undefined) return undefined;
    v.forEach((s, i) => {
      if (typeof s !== 'string') throw badRequest(`${this.name(key)}[${i}] must be a string.`);
    });
    return v as string[];
  }

  object(key: string, required = false): Input | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) {
      if (required) throw badRequest(`${this.name(key)} is required.`);
      return undefined;
    }
    if (!isObject(v)) throw badRequest(`${this.name(key)} must be an object.`);
    return new Input(v, this.name(key));
  }
}
