import type { CorrelationRule } from '../ruleset.ts';
import { type CorrelationStrategy, holds, lowerBoundsOnly, startingWindows } from './strategy.ts';

/** Without a condition, every referred rule must match; with one, it counts the distinct rules matched. */
export function temporalImmediate(c: CorrelationRule): boolean {
  return !c.condition || lowerBoundsOnly(c.condition);
}

export function temporalSatisfied(c: CorrelationRule, n: number): boolean {
  return c.condition ? holds(c.condition, n) : n >= c.rules.length;
}

/** `temporal`: matches of the referred rules, in any order, within the timespan. */
export const temporal: CorrelationStrategy = {
  check: () => undefined,
  needsValue: false,
  immediate: temporalImmediate,
  windows: (c, entries, at) => startingWindows(c.timespanMs, entries, at),
  measure: (_c, entries, from, to) => {
    const distinct = new Set<string>();
    for (let k = from; k < to; k++) distinct.add(entries[k]!.rule);
    return distinct.size;
  },
  satisfied: temporalSatisfied,
  describe: (c) => `${c.rules.map((r) => r.name).join(' and ')} together`,
};
