/**
 * A bounded map that forgets in bulk: entries live in two generations of at most `cap / 2` each, and when the
 * newer fills, the older is dropped whole and the newer takes its place. It remembers at least the last
 * `cap / 2` keys set and never more than `cap` (two for a cap of one), at O(1) per operation with nothing allocated ahead.
 * For memories where forgetting a little early is harmless; an exact LRU costs more: a Map evicting its
 * first key walks the deleted entries at its front (tens of µs per insert once 100,000 keys churn), and
 * lru-cache allocates its arrays for `max` entries up front (2.8 MB at 100,000), per instance.
 */
export class Generations<K, V> {
  private newer = new Map<K, V>();
  private older = new Map<K, V>();
  private readonly half: number;

  constructor(cap: number) {
    this.half = Math.max(1, Math.floor(cap / 2));
  }

  get(key: K): V | undefined {
    return this.newer.get(key) ?? this.older.get(key);
  }

  set(key: K, value: V): void {
    if (!this.newer.has(key) && this.newer.size >= this.half) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, value);
  }
}
