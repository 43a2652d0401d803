import type { AccessPoint, FileSystem, Model } from '../model/types.js';
import { ANON_ID } from '../protocol/efs-limits.js';
import type { Identity } from '../store/types.js';
import type { PeerIdentity } from '../transport/front.js';
import { authorizeClient, type RequestPrincipal } from './iam.js';
import { accessPointExportIndex } from './access-point.js';


/**
 * What one connection may do, settled once when it connects: the three EFS
 * client actions, the access point it came through, and why. Ops never
 * evaluate policies; the dispatcher tests these flags.
 */
export interface Grant {
  mount: boolean;
  write: boolean;
  root: boolean;
  secure: boolean;
  principal: RequestPrincipal;
  accessPoint?: AccessPoint;
  /** Export index the connection's file handles carry: 0 for the file system root, else the access point's. */
  exportIndex: number;
  /** Set when the mount is refused before any policy ran (bad token, wrong file system, unknown access point). */
  refusal?: string;
  /** What a squashed root becomes (options.anonUid / anonGid; Linux anonuid/anongid). */
  anon: { uid: number; gid: number };
}

/** One CloudTrail-style line per mount decision. */
export interface MountAudit {
  event: 'ClientMountDecision';
  fileSystemId: string;
  principal: string;
  sourceIPAddress: string;
  tls: boolean;
  accessPointId?: string;
  decisions: { ClientMount: boolean; ClientWrite: boolean; ClientRootAccess: boolean };
  decidedBy: { ClientMount: string; ClientWrite: string; ClientRootAccess: string };
  refusal?: string;
}

/** A grant that lets everything through: the default policy for plain clients of a file system without a policy. */
export const FULL_ACCESS: Grant = { mount: true, write: true, root: true, secure: false, principal: { kind: 'anonymous' }, exportIndex: 0, anon: { uid: ANON_ID, gid: ANON_ID } };

type Decisions = MountAudit['decisions'];
type DecidedBy = MountAudit['decidedBy'];

function auditRecord(fs: FileSystem, peer: PeerIdentity, principal: RequestPrincipal, accessPointId: string | undefined, decisions: Decisions, decidedBy: DecidedBy): MountAudit {
  return {
    event: 'ClientMountDecision',
    fileSystemId: fs.fileSystemId,
    principal: principal.kind === 'iam' ? principal.arn : 'anonymous',
    sourceIPAddress: peer.remoteAddress,
    tls: peer.secure,
    ...(accessPointId ? { accessPointId } : {}),
    decisions,
    decidedBy,
  };
}

function refuse(fs: FileSystem, peer: PeerIdentity, principal: RequestPrincipal, anon: Grant['anon'], why: string, accessPointId?: string): { grant: Grant; audit: MountAudit } {
  return {
    grant: { mount: false, write: false, root: false, secure: peer.secure, principal, exportIndex: 0, refusal: why, anon },
    audit: {
      ...auditRecord(fs, peer, principal, accessPointId, { ClientMount: false, ClientWrite: false, ClientRootAccess: false }, { ClientMount: why, ClientWrite: why, ClientRootAccess: why }),
      refusal: why,
    },
  };
}

/**
 * Decides a connection's grant from what its TLS client certificate says
 * (IAM principal, access point, file system) and the file system's policy.
 */
export function authorizeConnection(peer: PeerIdentity, fs: FileSystem, model: Pick<Model, 'accessPoints' | 'credentials' | 'options'>): { grant: Grant; audit: MountAudit } {
  let principal: RequestPrincipal = { kind: 'anonymous' };
  const anon = { uid: model.options.anonUid, gid: model.options.anonGid };
  const cert = peer.clientCert;
  const apId = cert?.accessPointId;
  if (peer.tokenCheck) {
    if (!peer.tokenCheck.ok) return refuse(fs, peer, principal, anon, `IAM token refused: ${peer.tokenCheck.reason} (${peer.tokenCheck.detail})`, apId);
    principal = { kind: 'iam', arn: peer.tokenCheck.principal.arn, accountId: peer.tokenCheck.principal.accountId };
  }
  const named = cert?.fileSystemId ?? peer.sniFileSystemId;
  if (named && named !== fs.fileSystemId) return refuse(fs, peer, principal, anon, `the client asked for ${named}, this mount target serves ${fs.fileSystemId}`, apId);
  let accessPoint: AccessPoint | undefined;
  if (apId) {
    accessPoint = model.accessPoints.get(apId);
    if (!accessPoint || accessPoint.fileSystemId !== fs.fileSystemId || accessPoint.lifeCycleState !== 'available') {
      return refuse(fs, peer, principal, anon, `access point ${apId} does not exist on ${fs.fileSystemId}`, apId);
    }
  }
  const identityPolicies =
    principal.kind === 'iam' && peer.tokenCheck?.ok ? model.credentials.get(peer.tokenCheck.principal.accessKeyId)?.identityPolicies : undefined;
  const decision = authorizeClient({
    principal,
    fileSystemArn: fs.arn,
    ...(fs.policy ? { fsPolicy: fs.policy } : {}),
    ...(identityPolicies ? { identityPolicies } : {}),
    ...(accessPoint ? { accessPointArn: accessPoint.arn } : {}),
    secureTransport: peer.secure,
    sourceIp: peer.remoteAddress,
  });
  const grant: Grant = {
    mount: decision.mount,
    write: decision.mount && decision.write,
    root: decision.mount && decision.root,
    secure: peer.secure,
    principal,
    exportIndex: accessPoint ? accessPointExportIndex(accessPoint.accessPointId) : 0,
    anon,
  };
  if (accessPoint) grant.accessPoint = accessPoint;
  return {
    grant,
    audit: auditRecord(
      fs,
      peer,
      principal,
      accessPoint?.accessPointId,
      { ClientMount: decision.mount, ClientWrite: grant.write, ClientRootAccess: grant.root },
      { ClientMount: decision.decidedBy.mount, ClientWrite: decision.decidedBy.write, ClientRootAccess: decision.decidedBy.root },
    ),
  };
}

/**
 * The identity a request runs as: the access point's PosixUser replaces the
 * AUTH_SYS ids; without ClientRootAccess, uid 0 becomes the grant's anonymous
 * uid and gid 0 its anonymous gid (root squash; 65534 unless configured).
 */
export function effectiveIdentity(cred: Identity, grant: Grant): Identity {
  const pu = grant.accessPoint?.posixUser;
  const base: Identity = pu ? { uid: pu.uid, gid: pu.gid, gids: pu.secondaryGids } : cred;
  if (grant.root) return base;
  if (base.uid !== 0 && base.gid !== 0 && !base.gids.includes(0)) return base;
  const { uid: anonUid, gid: anonGid } = grant.anon;
  return { uid: base.uid === 0 ? anonUid : base.uid, gid: base.gid === 0 ? anonGid : base.gid, gids: base.gids.map((g) => (g === 0 ? anonGid : g)) };
}
