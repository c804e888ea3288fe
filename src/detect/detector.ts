import { alertsTotal, detectEvents } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { Signal } from '../schema/signal.ts';
import { alertId, contextOf } from './alert.ts';
import { Correlator, signalsFor } from './correlate.ts';
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
}

/** A detection rule that matched an event (after the rule's filters). */
export interface RuleMatch {
  rule: DetectionRule;
  event: NormalizedEvent;
}

// Shared and frozen: most events match nothing, and nothing may be added to these.
const NO_MATCHES = Object.freeze([]) as unknown as RuleMatch[];
const NO_ALERTS = Object.freeze([]) as unknown as Alert[];
const AUDIT_EVENTS = detectEvents.labels({ source: 'audit' });
const FALCO_EVENTS = detectEvents.labels({ source: 'falco' });
const LONG_RUNNING = new Set(['exec', 'attach', 'portforward']);

/**
 * Rules by resource, then by verb; rules that require only a verb; rules that require neither
 * but a response status code; the rest.
 */
interface Index {
  byResource: Map<string, { byVerb: Map<string, DetectionRule[]>; anyVerb: DetectionRule[] }>;
  byVerb: Map<string, DetectionRule[]>;
  byCode: Map<string, DetectionRule[]>;
  rest: DetectionRule[];
}

function push<K>(m: Map<K, DetectionRule[]>, k: K, r: DetectionRule): void {
  const list = m.get(k);
  if (list) list.push(r);
  else m.set(k, [r]);
}

/** Rules by the literal values their conditions require, so an event meets only rules that can match it. */
function buildIndex(rules: DetectionRule[]): Index {
  const idx: Index = { byResource: new Map(), byVerb: new Map(), byCode: new Map(), rest: [] };
  for (const r of rules) {
    const { resource, verb, code } = r.requires;
    // A requirement that is an empty set (contradictory literals) can never match: indexed nowhere.
    if (resource?.size === 0 || verb?.size === 0 || code?.size === 0) continue;
    if (resource) {
      for (const res of resource) {
        let slot = idx.byResource.get(res);
        if (!slot) {
          slot = { byVerb: new Map(), anyVerb: [] };
          idx.byResource.set(res, slot);
        }
        if (verb) for (const v of verb) push(slot.byVerb, v, r);
        else slot.anyVerb.push(r);
      }
    } else if (verb) for (const v of verb) push(idx.byVerb, v, r);
    else if (code) for (const c of code) push(idx.byCode, c, r);
    else idx.rest.push(r);
  }
  return idx;
}

function lower(v: unknown): string | undefined {
  return typeof v === 'string' ? v.toLowerCase() : undefined;
}

/**
 * Everything that moves with event time, kept per cluster: suppression windows, correlation windows and their
 * clocks, and the auditIDs already alerted on. One cluster's events (a far-future timestamp, a flood of groups)
 * can therefore never move another cluster's clock, close or fill its windows, or evict its state.
 */
class ClusterState {
  readonly suppressor: Suppressor;
  /** The same windows fed by suppression signals (the distributed detector's correlate stage). */
  readonly signalWindows: Suppressor<Signal>;
  readonly correlator: Correlator;
  /** auditID → rules already matched (one alert per rule per auditID, across stages and retries). */
  readonly seenAudit = new Map<string, Set<DetectionRule>>();
  maxTime = Number.NEGATIVE_INFINITY;

  constructor(ruleset: RuleSet, opts: { latenessMs: number; maxKeys: number; now: () => Date }) {
    this.suppressor = new Suppressor<NormalizedEvent>(opts.maxKeys, (e) => e.event.id);
    this.signalWindows = new Suppressor<Signal>(opts.maxKeys, (s) => s.event_id);
    this.correlator = new Correlator(ruleset.correlations, opts);
  }
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
  private readonly audit: Index;
  private readonly falco: DetectionRule[];
  private readonly now: () => Date;
  private readonly latenessMs: number;
  private readonly maxKeys: number;
  private readonly maxClusters: number;
  /** Least recently used first. */
  private readonly clusters = new Map<string, ClusterState>();
  private readonly detectionRules: Map<string, DetectionRule>;

  constructor(ruleset: RuleSet, options: DetectorOptions = {}) {
    this.ruleset = ruleset;
    this.now = options.now ?? (() => new Date());
    this.latenessMs = options.latenessMs ?? 30_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.maxClusters = options.maxClusters ?? 1_024;
    this.audit = buildIndex(ruleset.rules.filter((r) => r.scope === 'kubernetes.audit'));
    this.falco = ruleset.rules.filter((r) => r.scope === 'falco');
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
    st = new ClusterState(this.ruleset, {
      latenessMs: this.latenessMs,
      maxKeys: this.maxKeys,
      now: this.now,
    });
    this.clusters.set(cluster, st);
    if (this.clusters.size > this.maxClusters) {
      const [oldest, dropped] = this.clusters.entries().next().value as [string, ClusterState];
      this.clusters.delete(oldest);
      dropped.correlator.discard();
    }
    return st;
  }

  /** Drops every window without emitting anything (the engine is being replaced after a rebalance). */
  discard(): void {
    for (const st of this.clusters.values()) st.correlator.discard();
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
    let out = NO_MATCHES;
    if (event.event.dataset === 'kubernetes.audit') {
      const a = event.kubernetes?.audit;
      if (!a) return out;
      const stage = a.stage;
      const ref = a.objectRef as Record<string, unknown> | undefined;
      if (stage !== undefined && stage !== 'ResponseComplete') {
        // Long-running requests (exec, attach, port-forward) log ResponseStarted when the session opens;
        // failed authentication (401) is logged at ResponseStarted only (apiserver WithFailedAuthenticationAudit).
        const code = (a.responseStatus as Record<string, unknown> | undefined)?.code;
        if (stage !== 'ResponseStarted' || !(LONG_RUNNING.has(ref?.subresource as string) || code === 401))
          return out;
      }
      const verb = lower(a.verb);
      const resource = lower(ref?.resource);
      if (resource !== undefined) {
        const slot = this.audit.byResource.get(resource);
        if (slot) {
          out = this.check(slot.anyVerb, event, out);
          if (verb !== undefined) out = this.check(slot.byVerb.get(verb), event, out);
        }
      }
      if (verb !== undefined) out = this.check(this.audit.byVerb.get(verb), event, out);
      const code = (a.responseStatus as Record<string, unknown> | undefined)?.code;
      if (typeof code === 'number' || typeof code === 'string') {
        out = this.check(this.audit.byCode.get(String(code).toLowerCase()), event, out);
      }
      out = this.check(this.audit.rest, event, out);
      if (out.length > 1) out.sort((x, y) => x.rule.index - y.rule.index);
    } else if (event.event.dataset === 'falco') out = this.check(this.falco, event, out);
    return out;
  }

  /**
   * One alert per rule per auditID: drops matches of a rule already seen for the
   * same request. auditIDs are unique only within one API server's cluster.
   */
  private firstPerAuditId(m: RuleMatch, st: ClusterState): boolean {
    const auditId = m.event.kubernetes?.audit.auditID;
    if (typeof auditId !== 'string') return true;
    let seen = st.seenAudit.get(auditId);
    if (!seen) {
      seen = new Set();
      st.seenAudit.set(auditId, seen);
      if (st.seenAudit.size > this.maxKeys) st.seenAudit.delete(st.seenAudit.keys().next().value as string);
    }
    if (seen.has(m.rule)) return false;
    seen.add(m.rule);
    return true;
  }

  /** Suppression for a rule that generates its own alerts: a new alert (revision 0) or nothing. */
  alertsFor(match: RuleMatch): Alert[] {
    const { rule, event } = match;
    if (!rule.generates) return NO_ALERTS;
    const time = Date.parse(event['@timestamp']);
    const key = suppressionKey(rule, event);
    const { suppressor } = this.stateOf(event.orchestrator.cluster.name);
    if (suppressor.fold(key, time, event, rule.name)) return NO_ALERTS;
    const id = alertId(rule.id, key, event.event.id);
    const build = (ev: NormalizedEvent, revision: number) =>
      detectionAlert(rule, contextOf(ev), {
        alertId: id,
        firstEventId: event.event.id,
        revision,
        created: this.now().toISOString(),
      });
    return suppressor.open({
      key,
      time,
      windowMs: rule.suppress.windowMs,
      event,
      alert: build(event, 0),
      rebuild: (last) => build(last, 1),
    });
  }

  /** The serializable signals a match sends to the correlations that refer to its rule. */
  signalsFor(match: RuleMatch): Signal[] {
    if (match.rule.correlations.length === 0) return [];
    return signalsFor(match.rule, match.event, Date.parse(match.event['@timestamp']), () =>
      contextOf(match.event),
    );
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
    let out = NO_ALERTS;
    if (!windows.fold(signal.key, signal.time, signal, rule.name)) {
      const id = alertId(rule.id, signal.key, signal.event_id);
      const build = (s: Signal, revision: number) =>
        detectionAlert(rule, s.context, {
          alertId: id,
          firstEventId: signal.event_id,
          revision,
          created: this.now().toISOString(),
        });
      out = windows.open({
        key: signal.key,
        time: signal.time,
        windowMs: rule.suppress.windowMs,
        event: signal,
        alert: build(signal, 0),
        rebuild: (last) => build(last, 1),
      });
    }
    if (signal.time > st.maxTime) st.maxTime = signal.time;
    const expired = windows.expire(st.maxTime - this.latenessMs);
    return expired.length === 0 ? out : out.concat(expired);
  }

  /** Stateful correlation: depends only on the signals it is fed (and their order). */
  correlate(signal: Signal): Alert[] {
    return this.stateOf(clusterOfSignal(signal)).correlator.correlate(signal);
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
    (event.event.dataset === 'falco' ? FALCO_EVENTS : AUDIT_EVENTS).inc();
    const matches = this.evaluate(event);
    const st = this.stateOf(event.orchestrator.cluster.name);
    let out = NO_ALERTS;
    for (let k = 0; k < matches.length; k++) {
      const m = matches[k]!;
      if (m.event.event.dataset === 'kubernetes.audit' && !this.firstPerAuditId(m, st)) continue;
      const raised = this.alertsFor(m);
      if (raised.length > 0) out = out === NO_ALERTS ? raised : out.concat(raised);
      for (const s of this.signalsFor(m)) {
        const correlated = this.correlate(s);
        if (correlated.length > 0) out = out === NO_ALERTS ? correlated : out.concat(correlated);
      }
    }
    if (st.suppressor.size > 0 || st.correlator.size > 0) {
      const t = Date.parse(event['@timestamp']);
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
