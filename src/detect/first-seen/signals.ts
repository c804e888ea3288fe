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

/**
 * The first-seen rules of one rule they learn from that read the same values (the same group-by fields and the
 * same fields, derived alike): each event's values are read once for all of them, and what was sent is
 * remembered once for all of them (they are always sent together).
 */
interface ValuePlan {
  /** What it reads (dataset, group-by fields, fields and derivations): plans alike read alike. */
  reads: string;
  group: FieldAccessor[];
  fields: FieldAccessor[];
  derive: (((value: string) => string | undefined) | undefined)[];
  /** The shortest `refreshMs` of its rules. */
  refreshMs: number;
  rules: FirstSeenRule[];
}

const plans = new WeakMap<DetectionRule, ValuePlan[]>();

/** The value plans of the first-seen rules learning from `base`, compiled for its dataset. */
function plansFor(base: DetectionRule): ValuePlan[] {
  const known = plans.get(base);
  if (known) return known;
  const bySpec = new Map<string, ValuePlan>();
  for (const fs of base.firstSeen) {
    const spec = JSON.stringify([base.scope, fs.groupBy, fs.fields.map((f) => [f.field, f.derive?.name])]);
    const plan = bySpec.get(spec);
    if (plan) {
      plan.rules.push(fs);
      plan.refreshMs = Math.min(plan.refreshMs, refreshMs(fs));
      continue;
    }
    bySpec.set(spec, {
      reads: spec,
      group: fs.groupBy.map((name) => compileField(name, base.scope)),
      fields: fs.fields.map((f) => compileField(f.field, base.scope)),
      derive: fs.fields.map((f) => f.derive?.apply),
      refreshMs: refreshMs(fs),
      rules: [fs],
    });
  }
  const compiled = [...bySpec.values()];
  plans.set(base, compiled);
  return compiled;
}

/** The plan's group-by values in `event`, or undefined when one is missing. */
function groupValues(plan: ValuePlan, event: NormalizedEvent): string[] | undefined {
  const out: string[] = [];
  for (let k = 0; k < plan.group.length; k++) {
    const v = firstValue(plan.group[k]!, event);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

/** The plan's remembered value in `event` (its fields' values, derived and combined), or undefined. */
function rememberedValue(plan: ValuePlan, event: NormalizedEvent): string | undefined {
  const values: string[] = [];
  for (let k = 0; k < plan.fields.length; k++) {
    const raw = firstValue(plan.fields[k]!, event);
    const derive = plan.derive[k];
    const v = raw === undefined || derive === undefined ? raw : derive(raw);
    if (v === undefined) return undefined;
    values.push(v);
  }
  return combine(values);
}

/**
 * What one event gave for one kind of plan. Several of the rules that first-seen rules learn from match most
 * events (every authenticated request, every workload identity's), and their plans often read the same values:
 * those are read once per event. Valid for `event` within one evaluation (`epoch`), so an event object changed
 * and evaluated again is read again.
 */
interface Read {
  event: NormalizedEvent | undefined;
  epoch: number;
  groups: string[] | undefined;
  value: string | undefined;
}

/** Plan → cluster → group → value → when it was last sent. */
type SentTree = Map<ValuePlan, Map<string, Map<string, Map<string, number>>>>;

/**
 * When each plan's value was last sent, per cluster and group: the event's own strings looked up level by level
 * (a composite key built, hashed and collected per event cost more than the lookups). Two generations, as in
 * `Generations`: at least the last half of the cap, never more than the cap.
 */
class SentTimes {
  private newer: SentTree = new Map();
  private older: SentTree = new Map();
  private newerSize = 0;
  private readonly half: number;

  constructor(cap: number) {
    this.half = Math.max(1, Math.floor(cap / 2));
  }

  get(plan: ValuePlan, cluster: string, group: string, value: string): number | undefined {
    return (
      this.newer.get(plan)?.get(cluster)?.get(group)?.get(value) ??
      this.older.get(plan)?.get(cluster)?.get(group)?.get(value)
    );
  }

  set(plan: ValuePlan, cluster: string, group: string, value: string, time: number): void {
    let values = this.newer.get(plan)?.get(cluster)?.get(group);
    if (values?.has(value)) {
      values.set(value, time);
      return;
    }
    if (this.newerSize >= this.half) {
      this.older = this.newer;
      this.newer = new Map();
      this.newerSize = 0;
      values = undefined;
    }
    if (!values) values = child(child(child(this.newer, plan), cluster), group);
    values.set(value, time);
    this.newerSize++;
  }
}

function child<K, V>(parent: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let m = parent.get(key);
  if (!m) {
    m = new Map();
    parent.set(key, m);
  }
  return m;
}

/**
 * Turns the matches of rules that first-seen rules learn from into signals (the same signals as
 * correlations: keyed by rule, cluster and group-by values, so one key's values live on one partition).
 * Nearly every event of a busy identity repeats what it did a minute ago, so a key's value is sent at most
 * once per `refreshMs` (bounded memory of what was sent): the state needs when a value was last seen to
 * within a fraction of its timespan, not every sighting.
 */
export class FirstSeenSignals {
  private readonly sent: SentTimes;
  /** By `ValuePlan.reads`: as many as kinds of plans in the rule set. */
  private readonly reads = new Map<string, Read>();
  private epoch = 0;

  constructor(cap: number) {
    this.sent = new SentTimes(cap);
  }

  /** An event is being evaluated: values read before are read again. */
  nextEvaluation(): void {
    this.epoch++;
  }

  private read(plan: ValuePlan, event: NormalizedEvent): Read {
    let r = this.reads.get(plan.reads);
    if (!r) {
      r = { event: undefined, epoch: -1, groups: undefined, value: undefined };
      this.reads.set(plan.reads, r);
    }
    if (r.event !== event || r.epoch !== this.epoch) {
      r.event = event;
      r.epoch = this.epoch;
      r.groups = groupValues(plan, event);
      r.value = r.groups === undefined ? undefined : rememberedValue(plan, event);
    }
    return r;
  }

  collect(
    rule: DetectionRule,
    event: NormalizedEvent,
    time: number,
    context: () => AlertContext,
    out: Signal[],
  ): void {
    const cluster = event.orchestrator.cluster.name;
    for (const plan of plansFor(rule)) {
      const { groups, value } = this.read(plan, event);
      if (groups === undefined || value === undefined) continue;
      const group = groups.length === 1 ? groups[0]! : JSON.stringify(groups);
      const before = this.sent.get(plan, cluster, group, value);
      // Most events repeat a value sent moments ago: nothing more is built for them.
      if (before !== undefined && Math.abs(time - before) < plan.refreshMs) continue;
      this.sent.set(plan, cluster, group, value, time);
      for (const fs of plan.rules)
        out.push(this.signal(fs, rule, event, time, cluster, groups, value, context));
    }
  }

  private signal(
    fs: FirstSeenRule,
    rule: DetectionRule,
    event: NormalizedEvent,
    time: number,
    cluster: string,
    groups: readonly string[],
    value: string,
    context: () => AlertContext,
  ): Signal {
    const group: Record<string, string> = {};
    for (let k = 0; k < groups.length; k++) group[fs.groupBy[k]!] = groups[k]!;
    const signal: Signal = {
      correlation: fs.id,
      rule: rule.id,
      // Keys never span clusters: the same service account name in two clusters is two identities.
      key: JSON.stringify([fs.id, cluster, ...groups]),
      group,
      time,
      event_id: event.event.id,
      value,
      context: context(),
    };
    if (fs.alertOn.length > 0 && !fs.alertOn.some((r) => matches(r, event))) signal.learn_only = true;
    return signal;
  }
}
