import { datasetNamed } from '../datasets/index.ts';
import { correlationEvicted, correlationKeys } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext, Signal } from '../schema/signal.ts';
import { alertId, buildAlert } from './alert.ts';
import type { WindowEntry, WindowTally } from './correlations/strategy.ts';
import { DueQueue } from './due-queue.ts';
import { compileField, firstValue } from './fields.ts';
import { type Linked, LinkedList } from './linked-list.ts';
import type { CorrelationRule, DetectionRule } from './ruleset.ts';
import { MAX_EVENT_IDS } from './suppress.ts';

const NONE = Object.freeze([]) as unknown as Alert[];
const NO_GROUP: Record<string, string> = Object.freeze({});

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

/** A place in the recency list: a group, or flush's cursor. */
type Link = Linked<Link>;

interface Group extends Link {
  corr: CorrelationRule;
  key: string;
  group: Record<string, string>;
  /**
   * Sorted by event time (stable for equal times: arrival order). `entries[0, head)` have left: a condition
   * judged at once drops expired entries from the front by moving `head`, compacting now and then.
   */
  entries: Entry[];
  head: number;
  fired: Fired | undefined;
  /** A condition judged at once, from TALLY_FROM live entries on (most groups never get there). */
  tallies: Tallies | undefined;
  /** The time it is queued to settle at (+Infinity: not queued). */
  dueAt: number;
  /** False once evicted or expired (its queued settle times are then skipped). */
  live: boolean;
}

interface Tallies {
  /** The strategy's bound over all the entries (see CorrelationStrategy.bound). */
  bound: WindowTally;
  /**
   * Entries in event-time order: the strategy's measure of `entries[lo, length)`, the window ending at the
   * newest entry; undefined until rebuilt after anything else touched the entries.
   */
  tally: WindowTally | undefined;
  lo: number;
  /** Event time where the tally's window starts (its newest entry's time minus the timespan). */
  windowFrom: number;
}

function isGroup(l: Link): l is Group {
  return 'corr' in l;
}

/** Compacts `entries` once this many have left from the front, and at least half of them. */
const COMPACT_AFTER = 64;

/**
 * Below this many live entries a group is judged by trying its windows directly (cheap at that size), and
 * keeps no tallies: most groups hold an entry or two, and a tally costs more memory than they do.
 */
const TALLY_FROM = 16;

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
  /** The groups in recency order, least recently used first: eviction takes the oldest in O(1). */
  private readonly order = new LinkedList<Link>();
  /** Groups by the event time at which they next have something to settle (a window closing, entries expiring). */
  private readonly queue = new DueQueue<Group>();
  private readonly byId = new Map<string, CorrelationRule>();
  private readonly opts: CorrelatorOptions;
  private maxTime = Number.NEGATIVE_INFINITY;
  /**
   * Latest signal time per source (audit, Falco). Lateness is judged within a source: Falco posts each alert as it
   * happens while the API server batches audit events (up to 30 s by default, more on retries), so a Falco stream
   * running ahead must not make the audit events of the same minutes "late".
   */
  private readonly latestBySource = new Map<string, number>();
  /** Calls of correlate/advance/flush in progress (a fired window feeds chained correlations re-entrantly). */
  private depth = 0;
  /** Groups evicted inside a nested call, whose state is released when the outermost call returns. */
  private evicted: Group[] = [];

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
    this.depth++;
    try {
      return this.correlateSignal(signal);
    } finally {
      this.leave();
    }
  }

  private leave(): void {
    if (--this.depth > 0 || this.evicted.length === 0) return;
    for (const g of this.evicted) release(g);
    this.evicted = [];
  }

  private correlateSignal(signal: Signal): Alert[] {
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
      this.order.remove(g);
    } else {
      g = {
        corr: c,
        key: signal.key,
        group: signal.group,
        entries: [],
        head: 0,
        fired: undefined,
        tallies: undefined,
        dueAt: Number.POSITIVE_INFINITY,
        live: true,
        older: undefined,
        newer: undefined,
      };
      this.groups.set(signal.key, g);
      correlationKeys.inc();
    }
    this.order.append(g);
    if (this.groups.size > this.opts.maxKeys) {
      const evicted = Correlator.groupFrom(this.order.oldest)!;
      this.order.remove(evicted);
      this.groups.delete(evicted.key);
      evicted.live = false;
      correlationKeys.dec();
      correlationEvicted.inc({ reason: 'cap' });
      // Its stale queue entry keeps it until popped or rebuilt away: only its state is dropped now. A group
      // evicted by a chained signal may still be being judged further up the stack: released on the way out.
      if (this.depth === 1 && evicted !== g) release(evicted);
      else this.evicted.push(evicted);
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
      if (c.strategy.immediate(c)) this.addJudgedAtOnce(g, entry, out);
      else this.insert(g, entry);
      this.schedule(g);
    }
    const closed = this.advance(signal.time);
    if (closed.length > 0) out.push(...closed);
    return out;
  }

  /** The group after `l` in recency order (skipping flush's cursor). */
  private static groupFrom(l: Link | undefined): Group | undefined {
    for (; l; l = l.newer) if (isGroup(l)) return l;
    return undefined;
  }

  /** Inserts an entry at its place in event time (after the entries of the same time). */
  private insert(g: Group, entry: Entry): number {
    const es = g.entries;
    if (es.length === 0) {
      // A first push would reserve room for 17: most groups never hold a second entry.
      g.entries = [entry];
      return 0;
    }
    let at = es.length;
    while (at > g.head && es[at - 1]!.time > entry.time) at--;
    es.splice(at, 0, entry);
    return at;
  }

  /**
   * A new entry of a condition judged at once. In event-time order (the common case: one source's signals),
   * the tally of the window ending at it moves forward in O(1) amortized, and only that window can complete.
   * An entry older than the newest one joins the tally when it falls in its window, and tries every window
   * holding it (`tryFire`) only when the bound over all the group's entries says one could hold.
   */
  private addJudgedAtOnce(g: Group, entry: Entry, out: Alert[]): void {
    const c = g.corr;
    const es = g.entries;
    const n = es.length;
    if (!g.tallies && n - g.head >= TALLY_FROM) {
      const bound = c.strategy.bound(c);
      for (let k = g.head; k < n; k++) bound.add(es[k]!);
      g.tallies = { bound, tally: undefined, lo: 0, windowFrom: Number.NEGATIVE_INFINITY };
    }
    const t = g.tallies;
    if (!t) {
      this.compact(g);
      this.tryFire(g, this.insert(g, entry), out);
      return;
    }
    t.bound.add(entry);
    if (n > g.head && es[n - 1]!.time > entry.time) {
      const at = this.insert(g, entry);
      const tally = t.tally;
      if (tally && !tally.orderFree) t.tally = undefined;
      else if (tally && entry.time >= t.windowFrom) tally.add(entry);
      else if (tally) t.lo++;
      if (!c.strategy.satisfied(c, t.bound.measure())) return;
      const head = g.head;
      this.compact(g);
      this.tryFire(g, at - head, out);
      return;
    }
    const from = entry.time - c.timespanMs;
    let tally = t.tally;
    if (!tally) {
      tally = c.strategy.tally(c);
      let lo = g.head;
      while (lo < n && es[lo]!.time < from) lo++;
      for (let k = lo; k < n; k++) tally.add(es[k]!);
      t.tally = tally;
      t.lo = lo;
    }
    t.windowFrom = from;
    es.push(entry);
    tally.add(entry);
    while (es[t.lo]!.time < from) tally.drop(es[t.lo++]!);
    const m = tally.measure();
    if (!c.strategy.satisfied(c, m)) return;
    const start = c.strategy.firstStart?.(c, es, t.lo) ?? t.lo;
    // No window at all (temporal_ordered without an entry of its first rule), whatever the condition says.
    if (start === es.length) return;
    this.fire(g, start, es.length, m, out);
  }

  /** Drops the entries that have left (`head`) from the array. */
  private compact(g: Group): void {
    if (g.head === 0) return;
    g.entries.splice(0, g.head);
    if (g.tallies) g.tallies.lo = Math.max(0, g.tallies.lo - g.head);
    g.head = 0;
  }

  /** Queues the group at the time it next has something to settle, when that changed. */
  private schedule(g: Group): void {
    const t = g.fired
      ? g.fired.end
      : g.entries.length > g.head
        ? g.entries[g.head]!.time + g.corr.timespanMs
        : Number.POSITIVE_INFINITY;
    if (t === g.dueAt) return;
    g.dueAt = t;
    if (t === Number.POSITIVE_INFINITY) return;
    this.queue.push(t, g);
    // Entries of groups evicted, expired or rescheduled stay in the queue until they come out or are rebuilt away.
    if (this.queue.overgrown(this.groups.size)) this.rebuildDue();
  }

  private rebuildDue(): void {
    this.queue.clear();
    for (let l = this.order.oldest; l; l = l.newer)
      if (isGroup(l) && l.live && l.dueAt !== Number.POSITIVE_INFINITY) this.queue.push(l.dueAt, l);
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
    const t = g.tallies;
    if (t) {
      t.tally = undefined;
      for (const e of window) t.bound.drop(e);
    }
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

  /**
   * Closes windows that end before the watermark; expires idle groups. Only the groups whose settle time
   * has passed are visited (in the order of those times), so the cost does not grow with the live groups.
   */
  advance(timeMs: number): Alert[] {
    if (timeMs > this.maxTime) this.maxTime = timeMs;
    const wm = this.watermark();
    // Settling does something only strictly before the watermark (see settle), so a group due at it waits.
    if (!(this.queue.peek() < wm)) return NONE;
    this.depth++;
    try {
      return this.settleDue(wm);
    } finally {
      this.leave();
    }
  }

  private settleDue(wm: number): Alert[] {
    const out: Alert[] = [];
    while (this.queue.peek() < wm) {
      const due = this.queue.peek();
      const g = this.queue.pop();
      if (!g.live || g.dueAt !== due) continue;
      g.dueAt = Number.POSITIVE_INFINITY;
      this.settle(g, wm, out);
      if (!g.fired && g.entries.length === g.head) {
        g.live = false;
        if (this.groups.get(g.key) === g) {
          this.order.remove(g);
          this.groups.delete(g.key);
          correlationKeys.dec();
          correlationEvicted.inc({ reason: 'expired' });
        }
      } else this.schedule(g);
    }
    return out;
  }

  private settle(g: Group, wm: number, out: Alert[]): void {
    const c = g.corr;
    if (g.fired && g.fired.end < wm) this.closeFired(g, out);
    if (c.strategy.immediate(c)) {
      // No later signal (all at or after the watermark) can share a window with these.
      const es = g.entries;
      const t = g.tallies;
      while (g.head < es.length && es[g.head]!.time < wm - c.timespanMs) {
        const leaving = es[g.head++]!;
        if (t) t.bound.drop(leaving);
      }
      if (t?.tally) while (t.lo < g.head) t.tally.drop(es[t.lo++]!);
      if (g.head === es.length) {
        es.length = 0;
        g.head = 0;
        if (t) t.lo = 0;
      } else if (g.head >= COMPACT_AFTER && g.head * 2 >= es.length) this.compact(g);
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
    for (const g of this.groups.values()) g.live = false;
    this.clear();
  }

  /**
   * End of input: judge every open window, least recently used first. A window judged can feed a chained
   * correlation, which can touch (make most recent), open or evict groups meanwhile: a cursor kept in the list
   * right after the group being judged visits every group once more that is touched after its turn, every group
   * opened, and none evicted before its turn.
   */
  flush(): Alert[] {
    this.depth++;
    try {
      return this.settleAll();
    } finally {
      this.leave();
    }
  }

  private settleAll(): Alert[] {
    const out: Alert[] = [];
    const cursor: Link = { older: undefined, newer: undefined };
    let placed = false;
    for (let g = Correlator.groupFrom(this.order.oldest); g; g = Correlator.groupFrom(cursor.newer)) {
      if (placed) this.order.remove(cursor);
      this.order.insertAfter(g, cursor);
      placed = true;
      this.settle(g, Number.POSITIVE_INFINITY, out);
      g.live = false;
    }
    correlationKeys.dec(this.groups.size);
    this.clear();
    return out;
  }

  private clear(): void {
    this.groups.clear();
    this.queue.clear();
    this.order.clear();
  }
}

/** Drops what an evicted group holds: only its stale entry in the due queue may still point at it. */
function release(g: Group): void {
  g.entries = [];
  g.head = 0;
  g.fired = undefined;
  g.tallies = undefined;
  g.group = NO_GROUP;
  g.key = '';
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
