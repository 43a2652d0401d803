import type { FileKind } from '../types.js';

/** One name of an inode: (parent directory inode, component). */
export interface Link {
  parent: number;
  name: string;
}

/** Key of a directory entry for the per-entry locks (the root, which has no entry, gets its own key). */
export function entryKey(l: Link | undefined): string {
  return l ? l.parent + '/' + l.name : '/';
}

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

/**
 * ino -> names. Paths are rebuilt by walking parent links up to the root, so
 * renaming a directory needs no update of its descendants.
 */
export class InodeIndex {
  private readonly nodes = new Map<number, INode>();
  private usedBytes = 0;

  constructor(readonly rootIno: number) {}

  get size(): number {
    return this.nodes.size;
  }

  get used(): number {
    return this.usedBytes;
  }

  get(ino: number): INode | undefined {
    return this.nodes.get(ino);
  }

  has(ino: number): boolean {
    return this.nodes.has(ino);
  }

  /**
   * Records a name for `ino`. A different generation means the inode number
   * was reused: the old record is replaced.
   */
  add(ino: number, parent: number, name: string, gen: number, kind: FileKind, space: number): INode {
    const cur = this.nodes.get(ino);
    if (cur && cur.gen === gen) {
      if (!hasLink(cur, parent, name)) {
        if (cur.kind === 'dir') {
          // directories have one name: the newest wins
          cur.parent = parent;
          cur.name = name;
        } else {
          (cur.more ??= []).push({ parent, name });
        }
      }
      this.setSpace(ino, space);
      cur.kind = kind;
      return cur;
    }
    if (cur) this.usedBytes -= cur.space;
    const n: INode = { parent, name, gen, kind, space };
    this.nodes.set(ino, n);
    this.usedBytes += space;
    return n;
  }

  setSpace(ino: number, space: number): void {
    const n = this.nodes.get(ino);
    if (!n || n.space === space) return;
    this.usedBytes += space - n.space;
    n.space = space;
  }

  /** Removes one name; returns true when the inode has no known name left (and is dropped). */
  removeLink(ino: number, parent: number, name: string): boolean {
    const n = this.nodes.get(ino);
    if (!n) return true;
    if (n.parent === parent && n.name === name) {
      const next = n.more?.shift();
      if (!next) {
        this.drop(ino);
        return true;
      }
      n.parent = next.parent;
      n.name = next.name;
      if (n.more && n.more.length === 0) n.more = undefined;
      return false;
    }
    if (n.more) {
      const i = n.more.findIndex((l) => l.parent === parent && l.name === name);
      if (i >= 0) n.more.splice(i, 1);
      if (n.more.length === 0) n.more = undefined;
    }
    return false;
  }

  /** Renames one name of `ino` in place. */
  moveLink(ino: number, fromParent: number, fromName: string, toParent: number, toName: string): void {
    const n = this.nodes.get(ino);
    if (!n) return;
    if (n.parent === fromParent && n.name === fromName) {
      n.parent = toParent;
      n.name = toName;
    } else {
      const l = n.more?.find((x) => x.parent === fromParent && x.name === fromName);
      if (l) {
        l.parent = toParent;
        l.name = toName;
      } else if (!hasLink(n, toParent, toName)) {
        (n.more ??= []).push({ parent: toParent, name: toName });
      }
    }
    // a name may now appear twice (renaming one hard link over another of the same file is a no-op in POSIX,
    // callers avoid that case)
  }

  drop(ino: number): void {
    const n = this.nodes.get(ino);
    if (!n) return;
    this.usedBytes -= n.space;
    this.nodes.delete(ino);
  }

  /** All names of an inode, primary first. */
  links(ino: number): Link[] {
    const n = this.nodes.get(ino);
    if (!n) return [];
    return [{ parent: n.parent, name: n.name }, ...(n.more ?? [])];
  }

  /**
   * Path components from the root to `ino` through the given first link
   * (default: the primary name). undefined when the chain is broken.
   */
  components(ino: number, via?: Link): string[] | undefined {
    if (ino === this.rootIno) return [];
    const out: string[] = [];
    let cur: Link | undefined = via ?? this.nodes.get(ino);
    let guard = 0;
    while (cur) {
      out.push(cur.name);
      if (cur.parent === this.rootIno) {
        out.reverse();
        return out;
      }
      if (++guard > MAX_CHAIN) return undefined;
      cur = this.nodes.get(cur.parent);
    }
    return undefined;
  }

  /** Depth of `ino` below the root (root = 0), or -1 if unknown. */
  depth(ino: number): number {
    if (ino === this.rootIno) return 0;
    let d = 0;
    let cur = this.nodes.get(ino);
    while (cur) {
      d++;
      if (cur.parent === this.rootIno) return d;
      if (d > MAX_CHAIN) return -1;
      cur = this.nodes.get(cur.parent);
    }
    return -1;
  }

  /** True if `ancestor` is `ino` or one of its ancestors (primary chain). */
  isAncestor(ancestor: number, ino: number): boolean {
    let cur: number = ino;
    for (let i = 0; i <= MAX_CHAIN; i++) {
      if (cur === ancestor) return true;
      if (cur === this.rootIno) return false;
      const n = this.nodes.get(cur);
      if (!n) return false;
      cur = n.parent;
    }
    return false;
  }

  inodes(): IterableIterator<[number, INode]> {
    return this.nodes.entries();
  }
}

function hasLink(n: INode, parent: number, name: string): boolean {
  if (n.parent === parent && n.name === name) return true;
  return n.more?.some((l) => l.parent === parent && l.name === name) ?? false;
}
