/**
 * Working with the model's EC2 security groups (src/model/security-groups.ts
 * has the types): new ids, a rule's identity (what makes two rules "the
 * same" for EC2's Duplicate and NotFound answers), lookups by id or name, the
 * objects that keep a group from being deleted, and the config's declarations
 * of groups and instances. Pure data and pure helpers: no I/O.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_GROUP_NAME, type SecurityGroup, type SecurityGroupRule } from './security-groups.js';
import { defaultSecurityGroupFor, derivedId, vpcIdFor, type Model, type Tag } from './types.js';

const hex17 = (): string => randomBytes(9).toString('hex').slice(0, 17);
export const newSecurityGroupId = (): string => `sg-${hex17()}`;
export const newSecurityGroupRuleId = (): string => `sgr-${hex17()}`;
export const SECURITY_GROUP_RULE_ID_RE = /^sgr-[0-9a-f]{8,40}$/;

export function securityGroupArn(region: string, accountId: string, groupId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:security-group/${groupId}`;
}

export function securityGroupRuleArn(region: string, accountId: string, ruleId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:security-group-rule/${ruleId}`;
}

/** The id a config-declared group without `groupId` gets (stable across restarts; `default` is the VPC's default group). */
export function configSecurityGroupId(accountId: string, region: string, name: string): string {
  return name === DEFAULT_GROUP_NAME ? defaultSecurityGroupFor(accountId, region) : derivedId('sg', `${accountId}/${region}/group/${name}`);
}

/** Protocol numbers EC2 shows by name. */
const PROTOCOL_NAMES: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' };

/** EC2's form of a protocol: lower case names, tcp/udp/icmp/icmpv6 for their numbers, '-1' for all. Undefined if not a protocol. */
export function normaliseProtocol(p: string): string | undefined {
  const s = p.trim().toLowerCase();
  if (s === '-1' || s === 'tcp' || s === 'udp' || s === 'icmp' || s === 'icmpv6') return s;
  if (/^[0-9]{1,3}$/.test(s) && Number(s) <= 255) return PROTOCOL_NAMES[String(Number(s))] ?? String(Number(s));
  return undefined;
}

/** Whether the protocol has a port range (tcp, udp) or type/code (icmp, icmpv6); others cover every port. */
export const protocolHasPorts = (p: string): boolean => p === 'tcp' || p === 'udp' || p === 'icmp' || p === 'icmpv6';

/** What makes two rules the same for EC2: protocol, ports and source (not the description). */
export function ruleKey(r: Pick<SecurityGroupRule, 'ipProtocol' | 'fromPort' | 'toPort' | 'cidrIpv4' | 'cidrIpv6' | 'referencedGroupId'>): string {
  const source = r.cidrIpv4 !== undefined ? `4:${r.cidrIpv4}` : r.cidrIpv6 !== undefined ? `6:${r.cidrIpv6.toLowerCase()}` : `g:${r.referencedGroupId ?? ''}`;
  return `${r.ipProtocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}|${source}`;
}

/** The all-traffic egress rule EC2 gives a new group. */
export function allTrafficEgress(ruleId: string): SecurityGroupRule {
  return { ruleId, ipProtocol: '-1', cidrIpv4: '0.0.0.0/0' };
}

/** The group with this name in the VPC, if any. */
export function securityGroupByName(model: Pick<Model, 'securityGroups'>, vpcId: string, name: string): SecurityGroup | undefined {
  for (const g of model.securityGroups.values()) if (g.vpcId === vpcId && g.groupName === name) return g;
  return undefined;
}

/** What keeps a group from being deleted (EC2's DependencyViolation), as text for a message; undefined if nothing. */
export function securityGroupDependent(model: Pick<Model, 'securityGroups' | 'mountTargets' | 'instances'>, groupId: string): string | undefined {
  for (const mt of model.mountTargets.values()) if (mt.securityGroups.includes(groupId)) return `mount target ${mt.mountTargetId}`;
  for (const g of model.securityGroups.values()) {
    if (g.groupId === groupId) continue;
    if ([...g.ingress, ...g.egress].some((r) => r.referencedGroupId === groupId)) return `a rule of security group ${g.groupId}`;
  }
  for (const [address, groups] of model.instances) if (groups.includes(groupId)) return `instance ${address} (config)`;
  return undefined;
}

// ---------------------------------------------------------------------------
// Config declarations (--config `securityGroups`, `instances`)
// ---------------------------------------------------------------------------

/** One inbound rule as the config declares it, references already resolved to ids (its id is made when it is applied). */
export type SecurityGroupRuleDecl = Omit<SecurityGroupRule, 'ruleId'>;

export interface SecurityGroupDecl {
  /** Given, or derived from the name (configSecurityGroupId). */
  groupId: string;
  groupName: string;
  /** undefined = not declared (a new group gets "<name> (from the config)"). */
  description?: string;
  /** undefined = not declared (a new group has none; the default group keeps its allow-all rules). */
  ingress?: SecurityGroupRuleDecl[];
  /** undefined = not declared. */
  tags?: Tag[];
}

export interface InstanceDecl {
  /** IPv4 literal, or an IPv6 literal in its canonical (RFC 5952) form, as a socket reports it. */
  address: string;
  /** Group ids. */
  securityGroups: string[];
}

/** A config rule as a model rule (its id derived from the group and what the rule is, so stable across restarts). */
export function ruleFromDecl(groupId: string, d: SecurityGroupRuleDecl): SecurityGroupRule {
  const rule: SecurityGroupRule = { ruleId: '', ipProtocol: d.ipProtocol };
  if (d.fromPort !== undefined) rule.fromPort = d.fromPort;
  if (d.toPort !== undefined) rule.toPort = d.toPort;
  if (d.cidrIpv4 !== undefined) rule.cidrIpv4 = d.cidrIpv4;
  if (d.cidrIpv6 !== undefined) rule.cidrIpv6 = d.cidrIpv6;
  if (d.referencedGroupId !== undefined) rule.referencedGroupId = d.referencedGroupId;
  if (d.description !== undefined) rule.description = d.description;
  rule.ruleId = derivedId('sgr', `${groupId}/in/${ruleKey(rule)}`);
  return rule;
}

/**
 * A config-declared group: what it declares over `base` (the default group,
 * or a saved copy), or a new group with no inbound rules and EC2's all-traffic
 * outbound rule.
 */
export function securityGroupFromDecl(d: SecurityGroupDecl, base: SecurityGroup | undefined, accountId: string, region: string): SecurityGroup {
  const g: SecurityGroup = base
    ? { ...base, ingress: [...base.ingress], egress: [...base.egress], tags: [...base.tags] }
    : {
        groupId: d.groupId,
        groupName: d.groupName,
        description: `${d.groupName} (declared in the localefs config)`,
        vpcId: vpcIdFor(accountId, region),
        ownerId: accountId,
        ingress: [],
        egress: [allTrafficEgress(derivedId('sgr', `${d.groupId}/out4`))],
        tags: [],
      };
  g.groupName = d.groupName;
  g.ownerId = accountId;
  g.vpcId = vpcIdFor(accountId, region);
  if (d.description !== undefined) g.description = d.description;
  if (d.ingress !== undefined) g.ingress = d.ingress.map((r) => ruleFromDecl(d.groupId, r));
  if (d.tags !== undefined) g.tags = d.tags.map((t) => ({ ...t }));
  return g;
}

// ---------------------------------------------------------------------------
// EC2's checks of names, descriptions, CIDRs and ports (shared by the API and the config)
// ---------------------------------------------------------------------------

/** Characters EC2 allows in a VPC group's name and description and in a rule's description. */
const EC2_TEXT_RE = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;

/** Why a group name is refused (EC2's InvalidParameterValue), or undefined. */
export function groupNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 255) return `Value (${name}) for parameter GroupName is invalid. Length must be 1 to 255 characters.`;
  if (name.toLowerCase().startsWith('sg-')) return `Value (${name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.`;
  if (!EC2_TEXT_RE.test(name)) return `Value (${name}) for parameter GroupName is invalid. Characters allowed are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*`;
  return undefined;
}

export function groupDescriptionProblem(d: string): string | undefined {
  if (d.length > 255) return `Value for parameter GroupDescription is invalid. Length exceeds maximum of 255 characters.`;
  if (!EC2_TEXT_RE.test(d)) return `Value (${d}) for parameter GroupDescription is invalid. Characters allowed are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*`;
  return undefined;
}

export function ruleDescriptionProblem(d: string): string | undefined {
  if (d.length > 255) return `Invalid rule description. Length exceeds maximum of 255 characters.`;
  if (!EC2_TEXT_RE.test(d)) return `Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`;
  return undefined;
}

/** An IPv4 CIDR as EC2 takes it (`a.b.c.d/n`, the prefix length required). */
export function isIpv4Cidr(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  if (!m) return false;
  return m.slice(1, 5).every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0'))) && Number(m[5]) <= 32;
}

/** An IPv6 CIDR (`x::y/n`, the prefix length required). */
export function isIpv6Cidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  return !addr.includes('.') && canonicalIpv6(addr) !== undefined && /^\d{1,3}$/.test(len) && Number(len) <= 128;
}

/** The canonical (RFC 5952, as sockets report it) form of an IPv6 literal; undefined if it is not one. */
export function canonicalIpv6(a: string): string | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(a) || !a.includes(':')) return undefined;
  try {
    const host = new URL(`http://[${a}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * A rule's port range as EC2 keeps it: tcp/udp need both ports (0–65535, from ≤ to);
 * icmp/icmpv6 take a type and a code (-1 = all); every other protocol covers all
 * ports, so ports given with it are dropped. Returns the range or the problem.
 */
export function rulePorts(protocol: string, fromPort: number | undefined, toPort: number | undefined): { fromPort?: number; toPort?: number } | { problem: string } {
  if (protocol === 'tcp' || protocol === 'udp') {
    if (fromPort === undefined || toPort === undefined) return { problem: "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange." };
    if (!Number.isInteger(fromPort) || !Number.isInteger(toPort) || fromPort < 0 || toPort > 65535 || fromPort > toPort) {
      return { problem: `Invalid value '${fromPort}-${toPort}' for portRange. Must be from 0 to 65535, the from port no greater than the to port.` };
    }
    return { fromPort, toPort };
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    if (fromPort === undefined || toPort === undefined) return { problem: "Invalid value 'Must specify both ICMP type and code.' for portRange." };
    if (!Number.isInteger(fromPort) || !Number.isInteger(toPort) || fromPort < -1 || fromPort > 255 || toPort < -1 || toPort > 255) {
      return { problem: `Invalid value '${fromPort},${toPort}' for icmp type,code. Type and code must be from -1 (all) to 255.` };
    }
    if (fromPort === -1 && toPort !== -1) return { problem: `Invalid value '${fromPort},${toPort}' for icmp type,code. All ICMP types (-1) need all codes (-1).` };
    return { fromPort, toPort };
  }
  return {};
}
