import type { NormalizedEvent } from '../../schema/event.ts';
import type { AlertContext, Signal } from '../../schema/signal.ts';
import { compileField, type FieldAccessor, firstValue } from '../fields.ts';
import type { DetectionRule, FirstSeenRule } from '../ruleset.ts';
import { combine } from './message.ts';

/** Whether an event matches a rule and its filters (a first-seen rule's `alert-on`). */
function matches(rule: DetectionRule, event: NormalizedEvent): boolean {
  if (event.event.dataset !== rule.scope || !rule.match(event)) return false;
  for (const f of rule.filters) if (!f(event)) return false;
  return true;
}

/** How often, at most, one key's value is sent again: a fraction of the timespan, and never less often than hourly. */
export function refreshMs(rule: FirstSeenRule): number {
  return Math.min(3_600_000, Math.max(1_000, Math.floor(rule.timespanMs / 32)));
}

interface Accessors {
  group: FieldAccessor[];
  fields: FieldAccessor[];
}

const compiled = new WeakMap<FirstSeenRule, Map<string, Accessors>>();

/** A first-seen rule's fields compiled for the dataset of a rule it learns from. */
function accessorsFor(fs: FirstSeenRule, base: DetectionRule): Accessors {
  let byScope = compiled.get(fs);
  if (!byScope) {
    byScope = new Map();
    compiled.set(fs, byScope);
  }
  let a = byScope.get(base.scope);
  if (!a) {
    a = {
      group: fs.groupBy.map((name) => compileField(name, base.scope)),
      fields: fs.fields.map((f) => compileField(f.field, base.scope)),
    };
    byScope.set(base.scope, a);
  }
  return a;
}

/**
 * Turns the matches of rules that first-seen rules learn from into signals (the same signals as
 * correlations: keyed by rule, cluster and group-by values, so one key's values live on one partition).
 * Nearly every event of a busy identity repeats what it did a minute ago, so a key's value is sent at most
 * once per `refreshMs` (bounded memory of what was sent): the state needs when a value was last seen to
 * within a fraction of its timespan, not every sighting.
 */
export class FirstSeenSignals {
  /**
   * What was sent, in two generations of at most half the cap each: the older is dropped whole when the newer
   * fills. A Map used as an LRU (evicting its first key) gets slower with every eviction, as V8 skips the
   * deleted entries at its front on each `keys().next()`.
   */
  private sent = new Map<string, number>();
  private older = new Map<string, number>();
  private readonly half: number;

  constructor(cap: number) {
    this.half = Math.max(1, Math.floor(cap / 2));
  }

  collect(
    rule: DetectionRule,
    event: NormalizedEvent,
    time: number,
    context: () => AlertContext,
    out: Signal[],
  ): void {
    const cluster = event.orchestrator.cluster.name;
    for (const fs of rule.firstSeen) {
      const a = accessorsFor(fs, rule);
      const groupValues: string[] = [];
      for (let k = 0; k < a.group.length; k++) {
        const v = firstValue(a.group[k]!, event);
        if (v === undefined) break;
        groupValues.push(v);
      }
      if (groupValues.length < a.group.length) continue;
      const values: string[] = [];
      for (let k = 0; k < a.fields.length; k++) {
        const raw = firstValue(a.fields[k]!, event);
        const derive = fs.fields[k]!.derive;
        const v = raw === undefined || derive === undefined ? raw : derive.apply(raw);
        if (v === undefined) break;
        values.push(v);
      }
      if (values.length < a.fields.length) continue;
      const value = combine(values);
      // Keys never span clusters: the same service account name in two clusters is two identities.
      const key = JSON.stringify([fs.id, cluster, ...groupValues]);
      const memo = `${key}\u0000${value}`;
      const before = this.sent.get(memo) ?? this.older.get(memo);
      // Most events repeat a value sent moments ago: nothing more is built for them.
      if (before !== undefined && Math.abs(time - before) < refreshMs(fs)) continue;
      if (this.sent.size >= this.half) {
        this.older = this.sent;
        this.sent = new Map();
      }
      this.sent.set(memo, time);
      const group: Record<string, string> = {};
      for (let k = 0; k < groupValues.length; k++) group[fs.groupBy[k]!] = groupValues[k]!;
      const signal: Signal = {
        correlation: fs.id,
        rule: rule.id,
        key,
        group,
        time,
        event_id: event.event.id,
        value,
        context: context(),
      };
      if (fs.alertOn.length > 0 && !fs.alertOn.some((r) => matches(r, event))) signal.learn_only = true;
      out.push(signal);
    }
  }
}
