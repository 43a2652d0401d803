/**
 * EC2 security groups as the model holds them: the groups a mount target can
 * name, their inbound rules, and the local stand-in for EC2 instances (client
 * addresses that are members of groups, from --config's `instances`). Whether
 * a source address is admitted is decided in src/policy/security-groups.ts.
 */
import { defaultSecurityGroupFor, derivedId, vpcIdFor, type Model, type Tag } from './types.js';

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

/**
 * The VPC's default group as localefs makes it: as a local convenience (docs/api.md) its
 * inbound rules admit all traffic from everywhere, so a mount target nobody gave groups
 * admits every client until a user changes the rules; on AWS it admits only its members.
 */
export function newDefaultSecurityGroup(accountId: string, region: string): SecurityGroup {
  const groupId = defaultSecurityGroupFor(accountId, region);
  const allTraffic = (cidr: { cidrIpv4: string } | { cidrIpv6: string }, n: string): SecurityGroupRule => ({
    ruleId: derivedId('sgr', `${groupId}/${n}`),
    ipProtocol: '-1',
    ...cidr,
  });
  return {
    groupId,
    groupName: DEFAULT_GROUP_NAME,
    description: 'default VPC security group',
    vpcId: vpcIdFor(accountId, region),
    ownerId: accountId,
    ingress: [allTraffic({ cidrIpv4: '0.0.0.0/0' }, 'in4'), allTraffic({ cidrIpv6: '::/0' }, 'in6')],
    egress: [allTraffic({ cidrIpv4: '0.0.0.0/0' }, 'out4')],
    tags: [],
  };
}

/** Puts the default group into the model when it is not there (a new model, or one saved before groups existed); true when it did. */
export function ensureDefaultSecurityGroup(model: Pick<Model, 'accountId' | 'region' | 'securityGroups'>): boolean {
  const id = defaultSecurityGroupFor(model.accountId, model.region);
  if (model.securityGroups.has(id)) return false;
  model.securityGroups.set(id, newDefaultSecurityGroup(model.accountId, model.region));
  return true;
}

/**
 * Groups that mount targets name but the model does not hold: a model saved before
 * groups filtered connections accepted any well-formed id. Each becomes a group that
 * admits all traffic (what it did then); returns the ids made, for a warning.
 */
export function adoptUnknownSecurityGroups(model: Pick<Model, 'accountId' | 'region' | 'securityGroups' | 'mountTargets'>): string[] {
  const made: string[] = [];
  for (const mt of model.mountTargets.values()) {
    for (const groupId of mt.securityGroups) {
      if (model.securityGroups.has(groupId)) continue;
      const g = newDefaultSecurityGroup(model.accountId, model.region);
      model.securityGroups.set(groupId, {
        ...g,
        groupId,
        groupName: `adopted-${groupId}`,
        description: 'named by a mount target saved before localefs filtered by security groups; admits all traffic',
        ingress: g.ingress.map((r) => ({ ...r, ruleId: derivedId('sgr', `${groupId}/${r.ruleId}`) })),
        egress: g.egress.map((r) => ({ ...r, ruleId: derivedId('sgr', `${groupId}/${r.ruleId}`) })),
      });
      made.push(groupId);
    }
  }
  return made;
}
