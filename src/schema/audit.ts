import { z } from 'zod';
import { compiledCheck } from './compiled-check.ts';

/**
 * Kubernetes audit events (`audit.k8s.io/v1`, `v1beta1`, and the unversioned
 * events of old log files). Only the fields Klaxon reads are checked; every
 * object is loose because senders add fields and ingest must stay cheap
 * (request/response bodies are never walked by zod).
 */

export const AUDIT_API_VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'] as const;
const ApiVersion = z.enum(AUDIT_API_VERSIONS).optional();

export const AuditStage = z.enum(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic']);
export type AuditStage = z.infer<typeof AuditStage>;

export const AuditUser = z.looseObject({
  username: z.string().optional(),
  uid: z.string().optional(),
  groups: z.array(z.string()).nullish(),
});
export type AuditUser = z.infer<typeof AuditUser>;

export const AuditObjectRef = z.looseObject({
  resource: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiGroup: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  subresource: z.string().optional(),
});
export type AuditObjectRef = z.infer<typeof AuditObjectRef>;

export const AuditResponseStatus = z.looseObject({
  code: z.number().optional(),
  status: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

export const AuditEvent = z.looseObject({
  kind: z.literal('Event').optional(),
  apiVersion: ApiVersion,
  level: z.string().optional(),
  auditID: z.string().min(1),
  stage: AuditStage.optional(),
  requestURI: z.string().optional(),
  verb: z.string().min(1),
  user: AuditUser.optional(),
  impersonatedUser: AuditUser.nullish(),
  sourceIPs: z.array(z.string()).nullish(),
  userAgent: z.string().optional(),
  objectRef: AuditObjectRef.nullish(),
  responseStatus: AuditResponseStatus.nullish(),
  /** Any JSON: an object, or the operation array of a JSON patch. */
  requestObject: z.unknown().optional(),
  responseObject: z.unknown().optional(),
  requestReceivedTimestamp: z.string().optional(),
  stageTimestamp: z.string().optional(),
  /** v1beta1 and older logs carry these too. */
  timestamp: z.string().optional(),
  metadata: z.looseObject({ creationTimestamp: z.string().nullish() }).nullish(),
  annotations: z.record(z.string(), z.unknown()).nullish(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

/**
 * Whether a raw item is a valid `AuditEvent` (AuditEvent's own JSON Schema, compiled): what every ingested event
 * pays instead of zod's copy of it, about a quarter of the cost. When it says no, `AuditEvent.safeParse` gives
 * the reason.
 */
export const isAuditEvent = compiledCheck(AuditEvent);

export const AuditEventList = z.looseObject({
  kind: z.literal('EventList'),
  apiVersion: ApiVersion,
  /** Go marshals an empty batch as `null`. */
  items: z.array(z.unknown()).nullable(),
});
export type AuditEventList = z.infer<typeof AuditEventList>;

export type SplitAuditBody = { items: unknown[] } | { error: string };

/**
 * Splits a parsed `POST /v1/audit` body into its events: an `EventList`, a
 * single `Event`, or a JSON array of events. Items are not validated here, so
 * one bad item never rejects the batch; run the normalizer on each.
 */
export function splitAuditBody(body: unknown): SplitAuditBody {
  if (Array.isArray(body)) return { items: body };
  if (body === null || typeof body !== 'object') {
    return { error: 'expected an EventList, an Event or a JSON array of events' };
  }
  const kind = (body as { kind?: unknown }).kind;
  if (kind === 'EventList') {
    const list = AuditEventList.safeParse(body);
    if (!list.success) {
      const issue = list.error.issues[0];
      const message = issue?.message.replace(/^Invalid (input|option): /, '') ?? 'invalid';
      return { error: `EventList: ${issue?.path.join('.') ?? ''}: ${message}` };
    }
    return { items: list.data.items ?? [] };
  }
  return { items: [body] };
}
