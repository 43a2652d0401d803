// End to end: a mount target's security group, changed with Debian's AWS CLI
// (/usr/bin/aws ec2 ...), decides whether the real Linux kernel NFS client
// (scripts/kclient/kclient.sh --host-addr <the mount target's address>) may
// mount: the worked example of README "Four levels of access control",
// level 2.
//
//   guest mount.nfs4 -> slirp relay (dials from 127.0.0.1) -> 127.0.0.x:NFS_PORT
//                       (the mount target's listener; its group judges
//                       127.0.0.1 at each new connection) -> the new file system
//
// Before the boot, with the CLI: a file system, a group with a BOOT rule
// (tcp 2049 from 127.0.0.1/32: the harness mounts its own NFSv4.0 mount
// through the same relayed address at boot) and a mount target with that
// group.  One guest boot (guest/security-groups.sh); the guest asks the host
// on its output ("@@SG <STEP>"), the host changes the rules with the CLI and
// answers on the control FIFO, and the guest then tries a new NFSv4.1 mount:
//
//   DENY    revoke 127.0.0.1/32, authorize 10.99.0.0/16   the mount fails
//   ALLOW   authorize 127.0.0.1/32                         the mount works; a
//                                                          file is written, read
//                                                          back, unmounted
//   REVOKE  revoke 127.0.0.1/32                            the mount fails
//
// At each step the host pins the group's rules with describe-security-groups;
// the server log must show the refusal for the refused mounts (and none while
// 127.0.0.1 was admitted); the file is in DATA/file-systems/<fs-id>/fs/.  The
// harness' NFSv4.0 connection, opened at boot, is not cut by the changes (as
// on AWS): the guest reads the file through it at the end.
//
// A missing /usr/bin/aws (package awscli) or qemu/kernel/busybox makes the
// test FAIL (never skip), naming the packages to install.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertKernelClientAvailable,
  describeRun,
  freeLoopbackAddress,
  GUEST_SCRIPTS,
  runGuest,
  startServer,
  timingSummary,
  type GuestControl,
  type RunningServer,
  accepts,
  until as untilReached,
  FAIL_FAST_OPTS,
  HARNESS_SOFT_V40_OPTS,
  MOUNT_TARGET_OPTS,
} from './kclient.js';
import { AWS, awsCliEnv } from './aws-cli.js';

const LEASE_SECONDS = 10;
const REGION = 'us-east-1';
const SUBNET = 'subnet-0123456789abcdef0';
const FILE_NAME = 'written-while-admitted.txt';
/** The relay's source address, as the mount target's group sees it. */
const RELAY_CIDR = '127.0.0.1/32';
/** A range that does not hold the relay's address. */
const OTHER_CIDR = '10.99.0.0/16';
const SG_OPTS = MOUNT_TARGET_OPTS;
const SG_RETRY_OPTS = FAIL_FAST_OPTS;
const HARNESS_OPTS = HARNESS_SOFT_V40_OPTS;
const REFUSED = 'connection refused: no security group rule of the mount target (nor its allowedCidrs) admits this address';

let dataDir = '';
let cliHome = '';
let server: RunningServer | undefined;

function serverLogTail(n = 60): string {
  return server ? server.logs.slice(-n).join('\n') : '(no server)';
}

// ------------------------------------------------------------------ the CLI --

interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

const cliEnv = (): NodeJS.ProcessEnv => awsCliEnv(cliHome, REGION);

/** Run `aws ARGS --endpoint-url <the server> --output json`. */
function aws(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      AWS,
      [...args, '--endpoint-url', server!.apiEndpoint, '--output', 'json'],
      { env: cliEnv(), timeout: 120_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** `aws ARGS` must succeed; its JSON output, parsed ({} for none). */
async function awsOk<T = Record<string, any>>(args: string[]): Promise<T> {
  const r = await aws(args);
  const what = `aws ${args.join(' ')}: exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- server log (tail)\n${serverLogTail()}`;
  if (r.status !== 0) throw new Error(what);
  if (r.stdout.trim() === '') return {} as T;
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`output is not JSON (${(e as Error).message})\n${what}`);
  }
}

const ingress = (sg: string, verb: 'authorize' | 'revoke', cidr: string) =>
  awsOk(['ec2', `${verb}-security-group-ingress`, '--group-id', sg, '--protocol', 'tcp', '--port', '2049', '--cidr', cidr]);

interface GroupRules {
  IpPermissions: unknown;
  IpPermissionsEgress: unknown;
}

async function describeGroup(sg: string): Promise<GroupRules> {
  const d = await awsOk<{ SecurityGroups: (GroupRules & { GroupId: string })[] }>(['ec2', 'describe-security-groups', '--group-ids', sg]);
  if (d.SecurityGroups?.length !== 1 || d.SecurityGroups[0]!.GroupId !== sg) {
    throw new Error(`describe-security-groups --group-ids ${sg}: ${JSON.stringify(d)}`);
  }
  const g = d.SecurityGroups[0]!;
  return { IpPermissions: g.IpPermissions, IpPermissionsEgress: g.IpPermissionsEgress };
}

/** What describe-security-groups shows for tcp 2049 from these CIDRs (in the order they were added). */
const tcp2049 = (...cidrs: string[]) =>
  cidrs.length === 0
    ? []
    : [
        {
          IpProtocol: 'tcp',
          FromPort: 2049,
          ToPort: 2049,
          UserIdGroupPairs: [],
          IpRanges: cidrs.map((CidrIp) => ({ CidrIp })),
          Ipv6Ranges: [],
          PrefixListIds: [],
        },
      ];
/** A new group's outbound rule (EC2's all traffic to 0.0.0.0/0), untouched here. */
const EGRESS = [{ IpProtocol: '-1', UserIdGroupPairs: [], IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [], PrefixListIds: [] }];

// ---------------------------------------------------------------- helpers --

/** kclient's until(), with this file's server log tail in its error. */
const until = (what: string, tries: number, probe: () => Promise<boolean>): Promise<void> => untilReached(what, tries, probe, () => serverLogTail());

/** The server's refusal lines among logs[from, to), with their peers. */
function refusals(from: number, to: number): string[] {
  return server!.logs
    .slice(from, to)
    .filter((l) => l.includes(REFUSED))
    .map((l) => {
      try {
        return String((JSON.parse(l) as { peer?: string }).peer ?? '?');
      } catch {
        return l;
      }
    });
}

type Step = 'DENY' | 'ALLOW' | 'REVOKE';
const STEPS: Step[] = ['DENY', 'ALLOW', 'REVOKE'];

describe('EC2 security groups (AWS CLI) + the Linux kernel client: a mount target admits, refuses, admits, refuses', () => {
  beforeAll(() => {
    if (!fs.existsSync(AWS)) {
      throw new Error(`${AWS} is missing: this test needs the AWS CLI v2 from Debian's awscli package (apt-get install awscli; .ci/run installs it)`);
    }
    assertKernelClientAvailable();
  });

  afterAll(async () => {
    await server?.stop();
    server = undefined;
    for (const d of [dataDir, cliHome]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('new NFSv4.1 mounts follow the group: refused, admitted (file written), refused again', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-sg-data-'));
    cliHome = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-sg-cli-home-'));
    // no profile: empty config and credentials files
    fs.writeFileSync(path.join(cliHome, 'config'), '');
    fs.writeFileSync(path.join(cliHome, 'credentials'), '');
    const srv = await startServer({ dataDir, leaseSeconds: LEASE_SECONDS });
    server = srv;
    expect(srv.apiEndpoint, `no apiEndpoint in the ready line\n${serverLogTail()}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // ---- before the boot: file system, group with the boot rule, mount target --
    const created = await awsOk(['efs', 'create-file-system', '--creation-token', `sg-e2e-${process.pid}-${Date.now()}`, '--tags', 'Key=Name,Value=sg-e2e']);
    const fsId = String(created.FileSystemId);
    expect(fsId).toMatch(/^fs-[0-9a-f]{17}$/);
    expect(fsId).not.toBe(srv.fileSystemId);
    await until(`file system ${fsId} available`, 120, async () => {
      const d = await awsOk(['efs', 'describe-file-systems', '--file-system-id', fsId]);
      return d.FileSystems?.[0]?.LifeCycleState === 'available';
    });

    const group = await awsOk(['ec2', 'create-security-group', '--group-name', `efs-clients-${process.pid}`, '--description', 'NFS clients']);
    const sg = String(group.GroupId);
    expect(sg).toMatch(/^sg-[0-9a-f]{8,40}$/);
    const fresh = await describeGroup(sg);
    expect(fresh.IpPermissions, 'a new group has no inbound rules').toEqual([]);
    expect(fresh.IpPermissionsEgress).toEqual(EGRESS);
    const bootRule = await ingress(sg, 'authorize', RELAY_CIDR);
    expect(bootRule.Return).toBe(true);
    const rules: Partial<Record<'BOOT' | Step, GroupRules>> = { BOOT: await describeGroup(sg) };

    const mtIp = await freeLoopbackAddress(srv.port, ['127.0.0.7', '127.0.0.17', '127.0.0.27', '127.0.0.37']);
    const mt = await awsOk(['efs', 'create-mount-target', '--file-system-id', fsId, '--subnet-id', SUBNET, '--ip-address', mtIp, '--security-groups', sg]);
    const mtId = String(mt.MountTargetId);
    expect(mtId).toMatch(/^fsmt-[0-9a-f]{17}$/);
    expect(mt.IpAddress).toBe(mtIp);
    await until(`mount target ${mtId} available`, 120, async () => {
      const d = await awsOk(['efs', 'describe-mount-targets', '--mount-target-id', mtId]);
      return d.MountTargets?.[0]?.LifeCycleState === 'available';
    });
    const mtGroups = await awsOk(['efs', 'describe-mount-target-security-groups', '--mount-target-id', mtId]);
    expect(mtGroups.SecurityGroups).toEqual([sg]);
    expect(await accepts(mtIp, srv.port), `the mount target ${mtIp}:${srv.port} does not accept connections\n${serverLogTail()}`).toBe(true);

    // ---- one guest boot; the host changes the rules when the guest asks -------
    const content = `sg-e2e:${sg}:${RELAY_CIDR}:${process.pid}`;
    const requested: Step[] = [];
    /** server.logs.length when the host answered each step (rules changed by then). */
    const answeredAt: Partial<Record<Step, number>> = {};
    /** The file in the data dir when the guest asked for REVOKE (it had unmounted). */
    let fileAtRevoke: string | null | undefined;
    let stepError: Error | undefined;
    let work: Promise<void> = Promise.resolve();
    const dataFile = path.join(dataDir, 'file-systems', fsId, 'fs', FILE_NAME);
    const readDataFile = () => (fs.existsSync(dataFile) ? fs.readFileSync(dataFile, 'utf8') : null);

    const doStep = async (step: Step, guest: GuestControl) => {
      if (step === 'DENY') {
        await ingress(sg, 'revoke', RELAY_CIDR);
        await ingress(sg, 'authorize', OTHER_CIDR);
      } else if (step === 'ALLOW') {
        await ingress(sg, 'authorize', RELAY_CIDR);
      } else {
        fileAtRevoke = readDataFile();
        await ingress(sg, 'revoke', RELAY_CIDR);
      }
      rules[step] = await describeGroup(sg);
      answeredAt[step] = srv.logs.length;
      guest.send(`${step.toLowerCase()}-ready`);
    };

    const run = await runGuest({
      port: srv.port,
      hostAddr: mtIp,
      vers: '4.0',
      opts: HARNESS_OPTS,
      script: path.join(GUEST_SCRIPTS, 'security-groups.sh'),
      timeoutSec: 540,
      env: { SG_OPTS, SG_RETRY_OPTS, SG_FILE: FILE_NAME, SG_CONTENT: content },
      onLine(line, guest) {
        const m = /^@@SG (DENY|ALLOW|REVOKE)$/.exec(line.trim());
        if (!m) return;
        const step = m[1] as Step;
        requested.push(step);
        // one at a time, in the order asked
        work = work.then(() =>
          stepError
            ? undefined
            : doStep(step, guest).catch((e: Error) => {
                stepError = e;
                guest.kill();
              }),
        );
      },
    });
    await work;
    const endedAt = srv.logs.length;
    const outcomes = run.output.split('\n').filter((l) => /^(mount at |read through the harness)/.test(l));
    const why = `${describeRun(run)}\n--- server log (tail)\n${serverLogTail()}`;
    if (stepError) throw new Error(`a host step failed: ${stepError.message}\n${why}`);
    expect(requested, why).toEqual(STEPS);
    const beforeDeny = refusals(0, answeredAt.DENY!);
    const duringDeny = refusals(answeredAt.DENY!, answeredAt.ALLOW!);
    const duringAllow = refusals(answeredAt.ALLOW!, answeredAt.REVOKE!);
    const duringRevoke = refusals(answeredAt.REVOKE!, endedAt);
    const counts = `refused connections: before ${beforeDeny.length}, deny ${duringDeny.length}, allow ${duringAllow.length}, revoke ${duringRevoke.length}`;
    console.log([...outcomes, counts, timingSummary(run)].join('\n'));

    expect(run.code, why).toBe(0);
    expect(run.output, why).toContain('@@SG DONE');
    expect(run.output).not.toMatch(/^FAIL/m);

    const vals = new Map<string, string>();
    for (const l of run.output.split('\n')) {
      const m = /^@@SG VAL (\S+) ?(.*)$/.exec(l);
      if (m) vals.set(m[1]!, m[2]!);
    }
    const val = (k: string) => {
      expect(vals.has(k), `no "@@SG VAL ${k}" line\n${why}`).toBe(true);
      return vals.get(k);
    };

    // ---- the group's rules at each step, as describe-security-groups shows them
    expect(rules.BOOT?.IpPermissions, 'boot').toEqual(tcp2049(RELAY_CIDR));
    expect(rules.DENY?.IpPermissions, 'after DENY').toEqual(tcp2049(OTHER_CIDR));
    expect(rules.ALLOW?.IpPermissions, 'after ALLOW').toEqual(tcp2049(OTHER_CIDR, RELAY_CIDR));
    expect(rules.REVOKE?.IpPermissions, 'after REVOKE').toEqual(tcp2049(OTHER_CIDR));
    for (const k of ['BOOT', ...STEPS] as const) expect(rules[k]?.IpPermissionsEgress, `egress ${k}`).toEqual(EGRESS);

    // ---- the guest's mounts ------------------------------------------------
    // refused: mount.nfs's own status for a failed mount (32), not the
    // guard's (124/143), and nothing in /proc/mounts
    expect(val('deny-status'), why).toBe('32');
    expect(val('deny-mounted'), why).toBe('no');
    expect(val('allow-status'), why).toBe('0');
    expect(val('allow-read'), why).toBe(content);
    expect(val('allow-umount-status'), why).toBe('0');
    expect(val('revoke-status'), why).toBe('32');
    expect(val('revoke-mounted'), why).toBe('no');
    // the harness' NFSv4.0 connection from the boot was not cut by the changes
    expect(val('harness-read-status'), why).toBe('0');
    expect(val('harness-read'), why).toBe(content);

    // ---- the server refused the connections of the refused mounts, only those
    expect(beforeDeny, `refusals before DENY\n${why}`).toEqual([]);
    expect(duringDeny.length > 0, `no "${REFUSED}" line for the DENY mount\n${why}`).toBe(true);
    expect(duringAllow, `refusals while ${RELAY_CIDR} was admitted\n${why}`).toEqual([]);
    expect(duringRevoke.length > 0, `no "${REFUSED}" line for the REVOKE mount\n${why}`).toBe(true);
    // every refused connection came from the relay's address
    expect([...new Set([...duringDeny, ...duringRevoke].map((p) => p.replace(/:\d+$/, '')))]).toEqual(['127.0.0.1']);

    // ---- the file written while admitted is in the new file system's data ----
    expect(fileAtRevoke, `${dataFile} when the guest had unmounted`).toBe(`${content}\n`);
    expect(readDataFile(), `${dataFile} after the run`).toBe(`${content}\n`);
    expect(fs.existsSync(path.join(dataDir, 'fs', FILE_NAME)), 'the write went to the default file system').toBe(false);
  }, 720_000);
});
