import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { FATTR, type NfsClient } from '../../src/client/nfs-client.js';
import { startTestServer, statusOf, type TestServer } from './harness.js';

// localefs is meant to be the only writer of its data directory (README,
// "Changes behind the server's back"). What it promises when someone edits
// DATA/fs directly anyway: the next LOOKUP of a name reads the entry from
// disk again, and READDIR lists what the directory holds now.

describe('changes made in the data directory behind the server', () => {
  let srv: TestServer;
  let c: NfsClient;
  const onDisk = (...p: string[]) => path.join(srv.dataDir, 'fs', ...p);

  beforeAll(async () => {
    srv = await startTestServer();
    c = await srv.client();
    await c.mkdir('/d', 0o777);
    await c.writeFile('/d/f', Buffer.from('abc'));
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('a file created outside is listed by READDIR and found by LOOKUP', async () => {
    expect((await c.readdir('/d')).map((e) => e.name)).toEqual(['f']);
    fs.writeFileSync(onDisk('d', 'outside'), 'from the host');
    expect((await c.readdir('/d')).map((e) => e.name).sort()).toEqual(['f', 'outside']);
    expect((await c.readFile('/d/outside')).toString()).toBe('from the host');
  });

  it('data appended outside is read, and its size is seen at the next LOOKUP', async () => {
    expect((await c.getattr('/d/f', [FATTR.SIZE])).size).toBe(3);
    fs.appendFileSync(onDisk('d', 'f'), 'defgh');
    expect((await c.getattr('/d/f', [FATTR.SIZE])).size).toBe(8);
    expect((await c.readFile('/d/f')).toString()).toBe('abcdefgh');
  });

  it('a file removed outside is gone for LOOKUP and READDIR', async () => {
    fs.unlinkSync(onDisk('d', 'outside'));
    expect(await statusOf(c.getattr('/d/outside', [FATTR.SIZE]))).toBe('NFS4ERR_NOENT');
    expect((await c.readdir('/d')).map((e) => e.name)).toEqual(['f']);
  });
});
