// End-to-end tests of the EFS security model with the real Linux kernel NFS
// client, mounting through stunnel the way amazon-efs-utils does in its
// stunnel mode (test/e2e/stunnel.ts): TLS 1.2, the efs-utils client
// certificate (with the access point extension where one is used), the
// server verified against its local CA and the file system's DNS name.
//
//   guest mount.nfs4 -> slirp relay -> FRONT (127.0.0.1, this process)
//                    -> stunnel (client mode) -> localefs (TLS and plain on one port)
//
// FRONT is a plain TCP forwarder that stays on the port the guest was booted
// with; between scenarios the host repoints it (new connections only), so
// that one guest boot covers every scenario even though each has its own
// server configuration (and scenario 6 also needs a plain connection straight
// to the server).  The guest script (guest/security-model.sh) asks for each
// stage on its output and waits on the control channel; the host answers once
// the stage's server and stunnel run.  The scenarios mount NFSv4.1 with the
// EFS options themselves; the harness' own mount is an NFSv4.0 "anchor" to a
// separate plain server (the script explains why).
//
// A missing qemu/kernel/busybox or stunnel makes the tests FAIL (never skip),
// naming the packages to install.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClientCert } from '../helpers/efs-client-cert.js';
import {
  assertKernelClientAvailable,
  freePort,
  GUEST_SCRIPTS,
  REPO_ROOT,
  runGuest,
  timingSummary,
  type GuestControl,
  type GuestResult,
  startServer,
  type RunningServer,
} from './kclient.js';
import { startStunnel, stunnelBinary, type RunningStunnel } from './stunnel.js';

const LEASE_SECONDS = 10;
const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const AP_ID = 'fsap-0123456789abcdef0';
const GUEST_TIMEOUT_SEC = 420;
/** The scenario mounts: efs-utils' NFS options (spec efs-utils.md §1.6) plus the harness' clientaddr. */
const SCENARIO_MOUNT_OPTS = 'nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,clientaddr=127.0.0.1';

// ------------------------------------------------------------ policies --
// shared spec efs-behaviour.md §3.6

const viaMountTarget = { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } };
/** P2, the console's "prevent root access by default". */
const P2 = {
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
      Condition: viaMountTarget,
    },
  ],
};
/** P3, the console's "enforce read-only by default". */
const P3 = {
  Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'elasticfilesystem:ClientMount', Condition: viaMountTarget }],
};
/** P4, allow all + "enforce in-transit encryption". */
const P4 = {
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['elasticfilesystem:ClientRootAccess', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientMount'],
      Condition: viaMountTarget,
    },
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  ],
};
/** P6, a single role (Resource left out: it defaults to the file system's ARN). */
const P6 = {
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/EfsReadOnly` }, Action: ['elasticfilesystem:ClientMount'] },
  ],
};

const withPolicy = (policy: object) => ({ region: REGION, accountId: ACCOUNT, fileSystems: [{ policy }] });
const WITH_ACCESS_POINT = {
  region: REGION,
  accountId: ACCOUNT,
  accessPoints: [
    {
      accessPointId: AP_ID,
      name: 'one',
      posixUser: { uid: 1001, gid: 1002 },
      rootDirectory: { path: '/apps/one', creationInfo: { ownerUid: 1001, ownerGid: 1002, permissions: '0750' } },
    },
  ],
};

// ------------------------------------------------------------- stages --

type DataDirKey = 'anchor' | 'policies' | 'accessPoint' | 'tlsOnly';

interface StageDef {
  data: DataDirKey;
  /** The --config contents; undefined: none (the default policy). */
  config?: object;
  /** Keep the previous stage's server (only the route changes). */
  sameServer?: boolean;
  /** How the guest's port reaches the server: through stunnel, or straight. */
  via: 'tls' | 'plain';
  /** The access point named in the client certificate. */
  accessPoint?: string;
}

const STAGES: Record<string, StageDef> = {
  s1: { data: 'policies', via: 'tls' },
  s2: { data: 'policies', config: withPolicy(P2), via: 'tls' },
  s3: { data: 'policies', config: withPolicy(P3), via: 'tls' },
  s4: { data: 'policies', config: withPolicy(P6), via: 'tls' },
  s5: { data: 'accessPoint', config: WITH_ACCESS_POINT, via: 'tls', accessPoint: AP_ID },
  's6-plain': { data: 'tlsOnly', config: withPolicy(P4), via: 'plain' },
  's6-tls': { data: 'tlsOnly', sameServer: true, via: 'tls' },
};

interface Audit {
  event: string;
  fileSystemId: string;
  principal: string;
  tls: boolean;
  accessPointId?: string;
  decisions: { ClientMount: boolean; ClientWrite: boolean; ClientRootAccess: boolean };
  decidedBy: Record<string, string>;
  refusal?: string;
}

interface StageRecord {
  name: string;
  dataDir: string;
  fileSystemId: string;
  setupSeconds: number;
  /** The server's log lines while the stage was current. */
  serverLogs: string[];
  stunnelConfig: string;
  stunnelLogs: string[];
  audits: Audit[];
}

// ------------------------------------------------------ localefs server --

type Localefs = RunningServer;

/** localefs with an optional --config (written to a file in configDir). */
async function startLocalefs(dataDir: string, config: object | undefined, configDir: string): Promise<Localefs> {
  const extraArgs: string[] = [];
  if (config) {
    const file = path.join(configDir, `config-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    extraArgs.push('--config', file);
  }
  return startServer({ dataDir, leaseSeconds: LEASE_SECONDS, extraArgs });
}

// --------------------------------------------------------------- front --

interface Front {
  port: number;
  /** Where new connections go (127.0.0.1:target). */
  target: number;
  close(): Promise<void>;
}

/** A TCP forwarder on a fixed loopback port whose target can be changed between connections. */
async function startFront(): Promise<Front> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(front.target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const front: Front = {
    port: 0,
    target: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  front.port = (server.address() as net.AddressInfo).port;
  return front;
}

// ---------------------------------------------------------- data dirs --

interface Entry {
  kind: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  sha256?: string;
}

/** Everything under DATA/fs: names, kinds, modes, owners, sizes, mtimes and file contents. */
function snapshot(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      const e: Entry = { kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
      if (kind === 'file') e.sha256 = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
      out.set(r, e);
      if (kind === 'dir') walk(p, r);
    }
  };
  walk(root, '');
  return out;
}

function diffSnapshots(a: Map<string, Entry>, b: Map<string, Entry>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) diffs.push(`removed: ${k}`);
    else if (JSON.stringify(v) !== JSON.stringify(w)) diffs.push(`changed: ${k}: ${JSON.stringify(v)} -> ${JSON.stringify(w)}`);
  }
  for (const k of b.keys()) if (!a.has(k)) diffs.push(`added: ${k}`);
  return diffs;
}

// ------------------------------------------------------------ the run --

let work = '';
const dataDirs = {} as Record<DataDirKey, string>;
const records = new Map<string, StageRecord>();
let guestRun: GuestResult | undefined;
let hostError: Error | undefined;
let s3Before: Map<string, Entry> | undefined;
let s3After: Map<string, Entry> | undefined;
const stageOrder: string[] = [];

function parseAudits(lines: string[]): Audit[] {
  return lines.filter((l) => l.includes('"part":"audit"')).map((l) => JSON.parse(l) as Audit);
}

/** The guest's output of one scenario and its exit status (from @@SEC BEGIN/END). */
function scenario(name: string): { rc: number | undefined; output: string } {
  const lines = guestRun?.output.split('\n') ?? [];
  const begin = lines.indexOf(`@@SEC BEGIN ${name}`);
  if (begin < 0) return { rc: undefined, output: '(the scenario did not start)' };
  const endIdx = lines.findIndex((l, i) => i > begin && l.startsWith(`@@SEC END ${name} `));
  const body = lines.slice(begin + 1, endIdx < 0 ? undefined : endIdx);
  return { rc: endIdx < 0 ? undefined : Number(lines[endIdx]!.split(' ').pop()), output: body.join('\n') };
}

function guestVal(key: string): string | undefined {
  const m = guestRun?.output.match(new RegExp(`^@@SEC VAL ${key.replace('.', '\\.')} (\\S+)$`, 'm'));
  return m?.[1];
}

function why(stage: string): string {
  const r = records.get(stage);
  const s = scenario(stage);
  return [
    `scenario ${stage}: guest status ${s.rc ?? '(none)'}`,
    `--- guest output\n${s.output}`,
    `--- server log of the stage (tail)\n${r ? r.serverLogs.slice(-40).join('\n') : '(stage never set up)'}`,
    `--- stunnel log (tail)\n${r ? r.stunnelLogs.slice(-25).join('\n') : ''}`,
    hostError ? `--- host error\n${hostError.stack ?? hostError.message}` : '',
    guestRun ? `--- guest run: exit ${guestRun.code} after ${guestRun.seconds.toFixed(1)} s\n--- harness\n${guestRun.stderr.slice(-3000)}` : '--- no guest run',
  ].join('\n');
}

describe('EFS security model: Linux kernel client through efs-utils style stunnel (qemu guest)', () => {
  beforeAll(async () => {
    assertKernelClientAvailable();
    stunnelBinary(); // throws, naming the package (stunnel4), when stunnel is missing

    work = fs.mkdtempSync(path.join(os.tmpdir(), 'localefs-e2e-security-'));
    for (const k of ['anchor', 'policies', 'accessPoint', 'tlsOnly'] as const) dataDirs[k] = path.join(work, `data-${k}`);
    const front = await startFront();
    let server: Localefs | undefined;
    let anchor: Localefs | undefined;
    let stunnel: RunningStunnel | undefined;
    let current: StageRecord | undefined;
    let logStart = 0;

    const closeStage = async (keepServer: boolean) => {
      await stunnel?.stop();
      if (!keepServer) await server?.stop();
      if (current) {
        current.serverLogs = server ? server.logs.slice(logStart) : [];
        current.stunnelLogs = stunnel ? [...stunnel.logs] : [];
        current.audits = parseAudits(current.serverLogs);
      }
      stunnel = undefined;
      if (!keepServer) server = undefined;
    };

    const enter = async (name: string) => {
      const def = STAGES[name];
      if (!def) throw new Error(`the guest asked for an unknown stage ${name}`);
      const t0 = Date.now();
      await closeStage(Boolean(def.sameServer));
      if (current?.name === 's3') s3After = snapshot(path.join(dataDirs.policies, 'fs'));
      if (name === 's3') s3Before = snapshot(path.join(dataDirs.policies, 'fs'));
      const dataDir = dataDirs[def.data];
      if (!def.sameServer || !server) server = await startLocalefs(dataDir, def.config, work);
      logStart = server.logs.length;
      let stunnelConfig = '';
      if (def.via === 'tls') {
        const { cert, key } = makeClientCert({ fsId: server.fileSystemId, ...(def.accessPoint ? { ap: def.accessPoint } : {}) });
        stunnel = await startStunnel({
          serverPort: server.port,
          acceptPort: await freePort(),
          caFile: server.caFile,
          cert,
          key,
          checkHost: `${server.fileSystemId}.efs.${REGION}.amazonaws.com`,
        });
        stunnelConfig = stunnel.config;
        front.target = stunnel.port;
      } else {
        front.target = server.port;
      }
      current = {
        name,
        dataDir,
        fileSystemId: server.fileSystemId,
        setupSeconds: (Date.now() - t0) / 1000,
        serverLogs: [],
        stunnelConfig,
        stunnelLogs: [],
        audits: [],
      };
      records.set(name, current);
      stageOrder.push(name);
    };

    try {
      // the harness mounts (NFSv4.0, plain) a server of its own that stays up all along
      anchor = await startLocalefs(dataDirs.anchor, undefined, work);
      front.target = anchor.port;
      let pending: Promise<void> = Promise.resolve();
      guestRun = await runGuest({
        port: front.port,
        vers: '4.0',
        script: path.join(GUEST_SCRIPTS, 'security-model.sh'),
        env: { SEC_OPTS: SCENARIO_MOUNT_OPTS },
        timeoutSec: GUEST_TIMEOUT_SEC,
        extraArgs: ['--hostname', 'efs-security'],
        onLine(line: string, guest: GuestControl) {
          const m = /^@@SEC STAGE (\S+)$/.exec(line.trim());
          if (!m || hostError) return;
          const name = m[1]!;
          pending = pending
            .then(() => enter(name))
            .then(() => guest.send(`go-${name}`))
            .catch((e: Error) => {
              hostError = e;
              guest.kill();
            });
        },
      });
      await pending;
      await closeStage(false);
      if (current?.name === 's3') s3After = snapshot(path.join(dataDirs.policies, 'fs'));
    } finally {
      await stunnel?.stop();
      await server?.stop();
      await anchor?.stop();
      await front.close();
    }
    const times = stageOrder.map((n) => `  ${n}: host setup ${records.get(n)!.setupSeconds.toFixed(2)} s`).join('\n');
    console.log(`security e2e: one guest boot\n${timingSummary(guestRun!)}\nstage setup on the host:\n${times}`);
  }, (GUEST_TIMEOUT_SEC + 120) * 1000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('the guest run completes every scenario (one boot)', () => {
    expect(hostError, why(stageOrder.at(-1) ?? 's1')).toBeUndefined();
    const run = guestRun!;
    const failed = run.output.match(/^FAIL.*$/gm) ?? [];
    expect(run.code, `guest exit ${run.code}; ${failed.join('; ')}\n${run.stderr.slice(-3000)}`).toBe(0);
    expect(run.output).toContain('@@SEC DONE');
  });

  it('1. TLS mount through stunnel (4.1, EFS options, no policy): data round trip, audited as TLS', () => {
    const s = scenario('s1');
    expect(s.rc, why('s1')).toBe(0);
    expect(s.output).toContain('ok: s1: mounted with NFSv4.1 and the EFS options');
    expect(s.output).toContain('ok: s1: 2 MiB written and read back over TLS');
    const r = records.get('s1')!;
    // the bytes really are on the server, under the name the guest used
    const sha = guestVal('s1.sha');
    expect(sha, why('s1')).toMatch(/^[0-9a-f]{64}$/);
    const onHost = path.join(r.dataDir, 'fs', 'tls-file.bin');
    expect(createHash('sha256').update(fs.readFileSync(onHost)).digest('hex')).toBe(sha);
    // every connection the kernel made came through stunnel: TLS, full access, anonymous
    expect(r.audits.length, why('s1')).toBeGreaterThan(0);
    for (const a of r.audits) {
      expect(a, why('s1')).toMatchObject({
        tls: true,
        principal: 'anonymous',
        fileSystemId: r.fileSystemId,
        decisions: { ClientMount: true, ClientWrite: true, ClientRootAccess: true },
      });
      expect(a.accessPointId).toBeUndefined();
    }
    // stunnel: TLS 1.2, the server verified against the local CA and the file system's DNS name
    const st = r.stunnelLogs.join('\n');
    expect(st, why('s1')).toMatch(/TLSv1\.2 ciphersuite/);
    expect(st).toMatch(new RegExp(`Host name "${r.fileSystemId}\\.efs\\.${REGION}\\.amazonaws\\.com" matched`));
    expect(st).toMatch(/Certificate accepted at depth=0/);
    expect(r.stunnelConfig).toMatch(/^verify = 2$/m);
    expect(r.stunnelConfig).toMatch(/^sslVersion = TLSv1\.2$/m);
  });

  it('2. root squash (P2: ClientMount + ClientWrite): root creates as 65534:65534, chown 0 fails', () => {
    const s = scenario('s2');
    expect(s.rc, why('s2')).toBe(0);
    for (const label of [
      'ok: s2: a file root creates is owned by 65534:65534',
      'ok: s2: a directory root creates is owned by 65534:65534',
      'ok: s2: writes are allowed (ClientWrite)',
      'ok: s2: chown 0 fails with EPERM',
      'ok: s2: create in the root-owned 755 root directory: refused',
      'ok: s2: owner after the refused chown: 65534:65534',
    ]) {
      expect(s.output, why('s2')).toContain(label);
    }
    const r = records.get('s2')!;
    expect(r.audits.length, why('s2')).toBeGreaterThan(0);
    for (const a of r.audits) {
      expect(a, why('s2')).toMatchObject({ tls: true, decisions: { ClientMount: true, ClientWrite: true, ClientRootAccess: false } });
    }
    // on the host too
    const st = fs.statSync(path.join(r.dataDir, 'fs', 'squash', 'by-root'));
    expect(`${st.uid}:${st.gid}`).toBe('65534:65534');
  });

  it('3. read-only (P3: ClientMount only): writes fail, the data is unchanged on both sides', () => {
    const s = scenario('s3');
    expect(s.rc, why('s3')).toBe(0);
    for (const label of [
      'ok: s3: the existing file is readable',
      'ok: s3: touch fails with EACCES',
      'ok: s3: the existing file is unchanged',
      'ok: s3: squash/by-root unchanged',
    ]) {
      expect(s.output, why('s3')).toContain(label);
    }
    const r = records.get('s3')!;
    expect(r.audits.length, why('s3')).toBeGreaterThan(0);
    for (const a of r.audits) {
      expect(a, why('s3')).toMatchObject({ tls: true, decisions: { ClientMount: true, ClientWrite: false, ClientRootAccess: false } });
    }
    expect(s3Before, why('s3')).toBeDefined();
    expect(s3After, why('s3')).toBeDefined();
    expect(diffSnapshots(s3Before!, s3After!), 'the data dir changed during the read-only scenario').toEqual([]);
    expect(s3After!.get('ro/keep.txt')?.sha256).toBe(guestVal('keep.sha'));
  });

  it('4. denied mount (P6: a single role): the anonymous TLS mount fails, audited ClientMount false', () => {
    const s = scenario('s4');
    expect(s.rc, why('s4')).toBe(0);
    expect(s.output, why('s4')).toMatch(/^ok: s4: anonymous TLS mount under a single-role policy: mount refused \((EACCES|EPERM)\)$/m);
    const r = records.get('s4')!;
    expect(r.audits.length, why('s4')).toBeGreaterThan(0);
    for (const a of r.audits) {
      expect(a, why('s4')).toMatchObject({ tls: true, principal: 'anonymous', decisions: { ClientMount: false, ClientWrite: false, ClientRootAccess: false } });
    }
  });

  it('5. access point (PosixUser 1001:1002, CreationInfo /apps/one 0750): identity, root as /, data under DATA/fs/apps/one', () => {
    const s = scenario('s5');
    expect(s.rc, why('s5')).toBe(0);
    for (const label of [
      'ok: s5: the mount root is the access point root, made with CreationInfo 750 1001:1002',
      'ok: s5: the access point root starts empty',
      'ok: s5: a file root creates is owned by the PosixUser 1001:1002',
      'ok: s5: a directory root creates is owned by the PosixUser 1001:1002',
      'ok: s5: a nested file is owned by the PosixUser 1001:1002',
      'ok: s5: chown 0 (the PosixUser is not root): refused',
      'ok: s5: sub/deep opened by handle reconnects under the access point root',
      'ok: s5: the reconnect asked the server for parents (LOOKUPP)',
      'ok: s5: mounting /sub through the access point reaches its sub/',
      'ok: s5: mounting /.. through the access point is its root',
      'ok: s5: /apps/one is not reachable through the access point',
    ]) {
      expect(s.output, why('s5')).toContain(label);
    }
    const r = records.get('s5')!;
    expect(r.audits.length, why('s5')).toBeGreaterThan(0);
    for (const a of r.audits) {
      expect(a, why('s5')).toMatchObject({ tls: true, accessPointId: AP_ID, decisions: { ClientMount: true } });
    }
    const apRoot = path.join(r.dataDir, 'fs', 'apps', 'one');
    const root = fs.statSync(apRoot);
    expect({ mode: (root.mode & 0o7777).toString(8), uid: root.uid, gid: root.gid }).toEqual({ mode: '750', uid: 1001, gid: 1002 });
    const file = fs.statSync(path.join(apRoot, 'by-root'));
    expect(`${file.uid}:${file.gid}`).toBe('1001:1002');
    expect(fs.readFileSync(path.join(apRoot, 'sub', 'f'), 'utf8')).toBe('hello\n');
    // nothing landed at the file system root
    expect(fs.readdirSync(path.join(r.dataDir, 'fs')).sort()).toEqual(['apps']);
  });

  it('6. TLS required (P4): the plain mount is refused, the TLS mount through stunnel works', () => {
    const plain = scenario('s6-plain');
    expect(plain.rc, why('s6-plain')).toBe(0);
    expect(plain.output, why('s6-plain')).toMatch(/^ok: s6: plain \(non-TLS\) mount under a deny-non-TLS policy: mount refused \((EACCES|EPERM)\)$/m);
    const rp = records.get('s6-plain')!;
    expect(rp.audits.length, why('s6-plain')).toBeGreaterThan(0);
    for (const a of rp.audits) {
      expect(a, why('s6-plain')).toMatchObject({ tls: false, decisions: { ClientMount: false, ClientWrite: false, ClientRootAccess: false } });
    }
    const tls = scenario('s6-tls');
    expect(tls.rc, why('s6-tls')).toBe(0);
    expect(tls.output).toContain('ok: s6: TLS mount: written and read back');
    expect(tls.output).toContain('ok: s6: TLS mount: root may chown (ClientRootAccess)');
    const rt = records.get('s6-tls')!;
    expect(rt.audits.length, why('s6-tls')).toBeGreaterThan(0);
    for (const a of rt.audits) {
      expect(a, why('s6-tls')).toMatchObject({ tls: true, decisions: { ClientMount: true, ClientWrite: true, ClientRootAccess: true } });
    }
    const onHost = path.join(rt.dataDir, 'fs', 'over-tls.bin');
    expect(createHash('sha256').update(fs.readFileSync(onHost)).digest('hex')).toBe(guestVal('s6.sha'));
  });

  // EFS users see "mount.nfs4: access denied by server" (EACCES) when a policy
  // refuses the mount; efs-utils retries access-point mounts on that text.
  it('denied mounts surface as "access denied by server" (EACCES), as on EFS', () => {
    expect({ s4: guestVal('s4.errno'), s6: guestVal('s6.errno') }).toEqual({ s4: 'EACCES', s6: 'EACCES' });
  });
});
