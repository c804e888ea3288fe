/**
 * Amazon EKS audit logs as CloudWatch Logs delivers them → the API server's own
 * `audit.k8s.io/v1` Events (one per log event message): subscription filter
 * payloads (gzip'd or not) and `aws logs filter-log-events` output. Log events of
 * EKS's other control-plane streams (`kube-apiserver-`, `authenticator-` …, text
 * lines) and control messages are counted as ignored. Pure; never throws.
 */
import {
  CloudWatchLogEvent,
  CloudWatchSubscriptionPayload,
  FilteredLogEvent,
  FilterLogEventsOutput,
} from '../schema/cloudwatch.ts';
import { type InflateBudget, parseJson } from './bounded-decode.ts';
import {
  batchOfJsonDocuments,
  type CloudBatch,
  type CloudItem,
  type CloudLimits,
  DEFAULT_CLOUD_LIMITS,
  emptyBatch,
} from './cloud-batch.ts';
import { describeIssue } from './reason.ts';
import { isRecord } from './redact.ts';

export interface EksOrigin {
  logGroup?: string;
  logStream?: string;
  /** From `/aws/eks/<cluster>/cluster`; undefined for any other log group. */
  clusterName?: string;
  /** The AWS account that owns the log group (subscription payloads only). */
  owner?: string;
  /** The CloudWatch Logs event id (unique within the log group). */
  logEventId?: string;
}

const LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;
const AUDIT_STREAM = 'kube-apiserver-audit-';
/** EKS's log shipper cuts messages over CloudWatch's event size limit and appends this. */
const TRUNCATED = '[Truncated...]';

/** `/aws/eks/<cluster>/cluster` → `<cluster>`. */
export function eksClusterFromLogGroup(logGroup: string): string | undefined {
  return LOG_GROUP.exec(logGroup)?.[1];
}

/** Whether a log stream can hold audit events: EKS names audit streams `kube-apiserver-audit-<id>`; unknown passes. */
function auditStream(stream: string | undefined): boolean {
  return stream === undefined || stream.startsWith(AUDIT_STREAM);
}

function originOf(logGroup: string | undefined, logStream: string | undefined, owner?: string): EksOrigin {
  const origin: EksOrigin = {};
  if (logGroup !== undefined) {
    origin.logGroup = logGroup;
    const cluster = eksClusterFromLogGroup(logGroup);
    if (cluster) origin.clusterName = cluster;
  }
  if (logStream !== undefined) origin.logStream = logStream;
  if (owner !== undefined) origin.owner = owner;
  return origin;
}

/** One log event message → an audit Event or why not. */
function eventFromMessage(
  message: string,
  where: string,
  origin: EksOrigin,
  limits: CloudLimits,
): CloudItem<EksOrigin> {
  if (message.length > limits.maxEventBytes) {
    return { ok: false, reason: `audit event larger than ${limits.maxEventBytes} bytes`, where };
  }
  if (message.endsWith(TRUNCATED)) {
    return { ok: false, reason: 'message truncated by CloudWatch Logs (event over its size limit)', where };
  }
  const parsed = parseJson(message);
  if (!parsed.ok) return { ok: false, reason: `message: ${parsed.reason}`, where };
  if (!isRecord(parsed.value)) return { ok: false, reason: 'message: expected an audit Event object', where };
  return { ok: true, event: parsed.value, where, origin };
}

/** Whether a value is a CloudWatch Logs subscription payload. */
export function isSubscriptionPayload(raw: unknown): boolean {
  return isRecord(raw) && typeof raw.messageType === 'string' && Array.isArray(raw.logEvents);
}

/**
 * A subscription payload `{messageType, owner, logGroup, logStream, subscriptionFilters, logEvents}`
 * (already decompressed and parsed) → its audit Events. `CONTROL_MESSAGE` (CloudWatch
 * checking the destination) is ignored.
 */
export function eksAuditFromSubscription(
  raw: unknown,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<EksOrigin> {
  const batch = emptyBatch<EksOrigin>();
  const parsed = CloudWatchSubscriptionPayload.safeParse(raw);
  if (!parsed.success) {
    batch.items.push({
      ok: false,
      reason: `not a subscription payload: ${describeIssue(parsed.error.issues)}`,
      where: '',
    });
    return batch;
  }
  const payload = parsed.data;
  if (payload.messageType === 'CONTROL_MESSAGE') {
    batch.ignored++;
    return batch;
  }
  if (payload.messageType !== 'DATA_MESSAGE') {
    batch.items.push({
      ok: false,
      reason: `unknown messageType "${payload.messageType}"`,
      where: 'messageType',
    });
    return batch;
  }
  if (!auditStream(payload.logStream)) {
    batch.ignored += payload.logEvents.length;
    return batch;
  }
  const base = originOf(payload.logGroup, payload.logStream, payload.owner);
  payload.logEvents.forEach((item, i) => {
    const where = `logEvents[${i}]`;
    const logEvent = CloudWatchLogEvent.safeParse(item);
    if (!logEvent.success) {
      batch.items.push({ ok: false, reason: describeIssue(logEvent.error.issues), where });
      return;
    }
    const origin = logEvent.data.id ? { ...base, logEventId: logEvent.data.id } : base;
    batch.items.push(eventFromMessage(logEvent.data.message, where, origin, limits));
  });
  return batch;
}

/**
 * The bytes of a subscription payload as CloudWatch Logs sends them (gzip'd; for
 * Lambda and Kinesis after base64) → its audit Events. `budget` bounds inflating
 * across a whole delivery.
 */
export function eksAuditFromSubscriptionData(
  data: Uint8Array,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
  budget: InflateBudget = { remaining: limits.maxInflatedBytes },
): CloudBatch<EksOrigin> {
  return batchOfJsonDocuments(data, budget, (value) => eksAuditFromSubscription(value, limits));
}

/** Whether a value is `filter-log-events` / `get-log-events` output. */
export function isFilterLogEventsOutput(raw: unknown): boolean {
  return isRecord(raw) && Array.isArray(raw.events) && !('records' in raw);
}

/**
 * What `aws logs filter-log-events` (or `get-log-events`) prints, `{"events": [...]}`
 * → its audit Events. The output does not name the log group: pass it when known.
 */
export function eksAuditFromFilterLogEvents(
  raw: unknown,
  logGroup?: string,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<EksOrigin> {
  const batch = emptyBatch<EksOrigin>();
  const parsed = FilterLogEventsOutput.safeParse(raw);
  if (!parsed.success) {
    batch.items.push({
      ok: false,
      reason: `not filter-log-events output: ${describeIssue(parsed.error.issues)}`,
      where: '',
    });
    return batch;
  }
  parsed.data.events.forEach((item, i) => {
    const where = `events[${i}]`;
    const logEvent = FilteredLogEvent.safeParse(item);
    if (!logEvent.success) {
      batch.items.push({ ok: false, reason: describeIssue(logEvent.error.issues), where });
      return;
    }
    const { logStreamName, message, eventId } = logEvent.data;
    if (!auditStream(logStreamName)) {
      batch.ignored++;
      return;
    }
    const origin = originOf(logGroup, logStreamName);
    if (eventId) origin.logEventId = eventId;
    batch.items.push(eventFromMessage(message, where, origin, limits));
  });
  return batch;
}
