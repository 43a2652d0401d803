import { afterEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { InodeIndex, type Link } from '../../src/store/local/inode-index.js';
import { sys } from '../../src/store/local/sys.js';
import { FILE, storeCode, useTempStores } from './store-helpers.js';

// The inode index: compact (typed arrays and a name arena, so a data
// directory of a million files fits in ~80 MB), exact (checked against a
// plain Map model through random changes), and built in the background at
// start-up, when an inode it has not met yet is "try again", not "stale".

interface ModelNode {
  parent: number;
  name: string;
  more: Link[];
  gen: number;
  space: number;
}

describe('InodeIndex', () => {
  it('agrees with a plain model through 40,000 random adds, renames, unlinks and drops', () => {
    const ROOT = 2;
    const index = new InodeIndex(ROOT, 16);
    index.add(ROOT, ROOT, '', 1, 'dir', 0);
    const model = new Map<number, ModelNode>([[ROOT, { parent: ROOT, name: '', more: [], gen: 1, space: 0 }]]);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const inos = () => [...model.keys()];
    for (let step = 0; step < 40_000; step++) {
      const op = rnd(10);
      const all = inos();
      if (op < 5 || all.length < 3) {
        // a new file (large and small inode numbers, names of 1 to 40 bytes, some not ASCII)
        const ino = rnd(2) ? 3 + rnd(5_000_000) : 2 ** 40 + rnd(1_000_000);
        if (model.has(ino)) continue;
        const parent = all[rnd(all.length)]!;
        const name = `n${step}${'é'.repeat(rnd(20))}`;
        index.add(ino, parent, name, step, 'reg', 4096 * rnd(4));
        model.set(ino, { parent, name, more: [], gen: step, space: 0 });
        model.get(ino)!.space = index.get(ino)!.space;
      } else if (op < 6) {
        // a hard link
        const ino = all[rnd(all.length)]!;
        if (ino === ROOT) continue;
        const m = model.get(ino)!;
        const l = { parent: all[rnd(all.length)]!, name: `l${step}` };
        index.add(ino, l.parent, l.name, m.gen, 'reg', m.space);
        m.more.push(l);
      } else if (op < 7) {
        // a rename of the primary name
        const ino = all[rnd(all.length)]!;
        if (ino === ROOT) continue;
        const m = model.get(ino)!;
        const to = { parent: all[rnd(all.length)]!, name: `r${step}` };
        index.moveLink(ino, m.parent, m.name, to.parent, to.name);
        m.parent = to.parent;
        m.name = to.name;
      } else if (op < 9) {
        // an unlink of the primary name (the next link, if any, becomes primary)
        const ino = all[rnd(all.length)]!;
        if (ino === ROOT) continue;
        const m = model.get(ino)!;
        const gone = index.removeLink(ino, m.parent, m.name);
        const next = m.more.shift();
        expect(gone).toBe(next === undefined);
        if (next) {
          m.parent = next.parent;
          m.name = next.name;
        } else model.delete(ino);
      } else {
        const ino = all[rnd(all.length)]!;
        if (ino === ROOT) continue;
        index.drop(ino);
        model.delete(ino);
      }
      if (step % 4999 === 0 || step === 39_999) {
        expect(index.size).toBe(model.size);
        expect(index.used).toBe([...model.values()].reduce((a, m) => a + m.space, 0));
        for (const [ino, m] of model) {
          const n = index.get(ino)!;
          expect({ parent: n.parent, name: n.name, gen: n.gen, more: n.more ?? [] }).toEqual({ parent: m.parent, name: m.name, gen: m.gen, more: m.more });
          expect(index.links(ino)).toEqual([{ parent: m.parent, name: m.name }, ...m.more]);
          // the field readers the hot paths use agree with the whole entry
          expect([index.genOf(ino), index.kindOf(ino), index.parentOf(ino)]).toEqual([n.gen, n.kind, n.parent]);
          expect(index.primary(ino)).toEqual({ parent: m.parent, name: m.name });
          expect(index.parentsOf(ino)).toEqual([m.parent, ...m.more.map((l) => l.parent)]);
        }
      }
    }
    expect(index.has(999_999_999)).toBe(false);
    expect([index.genOf(999_999_999), index.primary(999_999_999), index.parentsOf(999_999_999)]).toEqual([undefined, undefined, []]);
  });

  it('rebuilds paths, depths and ancestry from parent links', () => {
    const index = new InodeIndex(2);
    index.add(2, 2, '', 1, 'dir', 0);
    index.add(10, 2, 'a', 1, 'dir', 0);
    index.add(11, 10, 'b', 1, 'dir', 0);
    index.add(12, 11, 'f', 1, 'reg', 4096);
    expect(index.components(12)).toEqual(['a', 'b', 'f']);
    expect(index.components(12, { parent: 10, name: 'g' })).toEqual(['a', 'g']);
    expect(index.depth(12)).toBe(3);
    expect(index.isAncestor(10, 12)).toBe(true);
    expect(index.isAncestor(11, 10)).toBe(false);
    index.moveLink(11, 10, 'b', 2, 'b2');
    expect(index.components(12)).toEqual(['b2', 'f']);
    expect(index.isAncestor(10, 12)).toBe(false);
    index.drop(11);
    expect(index.components(12)).toBeUndefined();
  });

  it('holds a million files in at most 150 bytes each', () => {
    const index = new InodeIndex(2);
    index.add(2, 2, '', 1, 'dir', 0);
    for (let d = 0; d < 100; d++) index.add(100 + d, 2, `d${String(d).padStart(5, '0')}`, 1, 'dir', 4096);
    for (let i = 0; i < 1_000_000; i++) index.add(1_000_000 + i, 100 + (i % 100), `f${String(i).padStart(7, '0')}`, 7, 'reg', 0);
    expect(index.size).toBe(1_000_101);
    expect(index.heapBytes / index.size).toBeLessThanOrEqual(150);
    expect(index.components(1_999_999)).toEqual(['d00099', 'f0999999']);
  });
});

describe('start-up indexing in the background', () => {
  const { tmp, openAt } = useTempStores();
  afterEach(() => vi.restoreAllMocks());

  it('answers EAGAIN for inodes it has not met yet while it walks, then knows every one', async () => {
    const dir = await tmp();
    const root = path.join(dir, 'fs');
    const files: { ino: number; gen: number }[] = [];
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
      for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(root, `d${d}`, `f${i}`), '');
    }
    // learn each file's inode and generation from a store that indexed them all
    const first = await openAt(dir);
    await first.indexed;
    for (let d = 0; d < 10; d++) {
      const dd = await first.lookup(first.rootIno, `d${d}`);
      for (let i = 0; i < 200; i++) {
        const st = await first.lookup(dd.ino, `f${i}`);
        files.push({ ino: st.ino, gen: st.gen });
      }
    }
    await first.shutdown();

    // hold the walk after its first batch
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const realTurn = sys.turn;
    let batches = 0;
    vi.spyOn(sys, 'turn').mockImplementation(() => (++batches === 1 ? held : realTurn()));
    const s = await openAt(dir, { indexWaitMs: 0 });
    while (batches === 0) await realTurn();
    const during = await Promise.all(files.map((f) => storeCode(s.verify(f.ino, f.gen))));
    expect(during.filter((c) => c !== 'OK' && c !== 'EAGAIN')).toEqual([]);
    expect(during.filter((c) => c === 'EAGAIN').length).toBeGreaterThan(0);
    // what a client looks up by name is found at once
    const d9 = await s.lookup(s.rootIno, 'd9');
    expect((await s.lookup(d9.ino, 'f199')).ino).toBe(files[files.length - 1]!.ino);
    release();
    await s.indexed;
    const after = await Promise.all(files.map((f) => storeCode(s.verify(f.ino, f.gen))));
    expect(after.every((c) => c === 'OK')).toBe(true);
    // and an inode that is not in the tree is stale once the walk is over
    expect(await storeCode(s.verify(files[0]!.ino + 10_000_000, 1))).toBe('ESTALE');
    expect(await storeCode(s.createFile(d9.ino, 'new', FILE))).toBe('OK');
  });
});
