import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as N from '../../src/xdr/gen/nfs4.js';
import { NfsError } from '../../src/protocol/status.js';
import { CLIENTS_FILE } from '../../src/state/grace.js';
import { Clock, makeEnv, mount40, mount41, tempDir } from './state-fakes.js';

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof NfsError) return err.status;
    throw err;
  }
  return N.NFS4_OK;
}

describe('grace and durable client records', () => {
  it('a fresh server has no grace period', async () => {
    const { sm } = makeEnv();
    expect(sm.inGrace()).toBe(false);
    await sm.shutdown();
  });

  it('clients confirmed before a restart may reclaim during grace', async () => {
    const metaDir = tempDir();
    const clock = new Clock();
    const first = makeEnv({ metaDir, clock, leaseSeconds: 30 });
    await mount41(first.sm, 'known-41');
    const oldId = await mount40(first.sm, 'known-40');
    await first.sm.flush();
    const onDisk = JSON.parse(readFileSync(path.join(metaDir, CLIENTS_FILE), 'utf8')) as { owners: string[]; epoch: number };
    expect(onDisk.owners.length).toBe(2);
    await first.sm.shutdown();

    const second = makeEnv({ metaDir, clock, leaseSeconds: 30 });
    const { sm } = second;
    expect(second.sm.epoch).toBeGreaterThan(first.sm.epoch);
    expect(sm.inGrace()).toBe(true);
    // a stateid/clientid of the previous boot is stale
    expect(status(() => sm.renew(oldId))).toBe(N.NFS4ERR_STALE_CLIENTID);

    const known = await mount41(sm, 'known-41', Buffer.alloc(8, 5), false);
    const stranger = await mount41(sm, 'stranger', Buffer.alloc(8, 6), false);
    expect(sm.mayReclaim(known.client)).toBe(true);
    expect(sm.mayReclaim(stranger.client)).toBe(false);
    const c40 = sm.confirmedClient40(await mount40(sm, 'known-40'));
    expect(sm.mayReclaim(c40)).toBe(true);

    sm.reclaimComplete(known, false);
    expect(sm.mayReclaim(known.client)).toBe(false);
    expect(status(() => sm.reclaimComplete(known, false))).toBe(N.NFS4ERR_COMPLETE_ALREADY);
    // a 4.0 known client keeps the grace period going until it times out
    expect(sm.inGrace()).toBe(true);
    clock.advance(31000);
    expect(sm.inGrace()).toBe(false);
    expect(sm.mayReclaim(c40)).toBe(false);
    await sm.flush();
    const after = JSON.parse(readFileSync(path.join(metaDir, CLIENTS_FILE), 'utf8')) as { owners: string[] };
    // now only the clients confirmed in this boot are on record
    expect(after.owners.length).toBe(3);
    await sm.shutdown();
  });

  it('grace ends early once every known client sent RECLAIM_COMPLETE', async () => {
    const metaDir = tempDir();
    const clock = new Clock();
    const first = makeEnv({ metaDir, clock });
    await mount41(first.sm, 'a');
    await mount41(first.sm, 'b');
    await first.sm.shutdown();

    const { sm } = makeEnv({ metaDir, clock });
    expect(sm.inGrace()).toBe(true);
    const a = await mount41(sm, 'a', Buffer.alloc(8, 9), false);
    sm.reclaimComplete(a, false);
    expect(sm.inGrace()).toBe(true);
    const b = await mount41(sm, 'b', Buffer.alloc(8, 9), false);
    sm.reclaimComplete(b, false);
    expect(sm.inGrace()).toBe(false);
    await sm.shutdown();
  });

  it('a client that went away cleanly is forgotten', async () => {
    const metaDir = tempDir();
    const first = makeEnv({ metaDir });
    const s = await mount41(first.sm, 'leaving');
    first.sm.destroySession(s.id);
    first.sm.destroyClientId(s.client.id, undefined);
    await first.sm.flush();
    await first.sm.shutdown();
    const second = makeEnv({ metaDir });
    expect(second.sm.inGrace()).toBe(false);
    await second.sm.shutdown();
  });

  it('a restart during grace keeps the previous clients reclaimable', async () => {
    const metaDir = tempDir();
    const clock = new Clock();
    const first = makeEnv({ metaDir, clock });
    await mount41(first.sm, 'a');
    await first.sm.shutdown();
    const second = makeEnv({ metaDir, clock });
    expect(second.sm.inGrace()).toBe(true);
    await second.sm.shutdown();
    const third = makeEnv({ metaDir, clock });
    expect(third.sm.inGrace()).toBe(true);
    const a = await mount41(third.sm, 'a', Buffer.alloc(8, 1), false);
    expect(third.sm.mayReclaim(a.client)).toBe(true);
    await third.sm.shutdown();
  });
});
