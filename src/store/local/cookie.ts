/** 32-bit murmur3-style hash of a string's UTF-16 code units with a seed. */
function hash32(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The readdir cookie of a name: a stable 53-bit hash of the name (two
 * independently seeded 32-bit hashes: 21 + 32 bits), never 0, 1 or 2
 * (reserved by NFS). The value depends only on the name, so it survives
 * restarts and other entries coming and going. Collisions inside one
 * directory are resolved by `assignCookies`.
 */
export function nameCookie(name: string): number {
  const hi = hash32(name, 0x9747b28c) & 0x1fffff;
  const lo = hash32(name, 0x5bd1e995);
  let c = hi * 4294967296 + lo;
  if (c < 3) c += 3;
  return c;
}

/**
 * Assigns cookies to a directory's names: sorted ascending by cookie.
 * On a (astronomically rare) collision the names are ordered by their bytes
 * and the later ones take the next free value, so the result depends only on
 * the set of names.
 */
export function assignCookies<T extends { name: string; cookie: number }>(entries: T[]): T[] {
  for (const e of entries) e.cookie = nameCookie(e.name);
  entries.sort((a, b) => a.cookie - b.cookie || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].cookie <= entries[i - 1].cookie) {
      entries[i].cookie = entries[i - 1].cookie + 1;
      if (entries[i].cookie > Number.MAX_SAFE_INTEGER) entries[i].cookie = 3; // unreachable in practice
    }
  }
  // a wrap to 3 would break ordering: re-sort defensively (stable)
  entries.sort((a, b) => a.cookie - b.cookie);
  return entries;
}

/** Index of the first entry whose cookie is greater than `cookie` (entries sorted by cookie). */
export function firstAfter(entries: ReadonlyArray<{ cookie: number }>, cookie: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].cookie <= cookie) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
