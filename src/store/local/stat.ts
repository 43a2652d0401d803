import type { BigIntStats } from 'node:fs';
import { MAX_NAME_BYTES } from '../../protocol/efs-limits.js';
import { constants as C } from 'node:fs';
import type { FileKind, Timespec } from '../types.js';
import { StoreError } from '../types.js';

export const MAX_DEPTH = 1000;
export const DIR_SIZE = 6144;
export const BLOCK = 4096;

const NS = 1_000_000_000n;

export function kindOf(mode: number): FileKind {
  switch (mode & C.S_IFMT) {
    case C.S_IFREG:
      return 'reg';
    case C.S_IFDIR:
      return 'dir';
    case C.S_IFLNK:
      return 'lnk';
    case C.S_IFIFO:
      return 'fifo';
    case C.S_IFSOCK:
      return 'sock';
    case C.S_IFBLK:
      return 'blk';
    case C.S_IFCHR:
      return 'chr';
    default:
      return 'reg';
  }
}

/** Host inode number as a safe integer; refuses numbers NFS clients could not round-trip through JS numbers. */
export function inoOf(st: BigIntStats): number {
  if (st.ino > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StoreError('EIO', `host inode number ${st.ino} exceeds 2^53: unsupported host file system`);
  }
  return Number(st.ino);
}

/** 32-bit generation from the birth time (ns); 0 when the host gives none. */
export function genOf(st: BigIntStats): number {
  const b = st.birthtimeNs;
  if (b <= 0n) return 0;
  // fold the 64-bit ns value: the low bits (ns, s) vary between two files most
  return Number(BigInt.asUintN(32, b ^ (b >> 32n) ^ (b >> 17n)));
}

export function timespec(ns: bigint): Timespec {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    nsec += NS;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** Linux dev_t decoding. */
export function devParts(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** EFS metering: data rounded up to 4 KiB, at least 4 KiB; symlinks and special files 4 KiB. */
export function spaceOf(kind: FileKind, st: BigIntStats): number {
  if (kind === 'reg' || kind === 'dir') return Math.max(BLOCK, roundUp(Number(st.blocks) * 512, BLOCK));
  return BLOCK;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Validates one client-supplied path component. */
export function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..') {
    throw new StoreError('EINVAL', 'invalid name');
  }
  if (name.includes('/') || name.includes('\0') || LONE_SURROGATE.test(name)) {
    throw new StoreError('EINVAL', 'invalid name');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw new StoreError('ENAMETOOLONG', 'name too long');
}

export function toSeconds(t: Timespec | 'now'): number {
  if (t === 'now') return Date.now() / 1000;
  return t.sec + t.nsec / 1e9;
}

/** atime and mtime in seconds for utimes: the ones asked for, else the file's current ones. */
export function timesFor(attrs: { atime?: Timespec | 'now'; mtime?: Timespec | 'now' }, cur: BigIntStats): [number, number] {
  return [
    attrs.atime !== undefined ? toSeconds(attrs.atime) : Number(cur.atimeNs) / 1e9,
    attrs.mtime !== undefined ? toSeconds(attrs.mtime) : Number(cur.mtimeNs) / 1e9,
  ];
}
