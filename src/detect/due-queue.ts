/**
 * Stale entries tolerated beyond twice the live items before the caller rebuilds the queue from its live
 * items: each rebuild then follows at least as many entries gone stale, so it costs O(1) amortized per entry.
 */
const STALE_SLACK = 1024;

/**
 * A binary min-heap of (time, item): what falls due first comes out first. Entries are never updated in
 * place: a caller that reschedules an item pushes it again and skips the stale entry when it comes out
 * (each item knows its current due time), and rebuilds the queue once `overgrown` says so.
 */
export class DueQueue<T> {
  private times: number[] = [];
  private items: T[] = [];

  get size(): number {
    return this.times.length;
  }

  /** Whether the entries outnumber the caller's `live` items enough that it should rebuild the queue from them. */
  overgrown(live: number): boolean {
    return this.times.length > 2 * live + STALE_SLACK;
  }

  /** The earliest due time, or +Infinity when empty. */
  peek(): number {
    return this.times.length > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
  }

  push(time: number, item: T): void {
    const { times, items } = this;
    let i = times.length;
    times.push(time);
    items.push(item);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (times[up]! <= time) break;
      times[i] = times[up]!;
      items[i] = items[up]!;
      i = up;
    }
    times[i] = time;
    items[i] = item;
  }

  /** Removes and returns the earliest item (call only when not empty). */
  pop(): T {
    const { times, items } = this;
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastItem = items.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && times[child + 1]! < times[child]!) child++;
        if (times[child]! >= lastTime) break;
        times[i] = times[child]!;
        items[i] = items[child]!;
        i = child;
      }
      times[i] = lastTime;
      items[i] = lastItem;
    }
    return top;
  }

  clear(): void {
    this.times = [];
    this.items = [];
  }
}
