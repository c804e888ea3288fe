import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../schema/event.ts';
import { FalcoAlert } from '../schema/falco.ts';
import { auditOutcome } from './audit.ts';
import { klaxonSection } from './klaxon-section.ts';
import { describeIssue, withoutThrowing } from './reason.ts';
import { isRecord, REDACTED, sanitizeJson } from './redact.ts';
import { redactText } from './secrets-in-text.ts';
import { boundedTimestamp, canonicalTime, nanosOrTime } from './time.ts';
import type { NormalizeContext, NormalizeResult } from './types.ts';

type Fields = Record<string, unknown>;

/** A usable string field: Falco writes `null` or, in old versions, `<NA>` for "not available". */
function str(fields: Fields, key: string): string | undefined {
  if (!Object.hasOwn(fields, key)) return undefined;
  const value = fields[key];
  return typeof value === 'string' && value !== '' && value !== '<NA>' ? value : undefined;
}

/** First string of a field that Falco renders as a list or a single value (`ka.sourceips`). */
function firstString(fields: Fields, key: string): string | undefined {
  if (!Object.hasOwn(fields, key)) return undefined;
  const value = fields[key];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' && first !== '<NA>' ? first : undefined;
}

function responseCode(fields: Fields): number | undefined {
  const value = Object.hasOwn(fields, 'ka.response.code') ? fields['ka.response.code'] : undefined;
  const code = typeof value === 'string' ? Number(value) : value;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

/** JSON with object keys sorted, so equal alerts hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function imageName(fields: Fields): string | undefined {
  const repository = str(fields, 'container.image.repository');
  if (repository) {
    const tag = str(fields, 'container.image.tag');
    return tag ? `${repository}:${tag}` : repository;
  }
  return str(fields, 'container.image');
}

/**
 * `proc.args` is a command line without its program, and the program decides what an argument means
 * (`mysql -p…` is a password, `ssh -p…` a port): its secrets are found by reading it after the program's name.
 */
function redactProcArgs(alert: Fields, redacted: string[]): Fields {
  const fields = alert.output_fields;
  if (!isRecord(fields)) return alert;
  const args = str(fields, 'proc.args');
  const program =
    str(fields, 'proc.name') ?? str(fields, 'proc.exe') ?? str(fields, 'proc.cmdline')?.split(' ')[0];
  if (args === undefined || program === undefined) return alert;
  const line = redactText(`${program} ${args}`);
  const next = line.startsWith(`${program} `) ? line.slice(program.length + 1) : REDACTED;
  if (next === args) return alert;
  redacted.push('/output_fields/proc.args');
  return { ...alert, output_fields: { ...fields, 'proc.args': next } };
}

/** A Falco alert names a `rule` and has an `output`, `priority` or `output_fields`; audit events have none of these. */
export function isFalcoShaped(raw: unknown): boolean {
  if (!isRecord(raw) || !Object.hasOwn(raw, 'rule') || Object.hasOwn(raw, 'auditID')) return false;
  return (
    Object.hasOwn(raw, 'output') || Object.hasOwn(raw, 'priority') || Object.hasOwn(raw, 'output_fields')
  );
}

/**
 * Falco alert → normalized event (DESIGN §3.2). Pure; never throws; the input
 * is not modified. `falco` is the original alert (depth-bounded).
 */
export function normalizeFalco(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return withoutThrowing(normalize, raw, ctx);
}

function normalize(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isRecord(raw)) return { ok: false, reason: 'expected a JSON object' };
  const parsed = FalcoAlert.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error.issues) };
  const alert = parsed.data;
  const sanitized = sanitizeJson(raw);
  const original = redactProcArgs(sanitized.value, sanitized.redacted);
  const outputFields = original.output_fields;
  const fields: Fields = isRecord(outputFields) ? outputFields : {};

  const own =
    canonicalTime(alert.time) ??
    nanosOrTime(fields['evt.time.iso8601']) ??
    nanosOrTime(fields['evt.time']) ??
    canonicalTime(ctx.receivedAt);
  if (own === undefined) return { ok: false, reason: 'missing or invalid time' };
  const time = boundedTimestamp(own, ctx.receivedAt, ctx.maxAheadMs);

  const id = alert.uuid || createHash('sha256').update(canonicalJson(original)).digest('hex');
  const event: NormalizedEvent = {
    '@timestamp': time.timestamp,
    event: {
      kind: 'event',
      dataset: 'falco',
      action: alert.rule,
      outcome: auditOutcome(responseCode(fields), undefined),
      id,
    },
    orchestrator: { type: 'kubernetes', cluster: { name: ctx.cluster } },
    falco: original,
  };
  if (ctx.receivedAt !== undefined) event.event.ingested = ctx.receivedAt;

  const userName = str(fields, 'user.name') ?? str(fields, 'ka.user.name');
  if (userName) event.user = { name: userName };
  const ip = firstString(fields, 'ka.sourceips');
  if (ip) event.source = { ip };
  if (userName || ip) {
    event.related = {};
    if (ip) event.related.ip = [ip];
    if (userName) event.related.user = [userName];
  }
  const agent = str(fields, 'ka.useragent');
  if (agent) event.user_agent = { original: agent };

  const namespace = str(fields, 'k8s.ns.name') ?? str(fields, 'ka.target.namespace');
  if (namespace) event.orchestrator.namespace = namespace;
  const pod = str(fields, 'k8s.pod.name');
  const targetType = str(fields, 'ka.target.resource');
  const targetName = str(fields, 'ka.target.name');
  if (pod) {
    event.orchestrator.resource = { type: 'pods', name: pod };
  } else if (targetType || targetName) {
    event.orchestrator.resource = {};
    if (targetType) event.orchestrator.resource.type = targetType;
    if (targetName) event.orchestrator.resource.name = targetName;
  }

  const containerId = str(fields, 'container.id');
  const image = imageName(fields);
  if ((containerId && containerId !== 'host') || image) {
    event.container = {};
    if (containerId && containerId !== 'host') event.container.id = containerId;
    if (image) event.container.image = { name: image };
  }
  if (alert.hostname) event.host = { hostname: alert.hostname };
  const klaxon = klaxonSection({ redacted: sanitized.redacted, claimedTimestamp: time.claimed });
  if (klaxon) event.klaxon = klaxon;
  return { ok: true, event };
}
