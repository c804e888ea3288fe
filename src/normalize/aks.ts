/**
 * AKS Diagnostic settings logs → the API server's own `audit.k8s.io/v1` Events:
 * records of category `kube-audit`/`kube-audit-admin` carry one Event as a JSON
 * string in `properties.log`; other categories (`kube-apiserver`, `guard`,
 * `cluster-autoscaler` … log text lines) are counted as ignored. A broken record
 * is rejected with its reason while the others go through. Pure; never throws.
 */
import { AKS_AUDIT_CATEGORIES, AksDiagnosticDocument, AksDiagnosticRecord } from '../schema/aks.ts';
import { parseJson } from './bounded-decode.ts';
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

/** The managed cluster a record's `resourceId` names. */
export interface AksCluster {
  subscriptionId?: string;
  resourceGroup?: string;
  /** Lower-cased: Azure resource names are case-insensitive and the logs upper-case them. */
  name: string;
}

export interface AksOrigin {
  /** Undefined when the record has no usable `resourceId`. */
  cluster?: AksCluster;
  category: string;
  /** The API server pod that wrote the event (`properties.pod`). */
  pod?: string;
}

const CLUSTER = /\/providers\/microsoft\.containerservice\/managedclusters\/([^/]+)/i;
const SUBSCRIPTION = /^\/subscriptions\/([^/]+)/i;
const RESOURCE_GROUP = /\/resourcegroups\/([^/]+)/i;
const CATEGORIES: ReadonlySet<string> = new Set(AKS_AUDIT_CATEGORIES);

/** `/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>` → its parts. */
export function aksClusterFromResourceId(resourceId: string): AksCluster | undefined {
  const name = CLUSTER.exec(resourceId)?.[1];
  if (!name) return undefined;
  const cluster: AksCluster = { name: name.toLowerCase() };
  const subscription = SUBSCRIPTION.exec(resourceId)?.[1];
  const group = RESOURCE_GROUP.exec(resourceId)?.[1];
  if (subscription) cluster.subscriptionId = subscription.toLowerCase();
  if (group) cluster.resourceGroup = group.toLowerCase();
  return cluster;
}

/** Whether a value is an AKS diagnostic-logs document or a single record. */
export function isAksDiagnostics(raw: unknown): boolean {
  if (!isRecord(raw)) return false;
  if (Array.isArray(raw.records)) return true;
  return typeof raw.category === 'string' && isRecord(raw.properties) && typeof raw.resourceId === 'string';
}

/** One record → an Event, a rejection, or `undefined` when its category carries no audit events. */
export function aksAuditFromRecord(
  raw: unknown,
  where: string,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudItem<AksOrigin> | undefined {
  const parsed = AksDiagnosticRecord.safeParse(raw);
  if (!parsed.success)
    return { ok: false, reason: `not a diagnostic record: ${describeIssue(parsed.error.issues)}`, where };
  const record = parsed.data;
  const category = record.category.toLowerCase();
  if (!CATEGORIES.has(category)) return undefined;
  const log = record.properties?.log;
  if (log === undefined) return { ok: false, reason: 'missing properties.log', where };
  if (log.length > limits.maxEventBytes) {
    return { ok: false, reason: `audit event larger than ${limits.maxEventBytes} bytes`, where };
  }
  const event = parseJson(log);
  if (!event.ok) return { ok: false, reason: `properties.log: ${event.reason}`, where };
  if (!isRecord(event.value))
    return { ok: false, reason: 'properties.log: expected an audit Event object', where };
  const origin: AksOrigin = { category };
  const cluster = record.resourceId ? aksClusterFromResourceId(record.resourceId) : undefined;
  if (cluster) origin.cluster = cluster;
  if (record.properties?.pod) origin.pod = record.properties.pod;
  return { ok: true, event: event.value, where, origin };
}

/**
 * A diagnostic-logs document (`{"records": [...]}`: an Event Hubs message, an
 * old-format blob) or a single record (a `PT1H.json` line) → its audit Events.
 */
export function aksAuditFromJson(
  raw: unknown,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<AksOrigin> {
  const batch = emptyBatch<AksOrigin>();
  if (isRecord(raw) && 'records' in raw) {
    const doc = AksDiagnosticDocument.safeParse(raw);
    if (!doc.success) {
      batch.items.push({
        ok: false,
        reason: `not a diagnostic-logs document: ${describeIssue(doc.error.issues)}`,
        where: '',
      });
      return batch;
    }
    doc.data.records.forEach((record, i) => {
      const item = aksAuditFromRecord(record, `records[${i}]`, limits);
      if (item) batch.items.push(item);
      else batch.ignored++;
    });
    return batch;
  }
  const item = aksAuditFromRecord(raw, '', limits);
  if (item) batch.items.push(item);
  else batch.ignored++;
  return batch;
}

/** An Event Hubs message's bytes (one diagnostic-logs document) → its audit Events. */
export function aksAuditFromMessage(
  data: Uint8Array,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): CloudBatch<AksOrigin> {
  return batchOfJsonDocuments(data, { remaining: limits.maxInflatedBytes }, (value) =>
    aksAuditFromJson(value, limits),
  );
}
