/**
 * Security-group evaluation for mount-target connections (src/policy/security-groups.ts):
 * EC2's inbound semantics for TCP to port 2049.
 */
import { describe, expect, test } from 'vitest';
import { securityGroupsAdmit } from '../../src/policy/security-groups.js';
import { adoptUnknownSecurityGroups, ensureDefaultSecurityGroup, newDefaultSecurityGroup, type SecurityGroup, type SecurityGroupRule } from '../../src/model/security-groups.js';
import { defaultSecurityGroupFor, type MountTarget } from '../../src/model/types.js';
import { normaliseProtocol } from '../../src/model/security-group-rules.js';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
let n = 0;
const rule = (r: Omit<SecurityGroupRule, 'ruleId'>): SecurityGroupRule => ({ ruleId: `sgr-${(n++).toString(16).padStart(17, '0')}`, ...r });
const group = (groupId: string, ingress: SecurityGroupRule[]): SecurityGroup => ({
  groupId,
  groupName: groupId,
  description: 'test',
  vpcId: 'vpc-0',
  ownerId: ACCOUNT,
  ingress,
  egress: [],
  tags: [],
});

const APP = 'sg-0000000000000000a';
const DB = 'sg-0000000000000000b';
const groups = new Map<string, SecurityGroup>();
const lookup = (id: string) => groups.get(id);
const none = new Map<string, string[]>();

describe('one rule against one address', () => {
  const cases: [string, Omit<SecurityGroupRule, 'ruleId'>, string, boolean][] = [
    ['tcp 2049 from the client /32', { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '10.1.2.3/32' }, '10.1.2.3', true],
    ['tcp 2049 from another /32', { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '10.1.2.4/32' }, '10.1.2.3', false],
    ['tcp 2049 from a /8 holding the client', { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '10.0.0.0/8' }, '10.1.2.3', true],
    ['tcp 2000-2100 covers 2049', { ipProtocol: 'tcp', fromPort: 2000, toPort: 2100, cidrIpv4: '0.0.0.0/0' }, '10.1.2.3', true],
    ['tcp 22 does not cover 2049', { ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' }, '10.1.2.3', false],
    ['udp 2049 is not TCP', { ipProtocol: 'udp', fromPort: 2049, toPort: 2049, cidrIpv4: '0.0.0.0/0' }, '10.1.2.3', false],
    ['protocol number 6 is tcp (as stored)', { ipProtocol: normaliseProtocol('6')!, fromPort: 2049, toPort: 2049, cidrIpv4: '0.0.0.0/0' }, '10.1.2.3', true],
    ['all traffic (-1) covers every port', { ipProtocol: '-1', cidrIpv4: '10.1.2.0/24' }, '10.1.2.3', true],
    ['an IPv4-mapped IPv6 peer is its IPv4 address', { ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '127.0.0.0/8' }, '::ffff:127.0.0.1', true],
    ['an IPv4 rule does not admit an IPv6 client', { ipProtocol: '-1', cidrIpv4: '0.0.0.0/0' }, '::1', false],
    ['an IPv6 rule admits an IPv6 client in its range', { ipProtocol: '-1', cidrIpv6: '::1/128' }, '::1', true],
    ['::/0 does not admit an IPv4 client (separate families, as on EC2)', { ipProtocol: '-1', cidrIpv6: '::/0' }, '10.1.2.3', false],
  ];
  for (const [name, r, address, expected] of cases) {
    test(`${name}: ${expected ? 'admitted' : 'refused'}`, () => {
      groups.set(APP, group(APP, [rule(r)]));
      expect(securityGroupsAdmit([APP], lookup, address, none).admitted).toBe(expected);
    });
  }
});

describe('sets of groups', () => {
  test('the union of the groups decides, and the verdict names the admitting group and rule', () => {
    const dbRule = rule({ ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, cidrIpv4: '10.9.0.0/16' });
    groups.set(APP, group(APP, []));
    groups.set(DB, group(DB, [dbRule]));
    expect(securityGroupsAdmit([APP, DB], lookup, '10.9.1.1', none)).toEqual({ admitted: true, groupId: DB, ruleId: dbRule.ruleId });
    expect(securityGroupsAdmit([APP], lookup, '10.9.1.1', none)).toEqual({ admitted: false });
  });

  test('a group with no inbound rules admits nobody; an id the model does not hold admits nobody', () => {
    groups.set(APP, group(APP, []));
    expect(securityGroupsAdmit([APP], lookup, '127.0.0.1', none).admitted).toBe(false);
    expect(securityGroupsAdmit(['sg-00000000000000fff'], lookup, '127.0.0.1', none).admitted).toBe(false);
  });

  test('a rule naming a source group admits the members of that group (instances), nobody else', () => {
    groups.set(DB, group(DB, [rule({ ipProtocol: 'tcp', fromPort: 2049, toPort: 2049, referencedGroupId: APP })]));
    const instances = new Map([['10.0.0.5', [APP]], ['10.0.0.6', [DB]]]);
    expect(securityGroupsAdmit([DB], lookup, '10.0.0.5', instances).admitted).toBe(true);
    expect(securityGroupsAdmit([DB], lookup, '::ffff:10.0.0.5', instances).admitted).toBe(true);
    expect(securityGroupsAdmit([DB], lookup, '10.0.0.6', instances).admitted).toBe(false);
    expect(securityGroupsAdmit([DB], lookup, '10.0.0.7', instances).admitted).toBe(false);
  });
});

describe('the default group and adopted ids', () => {
  test('the VPC default group admits every client (the local convenience), IPv4 and IPv6', () => {
    const model = { accountId: ACCOUNT, region: REGION, securityGroups: new Map<string, SecurityGroup>() };
    ensureDefaultSecurityGroup(model);
    const id = defaultSecurityGroupFor(ACCOUNT, REGION);
    expect([...model.securityGroups.keys()]).toEqual([id]);
    expect(model.securityGroups.get(id)).toEqual(newDefaultSecurityGroup(ACCOUNT, REGION));
    const look = (g: string) => model.securityGroups.get(g);
    expect(securityGroupsAdmit([id], look, '192.0.2.1', none).admitted).toBe(true);
    expect(securityGroupsAdmit([id], look, '2001:db8::1', none).admitted).toBe(true);
  });

  test('a group a saved mount target names but the model lacks is adopted, admitting all (as before groups filtered)', () => {
    const old = 'sg-0123456789abcdef0';
    const mt = { securityGroups: [old] } as MountTarget;
    const model = { accountId: ACCOUNT, region: REGION, securityGroups: new Map<string, SecurityGroup>(), mountTargets: new Map([['fsmt-1', mt]]) };
    ensureDefaultSecurityGroup(model);
    expect(adoptUnknownSecurityGroups(model)).toEqual([old]);
    expect(adoptUnknownSecurityGroups(model)).toEqual([]);
    expect(model.securityGroups.get(old)!.groupName).toBe(`adopted-${old}`);
    expect(securityGroupsAdmit([old], (g) => model.securityGroups.get(g), '10.0.0.1', none).admitted).toBe(true);
  });
});
