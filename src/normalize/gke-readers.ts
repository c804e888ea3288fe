/**
 * The ways GKE audit entries arrive, from parsed JSON to `audit.k8s.io` Events:
 * `gcloud logging read --format=json` (a JSON array of LogEntry), JSON lines (one
 * LogEntry per line: the caller parses each line and passes it here), and the
 * Pub/Sub push envelope a Log Router sink's push subscription posts (its message
 * data is one LogEntry, base64). Pure; never throws.
 */
import { PubSubPushEnvelope } from '../schema/gke.ts';
import { decodeBase64, decodeJsonData, type InflateBudget } from './bounded-decode.ts';
import { type CloudBatch, type CloudLimits, DEFAULT_CLOUD_LIMITS, emptyBatch } from './cloud-batch.ts';
import { type GkeCluster, gkeEntryToAudit } from './gke.ts';
import { describeIssue } from './reason.ts';
import { isRecord } from './redact.ts';

/** A converted entry's origin: the cluster it names and, from a push, the Pub/Sub message it came in. */
export interface GkeOrigin {
  cluster: GkeCluster;
  messageId?: string;
}

/** The Pub/Sub message a push delivered, unwrapped. */
export type PushMessage =
  | {
      ok: true;
      /** The message data's JSON values (a Log Router message holds one LogEntry). */
      values: unknown[];
      messageId?: string;
      publishTime?: string;
      attributes: Record<string, string>;
      subscription?: string;
    }
  | { ok: false; reason: string; messageId?: string };

/** Whether a value is a Pub/Sub push envelope. */
export function isPubSubPush(raw: unknown): boolean {
  return isRecord(raw) && isRecord(raw.message) && 'data' in raw.message && !('protoPayload' in raw);
}

/**
 * The Pub/Sub push envelope `{message: {data, attributes, messageId, publishTime}, subscription}`
 * → the JSON in its data (base64, gzip'd or not).
 */
export function unwrapPubSubPush(raw: unknown, limits: CloudLimits = DEFAULT_CLOUD_LIMITS): PushMessage {
  const parsed = PubSubPushEnvelope.safeParse(raw);
  if (!parsed.success)
    return { ok: false, reason: `not a Pub/Sub push: ${describeIssue(parsed.error.issues)}` };
  const { message, subscription } = parsed.data;
  const id = message.messageId !== undefined ? { messageId: message.messageId } : {};
  if (message.data === undefined || message.data === '')
    return { ok: false, reason: 'message has no data', ...id };
  const bytes = decodeBase64(message.data, limits.maxInflatedBytes, true);
  if (!bytes.ok) return { ok: false, reason: `message.data: ${bytes.reason}`, ...id };
  const budget: InflateBudget = { remaining: limits.maxInflatedBytes };
  const values = decodeJsonData(bytes.value, budget);
  if (!values.ok) return { ok: false, reason: `message.data: ${values.reason}`, ...id };
  const out: PushMessage = { ok: true, values: values.value, attributes: message.attributes ?? {}, ...id };
  if (message.publishTime !== undefined) out.publishTime = message.publishTime;
  if (subscription !== undefined) out.subscription = subscription;
  return out;
}

/** LogEntries → Events; `where` numbers them from `prefix`. */
function fromEntries(entries: unknown[], prefix: string, messageId?: string): CloudBatch<GkeOrigin> {
  const batch = emptyBatch<GkeOrigin>();
  entries.forEach((entry, i) => {
    const where = entries.length === 1 && prefix === '' ? '' : `${prefix}[${i}]`;
    const converted = gkeEntryToAudit(entry);
    if (!converted.ok) {
      batch.items.push({ ok: false, reason: converted.reason, where });
      return;
    }
    const origin: GkeOrigin = { cluster: converted.cluster };
    if (messageId !== undefined) origin.messageId = messageId;
    batch.items.push({ ok: true, event: converted.event, where, origin });
  });
  return batch;
}

/**
 * Any GKE shape as parsed JSON → Events: a LogEntry (one JSON line), a JSON
 * array of LogEntry (`gcloud logging read --format=json`), or a Pub/Sub push
 * envelope. A push whose data cannot be decoded is one rejected item.
 */
export function gkeAuditFromJson(
  raw: unknown,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<GkeOrigin> {
  if (Array.isArray(raw)) return fromEntries(raw, '');
  if (isPubSubPush(raw)) {
    const message = unwrapPubSubPush(raw, limits);
    if (!message.ok) {
      const batch = emptyBatch<GkeOrigin>();
      batch.items.push({ ok: false, reason: message.reason, where: 'message.data' });
      return batch;
    }
    const entries = message.values.flatMap((v) => (Array.isArray(v) ? v : [v]));
    return fromEntries(entries, 'message.data', message.messageId);
  }
  return fromEntries([raw], '');
}

/**
 * A pulled Pub/Sub message's data (the bytes of one LogEntry, from a Log Router
 * sink) → Events. For the pull source: the bytes never pass through base64.
 */
export function gkeAuditFromMessageData(
  data: Uint8Array,
  messageId?: string,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<GkeOrigin> {
  const values = decodeJsonData(data, { remaining: limits.maxInflatedBytes });
  if (!values.ok) {
    const batch = emptyBatch<GkeOrigin>();
    batch.items.push({ ok: false, reason: values.reason, where: '' });
    return batch;
  }
  const entries = values.value.flatMap((v) => (Array.isArray(v) ? v : [v]));
  return fromEntries(entries, '', messageId);
}
