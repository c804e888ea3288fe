import type { CorrelationRule } from '../ruleset.ts';
import { type CorrelationStrategy, startingWindows, type WindowEntry, type WindowTally } from './strategy.ts';
import { temporalImmediate, temporalSatisfied } from './temporal.ts';

/** Arrival numbers of one rule's entries in the window, oldest first (`head` skips those that left). */
interface Arrivals {
  seqs: number[];
  head: number;
}

/** The first arrival after `after`, by binary search, or undefined. */
function nextAfter(a: Arrivals, after: number): number | undefined {
  let lo = a.head;
  let hi = a.seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a.seqs[mid]! > after) hi = mid;
    else lo = mid + 1;
  }
  return lo < a.seqs.length ? a.seqs[lo] : undefined;
}

/**
 * How far the written order gets from the oldest entry of the first rule in the window: greedy, each rule's
 * next match after the previous one's, found by binary search in its arrivals. A window starting at a later
 * entry of the first rule never gets further, so this is the measure of the first window tried.
 */
function orderedTally(c: CorrelationRule): WindowTally {
  const arrivals = new Map<string, Arrivals>();
  for (const r of c.rules) if (!arrivals.has(r.id)) arrivals.set(r.id, { seqs: [], head: 0 });
  let added = 0;
  return {
    add: (e) => {
      const a = arrivals.get(e.rule);
      if (a) a.seqs.push(added);
      added++;
    },
    drop: (e) => {
      // The entry leaving is the oldest in the window: the first arrival of its rule.
      const a = arrivals.get(e.rule);
      if (!a) return;
      a.head++;
      if (a.head >= 64 && a.head * 2 >= a.seqs.length) {
        a.seqs.splice(0, a.head);
        a.head = 0;
      }
    },
    orderFree: false,
    measure: () => {
      const first = arrivals.get(c.rules[0]!.id);
      if (!first || first.head === first.seqs.length) return 0;
      let at = first.seqs[first.head]!;
      let want = 1;
      for (; want < c.rules.length; want++) {
        const next = nextAfter(arrivals.get(c.rules[want]!.id)!, at);
        if (next === undefined) break;
        at = next;
      }
      return want;
    },
  };
}

/**
 * Bound of the ordered measure: how many of the written rules, from the first, have entries at all (as many
 * as written, for a rule written twice). No window gets further in the written order.
 */
function presentTally(c: CorrelationRule): WindowTally {
  const counts = new Map<string, number>();
  return {
    add: (e) => {
      counts.set(e.rule, (counts.get(e.rule) ?? 0) + 1);
    },
    drop: (e) => {
      counts.set(e.rule, counts.get(e.rule)! - 1);
    },
    measure: () => {
      const needed = new Map<string, number>();
      let n = 0;
      for (const r of c.rules) {
        const k = (needed.get(r.id) ?? 0) + 1;
        if ((counts.get(r.id) ?? 0) < k) break;
        needed.set(r.id, k);
        n++;
      }
      return n;
    },
    orderFree: true,
  };
}

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
  tally: orderedTally,
  bound: presentTally,
  firstStart: (c, entries: readonly WindowEntry[], lo) => {
    let s = lo;
    while (s < entries.length && entries[s]!.rule !== c.rules[0]!.id) s++;
    return s;
  },
  satisfied: temporalSatisfied,
  describe: (c) => c.rules.map((r) => r.name).join(' then '),
};
