import type { CorrelationCondition, CorrelationRule } from '../ruleset.ts';

/** What a strategy sees of a window's entries: sorted by event time (arrival order for equal times). */
export interface WindowEntry {
  time: number;
  /** Id of the rule whose match the entry is. */
  rule: string;
  /** The value of `condition.field` (value_count). */
  value?: string;
}

/** A problem with a correlation document, at a path inside it. */
export interface LoadProblem {
  reason: string;
  path: (string | number)[];
}

/** `[from, to)`: the entries of one candidate window. */
export type Window = [number, number];

/**
 * One correlation type. The correlator (correlate.ts) keeps the bookkeeping every type shares —
 * groups, entries, firing, folding into a fired alert, expiry, caps, lateness — and asks the
 * type's strategy what differs: what the rule must give at load, whether it fires as soon as its
 * condition holds or when its window closes, which windows a new signal can complete, and the
 * number its condition is judged on.
 */
export interface CorrelationStrategy {
  /** Load-time checks beyond the Sigma schema (the condition is already parsed). */
  check(spec: { condition?: CorrelationCondition; field?: string }): LoadProblem | undefined;
  /** Every signal carries the value of `condition.field` (and a match without it sends none). */
  readonly needsValue: boolean;
  /** Fires as soon as the condition holds (true), or is judged when the window, from its first event, closes. */
  immediate(c: CorrelationRule): boolean;
  /** The candidate windows holding the new entry `at`, in the order they are tried (the first that holds fires). */
  windows(c: CorrelationRule, entries: readonly WindowEntry[], at: number): Window[];
  /** The number the condition is judged on, over `entries[from, to)`. */
  measure(c: CorrelationRule, entries: readonly WindowEntry[], from: number, to: number): number;
  satisfied(c: CorrelationRule, n: number): boolean;
  /** What happened, for the alert message (`10 events of failed-request`). */
  describe(c: CorrelationRule, n: number): string;
}

export function holds(cond: CorrelationCondition, n: number): boolean {
  if (cond.gt !== undefined && !(n > cond.gt)) return false;
  if (cond.gte !== undefined && !(n >= cond.gte)) return false;
  if (cond.lt !== undefined && !(n < cond.lt)) return false;
  if (cond.lte !== undefined && !(n <= cond.lte)) return false;
  if (cond.eq !== undefined && n !== cond.eq) return false;
  if (cond.neq !== undefined && n === cond.neq) return false;
  return true;
}

/** A condition with lower bounds only can fire as soon as it holds: more events never make it false. */
export function lowerBoundsOnly(cond: CorrelationCondition): boolean {
  const keys = Object.keys(cond);
  return keys.length > 0 && keys.every((k) => k === 'gt' || k === 'gte');
}

/**
 * Counting types: the window ending at the new entry, then every window holding it that ends at a
 * later entry — signals can arrive out of event-time order (several partitions feed one window).
 */
export function slidingWindows(span: number, es: readonly WindowEntry[], at: number): Window[] {
  const t = es[at]!.time;
  const windows: Window[] = [];
  let from = at;
  while (from > 0 && es[from - 1]!.time >= t - span) from--;
  let to = at + 1;
  while (to < es.length && es[to]!.time <= t) to++;
  windows.push([from, to]);
  let start = from;
  for (let end = to; end < es.length && es[end]!.time <= t + span; ) {
    const te = es[end]!.time;
    while (es[start]!.time < te - span) start++;
    while (end < es.length && es[end]!.time <= te) end++;
    windows.push([start, end]);
  }
  return windows;
}

/**
 * Temporal types: every window starting at an entry up to the new one (and reaching it), or only
 * those starting at an entry of rule `first` when given.
 */
export function startingWindows(
  span: number,
  es: readonly WindowEntry[],
  at: number,
  first?: string,
): Window[] {
  const t = es[at]!.time;
  const windows: Window[] = [];
  for (let s = 0; s <= at; s++) {
    if (es[s]!.time < t - span) continue;
    if (first !== undefined && es[s]!.rule !== first) continue;
    let e = s;
    while (e < es.length && es[e]!.time <= es[s]!.time + span) e++;
    windows.push([s, e]);
  }
  return windows;
}

export function needsCondition(
  type: string,
  spec: { condition?: CorrelationCondition },
): LoadProblem | undefined {
  return spec.condition ? undefined : { reason: `${type} needs a condition`, path: ['correlation'] };
}
