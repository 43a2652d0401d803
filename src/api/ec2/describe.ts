/** Security groups and rules as EC2's XML responses describe them. */
import { type SecurityGroup, type SecurityGroupRule } from '../../model/security-groups.js';
import { protocolHasPorts, securityGroupArn, securityGroupRuleArn } from '../../model/security-group-rules.js';
import { type Tag } from '../../model/types.js';
import type { XmlValue } from './xml.js';

export const tagSet = (tags: Tag[]): XmlValue => tags.map((t) => ({ key: t.key, value: t.value }));

/** EC2's IpPermission list: rules of one protocol and port range together, sources in their lists. */
export function ipPermissions(rules: SecurityGroupRule[], accountId: string): XmlValue[] {
  type Perm = { ipProtocol: string; fromPort?: number; toPort?: number; groups: XmlValue[]; ipRanges: XmlValue[]; ipv6Ranges: XmlValue[] };
  const perms = new Map<string, Perm>();
  for (const r of rules) {
    const key = `${r.ipProtocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}`;
    let p = perms.get(key);
    if (!p) {
      p = { ipProtocol: r.ipProtocol, groups: [], ipRanges: [], ipv6Ranges: [] };
      if (r.fromPort !== undefined) p.fromPort = r.fromPort;
      if (r.toPort !== undefined) p.toPort = r.toPort;
      perms.set(key, p);
    }
    if (r.cidrIpv4 !== undefined) p.ipRanges.push({ cidrIp: r.cidrIpv4, description: r.description });
    else if (r.cidrIpv6 !== undefined) p.ipv6Ranges.push({ cidrIpv6: r.cidrIpv6, description: r.description });
    else if (r.referencedGroupId !== undefined) p.groups.push({ description: r.description, userId: accountId, groupId: r.referencedGroupId });
  }
  return [...perms.values()].map((p) => ({
    ipProtocol: p.ipProtocol,
    fromPort: p.fromPort,
    toPort: p.toPort,
    groups: p.groups,
    ipRanges: p.ipRanges,
    ipv6Ranges: p.ipv6Ranges,
    prefixListIds: [],
  }));
}

export function describeGroup(g: SecurityGroup, region: string): XmlValue {
  return {
    ownerId: g.ownerId,
    groupId: g.groupId,
    groupName: g.groupName,
    groupDescription: g.description,
    vpcId: g.vpcId,
    ipPermissions: ipPermissions(g.ingress, g.ownerId),
    ipPermissionsEgress: ipPermissions(g.egress, g.ownerId),
    tagSet: g.tags.length > 0 ? tagSet(g.tags) : undefined,
    securityGroupArn: securityGroupArn(region, g.ownerId, g.groupId),
  };
}

/** A rule as EC2's SecurityGroupRule (AuthorizeSecurityGroupIngress's securityGroupRuleSet). */
export function describeRule(g: SecurityGroup, r: SecurityGroupRule, isEgress: boolean, region: string): XmlValue {
  const allPorts = !protocolHasPorts(r.ipProtocol);
  return {
    securityGroupRuleId: r.ruleId,
    groupId: g.groupId,
    groupOwnerId: g.ownerId,
    isEgress,
    ipProtocol: r.ipProtocol,
    fromPort: allPorts ? -1 : r.fromPort,
    toPort: allPorts ? -1 : r.toPort,
    cidrIpv4: r.cidrIpv4,
    cidrIpv6: r.cidrIpv6,
    referencedGroupInfo: r.referencedGroupId !== undefined ? { groupId: r.referencedGroupId, userId: g.ownerId } : undefined,
    description: r.description,
    securityGroupRuleArn: securityGroupRuleArn(region, g.ownerId, r.ruleId),
  };
}

/** A rule as EC2's RevokedSecurityGroupRule. */
export function describeRevoked(g: SecurityGroup, r: SecurityGroupRule): XmlValue {
  const allPorts = !protocolHasPorts(r.ipProtocol);
  return {
    securityGroupRuleId: r.ruleId,
    groupId: g.groupId,
    isEgress: false,
    ipProtocol: r.ipProtocol,
    fromPort: allPorts ? -1 : r.fromPort,
    toPort: allPorts ? -1 : r.toPort,
    cidrIpv4: r.cidrIpv4,
    cidrIpv6: r.cidrIpv6,
    referencedGroupId: r.referencedGroupId,
    description: r.description,
  };
}

/** EC2's wording of a rule in InvalidPermission.Duplicate. */
export function ruleText(r: SecurityGroupRule): string {
  const peer = r.cidrIpv4 ?? r.cidrIpv6 ?? r.referencedGroupId ?? '';
  const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
  if (r.ipProtocol === 'tcp' || r.ipProtocol === 'udp') return `peer: ${peer}, ${proto}, from port: ${r.fromPort}, to port: ${r.toPort}, ALLOW`;
  if (r.ipProtocol === 'icmp' || r.ipProtocol === 'icmpv6') return `peer: ${peer}, ${proto}, type: ${r.fromPort}, code: ${r.toPort}, ALLOW`;
  return `peer: ${peer}, ${proto}, ALLOW`;
}
