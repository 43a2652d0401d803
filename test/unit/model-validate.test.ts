import { describe, expect, it } from 'vitest';
import {
  cidrProblem,
  ModelValidationError,
  pathProblem,
  permissionsProblem,
  validateAccessPointFields,
  validateTags,
} from '../../src/model/validate.js';
import {
  accessPointArn,
  accessPointIdFrom,
  derivedId,
  fileSystemArn,
  fileSystemIdFrom,
  isAccessPointId,
  isFileSystemId,
  isMountTargetId,
  newAccessPointId,
  newFileSystemId,
  newMountTargetId,
  parseEfsArn,
  principalAccount,
} from '../../src/model/types.js';

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ModelValidationError) {
      expect(err.code).toBe('BadRequest');
      return err.issues.map((i) => `${i.field}: ${i.message}`);
    }
    throw err;
  }
  return [];
}

describe('access point root directory path (§2.1 regex)', () => {
  it.each(['/', '/a', '/data', '/a/b/c/d', '/with space', '/a.b', '/x-y_z', '/' + 'a'.repeat(99), '/ü'])('accepts %j', (p) => {
    expect(pathProblem(p)).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['relative', 'data'],
    ['trailing slash', '/data/'],
    ['double slash', '//data'],
    ['five components', '/a/b/c/d/e'],
    ['leading dot', '/.hidden'],
    ['dot dot', '/a/..'],
    ['dot', '/a/.'],
    ['too long', '/' + 'a'.repeat(100)],
    ...['$', '#', '<', '>', ';', '`', '|', '&', '?', '{', '}', '^', '*', '\n'].map((c) => [`forbidden ${JSON.stringify(c)}`, `/a${c}b`]),
  ])('rejects %s', (_name, p) => {
    expect(pathProblem(p)).toBeDefined();
  });

  it('rejects non-strings', () => {
    expect(pathProblem(5)).toBe('must be a string');
  });
});

describe('permissions', () => {
  it.each(['755', '0750', '000', '7777'])('accepts %s', (p) => expect(permissionsProblem(p)).toBeUndefined());
  it.each(['75', '77777', '758', 'rwx', '', ' 755'])('rejects %j', (p) => expect(permissionsProblem(p)).toBeDefined());
  it('rejects numbers with a hint', () => expect(permissionsProblem(755)).toMatch(/string/));
});

describe('validateAccessPointFields', () => {
  it('defaults RootDirectory and Path to "/"', () => {
    expect(validateAccessPointFields({})).toEqual({ rootDirectory: { path: '/' } });
    expect(validateAccessPointFields({ rootDirectory: {} })).toEqual({ rootDirectory: { path: '/' } });
  });

  it('accepts the API (PascalCase) shape and returns the model shape', () => {
    const out = validateAccessPointFields({
      posixUser: { Uid: 1000, Gid: 1000, SecondaryGids: [4, 24] },
      rootDirectory: { Path: '/app', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '0755' } },
    });
    expect(out).toEqual({
      posixUser: { uid: 1000, gid: 1000, secondaryGids: [4, 24] },
      rootDirectory: { path: '/app', creationInfo: { ownerUid: 1000, ownerGid: 1000, permissions: '0755' } },
    });
  });

  it('secondaryGids defaults to [] and id range is 0..4294967295', () => {
    expect(validateAccessPointFields({ posixUser: { uid: 0, gid: 4294967295 } }).posixUser).toEqual({ uid: 0, gid: 4294967295, secondaryGids: [] });
    expect(issues(() => validateAccessPointFields({ posixUser: { uid: -1, gid: 4294967296 } }))).toEqual([
      'PosixUser.Uid: must be an integer from 0 to 4294967295',
      'PosixUser.Gid: must be an integer from 0 to 4294967295',
    ]);
    expect(issues(() => validateAccessPointFields({ posixUser: { uid: 1.5, gid: '1' } }))).toHaveLength(2);
    expect(issues(() => validateAccessPointFields({ posixUser: { gid: 1 } }))).toEqual(['PosixUser.Uid: is required']);
  });

  it('at most 16 secondary gids, each in range', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => i);
    expect(validateAccessPointFields({ posixUser: { uid: 1, gid: 1, secondaryGids: sixteen } }).posixUser?.secondaryGids).toHaveLength(16);
    expect(issues(() => validateAccessPointFields({ posixUser: { uid: 1, gid: 1, secondaryGids: [...sixteen, 16] } }))).toEqual([
      'PosixUser.SecondaryGids: must have at most 16 entries, got 17',
    ]);
    expect(issues(() => validateAccessPointFields({ posixUser: { uid: 1, gid: 1, secondaryGids: [1, -2] } }))).toEqual([
      'PosixUser.SecondaryGids[1]: must be an integer from 0 to 4294967295',
    ]);
  });

  it('CreationInfo is all or nothing', () => {
    expect(issues(() => validateAccessPointFields({ rootDirectory: { path: '/a', creationInfo: { ownerUid: 1 } } }))).toEqual([
      'RootDirectory.CreationInfo: needs all of ownerUid, ownerGid and permissions; missing OwnerGid, Permissions',
    ]);
    expect(issues(() => validateAccessPointFields({ rootDirectory: { path: '/a', creationInfo: { ownerUid: 1, ownerGid: 1, permissions: '999' } } }))).toEqual([
      'RootDirectory.CreationInfo.Permissions: must be 3 or 4 octal digits (0-7), e.g. "755" or "0750"; got "999"',
    ]);
  });

  it('reports every problem at once, in config style with a prefix', () => {
    const list = issues(() =>
      validateAccessPointFields(
        { posixUser: { uid: 'x', gid: 1, extra: 1 }, rootDirectory: { path: '/a/', creationInfo: { ownerUid: 1, ownerGid: 1, permissions: '755' } } },
        { style: 'config', prefix: ['accessPoints[3]'], strict: true },
      ),
    );
    expect(list).toHaveLength(3);
    expect(list[0]).toMatch(/^accessPoints\[3\]\.posixUser\.extra: unknown field/);
    expect(list[1]).toBe('accessPoints[3].posixUser.uid: must be an integer from 0 to 4294967295');
    expect(list[2]).toMatch(/^accessPoints\[3\]\.rootDirectory\.path: must be "\/" or an absolute path/);
  });

  it('the API style ignores unknown members', () => {
    expect(() => validateAccessPointFields({ posixUser: { Uid: 1, Gid: 1, Whatever: 1 } })).not.toThrow();
  });
});

describe('tags', () => {
  it('accepts list and map forms', () => {
    expect(validateTags([{ Key: 'Name', Value: 'x' }, { key: 'env', value: '' }])).toEqual([
      { key: 'Name', value: 'x' },
      { key: 'env', value: '' },
    ]);
    expect(validateTags({ Name: 'data', 'team:owner': 'a@b' })).toEqual([
      { key: 'Name', value: 'data' },
      { key: 'team:owner', value: 'a@b' },
    ]);
    expect(validateTags(undefined)).toEqual([]);
  });

  it('rejects aws: keys, bad characters, lengths, duplicates and more than 50', () => {
    expect(issues(() => validateTags([{ Key: 'AWS:x', Value: 'v' }]))[0]).toMatch(/may not start with "aws:"/);
    expect(issues(() => validateTags([{ Key: 'a!', Value: 'v' }]))[0]).toMatch(/characters/);
    expect(issues(() => validateTags([{ Key: '', Value: 'v' }]))[0]).toMatch(/1 to 128/);
    expect(issues(() => validateTags([{ Key: 'k', Value: 'v'.repeat(257) }]))[0]).toMatch(/0 to 256/);
    expect(issues(() => validateTags([{ Key: 'k', Value: 'a' }, { Key: 'k', Value: 'b' }]))[0]).toMatch(/repeated/);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(issues(() => validateTags(many))[0]).toMatch(/at most 50/);
  });
});

describe('ids and ARNs', () => {
  it('generates long ids', () => {
    expect(newFileSystemId()).toMatch(/^fs-[0-9a-f]{17}$/);
    expect(newAccessPointId()).toMatch(/^fsap-[0-9a-f]{17}$/);
    expect(newMountTargetId()).toMatch(/^fsmt-[0-9a-f]{17}$/);
    expect(derivedId('fsap', 'seed')).toBe(derivedId('fsap', 'seed'));
    expect(derivedId('fsap', 'seed')).toMatch(/^fsap-[0-9a-f]{17}$/);
    expect(derivedId('fsap', 'a')).not.toBe(derivedId('fsap', 'b'));
  });

  it('validates ids (8 to 40 hex)', () => {
    expect(isFileSystemId('fs-0123456789abcdef0')).toBe(true);
    expect(isFileSystemId('fs-01234567')).toBe(true);
    expect(isFileSystemId('fs-0123456')).toBe(false);
    expect(isFileSystemId('fs-0123456789ABCDEF0')).toBe(false);
    expect(isAccessPointId('fsap-0123456789abcdef0')).toBe(true);
    expect(isAccessPointId('fs-0123456789abcdef0')).toBe(false);
    expect(isMountTargetId('fsmt-0123456789abcdef0')).toBe(true);
  });

  it('builds and parses ARNs; accepts id or ARN', () => {
    const fs = fileSystemArn('us-east-1', '111122223333', 'fs-0123456789abcdef0');
    expect(fs).toBe('arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0');
    const ap = accessPointArn('eu-west-1', '111122223333', 'fsap-0123456789abcdef0');
    expect(ap).toBe('arn:aws:elasticfilesystem:eu-west-1:111122223333:access-point/fsap-0123456789abcdef0');
    expect(parseEfsArn(ap)).toEqual({ kind: 'access-point', region: 'eu-west-1', accountId: '111122223333', id: 'fsap-0123456789abcdef0' });
    expect(fileSystemIdFrom(fs)).toBe('fs-0123456789abcdef0');
    expect(fileSystemIdFrom('fs-0123456789abcdef0')).toBe('fs-0123456789abcdef0');
    expect(fileSystemIdFrom(ap)).toBeUndefined();
    expect(accessPointIdFrom(ap)).toBe('fsap-0123456789abcdef0');
    expect(principalAccount('arn:aws:sts::111122223333:assumed-role/r/s')).toBe('111122223333');
    expect(principalAccount('nope')).toBeUndefined();
  });
});

describe('CIDR fields', () => {
  it('accepts CIDR blocks with a prefix length and explains what is wrong otherwise', () => {
    expect(cidrProblem('10.0.0.0/16')).toBeUndefined();
    expect(cidrProblem('::1/128')).toBeUndefined();
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'x/8', '', 12]) expect(cidrProblem(bad), String(bad)).toMatch(/must be a CIDR/);
  });
});

