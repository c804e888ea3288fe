import { alertsTotal, detectEvents } from '../metrics.ts';
import type { Alert, Level } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext, Signal } from '../schema/signal.ts';
import { alertId, buildAlert, contextOf, detectionMessage, levelFromFalcoPriority } from './alert.ts';
import { Correlator, signalsFor } from './correlate.ts';
import { firstValue } from './fields.ts';
import type { DetectionRule, RuleSet } from './ruleset.ts';
import { Suppressor } from './suppress.ts';

export interface DetectorOptions {
  /** How late (event time) a signal or match may arrive and still count. Default 30 s. */
  latenessMs?: number;
  /** Cap on live correlation groups and suppression windows (each). Default 100 000. */
  maxKeys?: number;
  /** Clock for `event.created`. */
  now?: () => Date;
}

/** A detection rule that matched an event (after the rule's filters). */
export interface RuleMatch {
  rule: DetectionRule;
  event: NormalizedEvent;
}

const NO_MATCHES: RuleMatch[] = [];
const LONG_RUNNING = new Set(['exec', 'attach', 'portforward']);

interface Index {
  byResource: Map<string, DetectionRule[]>;
  byVerb: Map<string, DetectionRule[]>;
  rest: DetectionRule[];
}

function push<K>(m: Map<K, DetectionRule[]>, k: K, r: DetectionRule): void {
  const list = m.get(k);
  if (list) list.push(r);
  else m.set(k, [r]);
}

/** Rules by the literal values their conditions require, so an event meets only rules that can match it. */
function buildIndex(rules: DetectionRule[]): Index {
  const idx: Index = { byResource: new Map(), byVerb: new Map(), rest: [] };
  for (const r of rules) {
    if (r.requires.resource && r.requires.resource.size > 0)
      for (const v of r.requires.resource) push(idx.byResource, v, r);
    else if (r.requires.verb && r.requires.verb.size > 0)
      for (const v of r.requires.verb) push(idx.byVerb, v, r);
    else if (!r.requires.resource && !r.requires.verb) idx.rest.push(r);
    // A requirement that is an empty set (contradictory literals) can never match: indexed nowhere.
  }
  return idx;
}

function lower(v: unknown): string | undefined {
  return typeof v === 'string' ? v.toLowerCase() : undefined;
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
  private readonly suppressor: Suppressor;
  private readonly correlator: Correlator;
  private readonly now: () => Date;
  private readonly latenessMs: number;
  private readonly maxKeys: number;
  /** auditID → rules already matched (one alert per rule per auditID, across stages and retries). */
  private readonly seenAudit = new Map<string, Set<DetectionRule>>();
  private maxTime = Number.NEGATIVE_INFINITY;

  constructor(ruleset: RuleSet, options: DetectorOptions = {}) {
    this.ruleset = ruleset;
    this.now = options.now ?? (() => new Date());
    this.latenessMs = options.latenessMs ?? 30_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.audit = buildIndex(ruleset.rules.filter((r) => r.scope === 'kubernetes.audit'));
    this.falco = ruleset.rules.filter((r) => r.scope === 'falco');
    this.suppressor = new Suppressor(this.maxKeys);
    this.correlator = new Correlator(ruleset.correlations, {
      latenessMs: this.latenessMs,
      maxKeys: this.maxKeys,
      now: this.now,
    });
  }

  /** Stateless: the detection rules (with their filters) that match the event. */
  evaluate(event: NormalizedEvent): RuleMatch[] {
    let out = NO_MATCHES;
    const check = (rules: DetectionRule[] | undefined) => {
      if (!rules) return;
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
    };
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
      const resource = lower(ref?.resource);
      if (resource !== undefined) check(this.audit.byResource.get(resource));
      const verb = lower(a.verb);
      if (verb !== undefined) check(this.audit.byVerb.get(verb));
      check(this.audit.rest);
      if (out.length > 1) out.sort((x, y) => x.rule.index - y.rule.index);
    } else if (event.event.dataset === 'falco') check(this.falco);
    return out;
  }

  /** One alert per rule per auditID: drops matches of a rule already seen for the same request. */
  private firstPerAuditId(m: RuleMatch): boolean {
    const id = m.event.kubernetes?.audit.auditID;
    if (typeof id !== 'string') return true;
    let seen = this.seenAudit.get(id);
    if (!seen) {
      seen = new Set();
      this.seenAudit.set(id, seen);
      if (this.seenAudit.size > this.maxKeys)
        this.seenAudit.delete(this.seenAudit.keys().next().value as string);
    }
    if (seen.has(m.rule)) return false;
    seen.add(m.rule);
    return true;
  }

  private levelOf(rule: DetectionRule, event: NormalizedEvent): Level {
    return rule.severityFromFalco ? levelFromFalcoPriority(event.falco?.priority, rule.level) : rule.level;
  }

  /** Suppression for a rule that generates its own alerts: a new alert (revision 0) or nothing. */
  alertsFor(match: RuleMatch): Alert[] {
    const { rule, event } = match;
    if (!rule.generates) return [];
    const time = Date.parse(event['@timestamp']);
    const parts = [rule.id];
    for (const acc of rule.suppress.by) parts.push(firstValue(acc, event) ?? '');
    const key = JSON.stringify(parts);
    const level = this.levelOf(rule, event);
    const context = contextOf(event);
    const build = (ctx: AlertContext, id: string, revision: number) =>
      buildAlert({
        rule,
        level,
        context: ctx,
        alertId: id,
        eventIds: [event.event.id],
        count: 1,
        revision,
        message: detectionMessage(ctx, rule.title),
        created: this.now().toISOString(),
      });
    const id = alertId(rule.id, key, event.event.id);
    return this.suppressor.offer({
      key,
      ruleName: rule.name,
      time,
      eventId: event.event.id,
      windowMs: rule.suppress.windowMs,
      context,
      open: () => build(context, id, 0),
      rebuild: (ctx) => build(ctx, id, 1),
    });
  }

  /** The serializable signals a match sends to the correlations that refer to its rule. */
  signalsFor(match: RuleMatch): Signal[] {
    if (match.rule.correlations.length === 0) return [];
    return signalsFor(match.rule, match.event, Date.parse(match.event['@timestamp']), () =>
      contextOf(match.event),
    );
  }

  /** Stateful correlation: depends only on the signals it is fed (and their order). */
  correlate(signal: Signal): Alert[] {
    return this.correlator.correlate(signal);
  }

  /** Moves event time forward: closes suppression and correlation windows that ended. */
  advance(eventTimeMs: number): Alert[] {
    if (eventTimeMs > this.maxTime) this.maxTime = eventTimeMs;
    const out = this.correlator.advance(eventTimeMs);
    if (this.suppressor.size > 0) out.push(...this.suppressor.expire(this.maxTime - this.latenessMs));
    return out;
  }

  /** In-process detection of one event. */
  process(event: NormalizedEvent): Alert[] {
    detectEvents.inc({ source: event.event.dataset === 'falco' ? 'falco' : 'audit' });
    const matches = this.evaluate(event);
    let out: Alert[] = [];
    for (const m of matches) {
      if (m.event.event.dataset === 'kubernetes.audit' && !this.firstPerAuditId(m)) continue;
      out.push(...this.alertsFor(m));
      for (const s of this.signalsFor(m)) out.push(...this.correlate(s));
    }
    if (this.suppressor.size > 0 || this.correlator.size > 0) {
      const t = Date.parse(event['@timestamp']);
      if (Number.isFinite(t)) out = out.concat(this.advance(t));
    }
    this.count(out);
    return out;
  }

  /** End of a replay: closes every window. */
  flush(): Alert[] {
    const out = [...this.correlator.flush(), ...this.suppressor.flush()];
    this.count(out);
    return out;
  }

  private count(alerts: Alert[]): void {
    for (const a of alerts) {
      if (a.klaxon.revision !== 0) continue;
      alertsTotal.inc({
        rule: a.rule.name,
        severity: a.klaxon.severity,
        cluster: a.orchestrator?.cluster?.name ?? 'unknown',
      });
    }
  }
}
