/**
 * The EC2 security group calls: CreateSecurityGroup, DescribeSecurityGroups,
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress and
 * DeleteSecurityGroup, with EC2's answers and error codes. One VPC (the
 * model's); its default group always exists and cannot be deleted. Changes run
 * one at a time and are saved before they answer, as the EFS calls do.
 */
import type { ControlPlane } from '../control-plane.js';
import { DEFAULT_GROUP_NAME, type SecurityGroup, type SecurityGroupRule } from '../../model/security-groups.js';
import {
  SECURITY_GROUP_RULE_ID_RE,
  allTrafficEgress,
  groupDescriptionProblem,
  groupNameProblem,
  isIpv4Cidr,
  isIpv6Cidr,
  newSecurityGroupId,
  newSecurityGroupRuleId,
  normaliseProtocol,
  protocolHasPorts,
  ruleDescriptionProblem,
  ruleKey,
  rulePorts,
  securityGroupArn,
  securityGroupByName,
  securityGroupDependent,
  securityGroupRuleArn,
} from '../../model/security-group-rules.js';
import { SECURITY_GROUP_ID_RE, defaultSecurityGroupFor, vpcIdFor, type Tag } from '../../model/types.js';
import { Ec2Error, groupNameNotFound, groupNotFound, invalidParameterValue, malformedGroupId, missingParameter } from './errors.js';
import type { Ec2Input } from './query.js';
import type { XmlValue } from './xml.js';

export interface Ec2Operation {
  action: string;
  /** CloudTrail's readOnly. */
  readOnly: boolean;
  /** The IAM resource of the call (ec2:<action> on it): a group's ARN, or `*`. */
  resource(cp: ControlPlane, input: Ec2Input): string;
  /** The response members (after requestId). */
  handler(cp: ControlPlane, input: Ec2Input): Promise<Record<string, XmlValue>>;
}

/** EC2's quotas: groups per VPC, inbound rules per group. */
export const MAX_GROUPS_PER_VPC = 2500;
export const MAX_RULES_PER_GROUP = 60;
const MAX_TAGS = 50;

const vpcOf = (cp: ControlPlane): string => vpcIdFor(cp.model.accountId, cp.region);

/** A group by id (malformed: InvalidGroupId.Malformed; unknown: InvalidGroup.NotFound). */
export function groupById(cp: ControlPlane, id: string): SecurityGroup {
  if (!SECURITY_GROUP_ID_RE.test(id)) throw malformedGroupId(id);
  const g = cp.model.securityGroups.get(id);
  // a group of another region's VPC is not found from this one, as on AWS
  if (!g || g.vpcId !== vpcOf(cp)) throw groupNotFound(id);
  return g;
}

function groupByName(cp: ControlPlane, name: string): SecurityGroup {
  const g = securityGroupByName(cp.model, vpcOf(cp), name);
  if (!g) throw groupNameNotFound(name, vpcOf(cp));
  return g;
}

/** The group a call acts on: GroupId, else GroupName (names are looked up in the one VPC, EC2's default VPC). */
function targetGroup(cp: ControlPlane, input: Ec2Input): SecurityGroup {
  const id = input.string('GroupId');
  if (id !== undefined) return groupById(cp, id);
  const name = input.string('GroupName');
  if (name !== undefined) return groupByName(cp, name);
  throw new Ec2Error('MissingParameter', 'The request must contain the parameter groupName or groupId');
}

/** IAM resource of a call naming one group: its ARN (by id as given, or by name when it exists), else `*`. */
function targetResource(cp: ControlPlane, input: Ec2Input): string {
  const { region, accountId } = cp.model;
  const id = input.string('GroupId');
  if (id !== undefined && id !== '') return securityGroupArn(region, accountId, id);
  const name = input.string('GroupName');
  const g = name !== undefined ? securityGroupByName(cp.model, vpcOf(cp), name) : undefined;
  return g ? securityGroupArn(region, accountId, g.groupId) : '*';
}

// ---------------------------------------------------------------------------
// Wire shapes
// ---------------------------------------------------------------------------

const tagSet = (tags: Tag[]): XmlValue => tags.map((t) => ({ key: t.key, value: t.value }));

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
function describeRule(g: SecurityGroup, r: SecurityGroupRule, isEgress: boolean, region: string): XmlValue {
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
function describeRevoked(g: SecurityGroup, r: SecurityGroupRule): XmlValue {
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
function ruleText(r: SecurityGroupRule): string {
  const peer = r.cidrIpv4 ?? r.cidrIpv6 ?? r.referencedGroupId ?? '';
  const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
  if (r.ipProtocol === 'tcp' || r.ipProtocol === 'udp') return `peer: ${peer}, ${proto}, from port: ${r.fromPort}, to port: ${r.toPort}, ALLOW`;
  if (r.ipProtocol === 'icmp' || r.ipProtocol === 'icmpv6') return `peer: ${peer}, ${proto}, type: ${r.fromPort}, code: ${r.toPort}, ALLOW`;
  return `peer: ${peer}, ${proto}, ALLOW`;
}

// ---------------------------------------------------------------------------
// Requests: permissions and tags
// ---------------------------------------------------------------------------

/** A rule the request asks for (no id yet), with the permission it came from (for unknownIpPermissionSet). */
interface AskedRule {
  rule: Omit<SecurityGroupRule, 'ruleId'>;
  permission: number;
}

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
    if (!SECURITY_GROUP_ID_RE.test(id)) throw malformedGroupId(id);
    const g = cp.model.securityGroups.get(id);
    if (!g || (userId !== undefined && userId !== g.ownerId)) throw groupNotFound(id);
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

const LEGACY_MEMBERS = ['CidrIp', 'IpProtocol', 'FromPort', 'ToPort', 'SourceSecurityGroupName', 'SourceSecurityGroupOwnerId'];

/**
 * The rules a request names: `IpPermissions.N` (protocol, ports, and one rule
 * per source in IpRanges, Ipv6Ranges, Groups / UserIdGroupPairs), or the
 * legacy flat CidrIp / IpProtocol / FromPort / ToPort / SourceSecurityGroupName.
 */
function askedRules(cp: ControlPlane, input: Ec2Input): AskedRule[] {
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
    return [{ rule, permission: 0 }];
  }
  if (perms.length === 0) throw missingParameter('IpPermissions');
  const out: AskedRule[] = [];
  perms.forEach((perm, permission) => {
    const protocol = protocolOf(perm.required('IpProtocol'));
    const base = { ipProtocol: protocol, ...portsOf(protocol, perm.int('FromPort'), perm.int('ToPort')) };
    const before = out.length;
    for (const r of perm.list('IpRanges')) {
      const description = descriptionOf(r);
      out.push({ rule: { ...base, cidrIpv4: cidrV4(r.required('CidrIp')), ...(description !== undefined ? { description } : {}) }, permission });
    }
    for (const r of perm.list('Ipv6Ranges')) {
      const description = descriptionOf(r);
      out.push({ rule: { ...base, cidrIpv6: cidrV6(r.required('CidrIpv6')), ...(description !== undefined ? { description } : {}) }, permission });
    }
    // the SDKs and the CLI send EC2's query name `Groups`; the shape's member name is UserIdGroupPairs
    for (const r of [...perm.list('Groups'), ...perm.list('UserIdGroupPairs')]) {
      const description = descriptionOf(r);
      out.push({ rule: { ...base, referencedGroupId: sourceGroupId(cp, r), ...(description !== undefined ? { description } : {}) }, permission });
    }
    for (const r of perm.list('PrefixListIds')) {
      const id = r.required('PrefixListId');
      throw new Ec2Error('InvalidPrefixListId.NotFound', `The prefix list ID '${id}' does not exist (localefs has no prefix lists)`);
    }
    if (out.length === before) {
      throw new Ec2Error('MissingParameter', `The request must contain a source in ${perm.path}: IpRanges, Ipv6Ranges or UserIdGroupPairs (Groups)`);
    }
  });
  const seen = new Set<string>();
  for (const { rule } of out) {
    const key = ruleKey(rule);
    if (seen.has(key)) throw invalidParameterValue('The same permission must not appear multiple times');
    seen.add(key);
  }
  return out;
}

/** TagSpecification.N for a new security group. */
function tagsOf(input: Ec2Input): Tag[] {
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

// ---------------------------------------------------------------------------
// DescribeSecurityGroups filters
// ---------------------------------------------------------------------------

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
function isFilterName(name: string): boolean {
  if (name.startsWith('tag:')) return name.length > 4;
  if (GROUP_FILTERS.includes(name)) return true;
  const m = PERMISSION_FILTER_RE.exec(name);
  return m !== null && PERMISSION_FIELDS.includes(m[2]!);
}

/** The values a group has for a filter (isFilterName). */
function filterValues(cp: ControlPlane, g: SecurityGroup, name: string): string[] {
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

// ---------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------

export const createSecurityGroup: Ec2Operation = {
  action: 'CreateSecurityGroup',
  readOnly: false,
  resource: () => '*',
  async handler(cp, input) {
    const name = input.required('GroupName');
    const description = input.required('GroupDescription');
    const vpcId = input.string('VpcId');
    if (name.toLowerCase() === DEFAULT_GROUP_NAME) throw new Ec2Error('InvalidGroup.Reserved', `The security group '${name}' is reserved`);
    const nameProblem = groupNameProblem(name);
    if (nameProblem) throw invalidParameterValue(nameProblem);
    const descriptionProblem = groupDescriptionProblem(description);
    if (descriptionProblem) throw invalidParameterValue(descriptionProblem);
    const tags = tagsOf(input);
    return cp.exclusive(async () => {
      const vpc = vpcOf(cp);
      if (vpcId !== undefined && vpcId !== vpc) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
      if (securityGroupByName(cp.model, vpc, name)) throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpc}'`);
      const inVpc = [...cp.model.securityGroups.values()].filter((g) => g.vpcId === vpc).length;
      if (inVpc >= MAX_GROUPS_PER_VPC) {
        throw new Ec2Error('SecurityGroupLimitExceeded', `The maximum number of security groups for VPC '${vpc}' has been reached.`);
      }
      let groupId = newSecurityGroupId();
      while (cp.model.securityGroups.has(groupId)) groupId = newSecurityGroupId();
      const g: SecurityGroup = {
        groupId,
        groupName: name,
        description,
        vpcId: vpc,
        ownerId: cp.model.accountId,
        ingress: [],
        egress: [allTrafficEgress(newSecurityGroupRuleId())],
        tags,
      };
      cp.model.securityGroups.set(groupId, g);
      await cp.save();
      cp.log.info({ groupId, groupName: name }, 'security group created');
      return {
        return: true,
        groupId,
        tagSet: tags.length > 0 ? tagSet(tags) : undefined,
        securityGroupArn: securityGroupArn(cp.region, g.ownerId, groupId),
      };
    });
  },
};

export const describeSecurityGroups: Ec2Operation = {
  action: 'DescribeSecurityGroups',
  readOnly: true,
  resource: () => '*',
  async handler(cp, input) {
    const ids = input.stringList('GroupId');
    const names = input.stringList('GroupName');
    const maxResults = input.int('MaxResults');
    const nextToken = input.string('NextToken');
    if (maxResults !== undefined) {
      if (ids.length > 0 || names.length > 0) {
        throw new Ec2Error('InvalidParameterCombination', `The parameter ${ids.length > 0 ? 'groupIds' : 'groupNames'} cannot be used with the parameter maxResults`);
      }
      if (maxResults < 5 || maxResults > 1000) throw invalidParameterValue(`Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value from 5 to 1000.`);
    }
    const filters = input.list('Filter').map((f) => {
      const name = f.required('Name');
      const values = f.stringList('Value');
      if (values.length === 0) throw invalidParameterValue(`The filter '${name}' needs at least one value`);
      return { name, patterns: values };
    });
    let groups: SecurityGroup[];
    if (ids.length > 0 || names.length > 0) {
      const picked = new Map<string, SecurityGroup>();
      for (const id of ids) picked.set(id, groupById(cp, id));
      for (const name of names) {
        const g = groupByName(cp, name);
        picked.set(g.groupId, g);
      }
      groups = [...picked.values()];
    } else groups = [...cp.model.securityGroups.values()].filter((g) => g.vpcId === vpcOf(cp));
    for (const f of filters) if (!isFilterName(f.name)) throw invalidParameterValue(`The filter '${f.name}' is invalid`);
    groups = groups.filter((g) => filters.every((f) => filterValues(cp, g, f.name).some((v) => f.patterns.some((p) => wildcardMatch(p, v)))));
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    if (nextToken !== undefined) {
      let after: unknown;
      try {
        after = (JSON.parse(Buffer.from(nextToken, 'base64url').toString('utf8')) as { after?: unknown }).after;
      } catch {
        after = undefined;
      }
      if (typeof after !== 'string') throw invalidParameterValue(`Invalid value '${nextToken}' for nextToken`);
      groups = groups.filter((g) => g.groupId > after);
    }
    let token: string | undefined;
    if (maxResults !== undefined && groups.length > maxResults) {
      groups = groups.slice(0, maxResults);
      token = Buffer.from(JSON.stringify({ after: groups[groups.length - 1]!.groupId })).toString('base64url');
    }
    return { securityGroupInfo: groups.map((g) => describeGroup(g, cp.region)), nextToken: token };
  },
};

export const authorizeSecurityGroupIngress: Ec2Operation = {
  action: 'AuthorizeSecurityGroupIngress',
  readOnly: false,
  resource: targetResource,
  async handler(cp, input) {
    return cp.exclusive(async () => {
      const g = targetGroup(cp, input);
      const asked = askedRules(cp, input);
      const existing = new Map(g.ingress.map((r) => [ruleKey(r), r]));
      for (const { rule } of asked) {
        const there = existing.get(ruleKey(rule));
        if (there) throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${ruleText(there)}" already exists`);
      }
      if (g.ingress.length + asked.length > MAX_RULES_PER_GROUP) {
        throw new Ec2Error('RulesPerSecurityGroupLimitExceeded', `The maximum number of rules per security group (${MAX_RULES_PER_GROUP}) has been reached.`);
      }
      const added = asked.map(({ rule }) => ({ ruleId: newSecurityGroupRuleId(), ...rule }));
      g.ingress.push(...added);
      await cp.save();
      return { return: true, securityGroupRuleSet: added.map((r) => describeRule(g, r, false, cp.region)) };
    });
  },
};

export const revokeSecurityGroupIngress: Ec2Operation = {
  action: 'RevokeSecurityGroupIngress',
  readOnly: false,
  resource: targetResource,
  async handler(cp, input) {
    return cp.exclusive(async () => {
      const g = targetGroup(cp, input);
      const ruleIds = input.stringList('SecurityGroupRuleId');
      let revoked: SecurityGroupRule[];
      let unknown: XmlValue[] | undefined;
      if (ruleIds.length > 0) {
        if (input.has('IpPermissions') || LEGACY_MEMBERS.some((m) => input.has(m))) {
          throw new Ec2Error('InvalidParameterCombination', 'The parameter SecurityGroupRuleIds cannot be used with the parameter IpPermissions');
        }
        revoked = ruleIds.map((id) => {
          if (!SECURITY_GROUP_RULE_ID_RE.test(id)) throw new Ec2Error('InvalidSecurityGroupRuleId.Malformed', `Invalid id: "${id}" (expecting "sgr-...")`);
          const r = g.ingress.find((x) => x.ruleId === id);
          if (!r) throw new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`);
          return r;
        });
      } else {
        // EC2: rules that match are revoked; if none does, InvalidPermission.NotFound; otherwise the
        // permissions that matched nothing come back in unknownIpPermissionSet
        const asked = askedRules(cp, input);
        const byKey = new Map(g.ingress.map((r) => [ruleKey(r), r]));
        revoked = [];
        const missing: SecurityGroupRule[] = [];
        for (const { rule } of asked) {
          const r = byKey.get(ruleKey(rule));
          if (r) revoked.push(r);
          else missing.push({ ruleId: '', ...rule });
        }
        if (revoked.length === 0) throw new Ec2Error('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
        if (missing.length > 0) unknown = ipPermissions(missing, g.ownerId);
      }
      const gone = new Set(revoked.map((r) => r.ruleId));
      g.ingress = g.ingress.filter((r) => !gone.has(r.ruleId));
      await cp.save();
      return { return: true, unknownIpPermissionSet: unknown, revokedSecurityGroupRuleSet: revoked.map((r) => describeRevoked(g, r)) };
    });
  },
};

export const deleteSecurityGroup: Ec2Operation = {
  action: 'DeleteSecurityGroup',
  readOnly: false,
  resource: targetResource,
  async handler(cp, input) {
    return cp.exclusive(async () => {
      const g = targetGroup(cp, input);
      if (g.groupId === defaultSecurityGroupFor(cp.model.accountId, cp.region)) {
        throw new Ec2Error('CannotDelete', `the specified group: "${g.groupId}" name: "${g.groupName}" cannot be deleted by a user`);
      }
      const dependent = securityGroupDependent(cp.model, g.groupId);
      if (dependent !== undefined) throw new Ec2Error('DependencyViolation', `resource ${g.groupId} has a dependent object`);
      cp.model.securityGroups.delete(g.groupId);
      await cp.save();
      cp.log.info({ groupId: g.groupId, groupName: g.groupName }, 'security group deleted');
      return { return: true, groupId: g.groupId };
    });
  },
};

export const EC2_OPERATIONS: Ec2Operation[] = [
  createSecurityGroup,
  describeSecurityGroups,
  authorizeSecurityGroupIngress,
  revokeSecurityGroupIngress,
  deleteSecurityGroup,
];
