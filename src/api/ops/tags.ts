/**
 * Tags of file systems and access points: TagResource, UntagResource,
 * ListTagsForResource, and the deprecated file-system-only CreateTags,
 * DeleteTags, DescribeTags. The Name tag is the resource's Name.
 */
import { nameTag, type AccessPoint, type FileSystem, type Tag } from '../../model/types.js';
import { MAX_TAGS, validateTags } from '../../model/validate.js';
import { badRequest } from '../errors.js';
import { bodyInput, queryInput, type ApiOperation, BY_RESOURCE_ID, FS_LABEL } from '../operation.js';
import type { ControlPlane } from '../control-plane.js';
import { findFileSystem, findTaggable, page, wireTags } from '../wire.js';

function setTags(resource: FileSystem | AccessPoint, tags: Tag[]): void {
  if (tags.length > MAX_TAGS) throw badRequest(`A resource can have at most ${MAX_TAGS} tags; this would make ${tags.length}.`);
  resource.tags = tags;
  const name = nameTag(tags);
  if (name !== undefined) resource.name = name;
  else delete resource.name;
}

/** Add or overwrite tags, and save. */
async function addTags(cp: ControlPlane, resource: FileSystem | AccessPoint, added: Tag[]): Promise<void> {
  setTags(resource, resource.tags.filter((t) => !added.some((a) => a.key === t.key)).concat(added));
  await cp.save();
}

async function removeTags(cp: ControlPlane, resource: FileSystem | AccessPoint, keys: string[]): Promise<void> {
  setTags(resource, resource.tags.filter((t) => !keys.includes(t.key)));
  await cp.save();
}

export const tagResource: ApiOperation = {
  name: 'TagResource',
  method: 'POST',
  path: '/resource-tags/{ResourceId}',
  status: 200,
  readOnly: false,
  resource: BY_RESOURCE_ID,
  requestKeys: { tags: 'Tags' },
  async handler(cp, req) {
    const b = bodyInput(req);
    b.list('Tags', { required: true, min: 1 });
    const tags = validateTags(b.raw('Tags'), { style: 'api' });
    return cp.exclusive(async () => {
      await addTags(cp, findTaggable(cp, req.labels.ResourceId!), tags);
      return undefined;
    });
  },
};

export const untagResource: ApiOperation = {
  name: 'UntagResource',
  method: 'DELETE',
  path: '/resource-tags/{ResourceId}',
  status: 200,
  readOnly: false,
  resource: BY_RESOURCE_ID,
  requestKeys: { tagKeys: { from: 'query', member: 'tagKeys' } },
  async handler(cp, req) {
    const keys = req.query.get('tagKeys') ?? [];
    if (keys.length < 1 || keys.length > 50) throw badRequest('tagKeys must name 1 to 50 tag keys.');
    return cp.exclusive(async () => {
      await removeTags(cp, findTaggable(cp, req.labels.ResourceId!), keys);
      return undefined;
    });
  },
};

export const listTagsForResource: ApiOperation = {
  name: 'ListTagsForResource',
  method: 'GET',
  path: '/resource-tags/{ResourceId}',
  status: 200,
  readOnly: true,
  resource: BY_RESOURCE_ID,
  async handler(cp, req) {
    const q = queryInput(req);
    const max = q.number('MaxResults', { min: 1, integer: true });
    const token = q.string('NextToken', { min: 1, max: 128 });
    const resource = findTaggable(cp, req.labels.ResourceId!);
    const p = page(resource.tags, max, token, `tags:${req.labels.ResourceId!}`);
    return { Tags: wireTags(p.items), ...(p.next !== undefined ? { NextToken: p.next } : {}) };
  },
};

export const createTags: ApiOperation = {
  name: 'CreateTags',
  method: 'POST',
  path: '/create-tags/{FileSystemId}',
  status: 204,
  readOnly: false,
  resource: FS_LABEL,
  requestKeys: { tags: 'Tags' },
  async handler(cp, req) {
    const b = bodyInput(req);
    b.list('Tags', { required: true });
    const tags = validateTags(b.raw('Tags'), { style: 'api' });
    return cp.exclusive(async () => {
      await addTags(cp, findFileSystem(cp, req.labels.FileSystemId!), tags);
      return undefined;
    });
  },
};

export const deleteTags: ApiOperation = {
  name: 'DeleteTags',
  method: 'POST',
  path: '/delete-tags/{FileSystemId}',
  status: 204,
  readOnly: false,
  resource: FS_LABEL,
  requestKeys: { tagKeys: { from: 'body', member: 'TagKeys' } },
  async handler(cp, req) {
    const keys = bodyInput(req).stringList('TagKeys', { required: true, min: 1, max: 50 })!;
    return cp.exclusive(async () => {
      await removeTags(cp, findFileSystem(cp, req.labels.FileSystemId!), keys);
      return undefined;
    });
  },
};

export const describeTags: ApiOperation = {
  name: 'DescribeTags',
  method: 'GET',
  path: '/tags/{FileSystemId}/',
  status: 200,
  readOnly: true,
  resource: FS_LABEL,
  async handler(cp, req) {
    const q = queryInput(req);
    const max = q.number('MaxItems', { min: 1, integer: true });
    const marker = q.string('Marker', { min: 1, max: 128 });
    const fs = findFileSystem(cp, req.labels.FileSystemId!);
    const p = page(fs.tags, max, marker, `dtags:${fs.fileSystemId}`);
    return { ...(marker !== undefined ? { Marker: marker } : {}), Tags: wireTags(p.items), ...(p.next !== undefined ? { NextMarker: p.next } : {}) };
  },
};

export const TAG_OPS = [tagResource, untagResource, listTagsForResource, createTags, deleteTags, describeTags];
