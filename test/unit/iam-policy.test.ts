import { describe, expect, it } from 'vitest';
import { arnMatch, authorizeClient, evaluate, globMatch, putFileSystemPolicy, wouldLockOut, type RequestPrincipal } from '../../src/policy/iam.js';
import {
  PolicyError,
  normaliseFileSystemPolicy,
  parseConditionOperator,
  parseIdentityPolicy,
  serialisePolicy,
  type PolicyDocument,
} from '../../src/model/policy-document.js';

const FS = 'arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0';
const AP_A = 'arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0aaaaaaaaaaaaaaaa';
const AP_B = 'arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0bbbbbbbbbbbbbbbb';

const anon: RequestPrincipal = { kind: 'anonymous' };
const role = (name: string, acct = '111122223333'): RequestPrincipal => ({ kind: 'iam', arn: `arn:aws:iam::${acct}:role/${name}`, accountId: acct });
const clientStar = parseIdentityPolicy({ Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:Client*', Resource: '*' }] });

let n = 0;
const seqUuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

/** Put a policy as the API does (normalised), returning the stored document. */
function put(policy: object | string): PolicyDocument {
  return normaliseFileSystemPolicy(typeof policy === 'string' ? policy : JSON.stringify(policy), FS, { uuid: seqUuid });
}

interface Case {
  principal: RequestPrincipal;
  tls?: boolean;
  ap?: string;
  identity?: PolicyDocument[];
}

function mwr(policy: PolicyDocument | undefined, c: Case): string {
  const r = authorizeClient({
    principal: c.principal,
    fileSystemArn: FS,
    fsPolicy: policy,
    identityPolicies: c.identity,
    accessPointArn: c.ap,
    secureTransport: c.tls ?? false,
  });
  return `M${r.mount ? '✓' : '✗'} W${r.write ? '✓' : '✗'} R${r.root ? '✓' : '✗'}`;
}

describe('spec §3.6 vectors', () => {
  it('P1: no policy (default) allows everything, anonymous included', () => {
    expect(mwr(undefined, { principal: anon })).toBe('M✓ W✓ R✓');
    const r = authorizeClient({ principal: anon, fileSystemArn: FS, secureTransport: false });
    expect(r.decidedBy).toEqual({ mount: 'default-policy', write: 'default-policy', root: 'default-policy' });
  });

  it('P2: prevent root access by default', () => {
    const p = put({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
        },
      ],
    });
    expect(mwr(p, { principal: anon })).toBe('M✓ W✓ R✗');
    expect(mwr(p, { principal: role('any'), tls: true, identity: [clientStar] })).toBe('M✓ W✓ R✓');
  });

  it('P3: enforce read-only by default', () => {
    const p = put({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount', Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } } },
      ],
    });
    expect(mwr(p, { principal: anon })).toBe('M✓ W✗ R✗');
  });

  it('P4: allow all + enforce in-transit encryption', () => {
    const p = put({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: ['elasticfilesystem:ClientRootAccess', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientMount'],
          Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
        },
        { Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ],
    });
    expect(mwr(p, { principal: anon, tls: false })).toBe('M✗ W✗ R✗');
    expect(mwr(p, { principal: anon, tls: true })).toBe('M✓ W✓ R✓');
    const r = authorizeClient({ principal: anon, fileSystemArn: FS, fsPolicy: p, secureTransport: false });
    expect(r.decisions.mount.reason).toBe('explicit-deny');
    expect(r.decidedBy.mount).toBe(p.Statement[1].Sid);
  });

  it('P5: deny-only policy', () => {
    const p = put({ Statement: [{ Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] });
    expect(mwr(p, { principal: anon, tls: true })).toBe('M✗ W✗ R✗');
    expect(mwr(p, { principal: role('app'), tls: true, identity: [clientStar] })).toBe('M✓ W✓ R✓');
    expect(mwr(p, { principal: anon, tls: false })).toBe('M✗ W✗ R✗');
    const r = authorizeClient({ principal: anon, fileSystemArn: FS, fsPolicy: p, secureTransport: true });
    expect(r.decidedBy.mount).toBe('implicit-deny');
    const r2 = authorizeClient({ principal: role('app'), fileSystemArn: FS, fsPolicy: p, identityPolicies: [clientStar], secureTransport: true });
    expect(r2.decisions.mount).toMatchObject({ decision: 'allow', source: 'identity-policy', statement: 'identity[0].Statement[0]' });
  });

  it('P6: single role, read-only', () => {
    const p = put({
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/EfsReadOnly' }, Action: ['elasticfilesystem:ClientMount'], Resource: FS }],
    });
    expect(mwr(p, { principal: role('EfsReadOnly'), tls: true })).toBe('M✓ W✗ R✗');
    expect(mwr(p, { principal: anon }).startsWith('M✗')).toBe(true);
    expect(mwr(p, { principal: role('Other'), tls: true }).startsWith('M✗')).toBe(true);
  });

  it('P7: per-access-point roles', () => {
    const p = put({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:role/app1' },
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': AP_A } },
        },
      ],
    });
    expect(mwr(p, { principal: role('app1'), tls: true, ap: AP_A })).toBe('M✓ W✓ R✗');
    expect(mwr(p, { principal: role('app1'), tls: true, ap: AP_B }).startsWith('M✗')).toBe(true);
    expect(mwr(p, { principal: role('app1'), tls: true }).startsWith('M✗')).toBe(true);
  });

  it('P8: writes only through one access point (negated operator, missing key)', () => {
    const p = put({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 'elasticfilesystem:Client*' },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'elasticfilesystem:ClientWrite',
          Condition: { StringNotEquals: { 'elasticfilesystem:AccessPointArn': AP_A } },
        },
      ],
    });
    expect(mwr(p, { principal: anon, ap: AP_A })).toBe('M✓ W✓ R✓');
    expect(mwr(p, { principal: anon, ap: AP_B })).toBe('M✓ W✗ R✓');
    expect(mwr(p, { principal: anon })).toBe('M✓ W✗ R✓');
  });

  it('P9: whole account principal', () => {
    const p = put({
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'] }],
    });
    expect(mwr(p, { principal: role('anything'), tls: true })).toBe('M✓ W✓ R✗');
    expect(mwr(p, { principal: { kind: 'iam', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' }, tls: true })).toBe('M✓ W✓ R✗');
    expect(mwr(p, { principal: role('anything', '444455556666'), tls: true }).startsWith('M✗')).toBe(true);
    expect(mwr(p, { principal: anon }).startsWith('M✗')).toBe(true);
  });

  it('P10: TLS required via Allow condition; wildcard action', () => {
    const p = put({
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:Client*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }],
    });
    expect(mwr(p, { principal: anon, tls: false }).startsWith('M✗')).toBe(true);
    expect(mwr(p, { principal: anon, tls: true })).toBe('M✓ W✓ R✓');
  });
});

describe('PutFileSystemPolicy control-plane vectors', () => {
  const caller = { arn: 'arn:aws:iam::111122223333:role/admin', accountId: '111122223333' };
  const lockout = JSON.stringify({
    Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:role/admin' }, Action: 'elasticfilesystem:PutFileSystemPolicy' }],
  });

  function code(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (err) {
      if (err instanceof PolicyError) return err.code;
      throw err;
    }
    return undefined;
  }

  it('rejects a self-lockout unless the safety check is bypassed', () => {
    expect(code(() => putFileSystemPolicy({ policy: lockout, fileSystemArn: FS, caller }))).toBe('InvalidPolicyException');
    expect(() => putFileSystemPolicy({ policy: lockout, fileSystemArn: FS, caller, bypassPolicyLockoutSafetyCheck: true })).not.toThrow();
  });

  it('lockout via wildcard actions and whole-account principals; other principals are fine', () => {
    for (const action of ['*', 'elasticfilesystem:*', 'elasticfilesystem:Put*', 'ELASTICFILESYSTEM:putfilesystempolicy']) {
      const doc = put({ Statement: [{ Effect: 'Deny', Principal: { AWS: '111122223333' }, Action: action }] });
      expect(wouldLockOut(doc, caller.arn, caller.accountId, FS), action).toBe(true);
    }
    const other = put({ Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:role/other' }, Action: '*' }] });
    expect(wouldLockOut(other, caller.arn, caller.accountId, FS)).toBe(false);
    const clientOnly = put({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:Client*' }] });
    expect(wouldLockOut(clientOnly, caller.arn, caller.accountId, FS)).toBe(false);
    // the API is HTTPS: a "deny non-TLS" statement does not lock the caller out
    const nonTls = put({ Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] });
    expect(wouldLockOut(nonTls, caller.arn, caller.accountId, FS)).toBe(false);
    // a deny pinned to another file system does not apply
    const elsewhere = put({ Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: FS.replace('fs-0123', 'fs-0999') }] });
    expect(wouldLockOut(elsewhere, caller.arn, caller.accountId, FS)).toBe(false);
    expect(wouldLockOut(elsewhere, caller.arn, caller.accountId)).toBe(true);
  });

  it('rejects malformed JSON', () => {
    expect(code(() => putFileSystemPolicy({ policy: 'not json', fileSystemArn: FS, caller }))).toBe('InvalidPolicyException');
  });

  it('rejects a statement without Principal', () => {
    const p = '{"Statement":[{"Effect":"Allow","Action":"elasticfilesystem:ClientMount"}]}';
    expect(code(() => putFileSystemPolicy({ policy: p, fileSystemArn: FS, caller }))).toBe('InvalidPolicyException');
  });

  it('rejects a 20,001-character policy with BadRequest; 20,000 is fine', () => {
    const base = '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:ClientMount"}]}';
    const at = (len: number) => base.slice(0, -1) + ' '.repeat(len - base.length) + '}';
    expect(at(20_001).length).toBe(20_001);
    expect(code(() => putFileSystemPolicy({ policy: at(20_001), fileSystemArn: FS }))).toBe('BadRequest');
    expect(code(() => putFileSystemPolicy({ policy: at(20_000), fileSystemArn: FS }))).toBeUndefined();
    expect(code(() => putFileSystemPolicy({ policy: '', fileSystemArn: FS }))).toBe('BadRequest');
  });

  it('normalises: Version, efs-statement Sids, Resource = FS ARN; keeps given Sids and Resource', () => {
    const doc = putFileSystemPolicy({
      policy: JSON.stringify({
        Statement: [
          { Action: 'elasticfilesystem:ClientMount', Principal: { AWS: '*' }, Effect: 'Allow' },
          { Sid: 'mine', Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:ClientRootAccess', Resource: '*' },
        ],
      }),
      fileSystemArn: FS,
      caller,
    });
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement[0].Sid).toMatch(/^efs-statement-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(doc.Statement[0].Resource).toBe(FS);
    expect(Object.keys(doc.Statement[0])).toEqual(['Sid', 'Effect', 'Principal', 'Action', 'Resource']);
    expect(doc.Statement[1]).toEqual({ Sid: 'mine', Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:ClientRootAccess', Resource: '*' });
    const round = JSON.parse(serialisePolicy(doc));
    expect(round).toEqual(doc);
    expect(Object.keys(round)).toEqual(['Version', 'Statement']);
  });

  it('keeps Id and a single Statement object becomes a list', () => {
    const doc = put({ Version: '2012-10-17', Id: 'efs-policy-wizard-x', Statement: { Effect: 'Allow', Principal: '*', Action: '*' } });
    expect(doc.Id).toBe('efs-policy-wizard-x');
    expect(doc.Statement).toHaveLength(1);
  });

  it.each([
    ['top level not an object', '[]'],
    ['missing Statement', '{"Version":"2012-10-17"}'],
    ['empty Statement', '{"Statement":[]}'],
    ['bad Version', '{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}'],
    ['unknown top-level element', '{"Foo":1,"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}'],
    ['bad Effect', '{"Statement":[{"Effect":"allow","Principal":"*","Action":"*"}]}'],
    ['missing Effect', '{"Statement":[{"Principal":"*","Action":"*"}]}'],
    ['unknown statement element', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Foo":1}]}'],
    ['Principal and NotPrincipal', '{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}]}'],
    ['missing Action', '{"Statement":[{"Effect":"Allow","Principal":"*"}]}'],
    ['Action and NotAction', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}]}'],
    ['unknown action prefix', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}'],
    ['action without prefix', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ClientMount"}]}'],
    ['empty Action list', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":[]}]}'],
    ['invalid principal', '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*"}]}'],
    ['wildcard in principal ARN', '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"*"}]}'],
    ['unknown principal type', '{"Statement":[{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"*"}]}'],
    ['Principal string other than *', '{"Statement":[{"Effect":"Allow","Principal":"111122223333","Action":"*"}]}'],
    ['unknown condition operator', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualz":{"aws:SecureTransport":"true"}}}]}'],
    ['NullIfExists is not an operator', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NullIfExists":{"k":"true"}}}]}'],
    ['condition value object', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"aws:SecureTransport":{"x":1}}}}]}'],
    ['bad resource', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"fs-0123"}]}'],
    ['duplicate Sid', '{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"a","Effect":"Deny","Principal":"*","Action":"*"}]}'],
  ])('InvalidPolicyException: %s', (_name, text) => {
    expect(code(() => putFileSystemPolicy({ policy: text, fileSystemArn: FS }))).toBe('InvalidPolicyException');
  });

  it('accepts the documented principal forms and set operators', () => {
    const ok = [
      '"*"',
      '{"AWS":"*"}',
      '{"AWS":"111122223333"}',
      '{"AWS":"arn:aws:iam::111122223333:root"}',
      '{"AWS":"arn:aws:iam::111122223333:role/path/to/app"}',
      '{"AWS":"arn:aws:iam::111122223333:user/alice"}',
      '{"AWS":"arn:aws:sts::111122223333:assumed-role/app/session-1"}',
      '{"AWS":["111122223333","arn:aws:iam::444455556666:role/x"]}',
      '{"Service":"transfer.amazonaws.com"}',
    ];
    for (const principal of ok) {
      const text = `{"Statement":[{"Effect":"Allow","Principal":${principal},"Action":"*"}]}`;
      expect(code(() => putFileSystemPolicy({ policy: text, fileSystemArn: FS })), principal).toBeUndefined();
    }
    const ops = '{"ForAnyValue:StringLike":{"k":"a*"},"ForAllValues:StringEquals":{"k":"a"},"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"},"NumericLessThan":{"k":5},"Null":{"k":"true"}}';
    expect(code(() => putFileSystemPolicy({ policy: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":${ops}}]}`, fileSystemArn: FS }))).toBeUndefined();
  });
});

describe('evaluation edge cases', () => {
  const ctx = (over: Partial<Parameters<typeof evaluate>[0]> = {}, conditions: Record<string, string | boolean | undefined> = {}) => ({
    principal: anon,
    action: 'elasticfilesystem:ClientMount',
    resourceArn: FS,
    ...over,
    conditions: { 'aws:SecureTransport': false, 'elasticfilesystem:AccessedViaMountTarget': true, ...conditions },
  });
  const allow = (st: object) => put({ Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', ...st }] });

  it('action matching is case-insensitive with * and ?', () => {
    expect(evaluate(ctx(), allow({ Action: 'ELASTICFILESYSTEM:clientmount' })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ Action: 'elasticfilesystem:Client?ount' })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ Action: 'elasticfilesystem:Client?' })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Action: 'elasticfilesystem:*' })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ Action: ['elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientMount'] })).decision).toBe('allow');
  });

  it('NotAction', () => {
    const p = put({ Statement: [{ Effect: 'Allow', Principal: '*', NotAction: 'elasticfilesystem:ClientRootAccess' }] });
    expect(mwr(p, { principal: anon })).toBe('M✓ W✓ R✗');
    const d = put({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: '*' },
        { Effect: 'Deny', Principal: '*', NotAction: ['elasticfilesystem:ClientMount'] },
      ],
    });
    expect(mwr(d, { principal: anon })).toBe('M✓ W✗ R✗');
  });

  it('NotPrincipal', () => {
    const p = put({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: '*' },
        { Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:role/admin' }, Action: 'elasticfilesystem:ClientRootAccess' },
      ],
    });
    expect(mwr(p, { principal: role('admin') })).toBe('M✓ W✓ R✓');
    expect(mwr(p, { principal: role('other') })).toBe('M✓ W✓ R✗');
    expect(mwr(p, { principal: anon })).toBe('M✓ W✓ R✗');
  });

  it('Resource and NotResource', () => {
    expect(evaluate(ctx(), allow({ Resource: 'arn:aws:elasticfilesystem:*:111122223333:file-system/*' })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ Resource: 'arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-other' })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Resource: '*' })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ NotResource: FS })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ NotResource: 'arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-other' })).decision).toBe('allow');
  });

  it('principal lists, account ids, paths and assumed-role sessions', () => {
    const p = put({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: ['arn:aws:iam::111122223333:role/team/app', '444455556666', 'arn:aws:iam::111122223333:user/alice'] },
          Action: 'elasticfilesystem:ClientMount',
        },
      ],
    });
    const m = (principal: RequestPrincipal) => mwr(p, { principal }).slice(0, 2);
    expect(m({ kind: 'iam', arn: 'arn:aws:iam::111122223333:role/team/app', accountId: '111122223333' })).toBe('M✓');
    expect(m({ kind: 'iam', arn: 'arn:aws:iam::111122223333:role/app', accountId: '111122223333' })).toBe('M✗'); // path differs
    expect(m({ kind: 'iam', arn: 'arn:aws:sts::111122223333:assumed-role/app/i-0abc', accountId: '111122223333' })).toBe('M✓');
    expect(m({ kind: 'iam', arn: 'arn:aws:sts::999999999999:assumed-role/app/i-0abc', accountId: '999999999999' })).toBe('M✗');
    expect(m({ kind: 'iam', arn: 'arn:aws:iam::444455556666:role/anything', accountId: '444455556666' })).toBe('M✓');
    expect(m({ kind: 'iam', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' })).toBe('M✓');
    expect(m({ kind: 'iam', arn: 'arn:aws:iam::111122223333:user/bob', accountId: '111122223333' })).toBe('M✗');
    expect(m(anon)).toBe('M✗');
    const session = put({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:sts::111122223333:assumed-role/app/s1' }, Action: '*' }] });
    expect(mwr(session, { principal: { kind: 'iam', arn: 'arn:aws:sts::111122223333:assumed-role/app/s1', accountId: '111122223333' } })).toBe('M✓ W✓ R✓');
    expect(mwr(session, { principal: { kind: 'iam', arn: 'arn:aws:sts::111122223333:assumed-role/app/s2', accountId: '111122223333' } })).toBe('M✗ W✗ R✗');
  });

  it('Service principals never match NFS clients', () => {
    const p = put({ Statement: [{ Effect: 'Allow', Principal: { Service: 'transfer.amazonaws.com' }, Action: '*' }] });
    expect(mwr(p, { principal: anon })).toBe('M✗ W✗ R✗');
    expect(mwr(p, { principal: role('x') })).toBe('M✗ W✗ R✗');
  });

  it('Principal "*" and {"AWS":"*"} both match anonymous and IAM callers', () => {
    for (const principal of ['*', { AWS: '*' }]) {
      const p = put({ Statement: [{ Effect: 'Allow', Principal: principal, Action: '*' }] });
      expect(mwr(p, { principal: anon })).toBe('M✓ W✓ R✓');
      expect(mwr(p, { principal: role('r', '999999999999') })).toBe('M✓ W✓ R✓');
    }
  });

  it('StringLike / StringNotLike wildcards on the access point ARN', () => {
    const p = allow({ Condition: { StringLike: { 'elasticfilesystem:AccessPointArn': 'arn:aws:elasticfilesystem:*:111122223333:access-point/fsap-0a*' } } });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_B }), p).decision).toBe('deny');
    expect(evaluate(ctx(), p).decision).toBe('deny'); // absent -> false
    const q = allow({ Condition: { StringNotLike: { 'elasticfilesystem:AccessPointArn': '*fsap-0a*' } } });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), q).decision).toBe('deny');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_B }), q).decision).toBe('allow');
    expect(evaluate(ctx(), q).decision).toBe('allow'); // absent -> negated true
    const r = allow({ Condition: { StringLike: { 'elasticfilesystem:AccessPointArn': '*/fsap-0?aaaaaaaaaaaaaaa' } } });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), r).decision).toBe('allow');
  });

  it('condition values ORed within a key, ANDed across keys and operators', () => {
    const p = allow({
      Condition: {
        StringEquals: { 'elasticfilesystem:AccessPointArn': [AP_B, AP_A] },
        Bool: { 'aws:SecureTransport': 'true' },
      },
    });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A, 'aws:SecureTransport': true }), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_B, 'aws:SecureTransport': true }), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A, 'aws:SecureTransport': false }), p).decision).toBe('deny');
  });

  it('StringEqualsIgnoreCase, StringNotEquals with several values, Bool with JSON booleans', () => {
    const p = allow({ Condition: { StringEqualsIgnoreCase: { 'elasticfilesystem:AccessPointArn': AP_A.toUpperCase() } } });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A.toUpperCase() }), allow({ Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('deny');
    const ne = allow({ Condition: { StringNotEquals: { 'elasticfilesystem:AccessPointArn': [AP_A, AP_B] } } });
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), ne).decision).toBe('deny');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A.replace('0aaa', '0ccc') }), ne).decision).toBe('allow');
    const b = allow({ Condition: { Bool: { 'aws:SecureTransport': true } } });
    expect(evaluate(ctx({}, { 'aws:SecureTransport': true }), b).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'aws:SecureTransport': false }), b).decision).toBe('deny');
    const bc = allow({ Condition: { Bool: { 'aws:SecureTransport': 'TRUE' } } });
    expect(evaluate(ctx({}, { 'aws:SecureTransport': true }), bc).decision).toBe('allow');
  });

  it('condition key names are case-insensitive', () => {
    const p = allow({ Condition: { Bool: { 'AWS:securetransport': 'true' } } });
    expect(evaluate(ctx({}, { 'aws:SecureTransport': true }), p).decision).toBe('allow');
  });

  it('ArnEquals / ArnLike / ArnNotEquals / ArnNotLike', () => {
    const withAp = ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A });
    expect(evaluate(withAp, allow({ Condition: { ArnEquals: { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('allow');
    expect(evaluate(withAp, allow({ Condition: { ArnLike: { 'elasticfilesystem:AccessPointArn': 'arn:aws:elasticfilesystem:*:*:access-point/*' } } })).decision).toBe('allow');
    expect(evaluate(withAp, allow({ Condition: { ArnLike: { 'elasticfilesystem:AccessPointArn': 'arn:aws:elasticfilesystem:*:*:file-system/*' } } })).decision).toBe('deny');
    expect(evaluate(withAp, allow({ Condition: { ArnNotEquals: { 'elasticfilesystem:AccessPointArn': AP_B } } })).decision).toBe('allow');
    expect(evaluate(withAp, allow({ Condition: { ArnNotLike: { 'elasticfilesystem:AccessPointArn': '*:access-point/fsap-0a*' } } })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Condition: { ArnEquals: { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Condition: { ArnNotLike: { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('allow');
  });

  it('...IfExists variants are true when the key is absent, normal when present', () => {
    const p = allow({ Condition: { StringEqualsIfExists: { 'elasticfilesystem:AccessPointArn': AP_A } } });
    expect(evaluate(ctx(), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), p).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_B }), p).decision).toBe('deny');
    const q = allow({ Condition: { ArnLikeIfExists: { 'elasticfilesystem:AccessPointArn': '*fsap-0a*' } } });
    expect(evaluate(ctx(), q).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_B }), q).decision).toBe('deny');
  });

  it('Null', () => {
    const mustBeAbsent = allow({ Condition: { Null: { 'elasticfilesystem:AccessPointArn': 'true' } } });
    expect(evaluate(ctx(), mustBeAbsent).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), mustBeAbsent).decision).toBe('deny');
    const mustBePresent = allow({ Condition: { Null: { 'elasticfilesystem:AccessPointArn': false } } });
    expect(evaluate(ctx(), mustBePresent).decision).toBe('deny');
    expect(evaluate(ctx({}, { 'elasticfilesystem:AccessPointArn': AP_A }), mustBePresent).decision).toBe('allow');
  });

  it('unknown condition keys are absent (positive false, negated true)', () => {
    expect(evaluate(ctx(), allow({ Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-123' } } })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-123' } } })).decision).toBe('allow');
    expect(evaluate(ctx(), allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })).decision).toBe('allow');
    expect(evaluate(ctx({}, { 'aws:SourceIp': '10.1.2.3' }), allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })).decision).toBe('allow');
  });

  it('ForAnyValue / ForAllValues on absent keys', () => {
    expect(evaluate(ctx(), allow({ Condition: { 'ForAnyValue:StringEquals': { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('deny');
    expect(evaluate(ctx(), allow({ Condition: { 'ForAllValues:StringEquals': { 'elasticfilesystem:AccessPointArn': AP_A } } })).decision).toBe('allow');
  });

  it('AccessedViaMountTarget false (non-NFS access paths)', () => {
    const p = put({
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount', Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } } }],
    });
    const r = authorizeClient({ principal: anon, fileSystemArn: FS, fsPolicy: p, secureTransport: true, viaMountTarget: false });
    expect(r.mount).toBe(false);
  });

  it('identity-policy Deny wins even under the default policy; identity allows do not cross accounts', () => {
    const denyRoot = parseIdentityPolicy({ Statement: [{ Effect: 'Deny', Action: 'elasticfilesystem:ClientRootAccess', Resource: '*' }] });
    expect(mwr(undefined, { principal: role('x'), identity: [denyRoot] })).toBe('M✓ W✓ R✗');
    const p = put({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:ClientRootAccess' }] });
    expect(mwr(p, { principal: role('x', '444455556666'), identity: [clientStar] })).toBe('M✗ W✗ R✗');
    expect(mwr(p, { principal: role('x'), identity: [clientStar] })).toBe('M✓ W✓ R✗');
    // anonymous callers have no identity policy even if one is passed
    expect(mwr(p, { principal: anon, identity: [clientStar] })).toBe('M✗ W✗ R✗');
    // identity policy scoped to another resource
    const other = parseIdentityPolicy({ Statement: [{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:elasticfilesystem:*:*:file-system/fs-other' }] });
    expect(mwr(p, { principal: role('x'), identity: [other] })).toBe('M✗ W✗ R✗');
  });

  it('explicit deny wins over allow in the same policy and reports its Sid', () => {
    const p = put({
      Statement: [
        { Sid: 'AllowAll', Effect: 'Allow', Principal: '*', Action: '*' },
        { Sid: 'NoRoot', Effect: 'Deny', Principal: '*', Action: 'elasticfilesystem:ClientRootAccess' },
      ],
    });
    const r = authorizeClient({ principal: anon, fileSystemArn: FS, fsPolicy: p, secureTransport: false });
    expect(r.decidedBy).toEqual({ mount: 'AllowAll', write: 'AllowAll', root: 'NoRoot' });
    expect(r.decisions.root).toEqual({ decision: 'deny', reason: 'explicit-deny', statement: 'NoRoot', source: 'file-system-policy' });
  });
});

describe('identity policies and helpers', () => {
  it('parseIdentityPolicy rejects Principal and requires Resource; other service prefixes allowed', () => {
    expect(() => parseIdentityPolicy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] })).toThrow(PolicyError);
    expect(() => parseIdentityPolicy({ Statement: [{ Effect: 'Allow', Action: '*' }] })).toThrow(/missing Resource/);
    expect(parseIdentityPolicy('{"Statement":[{"Effect":"Allow","Action":["s3:*","elasticfilesystem:Client*"],"Resource":"*"}]}').Version).toBe('2012-10-17');
  });

  it('globMatch and arnMatch', () => {
    expect(globMatch('a*c', 'abbbc')).toBe(true);
    expect(globMatch('a?c', 'abc')).toBe(true);
    expect(globMatch('a?c', 'abbc')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(globMatch('A*', 'abc')).toBe(false);
    expect(globMatch('A*', 'abc', true)).toBe(true);
    expect(arnMatch('arn:aws:elasticfilesystem:*:*:file-system/*', FS)).toBe(true);
    expect(arnMatch('arn:aws:elasticfilesystem:us-*:111122223333:*', FS)).toBe(true);
    expect(arnMatch('arn:aws:elasticfilesystem:eu-*:111122223333:*', FS)).toBe(false);
    expect(arnMatch('arn:aws:elasticfilesystem:us-east-1:111122223333:FILE-SYSTEM/*', FS)).toBe(false);
  });

  it('parseConditionOperator', () => {
    expect(parseConditionOperator('StringEqualsIfExists')).toEqual({ base: 'StringEquals', ifExists: true, set: undefined });
    expect(parseConditionOperator('ForAllValues:StringLike')).toEqual({ base: 'StringLike', ifExists: false, set: 'ForAllValues' });
    expect(parseConditionOperator('Null')).toBeDefined();
    expect(parseConditionOperator('NullIfExists')).toBeUndefined();
    expect(parseConditionOperator('stringequals')).toBeUndefined();
    expect(parseConditionOperator('ForSomeValues:StringEquals')).toBeUndefined();
  });
});
