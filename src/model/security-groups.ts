/**
 * EC2 security groups as the model holds them: the groups a mount target can
 * name, their inbound rules, and the local stand-in for EC2 instances (client
 * addresses that are members of groups, from --config's `instances`). Whether
 * a source address is admitted is decided in src/policy/security-groups.ts.
 */
import type { Tag } from './types.js';

/** One inbound (or outbound) rule, with exactly one source: a CIDR or another group. */
export interface SecurityGroupRule {
  /** 'sgr-' + 17 hex. */
  ruleId: string;
  /** 'tcp', 'udp', 'icmp', 'icmpv6' or '-1' (all traffic); numbers are kept as given ('6' is tcp). */
  ipProtocol: string;
  /** Port range (inclusive); undefined for '-1' (all ports). */
  fromPort?: number;
  toPort?: number;
  /** Exactly one of these three is set. */
  cidrIpv4?: string;
  cidrIpv6?: string;
  referencedGroupId?: string;
  description?: string;
}

export interface SecurityGroup {
  /** 'sg-' + 17 hex. */
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ownerId: string;
  ingress: SecurityGroupRule[];
  egress: SecurityGroupRule[];
  tags: Tag[];
}

/** The VPC's default group is named this and cannot be deleted (EC2: CannotDelete). */
export const DEFAULT_GROUP_NAME = 'default';
/** The port a mount target's rules are evaluated for (EFS's NFS port), whatever port localefs listens on. */
export const MOUNT_TARGET_PORT = 2049;
