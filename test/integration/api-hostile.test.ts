/**
 * Bad input to the management API gets a clear error and costs nothing: an
 * oversized body is refused without being read, broken JSON and unknown paths
 * are errors, ids that try to climb out of the data directory name nothing,
 * and the server answers the next request as before.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeFileSystemsCommand, type EFSClient } from '@aws-sdk/client-efs';
import { efsClient, rawRequest, startApiServer, TEST_KEYS, type ApiTestServer } from './api-helpers.js';

let ts: ApiTestServer;
let efs: EFSClient;

beforeAll(async () => {
  ts = await startApiServer();
  efs = efsClient(ts);
});
afterAll(async () => {
  efs?.destroy();
  await ts?.cleanup();
});

const errorType = (h: Headers): string | undefined => h.get('x-amzn-errortype')?.split(':')[0];

async function stillServes(): Promise<void> {
  const out = await efs.send(new DescribeFileSystemsCommand({}));
  expect(out.FileSystems?.map((f) => f.FileSystemId)).toContain(ts.fileSystemId);
}

describe('hostile API requests', () => {
  it('a body over the limit answers 413 RequestEntityTooLarge and the server carries on', async () => {
    const big = JSON.stringify({ CreationToken: 'x', Tags: [{ Key: 'k', Value: 'v'.repeat(300 * 1024) }] });
    const res = await rawRequest(ts, { method: 'POST', path: '/2015-02-01/file-systems', body: big, sign: TEST_KEYS });
    expect(res.status).toBe(413);
    expect(errorType(res.headers)).toBe('RequestEntityTooLarge');
    await stillServes();
  });

  it('a Content-Length of 10 GiB is refused before anything is read', async () => {
    const url = new URL(ts.apiEndpoint);
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(url.port), url.hostname, () => {
        sock.write(`POST /2015-02-01/file-systems HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{`);
      });
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toMatch(/x-amzn-ErrorType: RequestEntityTooLarge/i);
    await stillServes();
  });

  it('broken JSON, a JSON array and a deeply nested body are 400 BadRequest', async () => {
    for (const body of ['{"CreationToken": ', '[1,2,3]', '['.repeat(100_000) + ']'.repeat(100_000)]) {
      const res = await rawRequest(ts, { method: 'POST', path: '/2015-02-01/file-systems', body, sign: TEST_KEYS });
      expect(res.status, body.slice(0, 20)).toBe(400);
      expect(errorType(res.headers)).toBe('BadRequest');
      expect(res.json.Message).toMatch(/JSON/);
    }
    await stillServes();
  });

  it('wrong member types are 400 BadRequest naming the member', async () => {
    const res = await rawRequest(ts, { method: 'POST', path: '/2015-02-01/file-systems', body: { CreationToken: 42 }, sign: TEST_KEYS });
    expect(res.status).toBe(400);
    expect(res.json.Message).toMatch(/CreationToken/);
  });

  it('unknown paths are 404 UnknownOperationException; a known path with another method is 400', async () => {
    const unknown = await rawRequest(ts, { method: 'GET', path: '/2015-02-01/nothing-here', sign: TEST_KEYS });
    expect(unknown.status).toBe(404);
    expect(errorType(unknown.headers)).toBe('UnknownOperationException');
    const outside = await rawRequest(ts, { method: 'GET', path: '/etc/passwd', sign: TEST_KEYS });
    expect(outside.status).toBe(404);
    const method = await rawRequest(ts, { method: 'PATCH', path: '/2015-02-01/file-systems', sign: TEST_KEYS });
    expect(method.status).toBe(400);
  });

  it('ids that climb out of the data directory name nothing and touch nothing', async () => {
    const sentinel = path.join(path.dirname(ts.dataDir), 'fs-sentinel');
    for (const id of ['..', '../..', '..%2F..%2Ffs-sentinel', 'fs-..%2F..', '%2e%2e']) {
      const res = await rawRequest(ts, { method: 'DELETE', path: `/2015-02-01/file-systems/${id}`, sign: TEST_KEYS });
      expect(res.status, id).toBeGreaterThanOrEqual(400);
      expect(res.status, id).toBeLessThan(500);
    }
    expect(existsSync(ts.dataDir)).toBe(true);
    expect(existsSync(path.join(ts.dataDir, 'fs'))).toBe(true);
    expect(existsSync(sentinel)).toBe(false);
    await stillServes();
  });
});
