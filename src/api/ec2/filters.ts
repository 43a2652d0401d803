/** DescribeSecurityGroups' filters (Filter.N.Name / Value.N, with * and ? wildcards). */
import type { ControlPlane } from '../control-plane.js';
import { type SecurityGroup, type SecurityGroupRule } from '../../model/security-groups.js';

/**
 * EC2 filter values: `*` matches any characters, `?` one. Greedy matching
 * that backs up only to the last `*` (time linear in pattern × text, whatever
 * the pattern; a regular expression could be made to backtrack for ages).
 */
export function wildcardMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function permissionValues(rules: SecurityGroupRule[], field: string): string[] {
  const out: string[] = [];
  for (const r of rules) {
    if (field === 'cidr' && r.cidrIpv4 !== undefined) out.push(r.cidrIpv4);
    else if (field === 'ipv6-cidr' && r.cidrIpv6 !== undefined) out.push(r.cidrIpv6);
    else if (field === 'group-id' && r.referencedGroupId !== undefined) out.push(r.referencedGroupId);
    else if (field === 'protocol') out.push(r.ipProtocol);
    else if (field === 'from-port' && r.fromPort !== undefined) out.push(String(r.fromPort));
    else if (field === 'to-port' && r.toPort !== undefined) out.push(String(r.toPort));
  }
  return out;
}

const PERMISSION_FIELDS = ['cidr', 'ipv6-cidr', 'group-id', 'group-name', 'protocol', 'from-port', 'to-port'];
const GROUP_FILTERS = ['group-id', 'group-name', 'description', 'vpc-id', 'owner-id', 'tag-key', 'tag-value'];
const PERMISSION_FILTER_RE = /^(egress\.)?ip-permission\.(.+)$/;

/** The filters DescribeSecurityGroups takes here (EC2's, except the prefix list and ipv6/egress group-name ones). */
export function isFilterName(name: string): boolean {
  if (name.startsWith('tag:')) return name.length > 4;
  if (GROUP_FILTERS.includes(name)) return true;
  const m = PERMISSION_FILTER_RE.exec(name);
  return m !== null && PERMISSION_FIELDS.includes(m[2]!);
}

/** The values a group has for a filter (isFilterName). */
export function filterValues(cp: ControlPlane, g: SecurityGroup, name: string): string[] {
  if (name.startsWith('tag:')) return g.tags.filter((t) => t.key === name.slice(4)).map((t) => t.value);
  switch (name) {
    case 'group-id':
      return [g.groupId];
    case 'group-name':
      return [g.groupName];
    case 'description':
      return [g.description];
    case 'vpc-id':
      return [g.vpcId];
    case 'owner-id':
      return [g.ownerId];
    case 'tag-key':
      return g.tags.map((t) => t.key);
    case 'tag-value':
      return g.tags.map((t) => t.value);
  }
  const m = PERMISSION_FILTER_RE.exec(name);
  if (m) {
    const rules = m[1] ? g.egress : g.ingress;
    if (m[2] === 'group-name') {
      return permissionValues(rules, 'group-id').flatMap((id) => {
        const ref = cp.model.securityGroups.get(id);
        return ref ? [ref.groupName] : [];
      });
    }
    return permissionValues(rules, m[2]!);
  }
  return [];
}
