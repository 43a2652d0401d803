/**
 * A file another client removes or renames over while it is open stays
 * usable through its handle and open stateid until CLOSE, as with knfsd and
 * ganesha (pynfs RNM21); after the last CLOSE its handle is stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { FATTR, NfsClient } from '../../src/client/nfs-client.js';
import { startTestServer, statusOf, type TestServer } from './harness.js';

describe('open files whose last name goes away', () => {
  let srv: TestServer;
  let a: NfsClient;
  let b: NfsClient;

  beforeAll(async () => {
    srv = await startTestServer();
    a = await srv.client();
    b = await srv.client();
    await a.mkdir('/u', 0o777);
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('another client renames over an open file: reads, writes and GETATTR work until CLOSE, then the handle is stale', async () => {
    await a.writeFile('/u/target', Buffer.from('old contents'));
    await b.writeFile('/u/incoming', Buffer.from('new contents'));
    const opened = await a.open('/u/target', { access: 'both' });
    await b.rename('/u/incoming', '/u/target');
    expect((await a.readFile('/u/target')).toString()).toBe('new contents');

    const { data } = await a.read(opened.fh, opened.stateid, 0, 100);
    expect(data.toString()).toBe('old contents');
    await a.write(opened.fh, opened.stateid, 0, Buffer.from('OLD'));
    expect((await a.read(opened.fh, opened.stateid, 0, 100)).data.toString()).toBe('OLD contents');
    const attrs = await a.getattr(opened.fh, [FATTR.SIZE, FATTR.NUMLINKS]);
    expect(attrs.size).toBe(12);
    expect(attrs.numlinks).toBe(0);
    // the new file was not touched
    expect((await b.readFile('/u/target')).toString()).toBe('new contents');

    await a.close(opened.fh, opened.stateid);
    expect(await statusOf(a.getattr(opened.fh, [FATTR.SIZE]))).toBe(N.NFSSTAT4_NAMES[N.NFS4ERR_STALE]);
  });

  it('another client removes an open file: the same until CLOSE', async () => {
    await a.writeFile('/u/gone', Buffer.from('still here'));
    const opened = await a.open('/u/gone', { access: 'read' });
    await b.remove('/u/gone');
    expect(await statusOf(b.lookupPath('/u/gone'))).toBe(N.NFSSTAT4_NAMES[N.NFS4ERR_NOENT]);
    expect((await a.read(opened.fh, opened.stateid, 0, 100)).data.toString()).toBe('still here');
    await a.close(opened.fh, opened.stateid);
    expect(await statusOf(a.getattr(opened.fh, [FATTR.SIZE]))).toBe(N.NFSSTAT4_NAMES[N.NFS4ERR_STALE]);
  });
});
