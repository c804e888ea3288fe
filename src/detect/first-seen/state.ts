import { firstSeenEvicted, firstSeenKeys, firstSeenNew } from '../../metrics.ts';
import type { Alert } from '../../schema/alert.ts';
import type { FirstSeenChange, FirstSeenRecord } from '../../schema/first-seen.ts';
import type { Signal } from '../../schema/signal.ts';
import { alertId, buildAlert } from '../alert.ts';
import { LinkedList } from '../linked-list.ts';
import type { FirstSeenRule } from '../ruleset.ts';
import { displayValue, firstSeenMessage } from './message.ts';

interface KeyState {
  key: string;
  group: Record<string, string>;
  first: number;
  /** Latest time any value was seen. */
  last: number;
  /** Value → last seen; least recently seen first. */
  values: Map<string, number>;
  saturated: boolean;
  /** `last` when the record was last handed to the store (so a key seen all day is not rewritten all day). */
  savedLast: number;
  /** The rule's recency list, least recently seen first (in event time). */
  older: KeyState | undefined;
  newer: KeyState | undefined;
}

/** One rule's keys in one cluster. */
interface RuleKeys {
  rule: FirstSeenRule;
  /** First observation: the rule's learning period runs from here. */
  since: number;
  /** Latest observation: keys not seen for the timespan before it expire. */
  latest: number;
  /** By key; only looked up, never iterated (order is the recency list's). */
  keys: Map<string, KeyState>;
  /** The keys least recently seen first (event time): O(1) to touch, evict and expire. */
  order: LinkedList<KeyState>;
  /** How far `last` may run ahead of what the store holds before the record is written again. */
  saveEvery: number;
}

export interface FirstSeenOptions {
  cluster: string;
  now: () => Date;
  /** Learn without alerting (warming the state from history). */
  learnOnly?: boolean;
}

/** How many known values an alert message lists. */
const KNOWN_IN_MESSAGE = 5;

/** A value's last-seen time may be this stale in the store, in parts of the timespan (30d → about a day). */
const SAVE_GRANULARITY = 32;

/**
 * The first-seen state of one cluster: per rule, a set of values per key, fed by signals (so the
 * distributed detector and `replay` agree). A value is new when the key has not seen it within the rule's
 * timespan; it alerts when the rule has observed the cluster for its learning period, the key has been known
 * for its key-learning period, and the key is not saturated. Bounded: values expire after the timespan,
 * keys when their last value does; at most max-keys keys per rule (least recently seen evicted) and
 * max-values values per key (least recently seen evicted, and the key saturated). Changes are collected
 * for the state store (`changes()`), which gives them back at start (`restore()`).
 */
export class FirstSeenState {
  private readonly rules = new Map<string, RuleKeys>();
  private readonly opts: FirstSeenOptions;
  /** Keys changed since the last `changes()`: rule id and key. */
  private readonly dirty = new Map<string, RuleKeys>();
  private live = 0;

  constructor(rules: readonly FirstSeenRule[], opts: FirstSeenOptions) {
    this.opts = opts;
    for (const rule of rules) {
      this.rules.set(rule.id, {
        rule,
        since: Number.POSITIVE_INFINITY,
        latest: Number.NEGATIVE_INFINITY,
        keys: new Map(),
        order: new LinkedList(),
        saveEvery: Math.max(60_000, Math.floor(rule.timespanMs / SAVE_GRANULARITY)),
      });
    }
  }

  /** Live keys, all rules. */
  get size(): number {
    return this.live;
  }

  /** Whether the signal is addressed to a first-seen rule. */
  handles(signal: Signal): boolean {
    return this.rules.has(signal.correlation);
  }

  observe(signal: Signal): Alert[] {
    const rk = this.rules.get(signal.correlation);
    const value = signal.value;
    if (!rk || value === undefined) return [];
    const t = signal.time;
    const rule = rk.rule;
    if (t < rk.since) rk.since = t;
    if (t > rk.latest) {
      rk.latest = t;
      this.expire(rk);
    }
    let ks = rk.keys.get(signal.key);
    if (ks && ks.last + rule.timespanMs < t) {
      this.forget(rk, signal.key, 'expired');
      ks = undefined;
    }
    if (!ks) {
      ks = {
        key: signal.key,
        group: signal.group,
        first: t,
        last: t,
        values: new Map([[value, t]]),
        saturated: false,
        savedLast: Number.NEGATIVE_INFINITY,
        older: undefined,
        newer: undefined,
      };
      this.add(rk, ks);
      return [];
    }
    if (t > ks.last) {
      ks.last = t;
      // Most recently seen last: expiry and eviction take from the other end.
      rk.order.remove(ks);
      rk.order.append(ks);
    }
    if (t < ks.first) ks.first = t;
    const seen = ks.values.get(value);
    if (seen !== undefined && seen + rule.timespanMs >= t) {
      if (t > seen) {
        ks.values.delete(value);
        ks.values.set(value, t);
      }
      if (ks.last - ks.savedLast >= rk.saveEvery) this.dirty.set(signal.key, rk);
      return [];
    }
    if (seen !== undefined) ks.values.delete(value);
    for (const [v, last] of ks.values) {
      if (last + rule.timespanMs >= t) break;
      ks.values.delete(v);
    }
    const out = this.judge(rk, ks, signal, value);
    ks.values.set(value, t);
    if (ks.values.size > rule.maxValues) {
      ks.values.delete(ks.values.keys().next().value as string);
      ks.saturated = true;
      firstSeenEvicted.inc({ reason: 'value-cap' });
    }
    this.dirty.set(signal.key, rk);
    return out;
  }

  /** A new value of a known key: an alert, unless the rule or the key is still learning or the key saturated. */
  private judge(rk: RuleKeys, ks: KeyState, signal: Signal, value: string): Alert[] {
    const rule = rk.rule;
    const t = signal.time;
    if (ks.saturated) {
      firstSeenNew.inc({ outcome: 'saturated' });
      return [];
    }
    if (
      this.opts.learnOnly ||
      signal.learn_only ||
      t - rk.since < rule.learningMs ||
      t - ks.first < rule.keyLearningMs
    ) {
      firstSeenNew.inc({ outcome: 'learning' });
      return [];
    }
    firstSeenNew.inc({ outcome: 'alerted' });
    if (!rule.generates) return [];
    const known: string[] = [];
    for (const v of [...ks.values.keys()].reverse()) {
      if (known.length === KNOWN_IN_MESSAGE) break;
      known.push(displayValue(rule, v));
    }
    return [
      buildAlert({
        rule,
        level: rule.level,
        context: signal.context,
        alertId: alertId(rule.id, `${signal.key}\u0000${value}`, signal.event_id),
        eventIds: [signal.event_id],
        count: 1,
        revision: 0,
        message: firstSeenMessage(rule, signal, value, known, ks.values.size),
        created: this.opts.now().toISOString(),
        correlation: { type: 'first_seen', group: signal.group },
      }),
    ];
  }

  private add(rk: RuleKeys, ks: KeyState): void {
    rk.keys.set(ks.key, ks);
    rk.order.append(ks);
    this.live++;
    firstSeenKeys.inc();
    this.dirty.set(ks.key, rk);
    if (rk.keys.size > rk.rule.maxKeys && rk.order.oldest) this.forget(rk, rk.order.oldest.key, 'cap');
  }

  private forget(rk: RuleKeys, key: string, reason: 'expired' | 'cap'): void {
    this.drop(rk, key);
    this.live--;
    firstSeenKeys.dec();
    firstSeenEvicted.inc({ reason });
    this.dirty.set(key, rk);
  }

  /** Takes a key out of the rule's map and recency list (not counted: `forget` and `restore` do). */
  private drop(rk: RuleKeys, key: string): void {
    const ks = rk.keys.get(key);
    if (!ks) return;
    rk.keys.delete(key);
    rk.order.remove(ks);
  }

  /** Keys whose last value is older than the timespan before the rule's latest observation. */
  private expire(rk: RuleKeys): void {
    const horizon = rk.latest - rk.rule.timespanMs;
    while (rk.order.oldest && rk.order.oldest.last < horizon) this.forget(rk, rk.order.oldest.key, 'expired');
  }

  /** Forgets everything without saving (the engine is being replaced: the store keeps what was saved). */
  discard(): void {
    firstSeenKeys.dec(this.live);
    this.live = 0;
    for (const rk of this.rules.values()) {
      rk.keys.clear();
      rk.order.clear();
    }
    this.dirty.clear();
  }

  /** The records of the keys changed since the last call (null: forgotten), for the state store. */
  changes(): FirstSeenChange[] {
    if (this.dirty.size === 0) return [];
    const out: FirstSeenChange[] = [];
    for (const [key, rk] of this.dirty) {
      const ks = rk.keys.get(key);
      if (ks) ks.savedLast = ks.last;
      out.push({ key, record: ks ? this.recordOf(rk, ks) : null });
    }
    this.dirty.clear();
    return out;
  }

  /** Every live key's record (what a warm-up saves). */
  snapshot(): FirstSeenChange[] {
    const out: FirstSeenChange[] = [];
    for (const rk of this.rules.values())
      for (let ks = rk.order.oldest; ks; ks = ks.newer)
        out.push({ key: ks.key, record: this.recordOf(rk, ks) });
    return out;
  }

  private recordOf(rk: RuleKeys, ks: KeyState): FirstSeenRecord {
    const record: FirstSeenRecord = {
      rule: rk.rule.id,
      cluster: this.opts.cluster,
      group: ks.group,
      first: ks.first,
      since: rk.since,
      values: [...ks.values],
    };
    if (ks.saturated) record.saturated = true;
    return record;
  }

  /**
   * Takes back what the store holds (at start, or when a partition is assigned): records of rules no longer
   * loaded are ignored; a key already live is merged. Oldest first, so the caps keep the most recent keys.
   */
  restore(changes: readonly FirstSeenChange[]): void {
    const sorted = changes
      .filter((c): c is { key: string; record: FirstSeenRecord } => c.record !== null)
      .map((c) => ({ ...c, last: lastOf(c.record) }))
      .sort((a, b) => a.last - b.last);
    for (const { key, record, last } of sorted) {
      const rk = this.rules.get(record.rule);
      if (!rk || record.values.length === 0) continue;
      if (record.since < rk.since) rk.since = record.since;
      if (last > rk.latest) rk.latest = last;
      const live = rk.keys.get(key);
      if (live) {
        this.drop(rk, key);
        this.live--;
        firstSeenKeys.dec();
      }
      const merged = live ? mergeRecords(this.recordOf(rk, live), record) : record;
      const values = merged.values.slice(-rk.rule.maxValues);
      this.add(rk, {
        key,
        group: merged.group,
        first: merged.first,
        last: lastOf(merged),
        values: new Map(values),
        saturated: merged.saturated === true || merged.values.length > values.length,
        savedLast: live ? Number.NEGATIVE_INFINITY : last,
        older: undefined,
        newer: undefined,
      });
      if (!live) this.dirty.delete(key);
    }
  }
}

function lastOf(record: FirstSeenRecord): number {
  let last = Number.NEGATIVE_INFINITY;
  for (const [, t] of record.values) if (t > last) last = t;
  return last;
}

/**
 * Two records of one key (a warm-up and what the store holds, or two stores): every value with its latest
 * time, the earliest first observation and learning start; least recently seen first.
 */
export function mergeRecords(a: FirstSeenRecord, b: FirstSeenRecord): FirstSeenRecord {
  const values = new Map<string, number>();
  for (const [v, t] of [...a.values, ...b.values]) values.set(v, Math.max(t, values.get(v) ?? t));
  const merged: FirstSeenRecord = {
    rule: a.rule,
    cluster: a.cluster,
    group: a.group,
    first: Math.min(a.first, b.first),
    since: Math.min(a.since, b.since),
    values: [...values].sort((x, y) => x[1] - y[1]),
  };
  if (a.saturated || b.saturated) merged.saturated = true;
  return merged;
}
