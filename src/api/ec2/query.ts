/**
 * EC2's query protocol on the way in: `Action=...&Version=...` as a form body
 * (POST, `application/x-www-form-urlencoded`) or a query string (GET), with
 * EC2's flattened lists and structures: `GroupId.1`, `Filter.1.Name`,
 * `Filter.1.Value.1`, `IpPermissions.1.IpRanges.1.CidrIp`. The parameters
 * become a tree (a key's dotted segments), read through Ec2Input with EC2's
 * errors for a missing or malformed value.
 */
import { Ec2Error, invalidParameterValue, missingParameter } from './errors.js';

/** One node of the parameter tree: a value, members, or both (`GroupId=a&GroupId.1=b`). */
export class FormNode {
  value: string | undefined;
  readonly children = new Map<string, FormNode>();

  child(name: string): FormNode | undefined {
    return this.children.get(name);
  }

  /** Plain JSON of the tree (for the audit record): lists (numbered members) as arrays, names in lowerCamel. */
  toJSON(): unknown {
    if (this.children.size === 0) return this.value ?? '';
    const keys = [...this.children.keys()];
    if (keys.every((k) => LIST_INDEX_RE.test(k))) {
      return keys.sort((a, b) => Number(a) - Number(b)).map((k) => this.children.get(k)!.toJSON());
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.children) out[k.charAt(0).toLowerCase() + k.slice(1)] = v.toJSON();
    return out;
  }
}

const LIST_INDEX_RE = /^[1-9][0-9]{0,5}$/;
/** Deepest parameter key taken (IpPermissions.N.IpRanges.N.CidrIp has 5 segments). */
const MAX_DEPTH = 8;

/** Adds `k=v` pairs of a form body or query string (`+` is a space, as in every form) to a tree. */
export function parseForm(text: string, into: FormNode = new FormNode()): FormNode {
  for (const [key, value] of new URLSearchParams(text)) {
    const segments = key.split('.');
    if (segments.length > MAX_DEPTH || segments.some((s) => s === '')) throw invalidParameterValue(`The parameter name '${key.slice(0, 200)}' is not valid.`);
    let node = into;
    for (const s of segments) {
      let next = node.children.get(s);
      if (!next) {
        next = new FormNode();
        node.children.set(s, next);
      }
      node = next;
    }
    node.value = value;
  }
  return into;
}

/** Typed reads of one level of the tree; `path` names it in messages (e.g. `IpPermissions.1.`). */
export class Ec2Input {
  constructor(
    readonly node: FormNode,
    readonly path = '',
  ) {}

  has(name: string): boolean {
    return this.node.children.has(name);
  }

  string(name: string, opts: { required?: boolean } = {}): string | undefined {
    const v = this.node.child(name)?.value;
    if (v === undefined && opts.required) throw missingParameter(this.path + name);
    return v;
  }

  required(name: string): string {
    return this.string(name, { required: true })!;
  }

  int(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?[0-9]{1,10}$/.test(v.trim())) throw invalidParameterValue(`Invalid value '${v}' for ${this.path}${name}. It must be an integer.`);
    return Number(v.trim());
  }

  bool(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const s = v.trim().toLowerCase();
    if (s !== 'true' && s !== 'false') throw invalidParameterValue(`Invalid value '${v}' for ${this.path}${name}. It must be true or false.`);
    return s === 'true';
  }

  /** The members of a flattened list (`Name.1`, `Name.2`, ...), in index order. */
  list(name: string): Ec2Input[] {
    const node = this.node.child(name);
    if (!node) return [];
    const indexes = [...node.children.keys()].filter((k) => LIST_INDEX_RE.test(k)).sort((a, b) => Number(a) - Number(b));
    return indexes.map((i) => new Ec2Input(node.children.get(i)!, `${this.path}${name}.${i}.`));
  }

  /** A flattened list of strings (`GroupId.1=a&GroupId.2=b`; a bare `GroupId=a` is a list of one). */
  stringList(name: string): string[] {
    const node = this.node.child(name);
    if (node?.value !== undefined && node.children.size === 0) return [node.value];
    return this.list(name).map((item) => {
      if (item.node.value === undefined) throw new Ec2Error('InvalidParameterValue', `${item.path.slice(0, -1)} needs a value.`);
      return item.node.value;
    });
  }
}
