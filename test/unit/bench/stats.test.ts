import { describe, expect, it } from 'vitest';
import { interleavedRounds, median, percentile, spread } from '../../../scripts/bench/stats.ts';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of unsorted values', () => {
    const values = [9, 1, 5, 3, 7];
    expect(median(values)).toBe(5);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 99)).toBe(9);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([], 50)).toBeNaN();
    expect(values).toEqual([9, 1, 5, 3, 7]);
  });

  it('measures the spread of rounds around their median', () => {
    expect(spread([90, 100, 110])).toBeCloseTo(0.1);
    expect(spread([100, 100, 100])).toBe(0);
  });

  it('interleaves workloads round by round after the warm-up', () => {
    const calls: string[] = [];
    const result = interleavedRounds(
      {
        a: () => {
          calls.push('a');
          return 10;
        },
        b: () => {
          calls.push('b');
          return 20;
        },
      },
      { warmup: 1, rounds: 3 },
    );
    expect(calls.join('')).toBe('abababab');
    expect(result.a?.rounds).toHaveLength(3);
    expect(result.b?.rounds).toHaveLength(3);
    expect(result.a?.eps).toBeGreaterThan(0);
    expect(result.b?.wallEps).toBeGreaterThan(0);
  });
});
