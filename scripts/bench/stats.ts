/** Small statistics and timing helpers shared by the benchmarks. */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export interface RoundsOptions {
  warmup: number;
  rounds: number;
}

/**
 * Runs each named workload `warmup` times untimed, then `rounds` timed rounds,
 * interleaving the workloads round by round so machine noise hits them alike.
 * Each workload returns how many events it handled; the result is the median
 * events per second of each.
 */
export function interleavedRounds(
  workloads: Record<string, () => number>,
  options: RoundsOptions,
): Record<string, { eps: number; rounds: number[] }> {
  const names = Object.keys(workloads);
  for (let i = 0; i < options.warmup; i++) for (const name of names) workloads[name]?.();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const name of names) {
      const run = workloads[name] as () => number;
      const start = process.hrtime.bigint();
      const events = run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      samples[name]?.push(events / seconds);
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const rounds = samples[n] ?? [];
      return [n, { eps: median(rounds), rounds }];
    }),
  );
}

/** Spread of the rounds around their median, as a fraction (max deviation / median). */
export function spread(rounds: readonly number[]): number {
  const m = median(rounds);
  return Math.max(...rounds.map((r) => Math.abs(r - m))) / m;
}
