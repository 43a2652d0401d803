/**
 * localefs' own endpoints beside the EFS API (/_localefs/): the health report
 * a Docker HEALTHCHECK and compose's `service_healthy` poll, without a signature.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCALEFS_VERSION } from '../../src/version.js';
import { startApiServer, type ApiTestServer } from './api-helpers.js';

let ts: ApiTestServer;
const logLines: string[] = [];

beforeAll(async () => {
  ts = await startApiServer({ logLines });
});
afterAll(async () => {
  await ts?.cleanup();
});

describe('GET /_localefs/health', () => {
  test('answers 200 without a signature, with the NFS listeners and the file systems', async () => {
    const res = await fetch(`${ts.apiEndpoint}/_localefs/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      status: 'healthy',
      version: LOCALEFS_VERSION,
      defaultFileSystemId: ts.fileSystemId,
      nfs: {
        status: 'running',
        listeners: [{ mountTargetId: expect.stringMatching(/^fsmt-[0-9a-f]{17}$/), fileSystemId: ts.fileSystemId, address: '127.0.0.1', port: ts.port }],
      },
      api: { status: 'running' },
      fileSystems: [{ fileSystemId: ts.fileSystemId, lifeCycleState: 'available', mountTargets: 1 }],
    });
  });

  test('is not an API call: no audit record', async () => {
    const before = logLines.length;
    await (await fetch(`${ts.apiEndpoint}/_localefs/health`)).arrayBuffer();
    const audits = logLines.slice(before).filter((l) => l.includes('"api call"'));
    expect(audits).toEqual([]);
  });

  test('other methods get 405, other paths under /_localefs 404', async () => {
    const post = await fetch(`${ts.apiEndpoint}/_localefs/health`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: string }).error).toBe('MethodNotAllowed');
    const other = await fetch(`${ts.apiEndpoint}/_localefs/nothing-here`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { message: string }).message).toBe('No localefs endpoint at /_localefs/nothing-here; there are /_localefs/health and /_localefs/reset.');
  });
});
