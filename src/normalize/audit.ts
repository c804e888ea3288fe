import { AuditEvent, isAuditEvent } from '../schema/audit.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { klaxonSection } from './klaxon-section.ts';
import { get, podSpec } from './pod-spec.ts';
import { eventProcesses } from './process.ts';
import { describeIssue, withoutThrowing } from './reason.ts';
import { bodyHint, isRecord, redactAuditEvent } from './redact.ts';
import { boundedTimestamp, canonicalTime } from './time.ts';
import type { NormalizeContext, NormalizeResult } from './types.ts';

type Outcome = NormalizedEvent['event']['outcome'];

/** A 401/403/any ≥400 or a `forbid` decision is a failure; 1xx–3xx a success (exec/attach answer 101). */
export function auditOutcome(code: number | undefined, decision: unknown): Outcome {
  if (decision === 'forbid') return 'failure';
  if (code === undefined) return 'unknown';
  if (code >= 400) return 'failure';
  if (code >= 100) return 'success';
  return 'unknown';
}

function firstImage(resource: string | undefined, body: unknown): string | undefined {
  const containers = get(podSpec(resource, body), 'containers');
  if (!Array.isArray(containers)) return undefined;
  const image = get(containers[0], 'image');
  return typeof image === 'string' && image !== '' ? image : undefined;
}

/**
 * `user.extra` keys that name who acted behind the Kubernetes user name: EKS
 * (aws-iam-authenticator: the IAM ARNs, the role session, the access key) and
 * AKS (the Entra ID object id). Analysts search `related.user` for them.
 */
const IDENTITY_EXTRA = ['arn', 'canonicalArn', 'sessionName', 'principalId', 'accessKeyId', 'oid'];
const MAX_EXTRA_VALUES = 4;
const MAX_IDENTITY_LENGTH = 512;

function extraIdentities(user: unknown): string[] {
  const extra = get(user, 'extra');
  const out: string[] = [];
  for (const key of IDENTITY_EXTRA) {
    const values = get(extra, key);
    if (!Array.isArray(values)) continue;
    for (const v of values.slice(0, MAX_EXTRA_VALUES)) {
      if (typeof v === 'string' && v.length <= MAX_IDENTITY_LENGTH) out.push(v);
    }
  }
  return out;
}

function unique(values: (string | undefined | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

/**
 * Kubernetes audit event → normalized event (DESIGN §3.2). Pure; never throws;
 * the input is not modified. `kubernetes.audit` is the redacted original.
 */
export function normalizeAudit(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return withoutThrowing(normalize, raw, ctx);
}

function normalize(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isRecord(raw)) return { ok: false, reason: 'expected a JSON object' };
  let e: AuditEvent;
  if (isAuditEvent(raw)) e = raw;
  else {
    const parsed = AuditEvent.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error.issues) };
    e = parsed.data;
  }

  const own =
    canonicalTime(e.stageTimestamp) ??
    canonicalTime(e.requestReceivedTimestamp) ??
    canonicalTime(e.metadata?.creationTimestamp) ??
    canonicalTime(e.timestamp) ??
    canonicalTime(ctx.receivedAt);
  if (own === undefined) return { ok: false, reason: 'missing or invalid stageTimestamp' };
  const time = boundedTimestamp(own, ctx.receivedAt, ctx.maxAheadMs);

  const ref = e.objectRef ?? undefined;
  const redaction = redactAuditEvent(raw, bodyHint(ref?.resource, ref?.subresource));

  const event: NormalizedEvent = {
    '@timestamp': time.timestamp,
    event: {
      kind: 'event',
      dataset: 'kubernetes.audit',
      action: e.verb,
      outcome: auditOutcome(e.responseStatus?.code, e.annotations?.['authorization.k8s.io/decision']),
      id: `${e.auditID}/${e.stage ?? 'ResponseComplete'}`,
    },
    orchestrator: { type: 'kubernetes', cluster: { name: ctx.cluster } },
    kubernetes: { audit: redaction.value },
  };
  if (ctx.receivedAt !== undefined) event.event.ingested = ctx.receivedAt;

  const username = e.user?.username;
  const groups = e.user?.groups;
  if (username || groups) {
    event.user = {};
    if (username) event.user.name = username;
    if (groups) event.user.roles = groups;
  }
  const ips = unique(e.sourceIPs ?? []);
  if (ips[0] !== undefined) event.source = { ip: ips[0] };
  const users = unique([username, e.impersonatedUser?.username, ...extraIdentities(e.user)]);
  if (ips.length > 0 || users.length > 0) {
    event.related = {};
    if (ips.length > 0) event.related.ip = ips;
    if (users.length > 0) event.related.user = users;
  }
  if (e.userAgent) event.user_agent = { original: e.userAgent };

  if (ref) {
    if (ref.namespace) event.orchestrator.namespace = ref.namespace;
    // A created object named by `generateName` gets its name in the response.
    const name = ref.name || get(get(e.responseObject, 'metadata'), 'name');
    if (ref.resource || typeof name === 'string') {
      event.orchestrator.resource = {};
      if (ref.resource) event.orchestrator.resource.type = ref.resource;
      if (typeof name === 'string' && name !== '') event.orchestrator.resource.name = name;
    }
    if (e.verb === 'create' && !ref.subresource) {
      const image = firstImage(ref.resource, e.requestObject) ?? firstImage(ref.resource, e.responseObject);
      if (image) event.container = { image: { name: image } };
    }
  }
  const started = eventProcesses(redaction.value);
  if (started.container) {
    event.container ??= {};
    if (started.container.name) event.container.name = started.container.name;
    if (started.container.image) event.container.image = { name: started.container.image };
  }
  if (started.process) event.process = started.process;
  const klaxon = klaxonSection({
    redacted: redaction.redacted,
    claimedTimestamp: time.claimed,
    processes: started.processes,
  });
  if (klaxon) event.klaxon = klaxon;
  return { ok: true, event };
}
