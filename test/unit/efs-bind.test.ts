import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { XdrReader } from '../../src/xdr/reader.js';
import { decodeCall } from '../../src/rpc/message.js';
import {
  AWSFILE_PROGRAM,
  decodeBindRequest,
  formatProxyIdentifier,
  handleEfsBind,
  partitionIdFor,
  type BindRequest,
} from '../../src/rpc/efs-bind.js';

const UUID = Buffer.from('0f1e2d3c4b5a49788796a5b4c3d2e1f0', 'hex');

/** The proxy's request, byte for byte per spec efs-utils.md §4.2. */
function bindRequest(xid: number, opts: { vers?: number; proc?: number; incarnation?: Buffer; id?: Buffer; extra?: Buffer } = {}): Buffer {
  const id = opts.id ?? UUID;
  const inc = opts.incarnation ?? Buffer.from('0000000000000001', 'hex');
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return b;
  };
  const body = Buffer.concat([
    u32(xid),
    u32(0), // CALL
    u32(2), // rpcvers
    Buffer.from('00061afb', 'hex'), // 400123
    u32(opts.vers ?? 1),
    u32(opts.proc ?? 2),
    Buffer.alloc(8), // cred AUTH_NONE
    Buffer.alloc(8), // verf AUTH_NONE
    u32(id.length),
    pad(id),
    u32(inc.length),
    pad(inc),
    opts.extra ?? Buffer.alloc(0),
  ]);
  return Buffer.concat([u32(0x80000000 | body.length), body]);
}

function call(rec: Buffer) {
  const record = rec.subarray(4); // the RPC layer hands records without their mark
  return { call: decodeCall(new XdrReader(record)), record };
}

describe('efs-proxy bind_client_to_partition (program 400123)', () => {
  it('request layout matches the spec: 76 bytes on the wire, mark 80 00 00 48', () => {
    const rec = bindRequest(0x11223344);
    expect(rec.length).toBe(76);
    expect(rec.subarray(0, 4).toString('hex')).toBe('80000048');
    const { call: c } = call(rec);
    expect(c).toMatchObject({ xid: 0x11223344, prog: AWSFILE_PROGRAM, vers: 1, proc: 2, credFlavor: 0, argsAt: 40 });
  });

  it('decodes the ProxyIdentifier', () => {
    const { call: c, record } = call(bindRequest(1, { incarnation: Buffer.from('0000000000000107', 'hex') }));
    const req = decodeBindRequest(record, c.argsAt);
    expect(req.identifier.equals(UUID)).toBe(true);
    expect(req.incarnation).toBe(0x107n);
    expect(formatProxyIdentifier(req.identifier)).toBe('0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0');
  });

  it('READY reply: golden bytes (112 bytes, stable partition id, safe ScaleUpConfig)', () => {
    const { call: c, record } = call(bindRequest(0xdeadbeef));
    const seen: BindRequest[] = [];
    const reply = handleEfsBind(c, record, { fileSystemId: 'fs-0123456789abcdef0', onBind: (r) => seen.push(r) });
    const partition = createHash('sha512').update('localefs-partition\0fs-0123456789abcdef0').digest();
    const expected = Buffer.concat([
      Buffer.from('8000006c', 'hex'), // mark: last fragment, 108
      Buffer.from('deadbeef', 'hex'), // xid
      Buffer.from('00000001', 'hex'), // REPLY
      Buffer.from('00000000', 'hex'), // MSG_ACCEPTED
      Buffer.from('0000000000000000', 'hex'), // verf AUTH_NONE
      Buffer.from('00000000', 'hex'), // SUCCESS
      Buffer.from('00000003', 'hex'), // READY
      partition, // NfsStatePartitionId, 64 raw bytes
      Buffer.from('00000005', 'hex'), // max_multiplexed_connections
      Buffer.from('7fffffff', 'hex'), // scale_up_bytes_per_sec_threshold
      Buffer.from('00000001', 'hex'),
      Buffer.from('00000001', 'hex'),
    ]);
    expect(reply.length).toBe(112);
    expect(reply.toString('hex')).toBe(expected.toString('hex'));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.incarnation).toBe(1n);
  });

  it('partition ids: stable per file system, distinct across file systems, 64 bytes', () => {
    expect(partitionIdFor('fs-1').equals(partitionIdFor('fs-1'))).toBe(true);
    expect(partitionIdFor('fs-1').equals(partitionIdFor('fs-2'))).toBe(false);
    expect(partitionIdFor(undefined)).toHaveLength(64);
    const { call: c, record } = call(bindRequest(7));
    const a = handleEfsBind(c, record, { fileSystemId: 'fs-aa' });
    const b = handleEfsBind(c, record, { fileSystemId: 'fs-aa' });
    expect(a.equals(b)).toBe(true);
  });

  it('max_multiplexed_connections is never below 3', () => {
    const { call: c, record } = call(bindRequest(7));
    const r = handleEfsBind(c, record, {
      scaleUp: { maxMultiplexedConnections: 1, scaleUpBytesPerSecThreshold: 10, scaleUpThresholdBreachedDurationSec: 1, scaleUpLookbackWindowSizeSec: 1 },
    });
    expect(r.readInt32BE(4 + 24 + 4 + 64)).toBe(3);
  });

  it('NULL procedure -> SUCCESS, void', () => {
    const { call: c, record } = call(bindRequest(5, { proc: 0 }));
    expect(handleEfsBind(c, record).toString('hex')).toBe('80000018' + '00000005' + '00000001' + '00000000' + '0000000000000000' + '00000000');
  });

  it('channel_init (3) and unknown procedures -> PROC_UNAVAIL', () => {
    for (const proc of [1, 3, 99]) {
      const { call: c, record } = call(bindRequest(6, { proc }));
      expect(handleEfsBind(c, record).toString('hex')).toBe('80000018' + '00000006' + '00000001' + '00000000' + '0000000000000000' + '00000003');
    }
  });

  it('other versions -> PROG_MISMATCH 1..1', () => {
    const { call: c, record } = call(bindRequest(8, { vers: 2 }));
    expect(handleEfsBind(c, record).toString('hex')).toBe(
      '80000020' + '00000008' + '00000001' + '00000000' + '0000000000000000' + '00000002' + '00000001' + '00000001',
    );
  });

  it('malformed arguments -> GARBAGE_ARGS', () => {
    const garbage = '00000004';
    for (const rec of [
      bindRequest(9, { id: Buffer.alloc(17) }), // identifier longer than 16
      bindRequest(9, { incarnation: Buffer.alloc(9) }), // incarnation longer than 8
      bindRequest(9, { extra: Buffer.alloc(4) }), // trailing bytes
      bindRequest(9).subarray(0, 60), // truncated
    ]) {
      const { call: c, record } = call(rec);
      const reply = handleEfsBind(c, record);
      expect(reply.subarray(4 + 20).toString('hex')).toBe(garbage);
      expect(reply.readUInt32BE(4)).toBe(9);
    }
  });
});
