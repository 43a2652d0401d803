/**
 * Byte-range lock bookkeeping for one file (POSIX semantics between owners:
 * read locks share, write locks exclude; one owner's own ranges merge, split,
 * upgrade and downgrade freely). Pure functions over FileState.locks; the
 * per-file list is short (<= the per-file limit), so linear scans are fine.
 */
import type { FileState, LockRange, LockState } from './model.js';

/** 2^64: what we store/emit as the "to end of file" length (the writer clamps it to all ones). */
export const U64_ALL_ONES = 2 ** 64;
const TWO_53 = 2 ** 53;

export type RangeCheck = { ok: true; start: number; end: number } | { ok: false };

/** Marker length for a range whose offset + length overflows 64 bits (see readLockRange). */
export const OVERFLOW_LENGTH = -1;

/**
 * Reads an offset4/length4 pair exactly (hi/lo words) so that "all ones"
 * (to EOF) and 64-bit overflow (NFS4ERR_INVAL) are told apart before the
 * values become (imprecise) numbers. An overflowing range gets
 * OVERFLOW_LENGTH; all ones becomes 2^64.
 */
export function readLockRange(r: { u32(): number }): { offset: number; length: number } {
  const oh = r.u32();
  const ol = r.u32();
  const lh = r.u32();
  const ll = r.u32();
  const offset = oh * 4294967296 + ol;
  if (lh === 0xffffffff && ll === 0xffffffff) return { offset, length: U64_ALL_ONES };
  const carry = ol + ll >= 4294967296 ? 1 : 0;
  if (oh + lh + carry >= 4294967296) return { offset, length: OVERFLOW_LENGTH };
  return { offset, length: lh * 4294967296 + ll };
}

/**
 * offset/length (as numbers) to [start, end). Any length >= 2^53 means "to
 * EOF" (all ones does not survive the u64 -> number conversion exactly;
 * decoders use readLockRange to reject overflow precisely). Length 0 and
 * offset + length beyond 2^64 are invalid (NFS4ERR_INVAL).
 */
export function lockRange(offset: number, length: number): RangeCheck {
  if (length === 0 || length < 0) return { ok: false };
  if (length >= TWO_53) return { ok: true, start: offset, end: Infinity };
  const end = offset + length;
  if (end > U64_ALL_ONES) return { ok: false };
  if (end >= U64_ALL_ONES) return { ok: true, start: offset, end: Infinity };
  return { ok: true, start: offset, end };
}

export function rangeLength(r: { start: number; end: number }): number {
  return r.end === Infinity ? U64_ALL_ONES : r.end - r.start;
}

function overlaps(a: { start: number; end: number }, start: number, end: number): boolean {
  return a.start < end && start < a.end;
}

/**
 * First lock of another owner that conflicts with [start, end) of the given type.
 * `isMine` tells which ranges belong to the requesting owner (they never conflict).
 */
export function findConflict(
  file: FileState,
  isMine: (r: LockRange) => boolean,
  start: number,
  end: number,
  write: boolean,
): LockRange | undefined {
  for (const r of file.locks) {
    if (!overlaps(r, start, end)) continue;
    if (!write && !r.write) continue;
    if (isMine(r)) continue;
    return r;
  }
  return undefined;
}

/** The state's ranges with [start, end) cut out. */
function subtract(mine: LockRange[], start: number, end: number): LockRange[] {
  const out: LockRange[] = [];
  for (const r of mine) {
    if (!overlaps(r, start, end)) {
      out.push(r);
      continue;
    }
    if (r.start < start) out.push({ state: r.state, start: r.start, end: start, write: r.write });
    if (r.end > end) out.push({ state: r.state, start: end, end: r.end, write: r.write });
  }
  return out;
}

/** Sorts and coalesces touching/overlapping ranges of the same type. */
function coalesce(ranges: LockRange[]): LockRange[] {
  ranges.sort((a, b) => a.start - b.start);
  const out: LockRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && last.write === r.write && last.end >= r.start) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ state: r.state, start: r.start, end: r.end, write: r.write });
    }
  }
  return out;
}

/**
 * Sets [start, end) to `write ? WRITE : READ` for `state` (replacing whatever
 * the state held there). Conflicts must have been checked. Returns the change
 * in the number of ranges, or undefined (and changes nothing) when the file
 * would hold more than `limit` ranges.
 */
export function applyLock(file: FileState, state: LockState, start: number, end: number, write: boolean, limit: number): number | undefined {
  const others: LockRange[] = [];
  const mine: LockRange[] = [];
  for (const r of file.locks) (r.state === state ? mine : others).push(r);
  const next = coalesce([...subtract(mine, start, end), { state, start, end, write }]);
  if (others.length + next.length > limit && next.length > mine.length) return undefined;
  file.locks = others.concat(next);
  state.held = next.length;
  return next.length - mine.length;
}

/** Removes [start, end) from the state's ranges. Returns the change in the number of ranges. */
export function applyUnlock(file: FileState, state: LockState, start: number, end: number): number {
  const others: LockRange[] = [];
  const mine: LockRange[] = [];
  for (const r of file.locks) (r.state === state ? mine : others).push(r);
  if (mine.length === 0) return 0;
  const next = subtract(mine, start, end);
  file.locks = others.concat(next);
  state.held = next.length;
  return next.length - mine.length;
}

/** Drops every range of the state. Returns how many were dropped. */
export function releaseAll(file: FileState, state: LockState): number {
  const before = file.locks.length;
  file.locks = file.locks.filter((r) => r.state !== state);
  state.held = 0;
  return before - file.locks.length;
}
