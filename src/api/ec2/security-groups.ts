/**
 * The EC2 security group calls: CreateSecurityGroup, DescribeSecurityGroups,
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress and
 * DeleteSecurityGroup, with EC2's answers and error codes. One VPC per region
 * (the request's); its default group always exists and cannot be deleted.
 * Changes run one at a time and are saved before they answer, as the EFS calls
 * do. Lookups, rule parsing, filters and the XML shapes are their own modules.
 */
import type { ControlPlane } from '../control-plane.js';
import { DEFAULT_GROUP_NAME, type SecurityGroup, type SecurityGroupRule } from '../../model/security-groups.js';
import {
  SECURITY_GROUP_RULE_ID_RE,
  allTrafficEgress,
  groupDescriptionProblem,
  groupNameProblem,
  newSecurityGroupId,
  newSecurityGroupRuleId,
  ruleKey,
  securityGroupArn,
  securityGroupByName,
  securityGroupDependent,
} from '../../model/security-group-rules.js';
import { defaultSecurityGroupFor } from '../../model/types.js';
import { Ec2Error, invalidParameterValue } from './errors.js';
import type { Ec2Input } from './query.js';
import type { XmlValue } from './xml.js';
import { groupById, groupByName, targetGroup, targetResource, vpcOf } from './lookup.js';
import { describeGroup, describeRevoked, describeRule, ipPermissions, ruleText, tagSet } from './describe.js';
import { LEGACY_MEMBERS, askedRules, tagsOf } from './rule-input.js';
import { filterValues, isFilterName, wildcardMatch } from './filters.js';

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
      for (const rule of asked) {
        const there = existing.get(ruleKey(rule));
        if (there) throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${ruleText(there)}" already exists`);
      }
      if (g.ingress.length + asked.length > MAX_RULES_PER_GROUP) {
        throw new Ec2Error('RulesPerSecurityGroupLimitExceeded', `The maximum number of rules per security group (${MAX_RULES_PER_GROUP}) has been reached.`);
      }
      const added = asked.map((rule) => ({ ruleId: newSecurityGroupRuleId(), ...rule }));
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
        for (const rule of asked) {
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
