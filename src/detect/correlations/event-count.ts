import {
  type CorrelationStrategy,
  holds,
  lowerBoundsOnly,
  needsCondition,
  slidingWindows,
} from './strategy.ts';

/** `event_count`: how many matches of the referred rules fall in the window. */
export const eventCount: CorrelationStrategy = {
  check: (spec) => needsCondition('event_count', spec),
  needsValue: false,
  immediate: (c) => lowerBoundsOnly(c.condition!),
  windows: (c, entries, at) => slidingWindows(c.timespanMs, entries, at),
  measure: (_c, _entries, from, to) => to - from,
  satisfied: (c, n) => holds(c.condition!, n),
  describe: (c, n) => `${n} events of ${c.rules.map((r) => r.name).join(' or ')}`,
};
