/**
 * The condition keys a policy's Condition can test, one line each: the key's
 * IAM type, whether it is multi-valued, and where its value comes from in
 * what is known about the request (RequestFacts). The management API and the
 * NFS side each fill in the facts they have; a fact left out is an absent
 * key, and so is every key not in this table (spec §3.4: a positive operator
 * on an absent key is false, a negated one true).
 *
 * Key names are case-insensitive, as in IAM. In `aws:RequestTag/${TagKey}`
 * and `aws:ResourceTag/${TagKey}` the tag key part is case-insensitive too
 * (IAM: "aws:ResourceTag/TagKey1" matches a tag named TagKey1 or tagkey1);
 * an exact-case tag wins when a resource has both. Tag values compare as the
 * operator says (StringEquals: case-sensitive).
 */
import type { Tag } from '../model/types.js';

/** IAM condition key types (what the service authorization reference calls them). */
export type ConditionKeyType = 'String' | 'Bool' | 'Date' | 'IpAddress' | 'Arn' | 'Numeric';

/** A key's value in a request: a scalar, or a list for a multi-valued key (empty list = absent). */
export type ContextValue = string | boolean | number | readonly string[];

/** What is known about one request; every field optional (unknown = the key is absent). */
export interface RequestFacts {
  /** TLS (the API over HTTPS, a `tls` mount). */
  secureTransport?: boolean;
  /** The caller's address (HTTP peer, NFS client). */
  sourceIp?: string;
  principalArn?: string;
  principalAccount?: string;
  /** Epoch milliseconds. */
  nowMs?: number;
  /** Tags the request puts on a resource. */
  requestTags?: readonly Tag[];
  /** Tags of the resource the request acts on. */
  resourceTags?: readonly Tag[];
  /** Tag keys in the request (those it adds, or those it removes). */
  tagKeys?: readonly string[];
  /** CreateFileSystem's Encrypted. */
  encrypted?: boolean;
  /** The creating operation during tag-on-create (CreateFileSystem, CreateAccessPoint). */
  createAction?: string;
  /** The access point an NFS client came through. */
  accessPointArn?: string;
  /** An NFS client came in through a mount target. */
  viaMountTarget?: boolean;
}

export interface ConditionKeyDef {
  /** As IAM writes it; `${TagKey}` stands for the rest of the name. */
  key: string;
  type: ConditionKeyType;
  multiValued: boolean;
  /** The value in a request, undefined when absent. `param` is what `${TagKey}` stood for. */
  value(facts: RequestFacts, param: string): ContextValue | undefined;
}

const one = (key: string, type: ConditionKeyType, value: ConditionKeyDef['value']): ConditionKeyDef => ({ key, type, multiValued: false, value });
const many = (key: string, type: ConditionKeyType, value: ConditionKeyDef['value']): ConditionKeyDef => ({ key, type, multiValued: true, value });

/** The value of a tag, its key matched case-insensitively (an exact-case key wins). */
export function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  if (!tags) return undefined;
  const exact = tags.find((t) => t.key === key);
  if (exact) return exact.value;
  const lower = key.toLowerCase();
  return tags.find((t) => t.key.toLowerCase() === lower)?.value;
}

const isoTime = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const epochSeconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.floor(ms / 1000));

export const CONDITION_KEYS: readonly ConditionKeyDef[] = [
  one('aws:SecureTransport', 'Bool', (f) => f.secureTransport),
  one('aws:SourceIp', 'IpAddress', (f) => f.sourceIp),
  one('aws:PrincipalArn', 'Arn', (f) => f.principalArn),
  one('aws:PrincipalAccount', 'String', (f) => f.principalAccount),
  one('aws:CurrentTime', 'Date', (f) => isoTime(f.nowMs)),
  one('aws:EpochTime', 'Date', (f) => epochSeconds(f.nowMs)),
  one('aws:RequestTag/${TagKey}', 'String', (f, tagKey) => tagValue(f.requestTags, tagKey)),
  one('aws:ResourceTag/${TagKey}', 'String', (f, tagKey) => tagValue(f.resourceTags, tagKey)),
  many('aws:TagKeys', 'String', (f) => f.tagKeys),
  one('elasticfilesystem:Encrypted', 'Bool', (f) => f.encrypted),
  one('elasticfilesystem:CreateAction', 'String', (f) => f.createAction),
  one('elasticfilesystem:AccessPointArn', 'String', (f) => f.accessPointArn),
  one('elasticfilesystem:AccessedViaMountTarget', 'Bool', (f) => f.viaMountTarget),
];

const PARAM = '${TagKey}';
const EXACT = new Map<string, ConditionKeyDef>();
const PREFIXED: { prefix: string; def: ConditionKeyDef }[] = [];
for (const def of CONDITION_KEYS) {
  if (def.key.endsWith(PARAM)) PREFIXED.push({ prefix: def.key.slice(0, -PARAM.length).toLowerCase(), def });
  else EXACT.set(def.key.toLowerCase(), def);
}

/** The table entry for a key as a policy writes it, and what `${TagKey}` stood for; undefined if unknown. */
export function conditionKeyDef(name: string): { def: ConditionKeyDef; param: string } | undefined {
  const lower = name.toLowerCase();
  const exact = EXACT.get(lower);
  if (exact) return { def: exact, param: '' };
  for (const { prefix, def } of PREFIXED) {
    if (lower.startsWith(prefix) && lower.length > prefix.length) return { def, param: name.slice(prefix.length) };
  }
  return undefined;
}

/** A key's value in a request (undefined = absent; an empty list counts as absent). */
export type ConditionLookup = (key: string) => ContextValue | undefined;

/** How the evaluator finds condition keys in a request with these facts. */
export function conditionLookup(facts: RequestFacts): ConditionLookup {
  return (key) => {
    const found = conditionKeyDef(key);
    if (!found) return undefined;
    const v = found.def.value(facts, found.param);
    if (v === undefined || (Array.isArray(v) && v.length === 0)) return undefined;
    return v;
  };
}
