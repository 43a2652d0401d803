import { describe, expect, it } from 'vitest';
import { DuplicateRequestCache, DRC_MAX_REPLY } from '../../src/nfs4/drc.js';

describe('duplicate request cache', () => {
  it('replays kept replies, drops retransmissions of running requests, and counts', () => {
    const drc = new DuplicateRequestCache(2);
    expect(drc.begin('a')).toEqual({ kind: 'new' });
    expect(drc.begin('a')).toEqual({ kind: 'in-progress' });
    drc.end('a', Buffer.from('reply-a'));
    expect(drc.begin('a')).toEqual({ kind: 'replay', reply: Buffer.from('reply-a') });
    expect([drc.hits, drc.misses, drc.dropped]).toEqual([1, 1, 1]);
  });
  it('keeps at most its bound, evicting the oldest, and never keeps large or absent replies', () => {
    const drc = new DuplicateRequestCache(2);
    for (const k of ['a', 'b', 'c']) {
      drc.begin(k);
      drc.end(k, Buffer.from(k));
    }
    expect(drc.size).toBe(2);
    expect(drc.begin('a').kind).toBe('new');
    drc.end('a', Buffer.alloc(DRC_MAX_REPLY + 1));
    drc.begin('d');
    drc.end('d', undefined);
    expect(drc.begin('a').kind).toBe('new');
    expect(drc.begin('d').kind).toBe('new');
  });
});
