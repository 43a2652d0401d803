import { describe, expect, it } from 'vitest';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore } from '../../src/store/local/local-store.js';
import { StoreError } from '../../src/store/types.js';
import { DIR, FILE, storeCode, useTempStores } from './store-helpers.js';

const { tmp, openAt } = useTempStores();
const A = FILE;
const D = DIR;
const code = storeCode;

async function setup(): Promise<{ s: LocalStore; sentinel: string; base: string }> {
  const base = await tmp();
  const sentinel = path.join(base, 'sentinel');
  await mkdir(path.join(sentinel, 'sub'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(sentinel, 'file'), 'precious', { mode: 0o600 });
  await writeFile(path.join(sentinel, 'sub', 'f'), 'also precious', { mode: 0o600 });
  const s = await openAt(base);
  return { s, sentinel, base };
}

/** Everything observable about a tree, ctime included (any chmod/chown/write/create/remove moves it). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, rel: string): Promise<void> => {
    const st = await lstat(p, { bigint: true });
    let content = '';
    if (st.isFile()) content = await readFile(p, 'utf8');
    out.push(`${rel} ${st.mode} ${st.uid} ${st.gid} ${st.size} ${st.mtimeNs} ${st.ctimeNs} ${content}`);
    if (st.isDirectory()) for (const n of (await readdir(p)).sort()) await walk(path.join(p, n), `${rel}/${n}`);
  };
  await walk(dir, '.');
  return out;
}

describe('LocalStore never follows symlinks', () => {
  it('client-made symlinks to /, .. and outside the root are inert', async () => {
    const { s, sentinel } = await setup();
    const before = await snapshot(sentinel);
    const rootBefore = await lstat('/', { bigint: true });
    const esc = (await s.symlink(s.rootIno, 'esc', '/', A)).stat;
    const up = (await s.symlink(s.rootIno, 'up', '..', A)).stat;
    const sent = (await s.symlink(s.rootIno, 'sent', sentinel, A)).stat;
    const sentFile = (await s.symlink(s.rootIno, 'sentfile', path.join(sentinel, 'file'), A)).stat;
    const f = (await s.createFile(s.rootIno, 'f', A)).stat;
    expect(await s.readlink(up.ino)).toBe('..');

    for (const l of [esc, up, sent]) {
      expect(await code(s.lookup(l.ino, 'etc'))).toBe('ENOTDIR');
      expect(await code(s.lookup(l.ino, 'file'))).toBe('ENOTDIR');
      expect(await code(s.readdir(l.ino, 0, 100))).toBe('ENOTDIR');
      expect(await code(s.createFile(l.ino, 'x', A))).toBe('ENOTDIR');
      expect(await code(s.mkdir(l.ino, 'x', D))).toBe('ENOTDIR');
      expect(await code(s.symlink(l.ino, 'x', 'y', A))).toBe('ENOTDIR');
      expect(await code(s.mknod(l.ino, 'x', 'fifo', A))).toBe('ENOTDIR');
      expect(await code(s.link(f.ino, l.ino, 'x'))).toBe('ENOTDIR');
      expect(await code(s.remove(l.ino, 'file'))).toBe('ENOTDIR');
      expect(await code(s.rename(s.rootIno, 'f', l.ino, 'x'))).toBe('ENOTDIR');
      expect(await code(s.rename(l.ino, 'file', s.rootIno, 'stolen'))).toBe('ENOTDIR');
      expect(await code(s.parent(l.ino))).toBe('ENOTDIR');
    }
    for (const l of [esc, sent, sentFile]) {
      expect(await code(s.open(l.ino, true))).toBe('EINVAL');
      expect(await code(s.open(l.ino, false))).toBe('EINVAL');
      expect(await code(s.sharedFile(l.ino, true))).toBe('EINVAL');
      expect(await code(s.setattr(l.ino, { size: 0 }))).toBe('EINVAL');
      const st = await s.setattr(l.ino, { mode: 0o777, uid: 12, gid: 34, mtime: { sec: 5, nsec: 0 } });
      expect(st.kind).toBe('lnk');
    }
    // a link can be replaced or removed; the target is untouched
    await s.rename(s.rootIno, 'f', s.rootIno, 'sentfile');
    await s.remove(s.rootIno, 'sent');
    await s.remove(s.rootIno, 'esc');

    expect(await snapshot(sentinel)).toEqual(before);
    const rootAfter = await lstat('/', { bigint: true });
    expect([rootAfter.mode, rootAfter.uid, rootAfter.ctimeNs]).toEqual([rootBefore.mode, rootBefore.uid, rootBefore.ctimeNs]);
  });

  it('a directory swapped for a symlink while other ops race never leaks outside the root', async () => {
    const { s, sentinel } = await setup();
    const before = await snapshot(sentinel);
    const d = (await s.mkdir(s.rootIno, 'd', D)).stat;
    const f = (await s.createFile(d.ino, 'file', A)).stat; // same name as the sentinel's file
    const sub = (await s.mkdir(d.ino, 'sub', D)).stat;
    const g = (await s.createFile(sub.ino, 'f', A)).stat;
    let stop = false;

    const churn = async (): Promise<void> => {
      for (let i = 0; i < 60; i++) {
        await s.rename(s.rootIno, 'd', s.rootIno, 'd-away');
        await s.symlink(s.rootIno, 'd', sentinel, A);
        await new Promise((r) => setImmediate(r));
        await s.remove(s.rootIno, 'd');
        await s.rename(s.rootIno, 'd-away', s.rootIno, 'd');
      }
      stop = true;
    };
    const tolerate = (e: unknown): void => {
      if (!(e instanceof StoreError)) throw e;
      if (!['EEXIST', 'ENOENT', 'EMLINK'].includes(e.code)) throw e;
    };
    const worker = async (w: number): Promise<number> => {
      let n = 0;
      while (!stop) {
        n++;
        const ops: Array<Promise<unknown>> = [
          s.getattr(f.ino),
          s.lookup(d.ino, 'file'),
          s.lookup(sub.ino, 'f'),
          s.readdir(d.ino, 0, 100),
          s.setattr(f.ino, { mode: 0o600 | (n & 0o7), size: n % 17 }),
          s.setattr(g.ino, { mtime: 'now', uid: n % 5 }),
          s.setattr(sub.ino, { mode: 0o755 }),
          s.createFile(d.ino, `c-${w}-${n}`, A),
          s.mkdir(sub.ino, `m-${w}-${n}`, D),
          n % 5 === 0 ? s.mknod(d.ino, `p-${w}-${n}`, 'fifo', A) : Promise.resolve(),
          s.link(f.ino, sub.ino, `l-${w}-${n}`),
          (async () => {
            const o = await s.open(g.ino, true);
            await s.write(o, Buffer.from(`w${n}`), 0, false);
            await s.close(o);
          })(),
          (async () => {
            const o = await s.sharedFile(f.ino, true);
            await s.write(o, Buffer.from('x'), n % 7, false);
          })(),
        ];
        for (const r of await Promise.allSettled(ops)) if (r.status === 'rejected') tolerate(r.reason);
        await s.remove(sub.ino, `l-${w}-${n}`).catch(tolerate);
        if (n % 10 === 0) {
          for (const name of [`c-${w}-${n}`, `p-${w}-${n}`]) await s.remove(d.ino, name).catch(tolerate);
        }
      }
      return n;
    };
    const [, ...counts] = await Promise.all([churn(), worker(1), worker(2), worker(3)]);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);

    expect(await snapshot(sentinel)).toEqual(before);
    // everything the workers made landed inside the real directory
    const names = (await s.readdir(d.ino, 0, 100000)).entries.map((e) => e.name);
    expect(names).toContain('file');
    expect(names.some((n) => n.startsWith('c-'))).toBe(true);
    expect((await s.getattr(d.ino)).kind).toBe('dir');
    expect((await s.lookup(s.rootIno, 'd')).ino).toBe(d.ino);
  }, 60_000);
});
