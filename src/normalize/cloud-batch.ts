import { decodeJsonData, type InflateBudget } from './bounded-decode.ts';

/**
 * What a managed cluster's log delivery (an EKS CloudWatch Logs payload, a GKE
 * LogEntry, an AKS diagnostic-logs document) yields: `audit.k8s.io/v1` Events for
 * the shared accept path, each with where it came from, and a reason for every
 * item that could not be turned into one. The events are raw (not yet normalized
 * or redacted): run `normalizeAudit` on each, with the cluster Klaxon decides.
 */

/** Where an item sits in the delivery, e.g. `records[3]` or `records[0].logEvents[12]`. */
export type Where = string;

export type CloudItem<Origin> =
  | { ok: true; event: Record<string, unknown>; where: Where; origin: Origin }
  | { ok: false; reason: string; where: Where };

export interface CloudBatch<Origin> {
  items: CloudItem<Origin>[];
  /** Items that are not audit events and are skipped on purpose (other log categories or streams, control messages). */
  ignored: number;
}

export function emptyBatch<Origin>(): CloudBatch<Origin> {
  return { items: [], ignored: 0 };
}

/** `records[2]` + `logEvents[5]` → `records[2].logEvents[5]`; either may be empty. */
export function joinWhere(prefix: Where, where: Where): Where {
  if (prefix === '') return where;
  if (where === '') return prefix;
  return where.startsWith('[') ? `${prefix}${where}` : `${prefix}.${where}`;
}

/** Appends `from` to `into`, each `where` under `prefix`. */
export function appendBatch<Origin>(into: CloudBatch<Origin>, from: CloudBatch<Origin>, prefix: Where): void {
  for (const item of from.items) into.items.push({ ...item, where: joinWhere(prefix, item.where) });
  into.ignored += from.ignored;
}

/**
 * The JSON documents in a delivery's bytes (gzipped or not, one or several in a row) within the inflate budget,
 * each read by `read`, in one batch; with several documents each `where` starts with `[i]`.
 */
export function batchOfJsonDocuments<Origin>(
  data: Uint8Array,
  budget: InflateBudget,
  read: (document: unknown) => CloudBatch<Origin>,
): CloudBatch<Origin> {
  const batch = emptyBatch<Origin>();
  const values = decodeJsonData(data, budget);
  if (!values.ok) {
    batch.items.push({ ok: false, reason: values.reason, where: '' });
    return batch;
  }
  const many = values.value.length > 1;
  values.value.forEach((value, i) => {
    appendBatch(batch, read(value), many ? `[${i}]` : '');
  });
  return batch;
}

/** Limits on what one delivery may cost to decode. */
export interface CloudLimits {
  /** Largest single audit event (a CloudWatch message, an AKS `properties.log`, a LogEntry), in UTF-16 code units of its JSON text. */
  maxEventBytes: number;
  /** Most bytes gunzip may produce for the whole delivery. */
  maxInflatedBytes: number;
}

/** Ingest's default per-event limit (`KLAXON_AUDIT_EVENT_LIMIT`) and its default body limit for inflating. */
export const DEFAULT_CLOUD_LIMITS: CloudLimits = {
  maxEventBytes: 256 * 1024,
  maxInflatedBytes: 32 * 1024 * 1024,
};
