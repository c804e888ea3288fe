import { createHash } from 'node:crypto';
import { normalizeAudit } from '../normalize/audit.ts';
import { isRecord } from '../normalize/redact.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext } from '../schema/signal.ts';
import { auditSecuritySignals } from './audit-signals.ts';
import { pick, str, where } from './message-parts.ts';
import type { Dataset } from './types.ts';

/** pySigma's short names for Kubernetes audit fields (its ECS/Kubernetes pipelines). */
const SHORT_NAMES: Record<string, string> = {
  apiGroup: 'objectRef.apiGroup',
  resource: 'objectRef.resource',
  subresource: 'objectRef.subresource',
  namespace: 'objectRef.namespace',
  username: 'user.username',
};

/** Top-level fields of an audit.k8s.io Event. */
const TOP_LEVEL = new Set([
  'kind',
  'apiVersion',
  'level',
  'auditID',
  'stage',
  'requestURI',
  'verb',
  'user',
  'impersonatedUser',
  'sourceIPs',
  'userAgent',
  'objectRef',
  'responseStatus',
  'requestObject',
  'responseObject',
  'requestReceivedTimestamp',
  'stageTimestamp',
  'annotations',
]);

/** What an alert keeps of the audit event: who did what to what, never the bodies. */
const SLICE = [
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

const LONG_RUNNING = new Set(['exec', 'attach', 'portforward']);

type Json = Record<string, unknown>;

function auditOf(event: NormalizedEvent): Json | undefined {
  return event.kubernetes?.audit;
}

function refOf(event: NormalizedEvent): Json | undefined {
  const ref = auditOf(event)?.objectRef;
  return isRecord(ref) ? ref : undefined;
}

function codeOf(audit: Json | undefined): unknown {
  const status = audit?.responseStatus;
  return isRecord(status) ? status.code : undefined;
}

function lower(v: unknown): string | undefined {
  return typeof v === 'string' ? v.toLowerCase() : undefined;
}

function iso(ms: number): string {
  // Audit timestamps carry microseconds.
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
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

/** Long enough to recognise a command, short enough for a page. */
const COMMAND_IN_MESSAGE = 160;

/** ` running "sh -c …"` for an exec that names its command (already redacted by the normalizer). */
function running(ctx: AlertContext): string {
  const line = ctx.process?.command_line;
  if (!line) return '';
  const short = line.length > COMMAND_IN_MESSAGE ? `${line.slice(0, COMMAND_IN_MESSAGE - 1)}…` : line;
  return ` running "${short}"`;
}

function message(ctx: AlertContext, title: string): string {
  const audit = ctx.kubernetes?.audit ?? {};
  const user = audit.user as Json | undefined;
  const who = str(user?.username) ?? ctx.user?.name ?? 'someone';
  const verb = str(audit.verb) ?? 'requested';
  const ref = (audit.objectRef as Json | undefined) ?? {};
  const resource = str(ref.resource);
  const name = str(ref.name) ?? ctx.orchestrator?.resource?.name;
  const sub = str(ref.subresource);
  const target = resource ? (name ? `${resource}/${name}` : resource) : (str(audit.requestURI) ?? 'the API');
  const code = (audit.responseStatus as Json | undefined)?.code;
  let action: string;
  if (sub && LONG_RUNNING.has(sub)) action = `opened ${sub} to ${target}${running(ctx)}`;
  else action = `${PAST[verb] ?? verb} ${sub ? `${target}/${sub}` : target}`;
  if (typeof code === 'number' && code >= 400)
    action = `was refused (${code}) to ${verb} ${sub ? `${target}/${sub}` : target}`;
  return `${who} ${action} ${where(ctx)} — ${title}`;
}

/** Kubernetes API-server audit events (`audit.k8s.io/v1`), from the webhook, log files and the clouds. */
export const auditDataset: Dataset = {
  name: 'kubernetes.audit',
  label: 'audit',
  // The fallback of recognition: what is neither a Falco alert nor a flow is read as an audit event.
  recognizes: isRecord,
  normalize: normalizeAudit,
  testEvent(raw, ms, id) {
    const status = (raw.responseStatus as Json | undefined) ?? {};
    return {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: uuidFrom(id),
      stage: 'ResponseComplete',
      requestReceivedTimestamp: iso(ms),
      stageTimestamp: iso(ms),
      ...raw,
      responseStatus: { code: raw.verb === 'create' ? 201 : 200, ...status },
      // Given annotations are kept as they are (`annotations: {}` means none).
      annotations: raw.annotations ?? { 'authorization.k8s.io/decision': 'allow' },
    };
  },

  logsource: 'product: kubernetes, service: audit',
  selectedBy(logsource) {
    const product = logsource.product?.toLowerCase();
    const service = logsource.service?.toLowerCase();
    return product === 'kubernetes' && (service === undefined || service === 'audit');
  },
  fields: {
    root: auditOf,
    topLevel: TOP_LEVEL,
    shortNames: SHORT_NAMES,
    // SigmaHQ's unqualified `hostPath`, `capabilities`: anywhere in the object the request creates or changes.
    deepRoot: (event) => auditOf(event)?.requestObject,
  },
  index: [
    { key: 'resource', fields: ['objectRef.resource', 'resource'], value: (e) => lower(refOf(e)?.resource) },
    { key: 'verb', fields: ['verb'], value: (e) => lower(auditOf(e)?.verb) },
    {
      key: 'code',
      fields: ['responseStatus.code'],
      value(e) {
        const code = codeOf(auditOf(e));
        return typeof code === 'number' || typeof code === 'string' ? String(code).toLowerCase() : undefined;
      },
    },
  ],
  evaluable(event) {
    const a = auditOf(event);
    const stage = a?.stage;
    if (stage === undefined || stage === 'ResponseComplete') return a !== undefined;
    // Long-running requests (exec, attach, port-forward) log ResponseStarted when the session opens;
    // failed authentication (401) is logged at ResponseStarted only (apiserver WithFailedAuthenticationAudit).
    return (
      stage === 'ResponseStarted' &&
      (LONG_RUNNING.has(refOf(event)?.subresource as string) || codeOf(a) === 401)
    );
  },
  onceKey(event) {
    const id = auditOf(event)?.auditID;
    return typeof id === 'string' ? id : undefined;
  },
  suppressBy: [
    'orchestrator.cluster.name',
    'user.name',
    'orchestrator.namespace',
    'orchestrator.resource.name',
  ],

  alertSection(event) {
    const audit = auditOf(event);
    if (!audit) return {};
    const slice = pick(audit, SLICE);
    const code = codeOf(audit);
    if (typeof code === 'number') slice.responseStatus = { code };
    return { kubernetes: { audit: slice } };
  },
  message,
  actor: true,
  securitySignals: auditSecuritySignals,
};
