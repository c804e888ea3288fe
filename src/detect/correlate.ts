import { datasetNamed } from '../datasets/index.ts';
import { correlationEvicted, correlationKeys } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext, Signal } from '../schema/signal.ts';
import { alertId, buildAlert } from './alert.ts';
import type { WindowEntry } from './correlations/strategy.ts';
import { compileField, firstValue } from './fields.ts';
import type { CorrelationRule, DetectionRule } from './ruleset.ts';
import { MAX_EVENT_IDS } from './suppress.ts';

const NONE = Object.freeze([]) as unknown as Alert[];

interface Entry extends WindowEntry {
  eventId: string;
  context: AlertContext;
}

interface Fired {
  alert: Alert;
  end: number;
  count: number;
  eventIds: string[];
  last: AlertContext;
  lastTime: number;
}

interface Group {
  corr: CorrelationRule;
  key: string;
  group: Record<string, string>;
  /** Sorted by event time (stable for equal times: arrival order). */
  entries: Entry[];
  fired?: Fired;
}

export interface CorrelatorOptions {
  latenessMs: number;
  maxKeys: number;
  now: () => Date;
}

function timespanText(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

function correlationMessage(
  c: CorrelationRule,
  group: Record<string, string>,
  n: number,
  ctx: AlertContext,
  actorNamed: boolean,
): string {
  const by = Object.entries(group)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const what = c.strategy.describe(c, n);
  const cluster = ctx.orchestrator?.cluster?.name ?? 'unknown';
  const user = actorNamed ? ctx.user?.name : undefined;
  const actor = user && !Object.values(group).includes(user) ? ` by ${user}` : '';
  return `${what}${by ? ` for ${by}` : ''}${actor} within ${timespanText(c.timespanMs)} in cluster ${cluster} — ${c.title}`;
}

/** Whether an entry's event names the Kubernetes identity that acted (its dataset says so). */
function namesActor(e: Entry): boolean {
  return datasetNamed(e.context.dataset)?.actor === true;
}

/**
 * The context of a correlation alert: its last event's, but a sequence that ends with an event of a dataset that
 * does not name the Kubernetes identity (a Falco alert) is still about the identity that started it (who opened
 * the exec), not the process user Falco reports: its who, and its original event's section, come from the last
 * event that names one.
 */
function correlationContext(window: readonly Entry[], last: Entry): AlertContext {
  if (namesActor(last)) return last.context;
  let actor: Entry | undefined;
  for (const e of window) if (namesActor(e) && (!actor || e.time >= actor.time)) actor = e;
  if (!actor) return last.context;
  const { user, source, user_agent } = actor.context;
  const ctx: AlertContext = { ...last.context };
  delete ctx.user;
  delete ctx.source;
  delete ctx.user_agent;
  if (user) ctx.user = user;
  if (source) ctx.source = source;
  if (user_agent) ctx.user_agent = user_agent;
  const fields = ctx as Record<string, unknown>;
  for (const [key, value] of Object.entries(actor.context))
    if (fields[key] === undefined) fields[key] = value;
  return ctx;
}

/**
 * Correlation windows over event time, fed by signals only (so a replica that
 * re-reads the signals rebuilds the same state and the same alert ids).
 * Sliding windows: each correlation type's strategy (correlations/) says which
 * windows a new signal can complete, what is counted and whether the condition
 * is judged at once or when the window closes; the bookkeeping is here.
 * When a condition holds the alert is emitted at once (revision 0); later
 * signals of the same window fold into it and a revision 1 follows when the
 * window closes. State is bounded: signals older than the watermark (latest
 * event time minus the allowed lateness) are dropped, windows expire, and the
 * number of live groups is capped (oldest evicted).
 */
export class Correlator {
  private readonly groups = new Map<string, Group>();
  private readonly byId = new Map<string, CorrelationRule>();
  private readonly opts: CorrelatorOptions;
  private maxTime = Number.NEGATIVE_INFINITY;
  /**
   * Latest signal time per source (audit, Falco). Lateness is judged within a source: Falco posts each alert as it
   * happens while the API server batches audit events (up to 30 s by default, more on retries), so a Falco stream
   * running ahead must not make the audit events of the same minutes "late".
   */
  private readonly latestBySource = new Map<string, number>();
  private nextDue = Number.POSITIVE_INFINITY;

  constructor(correlations: CorrelationRule[], opts: CorrelatorOptions) {
    for (const c of correlations) this.byId.set(c.id, c);
    this.opts = opts;
  }

  get size(): number {
    return this.groups.size;
  }

  /**
   * How far behind its source's latest signal a signal may be and still count. A lower-bound
   * condition keeps its entries for a timespan past the watermark (settle), so a later signal can
   * still join them: it can only complete a window whose events really happened, never invent
   * one. That matters with several partitions feeding one window, where one of them can lag
   * after a restart by more than the lateness. Conditions judged when the window closes keep
   * the strict lateness: their windows may already have been judged.
   */
  private allowedLateness(c: CorrelationRule): number {
    return c.strategy.immediate(c) ? this.opts.latenessMs + c.timespanMs : this.opts.latenessMs;
  }

  private watermark(): number {
    return this.maxTime - this.opts.latenessMs;
  }

  correlate(signal: Signal): Alert[] {
    const c = this.byId.get(signal.correlation);
    if (!c) return [];
    const out: Alert[] = [];
    const source = signal.context.dataset;
    const latest = this.latestBySource.get(source) ?? Number.NEGATIVE_INFINITY;
    if (signal.time < latest - this.allowedLateness(c)) {
      correlationEvicted.inc({ reason: 'late' });
      return out;
    }
    if (signal.time > latest) this.latestBySource.set(source, signal.time);
    if (signal.time > this.maxTime) this.maxTime = signal.time;
    let g = this.groups.get(signal.key);
    if (g) {
      // Most recently used last: eviction and expiry walk from the front.
      this.groups.delete(signal.key);
    } else {
      g = { corr: c, key: signal.key, group: signal.group, entries: [] };
      correlationKeys.inc();
    }
    this.groups.set(signal.key, g);
    if (this.groups.size > this.opts.maxKeys) {
      const oldest = this.groups.keys().next().value as string;
      this.groups.delete(oldest);
      correlationKeys.dec();
      correlationEvicted.inc({ reason: 'cap' });
    }

    if (g.fired && signal.time > g.fired.end) this.closeFired(g, out);
    if (g.fired) {
      const f = g.fired;
      f.count++;
      if (f.eventIds.length < MAX_EVENT_IDS) f.eventIds.push(signal.event_id);
      if (signal.time >= f.lastTime) {
        f.last = signal.context;
        f.lastTime = signal.time;
      }
    } else {
      const entry: Entry = {
        time: signal.time,
        eventId: signal.event_id,
        rule: signal.rule,
        value: signal.value,
        context: signal.context,
      };
      let at = g.entries.length;
      while (at > 0 && g.entries[at - 1]!.time > entry.time) at--;
      g.entries.splice(at, 0, entry);
      if (c.strategy.immediate(c)) this.tryFire(g, at, out);
      this.due(g);
    }
    out.push(...this.advance(signal.time));
    return out;
  }

  private due(g: Group): void {
    const t = g.fired
      ? g.fired.end
      : g.entries.length > 0
        ? g.entries[0]!.time + g.corr.timespanMs
        : undefined;
    if (t !== undefined && t < this.nextDue) this.nextDue = t;
  }

  /** Looks for a window holding entry `at` in which the condition holds; fires on the first found. */
  private tryFire(g: Group, at: number, out: Alert[]): void {
    const c = g.corr;
    const strategy = c.strategy;
    for (const [from, to] of strategy.windows(c, g.entries, at)) {
      const n = strategy.measure(c, g.entries, from, to);
      if (strategy.satisfied(c, n)) {
        this.fire(g, from, to, n, out);
        return;
      }
    }
  }

  private fire(g: Group, from: number, to: number, n: number, out: Alert[]): void {
    const c = g.corr;
    const window = g.entries.slice(from, to);
    g.entries.splice(from, to - from);
    let last = window[0]!;
    for (const e of window) if (e.time >= last.time) last = e;
    const id = alertId(c.id, g.key, window[0]!.eventId);
    const eventIds = window.slice(0, MAX_EVENT_IDS).map((e) => e.eventId);
    const context = correlationContext(window, last);
    const alert = buildAlert({
      rule: c,
      level: c.level,
      context,
      alertId: id,
      eventIds,
      count: window.length,
      revision: 0,
      message: correlationMessage(c, g.group, n, context, window.some(namesActor)),
      created: this.opts.now().toISOString(),
      correlation: { type: c.type, group: g.group },
    });
    if (c.strategy.immediate(c)) {
      g.fired = {
        alert,
        end: window[0]!.time + c.timespanMs,
        count: window.length,
        eventIds,
        last: last.context,
        lastTime: last.time,
      };
    }
    if (c.generates) out.push(alert);
    for (const outer of c.correlations) out.push(...this.chain(c, outer, g.group, last, alert));
  }

  /** A correlation alert feeds the correlations that refer to it (chained correlations). */
  private chain(
    inner: CorrelationRule,
    outer: CorrelationRule,
    group: Record<string, string>,
    last: Entry,
    alert: Alert,
  ): Alert[] {
    const values: Record<string, string> = {};
    for (const name of outer.groupBy) {
      const field = (inner.declaredName && outer.aliases[name]?.[inner.declaredName]) || name;
      const v = group[field] ?? group[name] ?? valueFromContext(field, last.context);
      if (v === undefined) return [];
      values[name] = v;
    }
    return this.correlate({
      correlation: outer.id,
      rule: inner.id,
      key: JSON.stringify([
        outer.id,
        last.context.orchestrator?.cluster?.name ?? '',
        ...outer.groupBy.map((n) => values[n]!),
      ]),
      group: values,
      time: last.time,
      event_id: alert.klaxon.alert_id,
      context: last.context,
    });
  }

  private closeFired(g: Group, out: Alert[]): void {
    const f = g.fired!;
    g.fired = undefined;
    if (f.count <= f.alert.klaxon.count || !g.corr.generates) return;
    out.push({
      ...f.alert,
      '@timestamp': f.last['@timestamp'],
      event: { ...f.alert.event, created: this.opts.now().toISOString() },
      klaxon: { ...f.alert.klaxon, count: f.count, event_ids: f.eventIds, revision: 1 },
    });
  }

  /** Closes windows that end before the watermark; expires idle groups. */
  advance(timeMs: number): Alert[] {
    if (timeMs > this.maxTime) this.maxTime = timeMs;
    const wm = this.watermark();
    if (wm < this.nextDue) return NONE;
    const out: Alert[] = [];
    this.nextDue = Number.POSITIVE_INFINITY;
    for (const [key, g] of this.groups) {
      this.settle(g, wm, out);
      if (!g.fired && g.entries.length === 0) {
        this.groups.delete(key);
        correlationKeys.dec();
        correlationEvicted.inc({ reason: 'expired' });
      } else this.due(g);
    }
    return out;
  }

  private settle(g: Group, wm: number, out: Alert[]): void {
    const c = g.corr;
    if (g.fired && g.fired.end < wm) this.closeFired(g, out);
    if (c.strategy.immediate(c)) {
      // No later signal (all at or after the watermark) can share a window with these.
      let drop = 0;
      while (drop < g.entries.length && g.entries[drop]!.time < wm - c.timespanMs) drop++;
      if (drop > 0) g.entries.splice(0, drop);
      return;
    }
    while (g.entries.length > 0 && g.entries[0]!.time + c.timespanMs < wm) {
      const end = g.entries[0]!.time + c.timespanMs;
      let to = 0;
      while (to < g.entries.length && g.entries[to]!.time <= end) to++;
      const n = c.strategy.measure(c, g.entries, 0, to);
      if (c.strategy.satisfied(c, n)) this.fire(g, 0, to, n, out);
      else g.entries.splice(0, to);
    }
  }

  /** Forgets every window without judging it (the engine is being replaced). */
  discard(): void {
    correlationKeys.dec(this.groups.size);
    this.groups.clear();
    this.nextDue = Number.POSITIVE_INFINITY;
  }

  /** End of input: judge every open window. */
  flush(): Alert[] {
    const out: Alert[] = [];
    for (const g of this.groups.values()) this.settle(g, Number.POSITIVE_INFINITY, out);
    correlationKeys.dec(this.groups.size);
    this.groups.clear();
    this.nextDue = Number.POSITIVE_INFINITY;
    return out;
  }
}

function valueFromContext(field: string, ctx: AlertContext): string | undefined {
  const scope = datasetNamed(ctx.dataset)?.name ?? 'ecs';
  return firstValue(compileField(field, scope), ctx as unknown as NormalizedEvent);
}

/** The signals a base-rule match sends to the correlations that refer to its rule. */
export function signalsFor(
  rule: DetectionRule,
  event: NormalizedEvent,
  time: number,
  context: () => AlertContext,
): Signal[] {
  const out: Signal[] = [];
  let ctx: AlertContext | undefined;
  for (const c of rule.correlations) {
    const group: Record<string, string> = {};
    let complete = true;
    for (const name of c.groupBy) {
      // A missing group-by field: the event joins no group of this correlation.
      const field = (rule.declaredName && c.aliases[name]?.[rule.declaredName]) || name;
      const v = firstValue(accessor(field, rule), event);
      if (v === undefined) {
        complete = false;
        break;
      }
      group[name] = v;
    }
    if (!complete) continue;
    let value: string | undefined;
    if (c.strategy.needsValue) {
      const field = (rule.declaredName && c.aliases[c.field!]?.[rule.declaredName]) || c.field!;
      value = firstValue(accessor(field, rule), event);
      if (value === undefined) continue;
    }
    ctx ??= context();
    const signal: Signal = {
      correlation: c.id,
      rule: rule.id,
      // Windows never span clusters: the same pod, account or private address in two clusters is two things.
      key: JSON.stringify([c.id, event.orchestrator.cluster.name, ...c.groupBy.map((n) => group[n]!)]),
      group,
      time,
      event_id: event.event.id,
      context: ctx,
    };
    if (value !== undefined) signal.value = value;
    out.push(signal);
  }
  return out;
}

const accessors = new WeakMap<DetectionRule, Map<string, ReturnType<typeof compileField>>>();

function accessor(field: string, rule: DetectionRule): ReturnType<typeof compileField> {
  let m = accessors.get(rule);
  if (!m) {
    m = new Map();
    accessors.set(rule, m);
  }
  let a = m.get(field);
  if (!a) {
    a = compileField(field, rule.scope);
    m.set(field, a);
  }
  return a;
}
