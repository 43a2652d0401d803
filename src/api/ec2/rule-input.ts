/** The rules and tags an EC2 request asks for (IpPermissions.N..., the legacy flat members, TagSpecification.N...). */
import type { ControlPlane } from '../control-plane.js';
import { type SecurityGroupRule } from '../../model/security-groups.js';
import {
  isIpv4Cidr,
  isIpv6Cidr,
  normaliseProtocol,
  ruleDescriptionProblem,
  ruleKey,
  rulePorts,
} from '../../model/security-group-rules.js';
import type { Tag } from '../../model/types.js';
import { MAX_TAGS } from '../../model/validate.js';
import {
  Ec2Error,
  groupNameNotFound,
  groupNotFound,
  invalidParameterValue,
  missingParameter,
} from './errors.js';
import type { Ec2Input } from './query.js';
import { groupById, groupByName, vpcOf } from './lookup.js';

/** A rule the request asks for (no id yet). */
export type AskedRule = Omit<SecurityGroupRule, 'ruleId'>;

function descriptionOf(item: Ec2Input): string | undefined {
  const d = item.string('Description');
  if (d === undefined) return undefined;
  const problem = ruleDescriptionProblem(d);
  if (problem) throw invalidParameterValue(problem);
  return d;
}

function protocolOf(given: string): string {
  const p = normaliseProtocol(given);
  if (p === undefined) throw invalidParameterValue(`Invalid value '${given}' for IP protocol. Unknown protocol.`);
  return p;
}

function portsOf(protocol: string, fromPort: number | undefined, toPort: number | undefined): { fromPort?: number; toPort?: number } {
  const ports = rulePorts(protocol, fromPort, toPort);
  if ('problem' in ports) throw invalidParameterValue(ports.problem);
  return ports;
}

/** The id of a group a rule names as its source (UserIdGroupPairs: GroupId, or GroupName in the VPC). */
function sourceGroupId(cp: ControlPlane, pair: Ec2Input): string {
  const userId = pair.string('UserId');
  const id = pair.string('GroupId');
  if (id !== undefined) {
    // in the request region's VPC, as every group a call names
    const g = groupById(cp, id);
    if (userId !== undefined && userId !== g.ownerId) throw groupNotFound(id);
    return g.groupId;
  }
  const name = pair.string('GroupName');
  if (name !== undefined) {
    if (userId !== undefined && userId !== cp.model.accountId) throw groupNameNotFound(name, vpcOf(cp));
    return groupByName(cp, name).groupId;
  }
  throw new Ec2Error('MissingParameter', `The request must contain the parameter ${pair.path}GroupId or ${pair.path}GroupName`);
}

function cidrV4(cidr: string): string {
  if (!isIpv4Cidr(cidr)) throw invalidParameterValue(`CIDR block ${cidr} is malformed`);
  return cidr;
}

function cidrV6(cidr: string): string {
  if (!isIpv6Cidr(cidr)) throw invalidParameterValue(`CIDR block ${cidr} is malformed`);
  return cidr.toLowerCase();
}

export const LEGACY_MEMBERS = ['CidrIp', 'IpProtocol', 'FromPort', 'ToPort', 'SourceSecurityGroupName', 'SourceSecurityGroupOwnerId'];

/**
 * The rules a request names: `IpPermissions.N` (protocol, ports, and one rule
 * per source in IpRanges, Ipv6Ranges, Groups / UserIdGroupPairs), or the
 * legacy flat CidrIp / IpProtocol / FromPort / ToPort / SourceSecurityGroupName.
 */
export function askedRules(cp: ControlPlane, input: Ec2Input): AskedRule[] {
  const legacy = LEGACY_MEMBERS.filter((m) => input.has(m));
  const perms = input.list('IpPermissions');
  if (legacy.length > 0 && perms.length > 0) {
    throw new Ec2Error('InvalidParameterCombination', `The parameter IpPermissions cannot be used with the parameter ${legacy[0]}`);
  }
  if (legacy.length > 0) {
    const cidr = input.string('CidrIp');
    const sourceName = input.string('SourceSecurityGroupName');
    if (cidr !== undefined && sourceName !== undefined) {
      throw new Ec2Error('InvalidParameterCombination', 'The parameter CidrIp cannot be used with the parameter SourceSecurityGroupName');
    }
    if (cidr === undefined && sourceName === undefined) throw missingParameter('CidrIp');
    const givenProtocol = input.string('IpProtocol');
    if (givenProtocol === undefined && cidr !== undefined) throw missingParameter('IpProtocol');
    const protocol = protocolOf(givenProtocol ?? '-1');
    const rule: Omit<SecurityGroupRule, 'ruleId'> = { ipProtocol: protocol, ...portsOf(protocol, input.int('FromPort'), input.int('ToPort')) };
    if (cidr !== undefined) rule.cidrIpv4 = cidrV4(cidr);
    else {
      const owner = input.string('SourceSecurityGroupOwnerId');
      if (owner !== undefined && owner !== cp.model.accountId) throw groupNameNotFound(sourceName!, vpcOf(cp));
      rule.referencedGroupId = groupByName(cp, sourceName!).groupId;
    }
    return [rule];
  }
  if (perms.length === 0) throw missingParameter('IpPermissions');
  const out: AskedRule[] = [];
  for (const perm of perms) {
    const protocol = protocolOf(perm.required('IpProtocol'));
    const base = { ipProtocol: protocol, ...portsOf(protocol, perm.int('FromPort'), perm.int('ToPort')) };
    const before = out.length;
    for (const r of perm.list('IpRanges')) {
      const description = descriptionOf(r);
      out.push({ ...base, cidrIpv4: cidrV4(r.required('CidrIp')), ...(description !== undefined ? { description } : {}) });
    }
    for (const r of perm.list('Ipv6Ranges')) {
      const description = descriptionOf(r);
      out.push({ ...base, cidrIpv6: cidrV6(r.required('CidrIpv6')), ...(description !== undefined ? { description } : {}) });
    }
    // the SDKs and the CLI send EC2's query name `Groups`; the shape's member name is UserIdGroupPairs
    for (const r of [...perm.list('Groups'), ...perm.list('UserIdGroupPairs')]) {
      const description = descriptionOf(r);
      out.push({ ...base, referencedGroupId: sourceGroupId(cp, r), ...(description !== undefined ? { description } : {}) });
    }
    for (const r of perm.list('PrefixListIds')) {
      const id = r.required('PrefixListId');
      throw new Ec2Error('InvalidPrefixListId.NotFound', `The prefix list ID '${id}' does not exist (localefs has no prefix lists)`);
    }
    if (out.length === before) {
      throw new Ec2Error('MissingParameter', `The request must contain a source in ${perm.path}: IpRanges, Ipv6Ranges or UserIdGroupPairs (Groups)`);
    }
  }
  const seen = new Set<string>();
  for (const rule of out) {
    const key = ruleKey(rule);
    if (seen.has(key)) throw invalidParameterValue('The same permission must not appear multiple times');
    seen.add(key);
  }
  return out;
}

/** TagSpecification.N for a new security group. */
export function tagsOf(input: Ec2Input): Tag[] {
  const tags: Tag[] = [];
  for (const spec of input.list('TagSpecification')) {
    const type = spec.string('ResourceType');
    if (type !== undefined && type !== 'security-group') throw invalidParameterValue(`'${type}' is not a valid taggable resource type for this operation.`);
    for (const t of spec.list('Tag')) {
      const key = t.required('Key');
      const value = t.string('Value') ?? '';
      if (key.length < 1 || key.length > 128) throw invalidParameterValue(`Tag key '${key.slice(0, 140)}' is invalid: it must be 1 to 128 characters.`);
      if (key.toLowerCase().startsWith('aws:')) throw invalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use");
      if (value.length > 256) throw invalidParameterValue(`Tag value for key '${key}' is invalid: it must be at most 256 characters.`);
      if (tags.some((x) => x.key === key)) throw invalidParameterValue(`Duplicate tag key '${key}' specified.`);
      tags.push({ key, value });
    }
  }
  if (tags.length > MAX_TAGS) throw new Ec2Error('TagLimitExceeded', `The maximum number of Tags for a resource (${MAX_TAGS}) has been exceeded.`);
  return tags;
}
