/**
 * The API port answers HTTPS as well as HTTP (src/api/listener.ts), with the
 * local CA's server certificate: the real SDK over TLS with DATA/tls/ca.pem.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { DescribeFileSystemsCommand, EFSClient } from '@aws-sdk/client-efs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { REGION, TEST_KEYS, caFileOf, expectErrorCode, startApiServer, type ApiTestServer } from './api-helpers.js';

let ts: ApiTestServer;
let ca: string;
let httpsEndpoint: string;

beforeAll(async () => {
  ts = await startApiServer();
  ca = readFileSync(caFileOf(ts), 'utf8');
  httpsEndpoint = ts.apiEndpoint.replace(/^http:/, 'https:');
});
afterAll(async () => {
  await ts?.cleanup();
});

describe('HTTPS on the API port', () => {
  test('the SDK over https:// with the local CA lists the default file system', async () => {
    const efs = new EFSClient({
      endpoint: httpsEndpoint,
      region: REGION,
      credentials: TEST_KEYS,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
    });
    const out = await efs.send(new DescribeFileSystemsCommand({}));
    expect(out.FileSystems?.map((f) => f.FileSystemId)).toEqual([ts.fileSystemId]);
    efs.destroy();
  });

  test('the certificate is the local CA\'s and names 127.0.0.1 (a client without the CA refuses it)', async () => {
    const port = Number(new URL(ts.apiEndpoint).port);
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.on('error', reject);
    });
    expect(peer.subjectaltname?.split(', ')).toContain('IP Address:127.0.0.1');
    const refused = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port }, () => resolve('connected'));
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('plain HTTP on the same port keeps working', async () => {
    const res = await fetch(`${ts.apiEndpoint}/_localefs/health`);
    expect(res.status).toBe(200);
  });
});

describe('aws:SecureTransport for API calls', () => {
  // a user whose policy allows describing only over TLS (AWS's documented "deny insecure transport" pattern)
  const TLS_ONLY = { accessKeyId: 'AKIDTLSONLY00000001', secretAccessKey: 'tls-only-secret' };
  const TLS_ONLY_ARN = 'arn:aws:iam::000000000000:user/tls-only';
  let guarded: ApiTestServer;

  beforeAll(async () => {
    guarded = await startApiServer({
      credentials: new Map([
        [
          TLS_ONLY.accessKeyId,
          {
            ...TLS_ONLY,
            principalArn: TLS_ONLY_ARN,
            accountId: '000000000000',
            identityPolicies: [
              {
                Version: '2012-10-17',
                Statement: [
                  { Effect: 'Allow', Action: 'elasticfilesystem:DescribeFileSystems', Resource: '*' },
                  { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
                ],
              },
            ],
          },
        ],
      ]),
    });
  });
  afterAll(async () => {
    await guarded?.cleanup();
  });

  test('over HTTP the explicit deny applies (AccessDeniedException); over HTTPS the call is allowed', async () => {
    const plain = new EFSClient({ endpoint: guarded.apiEndpoint, region: REGION, credentials: TLS_ONLY, maxAttempts: 1 });
    const err = await expectErrorCode(plain.send(new DescribeFileSystemsCommand({})), 'AccessDeniedException', 403);
    expect(err.message).toBe(
      `User: ${TLS_ONLY_ARN} is not authorized to perform: elasticfilesystem:DescribeFileSystems on resource: * with an explicit deny in an identity-based policy`,
    );
    const ca2 = readFileSync(caFileOf(guarded), 'utf8');
    const secure = new EFSClient({
      endpoint: guarded.apiEndpoint.replace(/^http:/, 'https:'),
      region: REGION,
      credentials: TLS_ONLY,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: ca2 }) }),
    });
    const out = await secure.send(new DescribeFileSystemsCommand({}));
    expect(out.FileSystems?.map((f) => f.FileSystemId)).toEqual([guarded.fileSystemId]);
    plain.destroy();
    secure.destroy();
  });
});
