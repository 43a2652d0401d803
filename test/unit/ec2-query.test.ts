import { describe, expect, it } from 'vitest';
import { Ec2Input, parseForm } from '../../src/api/ec2/query.js';
import { escapeXml, xmlError, xmlResponse } from '../../src/api/ec2/xml.js';
import { Ec2Error } from '../../src/api/ec2/errors.js';
import { wildcardMatch } from '../../src/api/ec2/filters.js';

// EC2's query protocol: the form parser (flattened lists and structures) and
// the XML writer.

const input = (text: string): Ec2Input => new Ec2Input(parseForm(text));

function ec2ErrorOf(fn: () => unknown): Ec2Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Ec2Error) return err;
    throw err;
  }
  throw new Error('expected an Ec2Error');
}

describe('parseForm and Ec2Input', () => {
  it('reads plain members', () => {
    const i = input('Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web');
    expect(i.string('Action')).toBe('CreateSecurityGroup');
    expect(i.string('GroupName')).toBe('web');
  });

  it('an absent member is undefined', () => {
    expect(input('Action=X').string('GroupName')).toBeUndefined();
  });

  it('decodes percent escapes and + as a space (botocore sends spaces as +)', () => {
    expect(input('GroupDescription=my+app%20servers%2B%26').string('GroupDescription')).toBe('my app servers+&');
  });

  it('GroupId.N is a list in index order, not in wire order', () => {
    expect(input('GroupId.2=sg-b&GroupId.1=sg-a&GroupId.10=sg-j').stringList('GroupId')).toEqual(['sg-a', 'sg-b', 'sg-j']);
  });

  it('a bare GroupId is a list of one', () => {
    expect(input('GroupId=sg-a').stringList('GroupId')).toEqual(['sg-a']);
  });

  it('an absent list is empty', () => {
    expect(input('Action=X').stringList('GroupId')).toEqual([]);
  });

  it('Filter.N.Name and Filter.N.Value.M', () => {
    const filters = input('Filter.1.Name=group-name&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1').list('Filter');
    expect(filters.map((f) => [f.string('Name'), f.stringList('Value')])).toEqual([
      ['group-name', ['a', 'b']],
      ['vpc-id', ['vpc-1']],
    ]);
  });

  it('IpPermissions.N with IpRanges, Ipv6Ranges and Groups (UserIdGroupPairs)', () => {
    const [perm] = input(
      'IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=2049&IpPermissions.1.ToPort=2049' +
        '&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8&IpPermissions.1.IpRanges.1.Description=office' +
        '&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=%3A%3A%2F0&IpPermissions.1.Groups.1.GroupId=sg-a',
    ).list('IpPermissions');
    expect(perm!.string('IpProtocol')).toBe('tcp');
    expect(perm!.int('FromPort')).toBe(2049);
    expect(perm!.list('IpRanges').map((r) => [r.string('CidrIp'), r.string('Description')])).toEqual([['10.0.0.0/8', 'office']]);
    expect(perm!.list('Ipv6Ranges').map((r) => r.string('CidrIpv6'))).toEqual(['::/0']);
    expect(perm!.list('Groups').map((r) => r.string('GroupId'))).toEqual(['sg-a']);
  });

  it('TagSpecification.N.Tag.M.Key', () => {
    const [spec] = input('TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=team&TagSpecification.1.Tag.1.Value=storage').list('TagSpecification');
    expect(spec!.string('ResourceType')).toBe('security-group');
    expect(spec!.list('Tag').map((t) => [t.string('Key'), t.string('Value')])).toEqual([['team', 'storage']]);
  });

  it('list members keep their path for messages', () => {
    const [perm] = input('IpPermissions.3.FromPort=1').list('IpPermissions');
    expect(perm!.path).toBe('IpPermissions.3.');
  });

  it('a missing required member: MissingParameter naming it with its path', () => {
    const [perm] = input('IpPermissions.1.FromPort=1').list('IpPermissions');
    const err = ec2ErrorOf(() => perm!.required('IpProtocol'));
    expect([err.code, err.message, err.status]).toEqual(['MissingParameter', 'The request must contain the parameter IpPermissions.1.IpProtocol', 400]);
  });

  it('a non-integer where an integer belongs: InvalidParameterValue', () => {
    expect(ec2ErrorOf(() => input('FromPort=22x').int('FromPort')).code).toBe('InvalidParameterValue');
  });

  it('negative integers are integers (-1: all ICMP types)', () => {
    expect(input('FromPort=-1').int('FromPort')).toBe(-1);
  });

  it('booleans are true or false; anything else: InvalidParameterValue', () => {
    expect(input('DryRun=true').bool('DryRun')).toBe(true);
    expect(input('DryRun=FALSE').bool('DryRun')).toBe(false);
    expect(ec2ErrorOf(() => input('DryRun=yes').bool('DryRun')).code).toBe('InvalidParameterValue');
  });

  it('a key deeper than EC2 nests, or with an empty segment: InvalidParameterValue', () => {
    expect(ec2ErrorOf(() => parseForm('a.b.c.d.e.f.g.h.i=1')).code).toBe('InvalidParameterValue');
    expect(ec2ErrorOf(() => parseForm('GroupId..1=sg-a')).code).toBe('InvalidParameterValue');
  });

  it('a later body adds to the query string parameters (GET and POST together)', () => {
    const tree = parseForm('Action=DescribeSecurityGroups');
    parseForm('GroupId.1=sg-a', tree);
    const i = new Ec2Input(tree);
    expect([i.string('Action'), i.stringList('GroupId')]).toEqual(['DescribeSecurityGroups', ['sg-a']]);
  });

  it('the tree as JSON (the audit record): lists as arrays, names in lowerCamel', () => {
    const tree = parseForm('GroupId=sg-a&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8');
    expect(tree.toJSON()).toEqual({ groupId: 'sg-a', ipPermissions: [{ ipProtocol: 'tcp', ipRanges: [{ cidrIp: '10.0.0.0/8' }] }] });
  });
});

describe('the XML writer', () => {
  it('a response: declaration, <ActionResponse> in the EC2 namespace, requestId first', () => {
    expect(xmlResponse('DeleteSecurityGroup', 'req-1', { return: true, groupId: 'sg-a' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteSecurityGroupResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><return>true</return><groupId>sg-a</groupId></DeleteSecurityGroupResponse>',
    );
  });

  it('lists as <item> elements, structures nested, numbers as text', () => {
    const xml = xmlResponse('X', 'r', { securityGroupInfo: [{ groupId: 'sg-a', ipPermissions: [{ ipProtocol: 'tcp', fromPort: 22 }] }] });
    expect(xml).toContain('<securityGroupInfo><item><groupId>sg-a</groupId><ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort></item></ipPermissions></item></securityGroupInfo>');
  });

  it('an empty list is an empty element (<ipRanges/>)', () => {
    expect(xmlResponse('X', 'r', { ipRanges: [] })).toContain('<requestId>r</requestId><ipRanges/></XResponse>');
  });

  it('an undefined member has no element', () => {
    expect(xmlResponse('X', 'r', { nextToken: undefined, a: 'b' })).toContain('<requestId>r</requestId><a>b</a></XResponse>');
  });

  it('text is escaped', () => {
    expect(xmlResponse('X', 'r', { groupDescription: `a<b>&"c'` })).toContain('<groupDescription>a&lt;b&gt;&amp;&quot;c&apos;</groupDescription>');
  });

  it('characters XML 1.0 cannot carry become U+FFFD', () => {
    expect(escapeXml('a\u0001b\uD800c')).toBe('a\uFFFDb\uFFFDc');
  });

  it('an error: Response/Errors/Error with Code and Message, then RequestID', () => {
    expect(xmlError('InvalidGroup.NotFound', "The security group 'sg-a' does not exist", 'req-2')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group &apos;sg-a&apos; does not exist</Message></Error></Errors><RequestID>req-2</RequestID></Response>',
    );
  });
});

describe('filter wildcards', () => {
  it.each([
    ['web', 'web', true],
    ['web', 'webs', false],
    ['web*', 'web-servers', true],
    ['*-servers', 'web-servers', true],
    ['w?b', 'wxb', true],
    ['w?b', 'wb', false],
    ['*', '', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['10.0.*', '10.0.0.0/8', true],
    ['.*', 'anything', false],
  ])('%s matches %s: %s', (pattern, text, expected) => {
    expect(wildcardMatch(pattern, text)).toBe(expected);
  });

  // a backtracking matcher would not finish this within the test's timeout (no wall-clock assertion)
  it('a pattern of many stars against a long text answers', { timeout: 10_000 }, () => {
    expect(wildcardMatch('*a'.repeat(500) + 'b', 'a'.repeat(255))).toBe(false);
  });
});
