/**
 * Amazon Data Firehose HTTP endpoint delivery of EKS audit logs (CloudWatch Logs
 * subscription filter → Firehose → HTTP endpoint): the request body to audit
 * Events, and the exact answers Firehose expects. Pure; never throws.
 */
import {
  FirehoseErrorResponse,
  FirehoseRecord,
  FirehoseRequest,
  FirehoseResponse,
} from '../schema/firehose.ts';
import { decodeBase64, type InflateBudget } from './bounded-decode.ts';
import {
  appendBatch,
  type CloudBatch,
  type CloudLimits,
  DEFAULT_CLOUD_LIMITS,
  emptyBatch,
} from './cloud-batch.ts';
import { type EksOrigin, eksAuditFromSubscriptionData } from './cloudwatch.ts';
import { describeIssue } from './reason.ts';
import { isRecord } from './redact.ts';

export type FirehoseDelivery =
  | { ok: true; requestId: string; timestamp: number; batch: CloudBatch<EksOrigin> }
  | { ok: false; reason: string; requestId?: string };

/** Longest `errorMessage` sent back: Firehose logs it to CloudWatch, truncated anyway. */
const MAX_ERROR_MESSAGE = 1024;

/** Whether a value is a Firehose HTTP endpoint request body. */
export function isFirehoseRequest(raw: unknown): boolean {
  return isRecord(raw) && typeof raw.requestId === 'string' && Array.isArray(raw.records);
}

/** The request's `requestId`, if it has a usable one (else answer with the `X-Amz-Firehose-Request-Id` header's). */
export function firehoseRequestId(raw: unknown): string | undefined {
  return isRecord(raw) && typeof raw.requestId === 'string' && raw.requestId !== ''
    ? raw.requestId
    : undefined;
}

/**
 * A Firehose request body `{requestId, timestamp, records: [{data}]}` (already
 * un-gzip'd if it came with `Content-Encoding: gzip`, and parsed) → the audit
 * Events of every record; each `data` is the base64 of a gzip'd subscription
 * payload. A record that cannot be decoded is one rejected item. Inflating is
 * bounded for the whole request by `limits.maxInflatedBytes`.
 */
export function eksAuditFromFirehose(
  raw: unknown,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): FirehoseDelivery {
  const parsed = FirehoseRequest.safeParse(raw);
  if (!parsed.success) {
    const requestId = firehoseRequestId(raw);
    const reason = `not a Firehose request: ${describeIssue(parsed.error.issues)}`;
    return requestId ? { ok: false, reason, requestId } : { ok: false, reason };
  }
  const { requestId, timestamp, records } = parsed.data;
  const batch = emptyBatch<EksOrigin>();
  const budget: InflateBudget = { remaining: limits.maxInflatedBytes };
  records.forEach((item, i) => {
    const where = `records[${i}]`;
    const record = FirehoseRecord.safeParse(item);
    if (!record.success) {
      batch.items.push({ ok: false, reason: describeIssue(record.error.issues), where });
      return;
    }
    const data = decodeBase64(record.data.data, limits.maxInflatedBytes);
    if (!data.ok) {
      batch.items.push({ ok: false, reason: `data: ${data.reason}`, where });
      return;
    }
    appendBatch(batch, eksAuditFromSubscriptionData(data.value, limits, budget), where);
  });
  return { ok: true, requestId, timestamp, batch };
}

/** The body of the 200 answer once every event of the request is stored. */
export function firehoseSuccess(requestId: string, nowMs: number): FirehoseResponse {
  return FirehoseResponse.parse({ requestId, timestamp: Math.trunc(nowMs) });
}

/** The body of any non-2xx answer (Firehose retries, then backs the data up to S3). */
export function firehoseError(requestId: string, nowMs: number, errorMessage: string): FirehoseErrorResponse {
  return FirehoseErrorResponse.parse({
    requestId,
    timestamp: Math.trunc(nowMs),
    errorMessage: errorMessage.slice(0, MAX_ERROR_MESSAGE),
  });
}
