import {
  type CorrelationStrategy,
  holds,
  lowerBoundsOnly,
  needsCondition,
  slidingWindows,
} from './strategy.ts';

/** `value_count`: how many distinct values of `condition.field` the window's matches carry. */
export const valueCount: CorrelationStrategy = {
  check: (spec) =>
    spec.field
      ? needsCondition('value_count', spec)
      : { reason: 'value_count needs condition.field', path: ['correlation', 'condition'] },
  needsValue: true,
  immediate: (c) => lowerBoundsOnly(c.condition!),
  windows: (c, entries, at) => slidingWindows(c.timespanMs, entries, at),
  measure: (_c, entries, from, to) => {
    const distinct = new Set<string>();
    for (let k = from; k < to; k++) distinct.add(entries[k]!.value ?? '');
    return distinct.size;
  },
  satisfied: (c, n) => holds(c.condition!, n),
  describe: (c, n) => `${n} distinct ${c.field} in ${c.rules.map((r) => r.name).join(' or ')}`,
};
