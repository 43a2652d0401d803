import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { XdrWriter } from '../../src/xdr/writer.js';
import { XdrReader } from '../../src/xdr/reader.js';
import { op } from '../../src/client/nfs-client.js';
import { startTestServer, type TestServer } from './harness.js';

function compound40(ops: N.nfs_argop4[]): Buffer {
  const w = new XdrWriter();
  N.encode_COMPOUND4args(w, { tag: 'drc', minorversion: 0, argarray: ops });
  return Buffer.from(w.finish());
}

describe('NFSv4.0 duplicate request cache', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('a retransmitted CREATE (same xid, new connection) gets the first reply, not EXIST', async () => {
    const args = compound40([op.putrootfh(), op.create({ type: N.NF4DIR }, 'made-once', { mode: 0o755 })]);
    const first = await srv.rpc();
    const a = N.decode_COMPOUND4res(new XdrReader(await first.call(100003, 4, 1, args, { xid: 0x5eed })));
    expect(a.status).toBe(N.NFS4_OK);
    await first.close();
    const second = await srv.rpc();
    const b = N.decode_COMPOUND4res(new XdrReader(await second.call(100003, 4, 1, args, { xid: 0x5eed })));
    expect(b.status).toBe(N.NFS4_OK);
    expect(b).toEqual(a);
    // a new request (new xid) with the same content is not a retransmission
    const c = N.decode_COMPOUND4res(new XdrReader(await second.call(100003, 4, 1, args, { xid: 0x5eee })));
    expect(c.status).toBe(N.NFS4ERR_EXIST);
    await second.close();
  });
});
