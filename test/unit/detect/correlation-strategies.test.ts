import { describe, expect, it } from 'vitest';
import { isCorrelationType, strategyOf } from '../../../src/detect/correlations/index.ts';
import {
  slidingWindows,
  startingWindows,
  type WindowEntry,
} from '../../../src/detect/correlations/strategy.ts';
import type { CorrelationRule } from '../../../src/detect/ruleset.ts';
import { rulesFrom } from './helpers.ts';

const base = (name: string, n: number) => `title: ${name}
name: ${name}
id: 0e000000-0000-4000-8000-00000000000${n}
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get}
  condition: sel
level: low
`;
/** One loaded correlation over rules `ra` and `rb`. */
function corr(type: string, condition = ''): CorrelationRule {
  const { ruleset, errors } = rulesFrom(
    base('ra', 1),
    base('rb', 2),
    `title: C\nname: c\nid: 0e000000-0000-4000-8000-000000000009\ncorrelation:\n  type: ${type}\n  rules: [ra, rb]\n  group-by: [user.username]\n  timespan: 5m\n${condition ? `  condition: ${condition}\n` : ''}`,
  );
  expect(errors).toEqual([]);
  return ruleset.correlations[0]!;
}
const A = '0e000000-0000-4000-8000-000000000001';
const B = '0e000000-0000-4000-8000-000000000002';
const at = (time: number, rule = A, value?: string): WindowEntry => ({ time, rule, value });

describe('correlation strategies', () => {
  it('one per Sigma type Klaxon runs; the others have none', () => {
    for (const t of ['event_count', 'value_count', 'temporal', 'temporal_ordered']) {
      expect(isCorrelationType(t)).toBe(true);
      expect(corr(t, t.startsWith('temporal') ? '' : '{field: objectRef.name, gte: 2}').strategy).toBe(
        strategyOf(t as CorrelationRule['type']),
      );
    }
    for (const t of ['value_sum', 'value_avg', 'value_percentile', 'constructor'])
      expect(isCorrelationType(t)).toBe(false);
  });

  it('measure: events, distinct values, distinct rules, the ordered prefix', () => {
    const es = [at(0, B, 'x'), at(1, A, 'x'), at(2, B, 'y'), at(3, B, 'y')];
    const n = (c: CorrelationRule) => c.strategy.measure(c, es, 0, es.length);
    expect(n(corr('event_count', '{gte: 2}'))).toBe(4);
    expect(n(corr('value_count', '{field: objectRef.name, gte: 2}'))).toBe(2);
    expect(n(corr('temporal'))).toBe(2);
    expect(n(corr('temporal_ordered'))).toBe(2);
    expect(corr('temporal_ordered').strategy.measure(corr('temporal_ordered'), es, 2, 4)).toBe(0);
  });

  it('fires at once on lower bounds only, else when the window closes', () => {
    const immediate = (c: CorrelationRule) => c.strategy.immediate(c);
    expect(immediate(corr('event_count', '{gte: 10}'))).toBe(true);
    expect(immediate(corr('event_count', '{gt: 1, lte: 5}'))).toBe(false);
    expect(immediate(corr('value_count', '{field: objectRef.name, eq: 3}'))).toBe(false);
    expect(immediate(corr('temporal'))).toBe(true);
    expect(immediate(corr('temporal_ordered', '{lt: 2}'))).toBe(false);
  });

  it('without a condition a temporal correlation needs every rule', () => {
    const c = corr('temporal');
    expect([1, 2].map((n) => c.strategy.satisfied(c, n))).toEqual([false, true]);
    const two = corr('temporal', '{gte: 1}');
    expect(two.strategy.satisfied(two, 1)).toBe(true);
  });

  it('counting types try the window ending at the new entry, then those ending later', () => {
    const es = [at(0), at(10), at(20), at(400)];
    expect(
      slidingWindows(
        300_000,
        es.map((e) => ({ ...e, time: e.time * 1000 })),
        1,
      ),
    ).toEqual([
      [0, 2],
      [0, 3],
    ]);
  });

  it('temporal types try the windows starting up to the new entry; ordered ones only at the first rule', () => {
    const es = [at(0, B), at(1_000, A), at(2_000, B)];
    expect(startingWindows(300_000, es, 2)).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    expect(startingWindows(300_000, es, 2, A)).toEqual([[1, 3]]);
  });
});
