/**
 * A token bucket per cluster: each cluster may send `rate` requests per second on average and
 * `burst` at once. Keyed by the cluster the credential resolved to, so one noisy or compromised
 * cluster cannot starve the others. One bucket per configured cluster: memory is bounded by
 * the configuration, never by what clients send.
 */
export class RateLimiter {
  private readonly rate: number;
  private readonly burst: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(options: { rate: number; burst?: number; now?: () => number }) {
    this.rate = options.rate;
    this.burst = options.burst ?? Math.max(1, options.rate * 2);
    this.now = options.now ?? (() => performance.now());
  }

  /** Takes one token: `0` when allowed, else the seconds until a token is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }
}
