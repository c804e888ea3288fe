import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstSeenMessage } from '../../../src/detect/first-seen/message.ts';
import { FirstSeenState, mergeRecords } from '../../../src/detect/first-seen/state.ts';
import type { FirstSeenRule } from '../../../src/detect/ruleset.ts';
import type { FirstSeenChange, FirstSeenRecord } from '../../../src/schema/first-seen.ts';
import type { Signal } from '../../../src/schema/signal.ts';
import { BASE, rulesFrom, SA_REQUEST_RULE } from './helpers.ts';

/**
 * The first-seen state against a plain model of what it must do: keys and values kept in arrays in the
 * order they were last seen and scanned from the front, the list of changed keys an array too. Same alerts,
 * same changes, same snapshot and same size at every step, over random signals with small caps, times out
 * of order, expiry, saves, restarts and merges.
 */

const HOUR = 3_600_000;

function firstSeenDoc(n: number, timespan: string, caps: string): string {
  return `title: New client ${n}
name: new-client-${n}
id: 0e000000-0000-4000-8000-00000000001${n}
level: medium
first_seen:
  rules: [sa-request]
  group-by: [user.username]
  field: userAgent|family
  timespan: ${timespan}
  learning: 2d
  key-learning: 1d
  ${caps}
`;
}

const { ruleset, errors } = rulesFrom(
  SA_REQUEST_RULE,
  firstSeenDoc(0, '10d', 'max-keys: 3\n  max-values: 3'),
  firstSeenDoc(1, '10d', 'max-keys: 2\n  max-values: 2'),
  // A longer recency list: keys evicted and expired from the middle of it as well as its ends.
  firstSeenDoc(2, '90d', 'max-keys: 30\n  max-values: 4'),
);
const RULES = ruleset.firstSeen;
const now = () => new Date(BASE);
/** Mostly the first five (so keys are seen again), now and then one of forty (so the longer list fills). */
const USERS = Array.from({ length: 40 }, (_, i) => `u${i}`);
const VALUES = ['v0', 'v1', 'v2', 'v3', 'v4'];

/** How many known values an alert lists (the state's message). */
const KNOWN_IN_MESSAGE = 5;
/** As the state: a last-seen time may be this stale in the store, in parts of the timespan. */
const SAVE_GRANULARITY = 32;

interface ModelKey {
  key: string;
  group: Record<string, string>;
  first: number;
  last: number;
  /** [value, last seen], least recently seen first. */
  values: [string, number][];
  saturated: boolean;
  savedLast: number;
}

interface ModelRule {
  rule: FirstSeenRule;
  since: number;
  latest: number;
  /** Least recently seen first. */
  keys: ModelKey[];
}

interface ModelAlert {
  group: Record<string, string>;
  message: string;
}

class ModelState {
  readonly rules: ModelRule[];
  /** Keys changed since the last `changes()`, in the order they first changed. */
  dirty: { key: string; rule: ModelRule }[] = [];

  constructor(rules: readonly FirstSeenRule[]) {
    this.rules = rules.map((rule) => ({
      rule,
      since: Number.POSITIVE_INFINITY,
      latest: Number.NEGATIVE_INFINITY,
      keys: [],
    }));
  }

  get size(): number {
    return this.rules.reduce((n, r) => n + r.keys.length, 0);
  }

  private markDirty(key: string, rule: ModelRule): void {
    if (!this.dirty.some((d) => d.key === key)) this.dirty.push({ key, rule });
  }

  private forget(mr: ModelRule, key: string): void {
    mr.keys = mr.keys.filter((k) => k.key !== key);
    this.markDirty(key, mr);
  }

  private add(mr: ModelRule, entry: ModelKey): void {
    mr.keys.push(entry);
    this.markDirty(entry.key, mr);
    if (mr.keys.length > mr.rule.maxKeys) this.forget(mr, mr.keys[0]!.key);
  }

  observe(signal: Signal): ModelAlert[] {
    const mr = this.rules.find((r) => r.rule.id === signal.correlation);
    const value = signal.value;
    if (!mr || value === undefined) return [];
    const rule = mr.rule;
    const t = signal.time;
    mr.since = Math.min(mr.since, t);
    if (t > mr.latest) {
      mr.latest = t;
      while (mr.keys.length > 0 && mr.keys[0]!.last < mr.latest - rule.timespanMs)
        this.forget(mr, mr.keys[0]!.key);
    }
    let entry = mr.keys.find((k) => k.key === signal.key);
    if (entry && entry.last + rule.timespanMs < t) {
      this.forget(mr, entry.key);
      entry = undefined;
    }
    if (!entry) {
      this.add(mr, {
        key: signal.key,
        group: signal.group,
        first: t,
        last: t,
        values: [[value, t]],
        saturated: false,
        savedLast: Number.NEGATIVE_INFINITY,
      });
      return [];
    }
    if (t > entry.last) {
      entry.last = t;
      mr.keys = [...mr.keys.filter((k) => k !== entry), entry];
    }
    entry.first = Math.min(entry.first, t);
    const seen = entry.values.find(([v]) => v === value);
    if (seen && seen[1] + rule.timespanMs >= t) {
      if (t > seen[1]) entry.values = [...entry.values.filter(([v]) => v !== value), [value, t]];
      const saveEvery = Math.max(60_000, Math.floor(rule.timespanMs / SAVE_GRANULARITY));
      if (entry.last - entry.savedLast >= saveEvery) this.markDirty(signal.key, mr);
      return [];
    }
    entry.values = entry.values.filter(([v]) => v !== value);
    while (entry.values.length > 0 && entry.values[0]![1] + rule.timespanMs < t) entry.values.shift();
    const out: ModelAlert[] = [];
    const learning =
      signal.learn_only === true || t - mr.since < rule.learningMs || t - entry.first < rule.keyLearningMs;
    if (!entry.saturated && !learning) {
      const known = entry.values
        .map(([v]) => v)
        .reverse()
        .slice(0, KNOWN_IN_MESSAGE);
      out.push({
        group: signal.group,
        message: firstSeenMessage(rule, signal, value, known, entry.values.length),
      });
    }
    entry.values.push([value, t]);
    if (entry.values.length > rule.maxValues) {
      entry.values.shift();
      entry.saturated = true;
    }
    this.markDirty(signal.key, mr);
    return out;
  }

  private recordOf(mr: ModelRule, entry: ModelKey): FirstSeenRecord {
    const record: FirstSeenRecord = {
      rule: mr.rule.id,
      cluster: 'prod',
      group: entry.group,
      first: entry.first,
      since: mr.since,
      values: entry.values.map(([v, t]) => [v, t]),
    };
    if (entry.saturated) record.saturated = true;
    return record;
  }

  changes(): FirstSeenChange[] {
    const out = this.dirty.map(({ key, rule }) => {
      const entry = rule.keys.find((k) => k.key === key);
      if (entry) entry.savedLast = entry.last;
      return { key, record: entry ? this.recordOf(rule, entry) : null };
    });
    this.dirty = [];
    return out;
  }

  snapshot(): FirstSeenChange[] {
    return this.rules.flatMap((mr) => mr.keys.map((k) => ({ key: k.key, record: this.recordOf(mr, k) })));
  }

  restore(changes: readonly FirstSeenChange[]): void {
    const lastOf = (r: FirstSeenRecord) => Math.max(...r.values.map(([, t]) => t));
    const records = changes
      .flatMap((c) => (c.record ? [{ key: c.key, record: c.record }] : []))
      .filter((c) => c.record.values.length > 0)
      .sort((a, b) => lastOf(a.record) - lastOf(b.record));
    for (const { key, record } of records) {
      const mr = this.rules.find((r) => r.rule.id === record.rule);
      if (!mr) continue;
      mr.since = Math.min(mr.since, record.since);
      mr.latest = Math.max(mr.latest, lastOf(record));
      const live = mr.keys.find((k) => k.key === key);
      mr.keys = mr.keys.filter((k) => k.key !== key);
      const merged = live ? mergeRecords(this.recordOf(mr, live), record) : record;
      const values = merged.values.slice(-mr.rule.maxValues);
      this.add(mr, {
        key,
        group: merged.group,
        first: merged.first,
        last: lastOf(merged),
        values: values.map(([v, t]) => [v, t]),
        saturated: merged.saturated === true || merged.values.length > values.length,
        savedLast: live ? Number.NEGATIVE_INFINITY : lastOf(record),
      });
      if (!live) this.dirty = this.dirty.filter((d) => d.key !== key);
    }
  }

  discard(): void {
    for (const mr of this.rules) mr.keys = [];
    this.dirty = [];
  }
}

type Step =
  | { op: 'observe'; rule: number; user: number; value: number; dt: number; learnOnly: boolean }
  | { op: 'changes' }
  | { op: 'snapshot' }
  | { op: 'restart' }
  | { op: 'merge-store' }
  | { op: 'discard' };

const observe = fc
  .record({
    op: fc.constant('observe' as const),
    // Half the signals for the rule of thirty keys, so that it fills between discards.
    rule: fc.oneof(fc.constant(2), fc.integer({ min: 0, max: RULES.length - 1 })),
    near: fc.integer({ min: 0, max: 4 }),
    far: fc.integer({ min: 0, max: USERS.length - 1 }),
    pickFar: fc.integer({ min: 0, max: 4 }),
    value: fc.integer({ min: 0, max: VALUES.length - 1 }),
    // Six-hour steps from three days back to five days on: out of order, repeated times, and expiry.
    dt: fc.integer({ min: -12, max: 20 }).map((n) => n * 6 * HOUR),
    learnOnly: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  })
  .map(({ near, far, pickFar, ...s }) => ({ ...s, user: s.rule === 2 || pickFar === 0 ? far : near }));

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 40, arbitrary: observe },
  { weight: 4, arbitrary: fc.constant({ op: 'changes' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'merge-store' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'discard' as const }) },
);

function signalOf(s: Extract<Step, { op: 'observe' }>, at: number, n: number): Signal {
  const rule = RULES[s.rule]!;
  const user = `system:serviceaccount:shop:${USERS[s.user]}`;
  return {
    correlation: rule.id,
    rule: rule.rules[0]!.id,
    key: JSON.stringify([rule.id, 'prod', user]),
    group: { 'user.username': user },
    time: at,
    event_id: `e-${n}`,
    value: VALUES[s.value]!,
    context: {
      '@timestamp': new Date(at).toISOString(),
      dataset: 'kubernetes.audit',
      user: { name: user },
      orchestrator: { cluster: { name: 'prod' } },
    },
    ...(s.learnOnly ? { learn_only: true } : {}),
  };
}

/** What the store holds after applying `changes` (the last record of each key; a tombstone removes it). */
function apply(store: Map<string, FirstSeenChange>, changes: readonly FirstSeenChange[]): void {
  for (const c of changes) {
    if (c.record) store.set(c.key, c);
    else store.delete(c.key);
  }
}

describe('first-seen state against a plain model', () => {
  it('loads the three capped rules', () => {
    expect(errors).toEqual([]);
    expect(RULES.map((r) => [r.maxKeys, r.maxValues])).toEqual([
      [3, 3],
      [2, 2],
      [30, 4],
    ]);
  });

  it('alerts, saves, restores and counts as the model does, step by step', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 300, size: 'max' }), (steps) => {
        let state = new FirstSeenState(RULES, { cluster: 'prod', now });
        let model = new ModelState(RULES);
        const store = new Map<string, FirstSeenChange>();
        let at = BASE;
        steps.forEach((s, n) => {
          switch (s.op) {
            case 'observe': {
              at += s.dt;
              const signal = signalOf(s, at, n);
              const alerts = state.observe(signal).map((a) => ({
                group: a.klaxon.correlation?.group,
                message: a.message,
              }));
              expect(alerts).toEqual(model.observe(signal));
              break;
            }
            case 'changes': {
              const changes = state.changes();
              expect(changes).toEqual(model.changes());
              apply(store, changes);
              break;
            }
            case 'snapshot':
              expect(state.snapshot()).toEqual(model.snapshot());
              break;
            case 'restart':
              state = new FirstSeenState(RULES, { cluster: 'prod', now });
              model = new ModelState(RULES);
              state.restore([...store.values()]);
              model.restore([...store.values()]);
              break;
            case 'merge-store':
              state.restore([...store.values()]);
              model.restore([...store.values()]);
              break;
            case 'discard':
              state.discard();
              model.discard();
              break;
          }
          expect(state.size).toBe(model.size);
        });
        expect(state.changes()).toEqual(model.changes());
        expect(state.snapshot()).toEqual(model.snapshot());
      }),
      { numRuns: 100 },
    );
  });
});
