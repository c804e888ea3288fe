/**
 * Tells the managed-cluster delivery formats apart by shape, so one reader
 * (`klaxon replay`, a source that may receive several) can unwrap any of them
 * into audit Events. Pure; never throws.
 */
import { type AksOrigin, aksAuditFromJson, isAksDiagnostics } from './aks.ts';
import type { CloudBatch, CloudLimits } from './cloud-batch.ts';
import { DEFAULT_CLOUD_LIMITS } from './cloud-batch.ts';
import {
  type EksOrigin,
  eksAuditFromFilterLogEvents,
  eksAuditFromSubscription,
  isFilterLogEventsOutput,
  isSubscriptionPayload,
} from './cloudwatch.ts';
import { eksAuditFromFirehose, isFirehoseRequest } from './firehose.ts';
import { type GkeOrigin, gkeAuditFromJson, isPubSubPush } from './gke-readers.ts';
import { isRecord } from './redact.ts';

export type CloudFormat =
  | 'firehose-request'
  | 'cloudwatch-subscription'
  | 'cloudwatch-filter-log-events'
  | 'pubsub-push'
  | 'gke-log-entry'
  | 'aks-diagnostics';

export type CloudOrigin =
  | ({ cloud: 'eks' } & EksOrigin)
  | ({ cloud: 'gke' } & GkeOrigin)
  | ({ cloud: 'aks' } & AksOrigin);

/** A Cloud Logging LogEntry (GKE or not: a LogEntry of another service is rejected with its reason, not read as an audit event). */
function isLogEntry(raw: Record<string, unknown>): boolean {
  return isRecord(raw.protoPayload) || (typeof raw.logName === 'string' && isRecord(raw.resource));
}

/** Which delivery format a parsed JSON value is; undefined for anything else (a plain audit Event, a Falco alert …). */
export function cloudFormatOf(raw: unknown): CloudFormat | undefined {
  if (!isRecord(raw)) return undefined;
  if (isFirehoseRequest(raw)) return 'firehose-request';
  if (isSubscriptionPayload(raw)) return 'cloudwatch-subscription';
  if (isPubSubPush(raw)) return 'pubsub-push';
  if (isLogEntry(raw)) return 'gke-log-entry';
  if (isAksDiagnostics(raw)) return 'aks-diagnostics';
  if (isFilterLogEventsOutput(raw)) return 'cloudwatch-filter-log-events';
  return undefined;
}

function tag<O, C extends CloudOrigin['cloud']>(
  batch: CloudBatch<O>,
  cloud: C,
): CloudBatch<O & { cloud: C }> {
  return {
    ignored: batch.ignored,
    items: batch.items.map((item) => (item.ok ? { ...item, origin: { cloud, ...item.origin } } : item)),
  };
}

/**
 * A parsed record of any managed-cluster format → its audit Events, each with
 * its origin; undefined when the value is none of them. A Firehose request that
 * is not valid as a whole is one rejected item.
 */
export function unwrapCloudRecord(
  raw: unknown,
  limits: CloudLimits = DEFAULT_CLOUD_LIMITS,
): { format: CloudFormat; batch: CloudBatch<CloudOrigin> } | undefined {
  const format = cloudFormatOf(raw);
  switch (format) {
    case undefined:
      return undefined;
    case 'firehose-request': {
      const delivery = eksAuditFromFirehose(raw, limits);
      const batch: CloudBatch<EksOrigin> = delivery.ok
        ? delivery.batch
        : { items: [{ ok: false, reason: delivery.reason, where: '' }], ignored: 0 };
      return { format, batch: tag(batch, 'eks') };
    }
    case 'cloudwatch-subscription':
      return { format, batch: tag(eksAuditFromSubscription(raw, limits), 'eks') };
    case 'cloudwatch-filter-log-events':
      return { format, batch: tag(eksAuditFromFilterLogEvents(raw, undefined, limits), 'eks') };
    case 'pubsub-push':
    case 'gke-log-entry':
      return { format, batch: tag(gkeAuditFromJson(raw, limits), 'gke') };
    case 'aks-diagnostics':
      return { format, batch: tag(aksAuditFromJson(raw, limits), 'aks') };
  }
}

/** The cluster name a delivery names for an event (the caller decides whether to trust it). */
export function clusterNameOf(origin: CloudOrigin): string | undefined {
  switch (origin.cloud) {
    case 'eks':
      return origin.clusterName;
    case 'gke':
      return origin.cluster.name;
    case 'aks':
      return origin.cluster?.name;
  }
}
