/**
 * CreateMountTarget, DescribeMountTargets, DeleteMountTarget and the security
 * group calls. A mount target is a real listener at its address on the
 * server's NFS port: creating one starts it, deleting one stops it and drops
 * its connections. Each subnet is its own Availability Zone (model/types.ts).
 */
import net from 'node:net';
import {
  SECURITY_GROUP_ID_RE,
  SUBNET_ID_RE,
  availabilityZoneOf,
  defaultSecurityGroupFor,
  newMountTarget,
  newMountTargetId,
  vpcIdFor,
  type MountTarget,
} from '../../model/types.js';
import { ApiError, badRequest } from '../errors.js';
import { bodyInput, queryInput, type ApiOperation, NO_RESOURCE } from '../operation.js';
import type { ControlPlane } from '../control-plane.js';
import { describeMountTarget, findAccessPoint, findFileSystem, findMountTarget, page, requireAvailable } from '../wire.js';

const MAX_SECURITY_GROUPS = 5;
const IP_ADDRESS_TYPES = ['IPV4_ONLY', 'IPV6_ONLY', 'DUAL_STACK'] as const;
/** Addresses tried, in order, for a mount target created without IpAddress. */
const AUTO_V4 = Array.from({ length: 253 }, (_, i) => `127.0.0.${i + 2}`);

/** The groups must exist (aws ec2 create-security-group, or the config) and be in the mount target's VPC; at most five. */
function checkSecurityGroups(cp: ControlPlane, groups: string[], vpcId: string): void {
  if (groups.length > MAX_SECURITY_GROUPS) {
    throw new ApiError('SecurityGroupLimitExceeded', `A mount target can have at most ${MAX_SECURITY_GROUPS} security groups; got ${groups.length}.`);
  }
  for (const id of groups) {
    if (!SECURITY_GROUP_ID_RE.test(id)) throw new ApiError('SecurityGroupNotFound', `Security group '${id}' does not exist (expected sg- and 8 to 40 hex digits).`);
    const g = cp.model.securityGroups.get(id);
    if (!g) throw new ApiError('SecurityGroupNotFound', `Security group '${id}' does not exist in VPC '${vpcId}'.`);
    if (g.vpcId !== vpcId) throw new ApiError('SecurityGroupNotFound', `Security group '${id}' is in VPC '${g.vpcId}', not in the mount target's VPC '${vpcId}'.`);
  }
}

function addressesInUse(cp: ControlPlane): Set<string> {
  const used = new Set<string>();
  for (const mt of cp.model.mountTargets.values()) {
    used.add(mt.ipAddress);
    if (mt.ipv6Address !== undefined) used.add(mt.ipv6Address);
  }
  return used;
}

/** Start the listener; bind failures become the API's errors. */
async function open(cp: ControlPlane, mt: MountTarget): Promise<void> {
  try {
    await cp.effects.openMountTarget(mt);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const addr = mt.ipv6Address !== undefined ? `${mt.ipAddress} / ${mt.ipv6Address}` : mt.ipAddress;
    if (code === 'EADDRINUSE') throw new ApiError('IpAddressInUse', `IP address ${addr} is already in use on the NFS port (by another program or by a listener on all addresses).`);
    if (code === 'EADDRNOTAVAIL') {
      throw badRequest(`IP address ${addr} is not an address of this machine; use one it has, such as a loopback address (127.0.0.2 to 127.255.255.254 on Linux).`);
    }
    throw err;
  }
}

export const createMountTarget: ApiOperation = {
  name: 'CreateMountTarget',
  method: 'POST',
  path: '/mount-targets',
  status: 200,
  readOnly: false,
  resource: [{ from: 'body', member: 'FileSystemId', kind: 'file-system' }],
  async handler(cp, req) {
    const b = bodyInput(req);
    const fsRef = b.string('FileSystemId', { required: true, max: 128 });
    const subnetId = b.string('SubnetId', { required: true, min: 15, max: 47 });
    const ipAddress = b.string('IpAddress', { min: 7, max: 15 });
    const ipv6Address = b.string('Ipv6Address', { min: 3, max: 39 });
    const addressType = b.enumOf('IpAddressType', IP_ADDRESS_TYPES) ?? (ipv6Address !== undefined && ipAddress === undefined ? 'IPV6_ONLY' : 'IPV4_ONLY');
    const groups = b.stringList('SecurityGroups', { max: 100 });
    if (ipAddress !== undefined && !net.isIPv4(ipAddress)) throw badRequest(`IpAddress '${ipAddress}' is not an IPv4 address.`);
    if (ipv6Address !== undefined && !net.isIPv6(ipv6Address)) throw badRequest(`Ipv6Address '${ipv6Address}' is not an IPv6 address.`);
    if (addressType === 'IPV4_ONLY' && ipv6Address !== undefined) throw badRequest('Ipv6Address cannot be given with IpAddressType IPV4_ONLY.');
    if (addressType === 'IPV6_ONLY' && ipAddress !== undefined) throw badRequest('IpAddress cannot be given with IpAddressType IPV6_ONLY.');
    await cp.ensureDefaultSecurityGroup();
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, fsRef);
      requireAvailable(fs);
      if (!SUBNET_ID_RE.test(subnetId)) throw new ApiError('SubnetNotFound', `Subnet '${subnetId}' does not exist (expected subnet- and 8 to 40 hex digits).`);
      const { region } = cp;
      const { accountId } = cp.model;
      // the request's region: its VPC, its default group, its zone names
      const network = { region, accountId, subnets: cp.model.subnets };
      const securityGroups = groups && groups.length > 0 ? [...new Set(groups)] : [defaultSecurityGroupFor(accountId, region)];
      checkSecurityGroups(cp, securityGroups, vpcIdFor(accountId, region));
      const zone = availabilityZoneOf(network, subnetId);
      if (fs.availabilityZoneName !== undefined && fs.availabilityZoneName !== zone.name) {
        throw new ApiError(
          'AvailabilityZonesMismatch',
          `Subnet '${subnetId}' is in ${zone.name}, but One Zone file system '${fs.fileSystemId}' lives in ${fs.availabilityZoneName}.`,
        );
      }
      for (const other of cp.model.mountTargets.values()) {
        if (other.fileSystemId === fs.fileSystemId && other.availabilityZoneName === zone.name) {
          throw new ApiError('MountTargetConflict', `File system '${fs.fileSystemId}' already has mount target ${other.mountTargetId} in ${zone.name} (subnet ${other.subnetId}).`);
        }
      }
      const used = addressesInUse(cp);
      for (const a of [ipAddress, ipv6Address]) {
        if (a !== undefined && used.has(a)) throw new ApiError('IpAddressInUse', `IP address ${a} is already used by another mount target.`);
      }
      const id = newMountTargetId();
      // the address is filled in below, once one is bound
      const base = newMountTarget(network, {
        mountTargetId: id,
        fileSystemId: fs.fileSystemId,
        ipAddress: '',
        subnetId,
        securityGroups,
        allowedCidrs: ['0.0.0.0/0', '::/0'],
      });
      let mt: MountTarget;
      if (addressType === 'IPV6_ONLY') {
        mt = { ...base, ipAddress: ipv6Address ?? '::1' };
        if (used.has(mt.ipAddress)) throw new NoFree(subnetId);
        await open(cp, mt);
      } else if (ipAddress !== undefined) {
        mt = { ...base, ipAddress, ...(addressType === 'DUAL_STACK' ? { ipv6Address: ipv6Address ?? '::1' } : {}) };
        await open(cp, mt);
      } else {
        mt = await openFirstFree(cp, used, base, addressType === 'DUAL_STACK' ? (ipv6Address ?? '::1') : undefined);
      }
      cp.model.mountTargets.set(id, mt);
      try {
        await cp.save();
      } catch (err) {
        await cp.effects.closeMountTarget(mt); // the model is undone by save(); the listener is ours to undo
        throw err;
      }
      cp.log.info({ mountTargetId: id, fileSystemId: fs.fileSystemId, ipAddress: mt.ipAddress }, 'mount target created');
      return describeMountTarget(mt, 'creating');
    });
  },
};

class NoFree extends ApiError {
  constructor(subnetId: string) {
    super('NoFreeAddressesInSubnet', `No free address is left for a mount target in subnet '${subnetId}'; give IpAddress explicitly.`);
  }
}

/** Without IpAddress, AWS picks a free address of the subnet; here, the first free loopback address. */
async function openFirstFree(cp: ControlPlane, used: Set<string>, base: MountTarget, ipv6Address: string | undefined): Promise<MountTarget> {
  for (const candidate of AUTO_V4) {
    if (used.has(candidate)) continue;
    const mt: MountTarget = { ...base, ipAddress: candidate, ...(ipv6Address !== undefined ? { ipv6Address } : {}) };
    try {
      await cp.effects.openMountTarget(mt);
      return mt;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRNOTAVAIL') break;
      if (code !== 'EADDRINUSE') throw err;
    }
  }
  throw new NoFree(base.subnetId);
}

export const describeMountTargets: ApiOperation = {
  name: 'DescribeMountTargets',
  method: 'GET',
  path: '/mount-targets',
  status: 200,
  readOnly: true,
  resource: [
    { from: 'query', member: 'FileSystemId', kind: 'file-system' },
    { from: 'query', member: 'AccessPointId', kind: 'access-point' },
  ],
  async handler(cp, req) {
    const q = queryInput(req);
    const maxItems = q.number('MaxItems', { min: 1, integer: true });
    const marker = q.string('Marker', { min: 1, max: 128 });
    const fsRef = q.string('FileSystemId', { max: 128 });
    const mtId = q.string('MountTargetId', { max: 45 });
    const apRef = q.string('AccessPointId', { max: 128 });
    const given = [fsRef, mtId, apRef].filter((v) => v !== undefined).length;
    if (given !== 1) throw badRequest('Give exactly one of FileSystemId, MountTargetId or AccessPointId.');
    let list: MountTarget[];
    if (mtId !== undefined) list = [findMountTarget(cp, mtId)];
    else {
      const fsId = fsRef !== undefined ? findFileSystem(cp, fsRef).fileSystemId : findAccessPoint(cp, apRef!).fileSystemId;
      list = [...cp.model.mountTargets.values()].filter((m) => m.fileSystemId === fsId);
    }
    const p = page(list, maxItems, marker, `mt:${fsRef ?? ''}:${mtId ?? ''}:${apRef ?? ''}`);
    return {
      ...(marker !== undefined ? { Marker: marker } : {}),
      MountTargets: p.items.map((m) => describeMountTarget(m)),
      ...(p.next !== undefined ? { NextMarker: p.next } : {}),
    };
  },
};

export const deleteMountTarget: ApiOperation = {
  name: 'DeleteMountTarget',
  method: 'DELETE',
  path: '/mount-targets/{MountTargetId}',
  status: 204,
  readOnly: false,
  resource: NO_RESOURCE,
  async handler(cp, req) {
    return cp.exclusive(async () => {
      const mt = findMountTarget(cp, req.labels.MountTargetId!);
      cp.model.mountTargets.delete(mt.mountTargetId);
      await cp.save();
      // Once the deletion is saved: clients mounted through it lose their connections, as on EFS.
      await cp.effects.closeMountTarget(mt);
      cp.log.info({ mountTargetId: mt.mountTargetId, fileSystemId: mt.fileSystemId }, 'mount target deleted');
      return undefined;
    });
  },
};

export const describeMountTargetSecurityGroups: ApiOperation = {
  name: 'DescribeMountTargetSecurityGroups',
  method: 'GET',
  path: '/mount-targets/{MountTargetId}/security-groups',
  status: 200,
  readOnly: true,
  resource: NO_RESOURCE,
  async handler(cp, req) {
    const mt = findMountTarget(cp, req.labels.MountTargetId!);
    return { SecurityGroups: [...mt.securityGroups] };
  },
};

export const modifyMountTargetSecurityGroups: ApiOperation = {
  name: 'ModifyMountTargetSecurityGroups',
  method: 'PUT',
  path: '/mount-targets/{MountTargetId}/security-groups',
  status: 204,
  readOnly: false,
  resource: NO_RESOURCE,
  async handler(cp, req) {
    const groups = bodyInput(req).stringList('SecurityGroups', { max: 100 }) ?? [];
    return cp.exclusive(async () => {
      const mt = findMountTarget(cp, req.labels.MountTargetId!);
      if (mt.lifeCycleState !== 'available') throw new ApiError('IncorrectMountTargetState', `Mount target '${mt.mountTargetId}' is ${mt.lifeCycleState}, not available.`);
      const securityGroups = groups.length > 0 ? [...new Set(groups)] : [defaultSecurityGroupFor(cp.model.accountId, cp.region)];
      checkSecurityGroups(cp, securityGroups, mt.vpcId);
      mt.securityGroups = securityGroups;
      await cp.save();
      return undefined;
    });
  },
};

export const MOUNT_TARGET_OPS = [createMountTarget, describeMountTargets, deleteMountTarget, describeMountTargetSecurityGroups, modifyMountTargetSecurityGroups];
