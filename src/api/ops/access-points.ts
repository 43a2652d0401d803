/** CreateAccessPoint, DescribeAccessPoints, DeleteAccessPoint. */
import { accessPointArn, nameTag, newAccessPointId, type AccessPoint } from '../../model/types.js';
import { validateAccessPointFields, validateTags } from '../../model/validate.js';
import { ApiError, badRequest } from '../errors.js';
import { bodyInput, queryInput, type ApiOperation } from '../operation.js';
import { describeAccessPoint, findAccessPoint, findFileSystem, inRegion, page, requireAvailable } from '../wire.js';

export const createAccessPoint: ApiOperation = {
  name: 'CreateAccessPoint',
  method: 'POST',
  path: '/access-points',
  status: 200,
  readOnly: false,
  resource: [{ from: 'body', member: 'FileSystemId', kind: 'file-system' }],
  requestKeys: { tags: 'Tags', creates: 'access-point' },
  async handler(cp, req) {
    const b = bodyInput(req);
    const clientToken = b.string('ClientToken', { required: true, min: 1, max: 64 });
    const fsRef = b.string('FileSystemId', { required: true, max: 128 });
    const tags = validateTags(b.raw('Tags'), { style: 'api' });
    const fields = validateAccessPointFields({ posixUser: b.raw('PosixUser'), rootDirectory: b.raw('RootDirectory') }, { style: 'api' });
    return cp.exclusive(async () => {
      const fs = findFileSystem(cp, fsRef);
      for (const ap of cp.model.accessPoints.values()) {
        if (ap.clientToken === clientToken) {
          throw new ApiError('AccessPointAlreadyExists', `Access point with client token '${clientToken}' already exists: ${ap.accessPointId}.`, {
            AccessPointId: ap.accessPointId,
          });
        }
      }
      requireAvailable(fs);
      let count = 0;
      for (const ap of cp.model.accessPoints.values()) if (ap.fileSystemId === fs.fileSystemId) count++;
      if (count >= cp.accessPointLimit) {
        throw new ApiError('AccessPointLimitExceeded', `File system '${fs.fileSystemId}' already has the maximum of ${cp.accessPointLimit} access points.`);
      }
      const { region } = cp;
      const { accountId } = cp.model;
      const id = newAccessPointId();
      const ap: AccessPoint = {
        accessPointId: id,
        arn: accessPointArn(region, accountId, id),
        fileSystemId: fs.fileSystemId,
        ownerId: accountId,
        clientToken,
        rootDirectory: fields.rootDirectory,
        tags,
        lifeCycleState: 'available',
      };
      const name = nameTag(tags);
      if (name !== undefined) ap.name = name;
      if (fields.posixUser) ap.posixUser = fields.posixUser;
      cp.model.accessPoints.set(id, ap);
      await cp.save();
      cp.log.info({ accessPointId: id, fileSystemId: fs.fileSystemId }, 'access point created');
      return describeAccessPoint(ap, 'creating');
    });
  },
};

export const describeAccessPoints: ApiOperation = {
  name: 'DescribeAccessPoints',
  method: 'GET',
  path: '/access-points',
  status: 200,
  readOnly: true,
  resource: [
    { from: 'query', member: 'AccessPointId', kind: 'access-point' },
    { from: 'query', member: 'FileSystemId', kind: 'file-system' },
  ],
  async handler(cp, req) {
    const q = queryInput(req);
    const maxResults = q.number('MaxResults', { min: 1, integer: true });
    const token = q.string('NextToken', { min: 1, max: 128 });
    const apRef = q.string('AccessPointId', { max: 128 });
    const fsRef = q.string('FileSystemId', { max: 128 });
    if (apRef !== undefined && fsRef !== undefined) throw badRequest('Give either AccessPointId or FileSystemId, not both.');
    let list = [...cp.model.accessPoints.values()].filter((ap) => inRegion(cp, cp.model.fileSystems.get(ap.fileSystemId)));
    if (apRef !== undefined) list = [findAccessPoint(cp, apRef)];
    if (fsRef !== undefined) {
      const fs = findFileSystem(cp, fsRef);
      list = list.filter((ap) => ap.fileSystemId === fs.fileSystemId);
    }
    const p = page(list, maxResults, token, `ap:${apRef ?? ''}:${fsRef ?? ''}`);
    return { AccessPoints: p.items.map((ap) => describeAccessPoint(ap)), ...(p.next !== undefined ? { NextToken: p.next } : {}) };
  },
};

export const deleteAccessPoint: ApiOperation = {
  name: 'DeleteAccessPoint',
  method: 'DELETE',
  path: '/access-points/{AccessPointId}',
  status: 204,
  readOnly: false,
  resource: [{ from: 'label', member: 'AccessPointId', kind: 'access-point' }],
  async handler(cp, req) {
    return cp.exclusive(async () => {
      const ap = findAccessPoint(cp, req.labels.AccessPointId!);
      // Connected clients keep their grant; new mounts through it are refused (the authorizer looks it up).
      cp.model.accessPoints.delete(ap.accessPointId);
      await cp.save();
      cp.log.info({ accessPointId: ap.accessPointId }, 'access point deleted');
      return undefined;
    });
  },
};

export const ACCESS_POINT_OPS = [createAccessPoint, describeAccessPoints, deleteAccessPoint];
