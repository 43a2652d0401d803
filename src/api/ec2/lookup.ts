/** Finding the security group an EC2 call names, in the VPC of the request's region. */
import type { ControlPlane } from '../control-plane.js';
import { type SecurityGroup } from '../../model/security-groups.js';
import { securityGroupArn, securityGroupByName } from '../../model/security-group-rules.js';
import { SECURITY_GROUP_ID_RE, vpcIdFor } from '../../model/types.js';
import { Ec2Error, groupNameNotFound, groupNotFound, malformedGroupId } from './errors.js';
import type { Ec2Input } from './query.js';

export const vpcOf = (cp: ControlPlane): string => vpcIdFor(cp.model.accountId, cp.region);

/** A group by id (malformed: InvalidGroupId.Malformed; unknown: InvalidGroup.NotFound). */
export function groupById(cp: ControlPlane, id: string): SecurityGroup {
  if (!SECURITY_GROUP_ID_RE.test(id)) throw malformedGroupId(id);
  const g = cp.model.securityGroups.get(id);
  // a group of another region's VPC is not found from this one, as on AWS
  if (!g || g.vpcId !== vpcOf(cp)) throw groupNotFound(id);
  return g;
}

export function groupByName(cp: ControlPlane, name: string): SecurityGroup {
  const g = securityGroupByName(cp.model, vpcOf(cp), name);
  if (!g) throw groupNameNotFound(name, vpcOf(cp));
  return g;
}

/** The group a call acts on: GroupId, else GroupName (names are looked up in the one VPC, EC2's default VPC). */
export function targetGroup(cp: ControlPlane, input: Ec2Input): SecurityGroup {
  const id = input.string('GroupId');
  if (id !== undefined) return groupById(cp, id);
  const name = input.string('GroupName');
  if (name !== undefined) return groupByName(cp, name);
  throw new Ec2Error('MissingParameter', 'The request must contain the parameter groupName or groupId');
}

/** IAM resource of a call naming one group: its ARN (by id as given, or by name when it exists), else `*`. */
export function targetResource(cp: ControlPlane, input: Ec2Input): string {
  const { region } = cp;
  const { accountId } = cp.model;
  const id = input.string('GroupId');
  if (id !== undefined && id !== '') return securityGroupArn(region, accountId, id);
  const name = input.string('GroupName');
  const g = name !== undefined ? securityGroupByName(cp.model, vpcOf(cp), name) : undefined;
  return g ? securityGroupArn(region, accountId, g.groupId) : '*';
}
