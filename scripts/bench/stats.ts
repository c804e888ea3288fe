/** Small statistics and timing helpers shared by the benchmarks. */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

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

export interface RoundResult {
  /** Median events per CPU-second of this process (per core; robust to noisy neighbours). */
  eps: number;
  /** Median events per wall-clock second. */
  wallEps: number;
  rounds: number[];
}

/**
 * Runs each named workload `warmup` times untimed, then `rounds` timed rounds,
 * interleaving the workloads round by round so machine noise hits them alike,
 * each after a full GC.
 * Each workload returns how many events it handled; the result is the median
 * events per CPU-second (and per wall-clock second) of each.
 */
export function interleavedRounds(
  workloads: Record<string, () => number>,
  options: RoundsOptions,
): Record<string, RoundResult> {
  const names = Object.keys(workloads);
  for (let i = 0; i < options.warmup; i++) for (const name of names) workloads[name]?.();
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const wall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const name of names) {
      const run = workloads[name] as () => number;
      // Each round starts on a collected heap: no round pays for the garbage of the one before.
      gc();
      const cpu0 = process.cpuUsage();
      const start = process.hrtime.bigint();
      const events = run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const used = process.cpuUsage(cpu0);
      cpu[name]?.push(events / ((used.user + used.system) / 1e6));
      wall[name]?.push(events / seconds);
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const rounds = cpu[n] ?? [];
      return [n, { eps: median(rounds), wallEps: median(wall[n] ?? []), rounds }];
    }),
  );
}

/** Spread of the rounds around their median, as a fraction (max deviation / median). */
export function spread(rounds: readonly number[]): number {
  const m = median(rounds);
  return Math.max(...rounds.map((r) => Math.abs(r - m))) / m;
}
