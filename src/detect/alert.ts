import { createHash } from 'node:crypto';
import { datasetNamed, datasetOf } from '../datasets/index.ts';
import { type Alert, type Level, SEVERITY_SCORE } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { AlertContext } from '../schema/signal.ts';
import { displaySafe } from './display.ts';
import type { RuleMeta } from './ruleset.ts';

/** Deterministic alert id: same rule, group and first event → same id. */
export function alertId(ruleId: string, key: string, firstEventId: string): string {
  return createHash('sha256')
    .update(ruleId)
    .update('\0')
    .update(key)
    .update('\0')
    .update(firstEventId)
    .digest('hex');
}

/** The context an alert carries: who, from where, on what — and the key slice of the original event. */
export function contextOf(event: NormalizedEvent): AlertContext {
  const ctx: AlertContext = { '@timestamp': event['@timestamp'], dataset: event.event.dataset };
  if (event.user?.name) ctx.user = { name: event.user.name };
  if (event.related?.user?.length) ctx.related = { user: event.related.user };
  if (event.source?.ip) ctx.source = { ip: event.source.ip };
  if (event.user_agent?.original) ctx.user_agent = { original: event.user_agent.original };
  const o = event.orchestrator;
  ctx.orchestrator = { cluster: { name: o.cluster.name } };
  if (o.namespace) ctx.orchestrator.namespace = o.namespace;
  if (o.resource?.type || o.resource?.name) {
    ctx.orchestrator.resource = {};
    if (o.resource.type) ctx.orchestrator.resource.type = o.resource.type;
    if (o.resource.name) ctx.orchestrator.resource.name = o.resource.name;
  }
  const c = event.container;
  if (c?.image?.name || c?.name) {
    ctx.container = {};
    if (c.name) ctx.container.name = c.name;
    if (c.image?.name) ctx.container.image = { name: c.image.name };
  }
  if (event.process) {
    ctx.process = { command_line: event.process.command_line };
    if (event.process.name) ctx.process.name = event.process.name;
  }
  Object.assign(ctx, datasetOf(event).alertSection(event));
  return ctx;
}

const TACTICS = new Map(
  [
    'reconnaissance',
    'resource-development',
    'initial-access',
    'execution',
    'persistence',
    'privilege-escalation',
    'defense-evasion',
    'credential-access',
    'discovery',
    'lateral-movement',
    'collection',
    'command-and-control',
    'exfiltration',
    'impact',
    'stealth',
  ].map((t) => [
    t,
    t
      .split('-')
      .map((w) => (w === 'and' ? w : w[0]!.toUpperCase() + w.slice(1)))
      .join(' '),
  ]),
);

/** MITRE ATT&CK from Sigma tags (`attack.t1611`, `attack.privilege-escalation`) and Falco's (`T1611`, `mitre_execution`). */
export function threatOf(ruleTags: readonly string[], falcoTags: readonly unknown[] = []): Alert['threat'] {
  const techniques = new Set<string>();
  const tactics = new Set<string>();
  for (const tag of ruleTags) {
    const t = tag.toLowerCase();
    if (!t.startsWith('attack.')) continue;
    const rest = t.slice(7);
    if (/^t[0-9]{4}(\.[0-9]{3})?$/.test(rest)) techniques.add(rest.toUpperCase());
    else {
      const name = TACTICS.get(rest.replaceAll('_', '-'));
      if (name) tactics.add(name);
    }
  }
  for (const tag of falcoTags) {
    if (typeof tag !== 'string') continue;
    if (/^t[0-9]{4}(\.[0-9]{3})?$/i.test(tag)) techniques.add(tag.toUpperCase());
    else if (tag.toLowerCase().startsWith('mitre_')) {
      const name = TACTICS.get(tag.slice(6).toLowerCase().replaceAll('_', '-'));
      if (name) tactics.add(name);
    }
  }
  if (techniques.size === 0 && tactics.size === 0) return undefined;
  return { framework: 'MITRE ATT&CK', technique: { id: [...techniques] }, tactic: { name: [...tactics] } };
}

const FALCO_LEVELS: Record<string, Level> = {
  emergency: 'critical',
  alert: 'critical',
  critical: 'critical',
  error: 'high',
  warning: 'medium',
  notice: 'low',
  informational: 'informational',
  info: 'informational',
  debug: 'informational',
};

/** Falco priority → alert level (Emergency/Alert/Critical → critical, Error → high, Warning → medium, ...). */
export function levelFromFalcoPriority(priority: unknown, fallback: Level): Level {
  return typeof priority === 'string' ? (FALCO_LEVELS[priority.toLowerCase()] ?? fallback) : fallback;
}

/** One human line: who did what to what, where — and which rule says so (in the words of the event's dataset). */
export function detectionMessage(ctx: AlertContext, title: string): string {
  const dataset = datasetNamed(ctx.dataset);
  if (dataset) return dataset.message(ctx, title);
  return `${ctx.user?.name ?? 'someone'} in cluster ${ctx.orchestrator?.cluster?.name ?? 'unknown'} — ${title}`;
}

/** The alert fields its context fills (AlertContext's, but its time and dataset, which the alert puts elsewhere). */
const CONTEXT_FIELDS = Object.keys(AlertContext.shape).filter(
  (k): k is Exclude<keyof AlertContext, '@timestamp' | 'dataset'> => k !== '@timestamp' && k !== 'dataset',
);

export interface AlertParts {
  rule: RuleMeta;
  level: Level;
  context: AlertContext;
  alertId: string;
  eventIds: string[];
  count: number;
  revision: number;
  message: string;
  created: string;
  correlation?: { type: string; group: Record<string, string> };
}

export function buildAlert(p: AlertParts): Alert {
  const { context: ctx, rule } = p;
  const eventTags = datasetNamed(ctx.dataset)?.attackTags?.(ctx) ?? [];
  const alert: Alert = {
    '@timestamp': ctx['@timestamp'],
    event: { kind: 'alert', created: p.created, severity: SEVERITY_SCORE[p.level], dataset: ctx.dataset },
    message: displaySafe(p.message),
    rule: { name: rule.name, id: rule.id, ruleset: 'klaxon' },
    klaxon: {
      severity: p.level,
      alert_id: p.alertId,
      event_ids: p.eventIds,
      count: p.count,
      revision: p.revision,
    },
  };
  if (rule.description) alert.rule.description = rule.description.trim();
  if (rule.references && rule.references.length > 0) alert.rule.reference = rule.references;
  const threat = threatOf(rule.tags, eventTags);
  if (threat) alert.threat = threat;
  if (p.correlation) alert.klaxon.correlation = p.correlation;
  const fields = alert as Record<string, unknown>;
  for (const key of CONTEXT_FIELDS) if (ctx[key] !== undefined) fields[key] = ctx[key];
  if (rule.tags.length > 0) alert.tags = rule.tags;
  return alert;
}
