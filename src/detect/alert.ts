import { createHash } from 'node:crypto';
import { type Alert, type Level, SEVERITY_SCORE } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext } from '../schema/signal.ts';
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

const AUDIT_SLICE = [
  'auditID',
  'stage',
  'verb',
  'requestURI',
  'objectRef',
  'user',
  'impersonatedUser',
  'sourceIPs',
  'userAgent',
  'annotations',
] as const;
const FALCO_SLICE = [
  'rule',
  'priority',
  'output',
  'output_fields',
  'tags',
  'source',
  'hostname',
  'time',
] as const;

function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** The context an alert carries: who, from where, on what — and the key slice of the original event. */
export function contextOf(event: NormalizedEvent): AlertContext {
  const ctx: AlertContext = { '@timestamp': event['@timestamp'], dataset: event.event.dataset };
  if (event.user?.name) ctx.user = { name: event.user.name };
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
  const audit = event.kubernetes?.audit;
  if (audit) {
    const slice = pick(audit, AUDIT_SLICE);
    const status = audit.responseStatus as Record<string, unknown> | undefined;
    if (status && typeof status.code === 'number') slice.responseStatus = { code: status.code };
    ctx.kubernetes = { audit: slice };
  }
  if (event.falco) ctx.falco = pick(event.falco, FALCO_SLICE);
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

const PAST: Record<string, string> = {
  create: 'created',
  update: 'updated',
  patch: 'patched',
  delete: 'deleted',
  deletecollection: 'deleted a collection of',
  get: 'read',
  list: 'listed',
  watch: 'watched',
  proxy: 'proxied to',
  impersonate: 'impersonated',
  bind: 'bound',
  escalate: 'escalated',
  approve: 'approved',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function where(ctx: AlertContext): string {
  const cluster = ctx.orchestrator?.cluster?.name ?? 'unknown';
  const ns = ctx.orchestrator?.namespace;
  return ns ? `in namespace ${ns} of cluster ${cluster}` : `in cluster ${cluster} (cluster-wide)`;
}

/** Long enough to recognise a command, short enough for a page. */
const COMMAND_IN_MESSAGE = 160;

/** ` running "sh -c …"` for an exec that names its command (already redacted by the normalizer). */
function running(ctx: AlertContext): string {
  const line = ctx.process?.command_line;
  if (!line) return '';
  const short = line.length > COMMAND_IN_MESSAGE ? `${line.slice(0, COMMAND_IN_MESSAGE - 1)}…` : line;
  return ` running "${short}"`;
}

/** One human line: who did what to what, where — and which rule says so. */
export function detectionMessage(ctx: AlertContext, title: string): string {
  const audit = ctx.kubernetes?.audit;
  if (audit) {
    const user = audit.user as Record<string, unknown> | undefined;
    const who = str(user?.username) ?? ctx.user?.name ?? 'someone';
    const verb = str(audit.verb) ?? 'requested';
    const ref = (audit.objectRef as Record<string, unknown> | undefined) ?? {};
    const resource = str(ref.resource);
    const name = str(ref.name) ?? ctx.orchestrator?.resource?.name;
    const sub = str(ref.subresource);
    const target = resource
      ? name
        ? `${resource}/${name}`
        : resource
      : (str(audit.requestURI) ?? 'the API');
    const code = (audit.responseStatus as Record<string, unknown> | undefined)?.code;
    let action: string;
    if (sub && ['exec', 'attach', 'portforward'].includes(sub))
      action = `opened ${sub} to ${target}${running(ctx)}`;
    else action = `${PAST[verb] ?? verb} ${sub ? `${target}/${sub}` : target}`;
    if (typeof code === 'number' && code >= 400)
      action = `was refused (${code}) to ${verb} ${sub ? `${target}/${sub}` : target}`;
    return `${who} ${action} ${where(ctx)} — ${title}`;
  }
  const falco = ctx.falco;
  if (falco) {
    // Falco's output starts with the time and the priority, which the message says already.
    const output = (str(falco.output) ?? str(falco.rule) ?? 'Falco alert')
      .replace(/\s+/g, ' ')
      .replace(/^[0-9:.]+: [A-Za-z]+ /, '');
    const pod = ctx.orchestrator?.resource?.name;
    return `Falco ${str(falco.priority) ?? ''}: ${output}${pod ? ` (pod ${pod})` : ''} ${where(ctx)} — ${title}`.replace(
      'Falco :',
      'Falco:',
    );
  }
  return `${ctx.user?.name ?? 'someone'} ${where(ctx)} — ${title}`;
}

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
  const falcoTags = Array.isArray(ctx.falco?.tags) ? (ctx.falco.tags as unknown[]) : [];
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
  const threat = threatOf(rule.tags, falcoTags);
  if (threat) alert.threat = threat;
  if (p.correlation) alert.klaxon.correlation = p.correlation;
  if (ctx.user) alert.user = ctx.user;
  if (ctx.source) alert.source = ctx.source;
  if (ctx.user_agent) alert.user_agent = ctx.user_agent;
  if (ctx.orchestrator) alert.orchestrator = ctx.orchestrator;
  if (ctx.container) alert.container = ctx.container;
  if (ctx.process) alert.process = ctx.process;
  if (ctx.kubernetes) alert.kubernetes = ctx.kubernetes;
  if (ctx.falco) alert.falco = ctx.falco;
  if (rule.tags.length > 0) alert.tags = rule.tags;
  return alert;
}
