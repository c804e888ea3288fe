import type { Counter } from 'prom-client';
import { DATASETS, type Dataset } from '../datasets/index.ts';
import { alertsTotal, detectEvents } from '../metrics.ts';
import { lastTimeParsed } from '../normalize/time.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { FirstSeenChange } from '../schema/first-seen.ts';
import type { AlertContext, Signal } from '../schema/signal.ts';
import { alertId, contextOf } from './alert.ts';
import { Correlator, signalsFor } from './correlate.ts';
import { beginEvaluation, endEvaluation } from './detection.ts';
import { FirstSeenSignals } from './first-seen/signals.ts';
import { FirstSeenState } from './first-seen/state.ts';
import { Generations } from './generations.ts';
import { RuleIndex } from './rule-index.ts';
import type { DetectionRule, RuleSet } from './ruleset.ts';
import { Suppressor } from './suppress.ts';
import { detectionAlert, suppressesInWindow, suppressionKey } from './suppression-signal.ts';

export interface DetectorOptions {
  /** How late (event time) a signal or match may arrive and still count. Default 30 s. */
  latenessMs?: number;
  /** Cap on live correlation groups and suppression windows (each), per cluster. Default 100 000. */
  maxKeys?: number;
  /** Clusters whose time-bound state is kept at once (least recently seen dropped beyond it). Default 1 024. */
  maxClusters?: number;
  /** Clock for `event.created`. */
  now?: () => Date;
  /** First-seen rules learn without alerting (warming their state from history). */
  firstSeenLearnOnly?: boolean;
}

/** A detection rule that matched an event (after the rule's filters). */
export interface RuleMatch {
  rule: DetectionRule;
  event: NormalizedEvent;
}

/**
 * What a suppression window keeps of its latest match, from an event or from a suppression signal: the event's
 * id and alert context, not the event (a window open for minutes would otherwise hold a whole audit event,
 * request and response bodies included).
 */
type Suppressed = Pick<Signal, 'event_id' | 'context'>;
const suppressedId = (s: Suppressed) => s.event_id;

// Shared and frozen: most events match nothing, and nothing may be added to these.
const NO_MATCHES = Object.freeze([]) as unknown as RuleMatch[];
const NO_ALERTS = Object.freeze([]) as unknown as Alert[];
/** A dataset's rules, indexed, and its events counter. */
interface DatasetRules {
  dataset: Dataset;
  index: RuleIndex;
  events: Counter.Internal;
}

/**
 * Everything that moves with event time, kept per cluster: suppression windows, correlation windows and their
 * clocks, and the auditIDs already alerted on. One cluster's events (a far-future timestamp, a flood of groups)
 * can therefore never move another cluster's clock, close or fill its windows, or evict its state.
 */
class ClusterState {
  readonly suppressor: Suppressor<Suppressed>;
  /** The same windows fed by suppression signals (the distributed detector's correlate stage). */
  readonly signalWindows: Suppressor<Suppressed>;
  readonly correlator: Correlator;
  readonly firstSeen: FirstSeenState;
  /** Request (`Dataset.onceKey`) → rules already matched: one alert per rule per request, across stages and retries. */
  readonly seenRequests: Generations<string, DetectionRule[]>;
  maxTime = Number.NEGATIVE_INFINITY;

  constructor(
    ruleset: RuleSet,
    cluster: string,
    opts: { latenessMs: number; maxKeys: number; now: () => Date; learnOnly: boolean },
  ) {
    this.suppressor = new Suppressor(opts.maxKeys, suppressedId);
    this.signalWindows = new Suppressor(opts.maxKeys, suppressedId);
    this.seenRequests = new Generations(opts.maxKeys);
    this.correlator = new Correlator(ruleset.correlations, opts);
    this.firstSeen = new FirstSeenState(ruleset.firstSeen, {
      cluster,
      now: opts.now,
      learnOnly: opts.learnOnly,
    });
  }
}

/** Whether a match of `rule` raises an alert or counts in a correlation: what must happen once per request. */
function countsOncePerRequest(rule: DetectionRule): boolean {
  return rule.generates || rule.correlations.length > 0;
}

/** The cluster a signal belongs to: its event's, as the normalizer set it from the credential. */
function clusterOfSignal(signal: Signal): string {
  return signal.context.orchestrator?.cluster?.name ?? '';
}

/**
 * Runs a rule set over normalized events. `process` does everything in-process:
 * filters → detection rules → suppression → correlations. The halves are public
 * for the distributed detector: `evaluate` (stateless) and `signalsFor` on one
 * side, `correlate`/`advance` (state fed only by signals) on the other.
 */
export class Detector {
  readonly ruleset: RuleSet;
  /** Each dataset with the index of its rules and its events counter. */
  private readonly datasets = new Map<string, DatasetRules>();
  /** The matches being collected for the event in `evaluate` (no closure per event). */
  private matches: RuleMatch[] = NO_MATCHES;
  private matching: NormalizedEvent | undefined;
  private readonly collect = (rules: DetectionRule[]) => {
    this.matches = this.check(rules, this.matching!, this.matches);
  };
  private readonly now: () => Date;
  private readonly latenessMs: number;
  private readonly maxKeys: number;
  private readonly maxClusters: number;
  private readonly learnOnly: boolean;
  private readonly firstSeenSignals: FirstSeenSignals;
  /** Least recently used first. */
  private readonly clusters = new Map<string, ClusterState>();
  private readonly detectionRules: Map<string, DetectionRule>;
  /** An event's time, parsed once for all of its matches. */
  private readonly parseTime = lastTimeParsed();

  constructor(ruleset: RuleSet, options: DetectorOptions = {}) {
    this.ruleset = ruleset;
    this.now = options.now ?? (() => new Date());
    this.latenessMs = options.latenessMs ?? 30_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.maxClusters = options.maxClusters ?? 1_024;
    this.learnOnly = options.firstSeenLearnOnly === true;
    this.firstSeenSignals = new FirstSeenSignals(this.maxKeys);
    for (const dataset of DATASETS) {
      const rules = ruleset.rules.filter((r) => r.scope === dataset.name);
      this.datasets.set(dataset.name, {
        dataset,
        index: new RuleIndex(dataset.index, rules),
        events: detectEvents.labels({ source: dataset.label }),
      });
    }
    this.detectionRules = new Map(ruleset.rules.map((r) => [r.id, r]));
  }

  private stateOf(cluster: string): ClusterState {
    let st = this.clusters.get(cluster);
    if (st) {
      if (this.clusters.size > 1) {
        this.clusters.delete(cluster);
        this.clusters.set(cluster, st);
      }
      return st;
    }
    st = new ClusterState(this.ruleset, cluster, {
      latenessMs: this.latenessMs,
      maxKeys: this.maxKeys,
      now: this.now,
      learnOnly: this.learnOnly,
    });
    this.clusters.set(cluster, st);
    if (this.clusters.size > this.maxClusters) {
      const [oldest, dropped] = this.clusters.entries().next().value as [string, ClusterState];
      this.clusters.delete(oldest);
      dropped.correlator.discard();
      dropped.firstSeen.discard();
    }
    return st;
  }

  /** The event's time (ms). */
  private timeOf(event: NormalizedEvent): number {
    return this.parseTime(event['@timestamp']);
  }

  /** Live correlation groups, all clusters together. */
  get correlationGroups(): number {
    let n = 0;
    for (const st of this.clusters.values()) n += st.correlator.size;
    return n;
  }

  /** Drops every window without emitting anything (the engine is being replaced after a rebalance). */
  discard(): void {
    for (const st of this.clusters.values()) {
      st.correlator.discard();
      st.firstSeen.discard();
    }
    this.clusters.clear();
  }

  /** Appends the matches of `rules` to `out` (allocating it on the first match). */
  private check(rules: DetectionRule[] | undefined, event: NormalizedEvent, out: RuleMatch[]): RuleMatch[] {
    if (!rules) return out;
    for (let k = 0; k < rules.length; k++) {
      const r = rules[k]!;
      if (!r.match(event)) continue;
      let kept = true;
      for (let f = 0; f < r.filters.length; f++) {
        if (!r.filters[f]!(event)) {
          kept = false;
          break;
        }
      }
      if (!kept) continue;
      if (out === NO_MATCHES) out = [];
      out.push({ rule: r, event });
    }
    return out;
  }

  /** Stateless: the detection rules (with their filters) that match the event. */
  evaluate(event: NormalizedEvent): RuleMatch[] {
    const entry = this.datasets.get(event.event.dataset);
    if (!entry || (entry.dataset.evaluable && !entry.dataset.evaluable(event))) return NO_MATCHES;
    this.matches = NO_MATCHES;
    this.matching = event;
    this.firstSeenSignals.nextEvaluation();
    beginEvaluation();
    try {
      entry.index.candidates(event, this.collect);
    } finally {
      endEvaluation();
    }
    const out = this.matches;
    this.matches = NO_MATCHES;
    this.matching = undefined;
    if (out.length > 1) out.sort((x, y) => x.rule.index - y.rule.index);
    return out;
  }

  /**
   * One alert per rule per request: the matches of `event` whose rule has not matched the same request before
   * (an exec session is logged when it opens and when it ends, under one auditID). Request keys are unique only
   * within one cluster, so they are remembered per cluster. Matches that only teach first-seen rules pass as
   * they are: learning the same value twice changes nothing, and remembering every request for them would cost
   * every event of a busy cluster.
   */
  firstPerRequest(event: NormalizedEvent, matches: RuleMatch[]): RuleMatch[] {
    if (!matches.some((m) => countsOncePerRequest(m.rule))) return matches;
    const key = this.datasets.get(event.event.dataset)?.dataset.onceKey?.(event);
    if (key === undefined) return matches;
    const { seenRequests } = this.stateOf(event.orchestrator.cluster.name);
    const seen = seenRequests.get(key) ?? [];
    if (seen.length === 0) seenRequests.set(key, seen);
    return matches.filter((m) => {
      if (!countsOncePerRequest(m.rule)) return true;
      if (seen.includes(m.rule)) return false;
      seen.push(m.rule);
      return true;
    });
  }

  /** Suppression for a rule that generates its own alerts: a new alert (revision 0) or nothing. */
  alertsFor(match: RuleMatch): Alert[] {
    const { rule, event } = match;
    if (!rule.generates) return NO_ALERTS;
    const time = this.timeOf(event);
    const key = suppressionKey(rule, event);
    const { suppressor } = this.stateOf(event.orchestrator.cluster.name);
    return this.window(suppressor, rule, key, time, { event_id: event.event.id, context: contextOf(event) });
  }

  /**
   * One suppression window, kept from events (in one process) or from suppression signals (the correlate
   * stage): the match folds into an open window, or opens one with its alert (revision 0), whose closing
   * revision is rebuilt from the last match folded in.
   */
  private window(
    windows: Suppressor<Suppressed>,
    rule: DetectionRule,
    key: string,
    time: number,
    item: Suppressed,
  ): Alert[] {
    if (windows.fold(key, time, item, rule.name)) return NO_ALERTS;
    const firstEventId = item.event_id;
    const id = alertId(rule.id, key, firstEventId);
    const build = (last: Suppressed, revision: number) =>
      detectionAlert(rule, last.context, {
        alertId: id,
        firstEventId,
        revision,
        created: this.now().toISOString(),
      });
    return windows.open({
      key,
      time,
      windowMs: rule.suppress.windowMs,
      event: item,
      alert: build(item, 0),
      rebuild: (last) => build(last, 1),
    });
  }

  /** The serializable signals a match sends to the correlations and first-seen rules that refer to its rule. */
  signalsFor(match: RuleMatch): Signal[] {
    const { rule, event } = match;
    if (rule.correlations.length === 0 && rule.firstSeen.length === 0) return [];
    const time = this.timeOf(event);
    let ctx: AlertContext | undefined;
    const context = () => (ctx ??= contextOf(event));
    const out = rule.correlations.length > 0 ? signalsFor(rule, event, time, context) : [];
    if (rule.firstSeen.length > 0) this.firstSeenSignals.collect(rule, event, time, context, out);
    return out;
  }

  /**
   * Suppression fed by suppression signals: the same windows, alerts and ids as `alertsFor`
   * gives in one process, depending only on the signals (and their order), so a replica that
   * re-reads a partition of the signals topic rebuilds them. Its cluster's windows expire as
   * its suppression signals move that cluster's event time.
   */
  suppress(signal: Signal): Alert[] {
    const rule = this.detectionRules.get(signal.rule);
    if (!rule || !suppressesInWindow(rule)) return NO_ALERTS;
    const st = this.stateOf(clusterOfSignal(signal));
    const windows = st.signalWindows;
    const out = this.window(windows, rule, signal.key, signal.time, signal);
    if (signal.time > st.maxTime) st.maxTime = signal.time;
    const expired = windows.expire(st.maxTime - this.latenessMs);
    return expired.length === 0 ? out : out.concat(expired);
  }

  /** Stateful correlation and first-seen state: depend only on the signals they are fed (and their order). */
  correlate(signal: Signal): Alert[] {
    const st = this.stateOf(clusterOfSignal(signal));
    return st.firstSeen.handles(signal) ? st.firstSeen.observe(signal) : st.correlator.correlate(signal);
  }

  /** The first-seen records changed since the last call, every cluster (for the state store). */
  firstSeenChanges(): FirstSeenChange[] {
    const out: FirstSeenChange[] = [];
    for (const st of this.clusters.values()) out.push(...st.firstSeen.changes());
    return out;
  }

  /** Every live first-seen record (a warm-up saves them). */
  firstSeenSnapshot(): FirstSeenChange[] {
    const out: FirstSeenChange[] = [];
    for (const st of this.clusters.values()) out.push(...st.firstSeen.snapshot());
    return out;
  }

  /** Takes back the first-seen state the store holds, each record into its cluster's state. */
  restoreFirstSeen(changes: readonly FirstSeenChange[]): void {
    const byCluster = new Map<string, FirstSeenChange[]>();
    for (const c of changes) {
      if (!c.record) continue;
      const list = byCluster.get(c.record.cluster);
      if (list) list.push(c);
      else byCluster.set(c.record.cluster, [c]);
    }
    for (const [cluster, list] of byCluster) this.stateOf(cluster).firstSeen.restore(list);
  }

  /** Live first-seen keys, all clusters together. */
  get firstSeenKeys(): number {
    let n = 0;
    for (const st of this.clusters.values()) n += st.firstSeen.size;
    return n;
  }

  /** Moves a cluster's event time forward: closes its suppression and correlation windows that ended. */
  advance(cluster: string, eventTimeMs: number): Alert[] {
    return this.advanceState(this.stateOf(cluster), eventTimeMs);
  }

  private advanceState(st: ClusterState, eventTimeMs: number): Alert[] {
    if (eventTimeMs > st.maxTime) st.maxTime = eventTimeMs;
    const closed = st.correlator.advance(eventTimeMs);
    if (st.suppressor.size === 0 && st.signalWindows.size === 0) return closed;
    const watermark = st.maxTime - this.latenessMs;
    const expired = st.suppressor.expire(watermark);
    const signalled = st.signalWindows.size === 0 ? NO_ALERTS : st.signalWindows.expire(watermark);
    if (expired.length === 0 && signalled.length === 0) return closed;
    return [...closed, ...expired, ...signalled];
  }

  /** In-process detection of one event. */
  process(event: NormalizedEvent): Alert[] {
    this.datasets.get(event.event.dataset)?.events.inc();
    const matches = this.firstPerRequest(event, this.evaluate(event));
    const st = this.stateOf(event.orchestrator.cluster.name);
    let out = NO_ALERTS;
    for (let k = 0; k < matches.length; k++) {
      const m = matches[k]!;
      const raised = this.alertsFor(m);
      if (raised.length > 0) out = out === NO_ALERTS ? raised : out.concat(raised);
      for (const s of this.signalsFor(m)) {
        const correlated = this.correlate(s);
        if (correlated.length > 0) out = out === NO_ALERTS ? correlated : out.concat(correlated);
      }
    }
    if (st.suppressor.size > 0 || st.correlator.size > 0) {
      const t = this.timeOf(event);
      if (t > st.maxTime) {
        const closed = this.advanceState(st, t);
        if (closed.length > 0) out = out === NO_ALERTS ? closed : out.concat(closed);
      }
    }
    if (out.length > 0) this.count(out);
    return out;
  }

  /** End of a replay: closes every window. */
  flush(): Alert[] {
    const out: Alert[] = [];
    for (const st of this.clusters.values())
      out.push(...st.correlator.flush(), ...st.suppressor.flush(), ...st.signalWindows.flush());
    this.count(out);
    return out;
  }

  private count(alerts: Alert[]): void {
    for (const a of alerts) if (a.klaxon.revision === 0) countRaised(a);
  }
}

/** klaxon_alerts_total for a newly raised alert; callers skip later revisions (the same alert, updated). */
export function countRaised(alert: Alert): void {
  alertsTotal.inc({
    rule: alert.rule.name,
    severity: alert.klaxon.severity,
    cluster: alert.orchestrator?.cluster?.name ?? 'unknown',
  });
}
