// End-to-end test of the EFS management API with the real AWS CLI (v2,
// Debian's awscli package, /usr/bin/aws): test/e2e/api-cli-scenario.sh
// creates a file system, an access point, a mount target and a file system
// policy, describes each, provokes FileSystemAlreadyExists / FileSystemNotFound
// / FileSystemInUse / PolicyNotFound, and deletes everything in order; this
// file starts the server, runs the scenario and checks every step.
//
// The CLI runs with fixed test credentials, no profile (its config and
// credentials files are empty temp files), no pager, no proxy and
// --endpoint-url set to the server's loopback API.  /usr/bin/aws is used by
// full path: another `aws` (a pyenv shim of CLI v1, say) may come first on
// PATH.  A missing /usr/bin/aws makes the test FAIL with the package to install.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackAddress, REPO_ROOT, startServer, type RunningServer } from './kclient.js';
import { AWS, awsCliEnv } from './aws-cli.js';

const SCENARIO = path.join(REPO_ROOT, 'test/e2e/api-cli-scenario.sh');
const REGION = 'us-east-1';
const SUBNET = 'subnet-0123456789abcdef0';
const MISSING_FS = 'fs-00000000000000000';
const POLICY_STATEMENT = {
  Effect: 'Allow',
  Principal: { AWS: '*' },
  Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
  Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
};

// ---------------------------------------------------------------- output --

interface Step {
  status: number;
  stdout: string;
  stderr: string;
}

interface Scenario {
  steps: Map<string, Step>;
  vals: Map<string, string>;
  done: boolean;
  fatal: string[];
  raw: string;
}

/** Parse the "@@CLI ..." lines of api-cli-scenario.sh. */
function parseScenario(raw: string): Scenario {
  const out = new Map<string, string[]>();
  const err = new Map<string, string[]>();
  const steps = new Map<string, Step>();
  const vals = new Map<string, string>();
  const fatal: string[] = [];
  let done = false;
  const push = (m: Map<string, string[]>, k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const line of raw.split('\n')) {
    const m = /^@@CLI (OUT|ERR|STEP|VAL|DONE|FATAL)(?: (\S+)(?: (.*))?)?$/.exec(line);
    if (!m) continue;
    const [, kind, name = '', rest = ''] = m;
    if (kind === 'OUT') push(out, name, rest);
    else if (kind === 'ERR') push(err, name, rest);
    else if (kind === 'VAL') vals.set(name, rest);
    else if (kind === 'DONE') done = true;
    else if (kind === 'FATAL') fatal.push(`${name} ${rest}`);
    else steps.set(name, { status: Number(rest), stdout: (out.get(name) ?? []).join('\n'), stderr: (err.get(name) ?? []).join('\n') });
  }
  return { steps, vals, done, fatal, raw };
}

// ------------------------------------------------------------------ state --

let dataDir = '';
let cliHome = '';
let server: RunningServer | undefined;
let mtIp = '';
let token = '';
let scenario: Scenario;

function serverLogTail(n = 40): string {
  return server ? server.logs.slice(-n).join('\n') : '(no server)';
}

function step(name: string): Step {
  const s = scenario.steps.get(name);
  expect(s, `step ${name} did not run\n--- scenario output (tail)\n${scenario.raw.split('\n').slice(-40).join('\n')}`).toBeDefined();
  return s!;
}

function why(name: string): string {
  const s = scenario.steps.get(name);
  return `step ${name}: exit ${s?.status}\n--- stdout\n${s?.stdout}\n--- stderr\n${s?.stderr}\n--- server log (tail)\n${serverLogTail()}`;
}

/** The step succeeded; its JSON output, parsed. */
function ok<T = Record<string, any>>(name: string): T {
  const s = step(name);
  expect(s.status, why(name)).toBe(0);
  if (s.stdout.trim() === '') return {} as T;
  try {
    return JSON.parse(s.stdout) as T;
  } catch (e) {
    throw new Error(`step ${name}: output is not JSON (${(e as Error).message})\n${why(name)}`);
  }
}

/** The step succeeded with --output text; its value. */
function okText(name: string): string {
  const s = step(name);
  expect(s.status, why(name)).toBe(0);
  return s.stdout.trim();
}

/** The step failed as the CLI reports a service error (exit 254) with this code and operation. */
function serviceError(name: string, code: string, operation: string): string {
  const s = step(name);
  expect(s.status, why(name)).toBe(254);
  expect(s.stderr, why(name)).toContain(`An error occurred (${code}) when calling the ${operation} operation`);
  return s.stderr;
}

function val(name: string): string {
  expect(scenario.vals.has(name), `no "@@CLI VAL ${name}" line\n${scenario.raw.split('\n').slice(-40).join('\n')}`).toBe(true);
  return scenario.vals.get(name)!;
}

const tag = (Key: string, Value: string) => ({ Key, Value });
const FS_ID_RE = /^fs-[0-9a-f]{17}$/;

/** An ISO 8601 timestamp (the CLI's default format) within a day of now: catches seconds/milliseconds mix-ups. */
function expectRecentTimestamp(value: unknown, what: string) {
  const t = typeof value === 'number' ? value * 1000 : Date.parse(String(value));
  expect(Number.isFinite(t), `${what}: ${String(value)} is not a timestamp`).toBe(true);
  expect(Math.abs(t - Date.now()), `${what}: ${String(value)} is not today`).toBeLessThan(24 * 3600 * 1000);
}

// ------------------------------------------------------------------- run --

function cliEnv(): NodeJS.ProcessEnv {
  return {
    ...awsCliEnv(cliHome, REGION),
    AWS_CLI: AWS,
    API_ENDPOINT: server!.apiEndpoint,
    NFS_PORT: String(server!.port),
    MT_IP: mtIp,
    TOKEN: token,
  };
}

async function runScenario(): Promise<Scenario> {
  const raw: string = await new Promise((resolve, reject) => {
    execFile('bash', [SCENARIO], { cwd: REPO_ROOT, env: cliEnv(), maxBuffer: 64 << 20, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error && !stdout.includes('@@CLI')) reject(new Error(`${SCENARIO} failed: ${error.message}\n${stderr}`));
      else resolve(stdout + (stderr ? `\n--- scenario stderr\n${stderr}` : ''));
    });
  });
  return parseScenario(raw);
}

// ----------------------------------------------------------------- tests --

describe('EFS management API with the AWS CLI (/usr/bin/aws)', () => {
  beforeAll(async () => {
    if (!fs.existsSync(AWS)) {
      throw new Error(`${AWS} is missing: the API e2e test needs the AWS CLI v2 from Debian's awscli package (apt-get install awscli; .ci/run installs it)`);
    }
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-api-cli-data-'));
    cliHome = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-api-cli-home-'));
    server = await startServer({ dataDir, leaseSeconds: 10 });
    expect(server.apiEndpoint, `no apiEndpoint in the ready line\n${serverLogTail()}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    mtIp = await freeLoopbackAddress(server.port, ['127.0.0.5', '127.0.0.15', '127.0.0.25', '127.0.0.35']);
    token = `api-cli-${process.pid}-${Date.now()}`;
    scenario = await runScenario();
  }, 660_000);

  afterAll(async () => {
    await server?.stop();
    server = undefined;
    for (const d of [dataDir, cliHome]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('runs the whole scenario with the real CLI v2', () => {
    expect(scenario.fatal, scenario.raw).toEqual([]);
    expect(val('cli-version')).toMatch(/^aws-cli\/2\./);
    expect(scenario.done, `the scenario did not finish\n${scenario.raw.split('\n').slice(-30).join('\n')}`).toBe(true);
  });

  it('CreateFileSystem, DescribeFileSystems, ListTagsForResource', () => {
    const fsd = ok('create-fs');
    expect(fsd.FileSystemId, why('create-fs')).toMatch(FS_ID_RE);
    expect(fsd.CreationToken).toBe(token);
    expect(fsd.Name).toBe('api-cli-fs');
    // CreateFileSystem answers `creating` (efs-behaviour.md 1.4); Describe shows `available` after
    expect(fsd.LifeCycleState).toBe('creating');
    expect(fsd.NumberOfMountTargets).toBe(0);
    expect(fsd.PerformanceMode).toBe('generalPurpose');
    expect(fsd.ThroughputMode).toBe('bursting');
    expect(fsd.Encrypted).toBe(false);
    expect(fsd.OwnerId).toMatch(/^\d{12}$/);
    expect(fsd.FileSystemArn).toBe(`arn:aws:elasticfilesystem:${REGION}:${fsd.OwnerId}:file-system/${fsd.FileSystemId}`);
    expect(fsd.Tags).toEqual(expect.arrayContaining([tag('Name', 'api-cli-fs'), tag('team', 'e2e')]));
    expect(fsd.Tags).toHaveLength(2);
    expect(typeof fsd.SizeInBytes?.Value, why('create-fs')).toBe('number');
    expectRecentTimestamp(fsd.CreationTime, 'CreationTime');

    // by creation token, with --query and text output
    expect(okText('fs-id')).toBe(fsd.FileSystemId);
    expect(val('fs-state')).toBe('available');

    const described = ok('describe-fs');
    expect(described.FileSystems, why('describe-fs')).toHaveLength(1);
    const d = described.FileSystems[0];
    expect(d).toMatchObject({
      FileSystemId: fsd.FileSystemId,
      FileSystemArn: fsd.FileSystemArn,
      CreationToken: token,
      Name: 'api-cli-fs',
      LifeCycleState: 'available',
      NumberOfMountTargets: 0,
      OwnerId: fsd.OwnerId,
      PerformanceMode: 'generalPurpose',
    });
    expect(d.Tags).toEqual(expect.arrayContaining([tag('Name', 'api-cli-fs'), tag('team', 'e2e')]));

    // the server's own (default) file system is listed too
    const all = ok('describe-fs-all');
    const ids = (all.FileSystems as { FileSystemId: string }[]).map((f) => f.FileSystemId);
    expect(ids, why('describe-fs-all')).toEqual(expect.arrayContaining([fsd.FileSystemId, server!.fileSystemId]));

    const tags = ok('list-tags-fs');
    expect(tags.Tags, why('list-tags-fs')).toEqual(expect.arrayContaining([tag('Name', 'api-cli-fs'), tag('team', 'e2e')]));
    expect(tags.Tags).toHaveLength(2);
  });

  it('a reused creation token: FileSystemAlreadyExists (exit 254)', () => {
    const text = serviceError('create-fs-again', 'FileSystemAlreadyExists', 'CreateFileSystem');
    // the message names the file system that holds the token
    expect(text, why('create-fs-again')).toContain(okText('fs-id'));
  });

  it('an unknown file system: FileSystemNotFound (exit 254)', () => {
    const text = serviceError('describe-missing-fs', 'FileSystemNotFound', 'DescribeFileSystems');
    expect(text, why('describe-missing-fs')).toContain(MISSING_FS);
  });

  it('CreateAccessPoint with a root directory and CreationInfo, DescribeAccessPoints', () => {
    const fsId = okText('fs-id');
    const ap = ok('create-ap');
    const expected = {
      FileSystemId: fsId,
      Name: 'api-cli-ap',
      PosixUser: { Uid: 1000, Gid: 1000 },
      RootDirectory: { Path: '/app', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '750' } },
    };
    expect(ap, why('create-ap')).toMatchObject(expected);
    expect(ap.AccessPointId).toMatch(/^fsap-[0-9a-f]{17}$/);
    expect(ap.OwnerId).toMatch(/^\d{12}$/);
    expect(ap.AccessPointArn).toBe(`arn:aws:elasticfilesystem:${REGION}:${ap.OwnerId}:access-point/${ap.AccessPointId}`);
    expect(ap.Tags).toEqual([tag('Name', 'api-cli-ap')]);
    // the CLI fills in an idempotency token when none is given
    expect(typeof ap.ClientToken).toBe('string');
    expect(ap.ClientToken.length).toBeGreaterThan(0);
    // CreateAccessPoint answers `creating` (efs-behaviour.md 1.2, 1.4)
    expect(ap.LifeCycleState).toBe('creating');

    expect(okText('ap-id')).toBe(ap.AccessPointId);
    expect(val('ap-state')).toBe('available');
    const described = ok('describe-ap');
    expect(described.AccessPoints, why('describe-ap')).toHaveLength(1);
    expect(described.AccessPoints[0]).toMatchObject({
      ...expected,
      AccessPointId: ap.AccessPointId,
      AccessPointArn: ap.AccessPointArn,
      ClientToken: ap.ClientToken,
      OwnerId: ap.OwnerId,
      LifeCycleState: 'available',
    });
  });

  it('CreateMountTarget listens on its address; DescribeMountTargets, its security groups; DeleteFileSystem refused while it exists', () => {
    const fsId = okText('fs-id');
    expect(val('mt-port-before'), `${mtIp}:${server!.port} answered before the mount target existed`).toBe('closed');
    const mt = ok('create-mt');
    const expected = { FileSystemId: fsId, SubnetId: SUBNET, IpAddress: mtIp };
    expect(mt, why('create-mt')).toMatchObject(expected);
    expect(mt.MountTargetId).toMatch(/^fsmt-[0-9a-f]{17}$/);
    expect(mt.OwnerId).toMatch(/^\d{12}$/);
    // CreateMountTarget answers `creating` (efs-behaviour.md 1.2, 1.4)
    expect(mt.LifeCycleState).toBe('creating');
    expect(mt.NetworkInterfaceId).toMatch(/^eni-[0-9a-f]+$/);
    expect(mt.VpcId).toMatch(/^vpc-[0-9a-f]+$/);
    expect(mt.AvailabilityZoneName).toMatch(new RegExp(`^${REGION}[a-z]`));
    expect(typeof mt.AvailabilityZoneId).toBe('string');

    expect(okText('mt-id')).toBe(mt.MountTargetId);
    expect(val('mt-state')).toBe('available');
    const described = ok('describe-mt');
    expect(described.MountTargets, why('describe-mt')).toHaveLength(1);
    expect(described.MountTargets[0]).toMatchObject({ ...expected, MountTargetId: mt.MountTargetId, LifeCycleState: 'available' });

    const sgs = ok('describe-mt-sg');
    expect(sgs.SecurityGroups, why('describe-mt-sg')).not.toHaveLength(0);
    for (const sg of sgs.SecurityGroups) expect(sg).toMatch(/^sg-[0-9a-f]+$/);

    expect(okText('fs-mt-count')).toBe('1');
    expect(val('mt-port'), `nothing accepts connections on the mount target ${mtIp}:${server!.port}\n${serverLogTail()}`).toBe('open');
    serviceError('delete-fs-in-use', 'FileSystemInUse', 'DeleteFileSystem');
  });

  it('PutFileSystemPolicy normalises the policy; DescribeFileSystemPolicy returns it; PolicyNotFound before', () => {
    const fsId = okText('fs-id');
    const arn = ok('create-fs').FileSystemArn as string;
    serviceError('describe-policy-none', 'PolicyNotFound', 'DescribeFileSystemPolicy');
    const put = ok('put-policy');
    expect(put.FileSystemId, why('put-policy')).toBe(fsId);
    expect(typeof put.Policy).toBe('string');
    const policy = JSON.parse(put.Policy);
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement, put.Policy).toHaveLength(1);
    // EFS fills in a Sid and the file system as the Resource
    expect(policy.Statement[0]).toMatchObject({ ...POLICY_STATEMENT, Resource: arn });
    expect(typeof policy.Statement[0].Sid).toBe('string');

    const described = ok('describe-policy');
    expect(described.FileSystemId, why('describe-policy')).toBe(fsId);
    expect(JSON.parse(described.Policy)).toEqual(policy);
  });

  it('deletes policy, mount target, access point and file system, in that order', () => {
    // policy
    ok('delete-policy');
    serviceError('describe-policy-deleted', 'PolicyNotFound', 'DescribeFileSystemPolicy');
    // mount target: gone from the API and from the network
    ok('delete-mt');
    expect(val('mt-gone'), 'DescribeMountTargets still finds the deleted mount target').toBe('254');
    serviceError('describe-mt-deleted', 'MountTargetNotFound', 'DescribeMountTargets');
    expect(okText('fs-mt-count-after')).toBe('0');
    expect(val('mt-port-after'), `${mtIp}:${server!.port} still accepts connections after DeleteMountTarget`).toBe('closed');
    // access point
    ok('delete-ap');
    expect(val('ap-gone'), 'DescribeAccessPoints still finds the deleted access point').toBe('254');
    serviceError('describe-ap-deleted', 'AccessPointNotFound', 'DescribeAccessPoints');
    // file system
    const fsId = okText('fs-id');
    ok('delete-fs');
    expect(val('fs-gone'), 'DescribeFileSystems still finds the deleted file system').toBe('254');
    serviceError('describe-fs-deleted', 'FileSystemNotFound', 'DescribeFileSystems');
    const ids = (ok('describe-fs-all-after').FileSystems as { FileSystemId: string }[]).map((f) => f.FileSystemId);
    expect(ids).not.toContain(fsId);
    expect(ids).toContain(server!.fileSystemId);
  });

  it('the creation token of a deleted file system can be used again', () => {
    const first = okText('fs-id');
    const again = ok('create-fs-reuse');
    expect(again.FileSystemId, why('create-fs-reuse')).toMatch(FS_ID_RE);
    expect(again.FileSystemId).not.toBe(first);
    expect(again.CreationToken).toBe(token);
    expect(okText('fs-reuse-id')).toBe(again.FileSystemId);
    expect(val('fs-reuse-state')).toBe('available');
    ok('delete-fs-reuse');
  });
});

// ------------------------------------------------ verified signatures --

describe('the AWS CLI against a server with --credentials (signatures verified)', () => {
  let credServer: RunningServer | undefined;
  let credData = '';
  let credHome = '';
  const KEY = 'AKIDLOCALCLI';
  const SECRET = 'cli/secret+with=odd chars';

  function aws(args: string[], keys: { id: string; secret: string }): Promise<Step> {
    const env = awsCliEnv(credHome, REGION, keys);
    return new Promise((resolve) => {
      execFile(AWS, ['efs', ...args, '--endpoint-url', credServer!.apiEndpoint, '--output', 'json'], { env, timeout: 120_000 }, (error, stdout, stderr) => {
        resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    if (!fs.existsSync(AWS)) throw new Error(`${AWS} is missing: apt-get install awscli (.ci/run installs it)`);
    credData = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-api-cli-cred-data-'));
    credHome = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-api-cli-cred-home-'));
    fs.writeFileSync(path.join(credHome, 'config'), '');
    fs.writeFileSync(path.join(credHome, 'credentials'), '');
    const credFile = path.join(credHome, 'keys.json');
    // an admin role: with --credentials its identity policy decides its API calls, as IAM does
    const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:*', Resource: '*' }] };
    fs.writeFileSync(credFile, JSON.stringify({ [KEY]: { secretAccessKey: SECRET, principalArn: 'arn:aws:iam::111122223333:role/admin', identityPolicies: [admin] } }));
    credServer = await startServer({ dataDir: credData, leaseSeconds: 10, extraArgs: ['--credentials', credFile] });
  }, 120_000);

  afterAll(async () => {
    await credServer?.stop();
    for (const d of [credData, credHome]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('the right key works for paths with ARNs and repeated, spaced query values; a wrong secret or an unknown key does not', async () => {
    const keys = { id: KEY, secret: SECRET };
    const listed = await aws(['describe-file-systems'], keys);
    expect(listed.status, listed.stderr).toBe(0);
    const arn = (JSON.parse(listed.stdout) as { FileSystems: { FileSystemArn: string }[] }).FileSystems[0]!.FileSystemArn;
    const tagged = await aws(['tag-resource', '--resource-id', arn, '--tags', 'Key=team name,Value=a b', 'Key=cost:centre,Value=42'], keys);
    expect(tagged.status, tagged.stderr).toBe(0);
    const before = await aws(['list-tags-for-resource', '--resource-id', arn], keys);
    expect(JSON.parse(before.stdout)).toEqual({ Tags: [tag('team name', 'a b'), tag('cost:centre', '42')] });
    const untagged = await aws(['untag-resource', '--resource-id', arn, '--tag-keys', 'team name', 'cost:centre'], keys);
    expect(untagged.status, untagged.stderr).toBe(0);
    const tags = await aws(['list-tags-for-resource', '--resource-id', arn], keys);
    expect(JSON.parse(tags.stdout)).toEqual({ Tags: [] });

    const wrong = await aws(['describe-file-systems'], { id: KEY, secret: 'not-the-secret' });
    expect(wrong.status).toBe(254);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch/);
    const unknown = await aws(['describe-file-systems'], { id: 'AKIDNOBODY', secret: SECRET });
    expect(unknown.status).toBe(254);
    expect(unknown.stderr).toMatch(/UnrecognizedClientException/);
  }, 180_000);
});
