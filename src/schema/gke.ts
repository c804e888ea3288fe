import { z } from 'zod';

/**
 * Google Cloud Logging `LogEntry` carrying a Cloud Audit Logs `AuditLog`, as GKE
 * writes one per Kubernetes API request (resource type `k8s_cluster`, service
 * `k8s.io`), and the Pub/Sub push envelope a Log Router sink delivers it in.
 * References: cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry,
 * cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog,
 * cloud.google.com/pubsub/docs/push. Only the fields the conversion reads are
 * checked; objects are loose (Google adds fields) and request/response bodies
 * are never walked by zod.
 */

/** Longest method or resource name accepted: real ones are a few hundred characters. */
const NAME_MAX = 4096;

const StringMap = z.record(z.string(), z.unknown());

export const GkeAuditLog = z.looseObject({
  '@type': z.string().optional(),
  serviceName: z.string().optional(),
  methodName: z.string().max(NAME_MAX).optional(),
  resourceName: z.string().max(NAME_MAX).optional(),
  authenticationInfo: z.looseObject({ principalEmail: z.string().optional() }).optional(),
  /** `{permission, resource, granted}` each; proto3 JSON leaves `granted: false` out. Read item by item. */
  authorizationInfo: z.array(z.unknown()).optional(),
  /** Google documents `callerIp`; some exporters spell it `callerIP`. */
  requestMetadata: z
    .looseObject({
      callerIp: z.string().optional(),
      callerIP: z.string().optional(),
      callerSuppliedUserAgent: z.string().optional(),
    })
    .optional(),
  /** google.rpc.Status; `{}` (code 0 left out) is OK. */
  status: z.looseObject({ code: z.number().optional(), message: z.string().optional() }).nullish(),
  request: StringMap.nullish(),
  response: StringMap.nullish(),
});
export type GkeAuditLog = z.infer<typeof GkeAuditLog>;

export const GkeLogEntry = z.looseObject({
  insertId: z.string().optional(),
  logName: z.string().optional(),
  timestamp: z.string().optional(),
  receiveTimestamp: z.string().optional(),
  /** The API server's audit annotations (authorization decision and reason, Pod Security, webhooks). */
  labels: StringMap.optional(),
  resource: z.looseObject({ type: z.string(), labels: StringMap.optional() }),
  operation: z.looseObject({ id: z.string().optional(), producer: z.string().optional() }).optional(),
  protoPayload: GkeAuditLog,
});
export type GkeLogEntry = z.infer<typeof GkeLogEntry>;

export const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';

/** A Pub/Sub push request body (the message's data is the LogEntry JSON, base64). */
export const PubSubPushEnvelope = z.looseObject({
  message: z.looseObject({
    data: z.string().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
    messageId: z.string().optional(),
    publishTime: z.string().optional(),
  }),
  subscription: z.string().optional(),
});
export type PubSubPushEnvelope = z.infer<typeof PubSubPushEnvelope>;
