/** A bounded least-recently-used map with hit/miss/eviction counters. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(capacity >= 1)) throw new Error('Lru capacity must be >= 1');
  }

  get size(): number {
    return this.map.size;
  }

  /** Looks up and marks as recently used; counts a hit or a miss. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Looks up without touching recency or counters. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      if (old !== value) this.onEvict?.(key, old);
    }
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const first = this.map.keys().next();
      if (first.done) break;
      const k = first.value;
      const v = this.map.get(k) as V;
      this.map.delete(k);
      this.evictions++;
      this.onEvict?.(k, v);
    }
  }

  /** Removes an entry (calls onEvict). Returns whether it was present. */
  delete(key: K): boolean {
    const v = this.map.get(key);
    if (v === undefined) return false;
    this.map.delete(key);
    this.onEvict?.(key, v);
    return true;
  }

  clear(): void {
    const entries = [...this.map.entries()];
    this.map.clear();
    for (const [k, v] of entries) this.onEvict?.(k, v);
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  stats(): { size: number; capacity: number; hits: number; misses: number; evictions: number } {
    return { size: this.map.size, capacity: this.capacity, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}
