/**
 * Does a mount target's set of security groups admit a client? The same
 * answer EC2 gives for inbound traffic: the union of the groups' ingress rules,
 * a rule admits when its protocol covers TCP, its port range covers the NFS
 * port (2049, whatever port localefs listens on) and its source matches the
 * client: a CIDR of the client's family, or a group the client is a member of
 * (--config's `instances`). Groups are allow-only: no rule, no entry.
 */
import net from 'node:net';
import { parseCidr, cidrContains, type ParsedCidr } from '../util/cidr.js';
import { MOUNT_TARGET_PORT, type SecurityGroup, type SecurityGroupRule } from '../model/security-groups.js';

/** IPv4 address of an IPv4 or IPv4-mapped IPv6 literal; undefined for real IPv6. */
function ipv4Of(address: string): string | undefined {
  if (net.isIPv4(address)) return address;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m && net.isIPv4(m[1]!) ? m[1] : undefined;
}

const parsedCidrs = new Map<string, ParsedCidr>();
function parsed(cidr: string): ParsedCidr | undefined {
  let p = parsedCidrs.get(cidr);
  if (p === undefined) {
    try {
      p = parseCidr(cidr);
    } catch {
      return undefined;
    }
    if (parsedCidrs.size >= 4096) parsedCidrs.clear();
    parsedCidrs.set(cidr, p);
  }
  return p;
}

/** True when the rule's protocol and ports cover TCP to `port`. */
export function ruleCoversTcpPort(rule: SecurityGroupRule, port: number): boolean {
  // stored protocols are normalised (normaliseProtocol: numbers of named ones become names)
  if (rule.ipProtocol === '-1') return true;
  if (rule.ipProtocol !== 'tcp') return false;
  if (rule.fromPort === undefined || rule.toPort === undefined) return false;
  // EC2: -1 for both ports of tcp is rejected at authorization, so a range here is a real one
  return rule.fromPort <= port && port <= rule.toPort;
}

/** Groups the client at `address` is a member of (instances are keyed by the address as configured). */
function membershipsOf(address: string, instances: ReadonlyMap<string, readonly string[]>): readonly string[] {
  const direct = instances.get(address);
  if (direct) return direct;
  const v4 = ipv4Of(address);
  return (v4 !== undefined && instances.get(v4)) || [];
}

export function ruleAdmitsSource(rule: SecurityGroupRule, address: string, instances: ReadonlyMap<string, readonly string[]>): boolean {
  const v4 = ipv4Of(address);
  if (rule.cidrIpv4 !== undefined) {
    const c = parsed(rule.cidrIpv4);
    return v4 !== undefined && c !== undefined && cidrContains(c, v4);
  }
  if (rule.cidrIpv6 !== undefined) {
    const c = parsed(rule.cidrIpv6);
    return v4 === undefined && c !== undefined && cidrContains(c, address);
  }
  if (rule.referencedGroupId !== undefined) return membershipsOf(address, instances).includes(rule.referencedGroupId);
  return false;
}

export interface SecurityGroupVerdict {
  admitted: boolean;
  /** The group and rule that admitted the client. */
  groupId?: string;
  ruleId?: string;
}

/**
 * The verdict for a TCP connection from `address` to a mount target with
 * `groups` (ids the model does not hold admit nothing).
 */
export function securityGroupsAdmit(
  groupIds: readonly string[],
  lookup: (groupId: string) => SecurityGroup | undefined,
  address: string,
  instances: ReadonlyMap<string, readonly string[]>,
  port: number = MOUNT_TARGET_PORT,
): SecurityGroupVerdict {
  for (const id of groupIds) {
    const g = lookup(id);
    if (!g) continue;
    for (const rule of g.ingress) {
      if (ruleCoversTcpPort(rule, port) && ruleAdmitsSource(rule, address, instances)) return { admitted: true, groupId: g.groupId, ruleId: rule.ruleId };
    }
  }
  return { admitted: false };
}
