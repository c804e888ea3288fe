import { type CorrelationStrategy, startingWindows } from './strategy.ts';
import { temporalImmediate, temporalSatisfied } from './temporal.ts';

/** `temporal_ordered`: matches of the referred rules in the order written, within the timespan. */
export const temporalOrdered: CorrelationStrategy = {
  check: () => undefined,
  needsValue: false,
  immediate: temporalImmediate,
  // An ordered match starts at an entry of the first rule: a window starting anywhere else
  // is matched as well by the one starting at its first such entry, which reaches further.
  // Without this, a busy identity's group costs O(n²) per signal.
  windows: (c, entries, at) => startingWindows(c.timespanMs, entries, at, c.rules[0]?.id),
  measure: (c, entries, from, to) => {
    let want = 0;
    for (let k = from; k < to && want < c.rules.length; k++)
      if (entries[k]!.rule === c.rules[want]!.id) want++;
    return want;
  },
  satisfied: temporalSatisfied,
  describe: (c) => c.rules.map((r) => r.name).join(' then '),
};
