import type { FileKind } from '../types.js';
import { MAX_NAME_BYTES } from '../../protocol/efs-limits.js';

/** One name of an inode: (parent directory inode, component). */
export interface Link {
  parent: number;
  name: string;
}

/** Key of a directory entry for the per-entry locks (the root, which has no entry, gets its own key). */
export function entryKey(l: Link | undefined): string {
  return l ? l.parent + '/' + l.name : '/';
}

/** What the index knows of an inode (a snapshot: changing it changes nothing in the index). */
export interface INode {
  /** Primary name. */
  parent: number;
  name: string;
  /** Further names (hard links), rarely present. */
  more?: Link[];
  gen: number;
  kind: FileKind;
  /** Metered bytes last seen for this inode (statfs). */
  space: number;
}

/** Max parent-chain length walked before declaring the index corrupt (cycle guard). */
const MAX_CHAIN = 100_000;
const KINDS: readonly FileKind[] = ['reg', 'dir', 'lnk', 'fifo', 'sock', 'blk', 'chr'];
const KIND_CODE = new Map(KINDS.map((k, i) => [k, i]));
/** Slots in use at most, as a share of the table (linear probing stays short below this). */
const MAX_LOAD = 0.7;
const EMPTY = 0; // inode 0 names no file on Linux

/** The table's columns, one slot per index. */
interface Tables {
  inos: Float64Array;
  parents: Float64Array;
  spaces: Float64Array;
  gens: Uint32Array;
  nameAt: Uint32Array;
  nameLen: Uint8Array;
  kinds: Uint8Array;
}

function tables(cap: number): Tables {
  return {
    inos: new Float64Array(cap),
    parents: new Float64Array(cap),
    spaces: new Float64Array(cap),
    gens: new Uint32Array(cap),
    nameAt: new Uint32Array(cap),
    nameLen: new Uint8Array(cap),
    kinds: new Uint8Array(cap),
  };
}

function copySlot(from: Tables, i: number, to: Tables, j: number): void {
  to.inos[j] = from.inos[i]!;
  to.parents[j] = from.parents[i]!;
  to.spaces[j] = from.spaces[i]!;
  to.gens[j] = from.gens[i]!;
  to.nameAt[j] = from.nameAt[i]!;
  to.nameLen[j] = from.nameLen[i]!;
  to.kinds[j] = from.kinds[i]!;
}

function slotHash(ino: number, mask: number): number {
  const lo = ino >>> 0;
  const hi = (ino / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}

/**
 * ino -> names. Paths are rebuilt by walking parent links up to the root, so
 * renaming a directory needs no update of its descendants.
 *
 * Held compactly, since a data directory may hold millions of files: an
 * open-addressing table (linear probing, backward-shift deletion) of typed
 * arrays, 34 bytes a slot, with the names as UTF-8 in one arena buffer;
 * about 80 bytes a file in all (a Map of objects took about 230). Further
 * names of hard-linked files sit in a small Map beside it.
 */
export class InodeIndex {
  private mask: number;
  private count = 0;
  private t: Tables;
  private arena: Buffer = Buffer.allocUnsafe(64 * 1024);
  private arenaUsed = 0;
  /** Arena bytes of names no longer referenced (compacted away past half the arena). */
  private arenaGarbage = 0;
  private readonly more = new Map<number, Link[]>();
  private usedBytes = 0;
  /**
   * Every name in the tree has been seen (the start-up walk finished). Until
   * then an inode the index does not know may still exist: callers answer
   * "try again" instead of "stale".
   */
  complete = true;

  constructor(
    readonly rootIno: number,
    capacity = 1024,
  ) {
    let cap = 16;
    while (cap * MAX_LOAD < capacity) cap *= 2;
    this.mask = cap - 1;
    this.t = tables(cap);
  }

  get size(): number {
    return this.count;
  }

  get used(): number {
    return this.usedBytes;
  }

  /** Bytes the index holds (its table, name arena and link map), for the tests of its bound. */
  get heapBytes(): number {
    return (this.mask + 1) * 34 + this.arena.length + this.more.size * 64;
  }

  has(ino: number): boolean {
    return this.find(ino) >= 0;
  }

  /** Generation of an indexed inode (no entry built: the hot paths need only this). */
  genOf(ino: number): number | undefined {
    const s = this.find(ino);
    return s < 0 ? undefined : this.t.gens[s]!;
  }

  /** Kind of an indexed inode. */
  kindOf(ino: number): INode['kind'] | undefined {
    const s = this.find(ino);
    return s < 0 ? undefined : KINDS[this.t.kinds[s]!]!;
  }

  /** Parent through the primary name. */
  parentOf(ino: number): number | undefined {
    const s = this.find(ino);
    return s < 0 ? undefined : this.t.parents[s]!;
  }

  /** The parents of every link of an inode (no names decoded). */
  parentsOf(ino: number): number[] {
    const s = this.find(ino);
    if (s < 0) return [];
    const more = this.more.get(ino);
    return more ? [this.t.parents[s]!, ...more.map((l) => l.parent)] : [this.t.parents[s]!];
  }

  /** The primary link (parent and name), without the other links. */
  primary(ino: number): Link | undefined {
    const s = this.find(ino);
    return s < 0 ? undefined : { parent: this.t.parents[s]!, name: this.nameOf(s) };
  }

  get(ino: number): INode | undefined {
    const s = this.find(ino);
    if (s < 0) return undefined;
    const more = this.more.get(ino);
    return {
      parent: this.t.parents[s]!,
      name: this.nameOf(s),
      ...(more ? { more: more.map((l) => ({ ...l })) } : {}),
      gen: this.t.gens[s]!,
      kind: KINDS[this.t.kinds[s]!]!,
      space: this.t.spaces[s]!,
    };
  }

  /**
   * Records a name for `ino`. A different generation means the inode number
   * was reused: the old record is replaced.
   */
  add(ino: number, parent: number, name: string, gen: number, kind: FileKind, space: number): void {
    let s = this.find(ino);
    if (s >= 0 && this.t.gens[s] === gen >>> 0) {
      if (!this.hasLink(s, ino, parent, name)) {
        if (kind === 'dir') {
          // directories have one name: the newest wins
          this.t.parents[s] = parent;
          this.setName(s, name);
        } else {
          const list = this.more.get(ino);
          if (list) list.push({ parent, name });
          else this.more.set(ino, [{ parent, name }]);
        }
      }
      this.t.kinds[s] = KIND_CODE.get(kind)!;
      this.setSpace(ino, space);
      return;
    }
    if (s >= 0) this.drop(ino);
    if ((this.count + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    s = this.insertSlot(ino);
    this.count++;
    this.t.parents[s] = parent;
    this.t.gens[s] = gen >>> 0;
    this.t.kinds[s] = KIND_CODE.get(kind)!;
    this.t.spaces[s] = space;
    this.usedBytes += space;
    this.t.nameLen[s] = 0;
    this.setName(s, name);
  }

  setSpace(ino: number, space: number): void {
    const s = this.find(ino);
    if (s < 0 || this.t.spaces[s] === space) return;
    this.usedBytes += space - this.t.spaces[s]!;
    this.t.spaces[s] = space;
  }

  /** Removes one name; returns true when the inode has no known name left (and is dropped). */
  removeLink(ino: number, parent: number, name: string): boolean {
    const s = this.find(ino);
    if (s < 0) return true;
    const more = this.more.get(ino);
    if (this.t.parents[s] === parent && this.nameEquals(s, name)) {
      const next = more?.shift();
      if (!next) {
        this.drop(ino);
        return true;
      }
      this.t.parents[s] = next.parent;
      this.setName(s, next.name);
      if (more!.length === 0) this.more.delete(ino);
      return false;
    }
    if (more) {
      const i = more.findIndex((l) => l.parent === parent && l.name === name);
      if (i >= 0) more.splice(i, 1);
      if (more.length === 0) this.more.delete(ino);
    }
    return false;
  }

  /** Renames one name of `ino` in place. */
  moveLink(ino: number, fromParent: number, fromName: string, toParent: number, toName: string): void {
    const s = this.find(ino);
    if (s < 0) return;
    if (this.t.parents[s] === fromParent && this.nameEquals(s, fromName)) {
      this.t.parents[s] = toParent;
      this.setName(s, toName);
      return;
    }
    const more = this.more.get(ino);
    const l = more?.find((x) => x.parent === fromParent && x.name === fromName);
    if (l) {
      l.parent = toParent;
      l.name = toName;
    } else if (!this.hasLink(s, ino, toParent, toName)) {
      if (more) more.push({ parent: toParent, name: toName });
      else this.more.set(ino, [{ parent: toParent, name: toName }]);
    }
    // a name may now appear twice (renaming one hard link over another of the same file is a no-op in POSIX,
    // callers avoid that case)
  }

  drop(ino: number): void {
    const s = this.find(ino);
    if (s < 0) return;
    this.usedBytes -= this.t.spaces[s]!;
    this.arenaGarbage += this.t.nameLen[s]!;
    this.more.delete(ino);
    this.count--;
    this.removeSlot(s);
  }

  /** All names of an inode, primary first. */
  links(ino: number): Link[] {
    const s = this.find(ino);
    if (s < 0) return [];
    const first = { parent: this.t.parents[s]!, name: this.nameOf(s) };
    const more = this.more.get(ino);
    return more ? [first, ...more.map((l) => ({ ...l }))] : [first];
  }

  /**
   * Path components from the root to `ino` through the given first link
   * (default: the primary name). undefined when the chain is broken.
   */
  components(ino: number, via?: Link): string[] | undefined {
    if (ino === this.rootIno) return [];
    const out: string[] = [];
    let name: string;
    let parent: number;
    if (via) {
      name = via.name;
      parent = via.parent;
    } else {
      const s = this.find(ino);
      if (s < 0) return undefined;
      name = this.nameOf(s);
      parent = this.t.parents[s]!;
    }
    for (let guard = 0; guard <= MAX_CHAIN; guard++) {
      out.push(name);
      if (parent === this.rootIno) {
        out.reverse();
        return out;
      }
      const s = this.find(parent);
      if (s < 0) return undefined;
      name = this.nameOf(s);
      parent = this.t.parents[s]!;
    }
    return undefined;
  }

  /** Depth of `ino` below the root (root = 0), or -1 if unknown. */
  depth(ino: number): number {
    if (ino === this.rootIno) return 0;
    let cur = ino;
    for (let d = 1; d <= MAX_CHAIN; d++) {
      const s = this.find(cur);
      if (s < 0) return -1;
      cur = this.t.parents[s]!;
      if (cur === this.rootIno) return d;
    }
    return -1;
  }

  /** True if `ancestor` is `ino` or one of its ancestors (primary chain). */
  isAncestor(ancestor: number, ino: number): boolean {
    let cur = ino;
    for (let i = 0; i <= MAX_CHAIN; i++) {
      if (cur === ancestor) return true;
      if (cur === this.rootIno) return false;
      const s = this.find(cur);
      if (s < 0) return false;
      cur = this.t.parents[s]!;
    }
    return false;
  }

  // ---------------------------------------------------------------- the table

  private find(ino: number): number {
    if (ino === EMPTY) return -1;
    const inos = this.t.inos;
    for (let s = slotHash(ino, this.mask); ; s = (s + 1) & this.mask) {
      const k = inos[s];
      if (k === ino) return s;
      if (k === EMPTY) return -1;
    }
  }

  /** A free slot for `ino` (not present; the table has room). */
  private insertSlot(ino: number): number {
    let s = slotHash(ino, this.mask);
    while (this.t.inos[s] !== EMPTY) s = (s + 1) & this.mask;
    this.t.inos[s] = ino;
    return s;
  }

  /** Empties slot `s` and shifts later entries of its probe run back, so lookups never stop early. */
  private removeSlot(s: number): void {
    const mask = this.mask;
    let hole = s;
    for (let j = (s + 1) & mask; this.t.inos[j] !== EMPTY; j = (j + 1) & mask) {
      const home = slotHash(this.t.inos[j]!, mask);
      // the entry at j may move to the hole if its home is not in (hole, j]
      const movable = hole <= j ? home <= hole || home > j : home <= hole && home > j;
      if (!movable) continue;
      this.moveSlot(j, hole);
      hole = j;
    }
    this.t.inos[hole] = EMPTY;
  }

  private moveSlot(from: number, to: number): void {
    copySlot(this.t, from, this.t, to);
  }

  private grow(): void {
    const old = this.t;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.t = tables(cap);
    for (let i = 0; i < old.inos.length; i++) {
      const ino = old.inos[i]!;
      if (ino === EMPTY) continue;
      const s = this.insertSlot(ino);
      copySlot(old, i, this.t, s);
    }
  }

  // ---------------------------------------------------------------- names

  private nameOf(s: number): string {
    const at = this.t.nameAt[s]!;
    return this.arena.toString('utf8', at, at + this.t.nameLen[s]!);
  }

  private nameEquals(s: number, name: string): boolean {
    return this.nameOf(s) === name;
  }

  private hasLink(s: number, ino: number, parent: number, name: string): boolean {
    if (this.t.parents[s] === parent && this.nameEquals(s, name)) return true;
    return this.more.get(ino)?.some((l) => l.parent === parent && l.name === name) ?? false;
  }

  /** Stores a slot's name (names are at most 255 bytes: the store refuses longer ones). */
  private setName(s: number, name: string): void {
    const len = Buffer.byteLength(name, 'utf8');
    if (len > MAX_NAME_BYTES) throw new Error(`inode index: name of ${len} bytes`);
    this.arenaGarbage += this.t.nameLen[s]!;
    if (this.arenaUsed + len > this.arena.length) this.makeRoom(len);
    this.arena.write(name, this.arenaUsed, 'utf8');
    this.t.nameAt[s] = this.arenaUsed;
    this.t.nameLen[s] = len;
    this.arenaUsed += len;
  }

  /** Compacts the arena when half of it is garbage, else doubles it. */
  private makeRoom(len: number): void {
    const live = this.arenaUsed - this.arenaGarbage;
    const size = Math.max(64 * 1024, 2 ** Math.ceil(Math.log2((live + len) * 2)));
    const next = Buffer.allocUnsafe(this.arenaGarbage > this.arenaUsed / 2 ? size : Math.max(size, this.arena.length * 2));
    let at = 0;
    for (let s = 0; s <= this.mask; s++) {
      if (this.t.inos[s] === EMPTY) continue;
      const from = this.t.nameAt[s]!;
      const n = this.t.nameLen[s]!;
      this.arena.copy(next, at, from, from + n);
      this.t.nameAt[s] = at;
      at += n;
    }
    this.arena = next;
    this.arenaUsed = at;
    this.arenaGarbage = 0;
  }
}
