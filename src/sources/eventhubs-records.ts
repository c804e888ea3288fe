/**
 * Event Hubs messages (AKS diagnostic-logs documents) → the batches the `eventhubs` source hands to the accept
 * path: one per cluster, the cluster decided by the source's configuration. Pure; never throws.
 */
import type { RejectReason } from '../ingest/rejections.ts';
import { type AksOrigin, aksAuditFromMessage } from '../normalize/aks.ts';
import { gunzipBounded, isGzip } from '../normalize/bounded-decode.ts';
import type { CloudBatch } from '../normalize/cloud-batch.ts';
import type { SourceItem } from './accept.ts';

/** Which clusters a source files events under (see EventHubsSourceSettings). */
export interface ClusterPolicy {
  /** Every event is from this cluster. */
  cluster?: string;
  /** The managed clusters (lower case) whose records are read; unset: every record (needs `cluster`). */
  allowed?: ReadonlySet<string>;
}

export interface DecodeLimits {
  /** Largest message value, before and after decompression. */
  maxMessageBytes: number;
  /** Largest audit event (`properties.log`). */
  maxEventBytes: number;
}

/** One message's records, and the bytes its decoded value holds (what a batch budgets). */
export interface DecodedMessage {
  /** `<partition>@<offset>`: where the message is, for logs. */
  where: string;
  batch: CloudBatch<AksOrigin>;
  bytes: number;
}

/** A message value → its audit Events; a value over the size limit, or that will not inflate, is one rejection. */
export function decodeMessage(where: string, value: Uint8Array | null, limits: DecodeLimits): DecodedMessage {
  const refuse = (reason: string): DecodedMessage => ({
    where,
    batch: { items: [{ ok: false, reason, where: '' }], ignored: 0 },
    bytes: 0,
  });
  if (value === null || value.length === 0) return refuse('empty message');
  if (value.length > limits.maxMessageBytes)
    return refuse(`message of ${value.length} bytes, over the limit of ${limits.maxMessageBytes} bytes`);
  let data: Uint8Array = value;
  if (isGzip(value)) {
    const inflated = gunzipBounded(value, { remaining: limits.maxMessageBytes });
    if (!inflated.ok) return refuse(inflated.reason);
    data = inflated.value;
  }
  return {
    where,
    batch: aksAuditFromMessage(data, {
      maxEventBytes: limits.maxEventBytes,
      maxInflatedBytes: limits.maxMessageBytes,
    }),
    bytes: data.length,
  };
}

/** The cluster a record's events are filed under, or why the record is not read. */
export function clusterFor(
  origin: AksOrigin,
  policy: ClusterPolicy,
): { cluster: string } | { reason: string } {
  const named = origin.cluster?.name;
  if (policy.allowed) {
    if (named === undefined) return { reason: 'the record names no managed cluster (resourceId)' };
    if (!policy.allowed.has(named))
      return { reason: `cluster "${named.slice(0, 63)}" is not in allowedClusters` };
  }
  const cluster = policy.cluster ?? named;
  return cluster === undefined ? { reason: 'the record names no managed cluster (resourceId)' } : { cluster };
}

/** The small fixed reason of a rejected record, for `klaxon_ingest_rejected_total`-style counting. */
export function rejectReason(text: string): RejectReason {
  if (/over the limit|larger than/.test(text)) return 'too_large';
  if (/invalid JSON|invalid UTF-8|invalid gzip|empty message/.test(text)) return 'json';
  return 'schema';
}

export interface ClusterBatch {
  cluster: string;
  items: SourceItem[];
  /** Where each item came from, by its index (for the accept path's rejections). */
  where: string[];
}

export interface Plan {
  /** One accept call each. */
  batches: ClusterBatch[];
  /** Records that are not read, with where they are. */
  rejected: Array<{ where: string; reason: RejectReason; text: string }>;
  /** Records of other categories (`kube-apiserver`, `guard` …), skipped on purpose. */
  ignored: number;
}

function at(message: string, record: string): string {
  return record === '' ? message : `${message} ${record}`;
}

/**
 * Decoded messages → batches by cluster (in the messages' order within each) and the records refused: broken
 * ones, and ones the cluster policy does not let this source read. Nothing here trusts the payload's cluster
 * beyond what the policy allows.
 */
export function planBatches(messages: readonly DecodedMessage[], policy: ClusterPolicy): Plan {
  const byCluster = new Map<string, ClusterBatch>();
  const plan: Plan = { batches: [], rejected: [], ignored: 0 };
  for (const message of messages) {
    plan.ignored += message.batch.ignored;
    for (const item of message.batch.items) {
      const where = at(message.where, item.where);
      if (!item.ok) {
        plan.rejected.push({ where, reason: rejectReason(item.reason), text: item.reason });
        continue;
      }
      const decided = clusterFor(item.origin, policy);
      if ('reason' in decided) {
        plan.rejected.push({ where, reason: 'auth', text: decided.reason });
        continue;
      }
      let batch = byCluster.get(decided.cluster);
      if (!batch) {
        batch = { cluster: decided.cluster, items: [], where: [] };
        byCluster.set(decided.cluster, batch);
        plan.batches.push(batch);
      }
      batch.items.push({ index: batch.items.length, raw: item.event });
      batch.where.push(where);
    }
  }
  return plan;
}
