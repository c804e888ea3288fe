import type { AnyValue, Attributes, HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  ATTR_CONTAINER_IMAGE_NAME,
  ATTR_K8S_CLUSTER_NAME,
  ATTR_K8S_CRONJOB_NAME,
  ATTR_K8S_DAEMONSET_NAME,
  ATTR_K8S_DEPLOYMENT_NAME,
  ATTR_K8S_JOB_NAME,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_K8S_NODE_NAME,
  ATTR_K8S_POD_NAME,
  ATTR_K8S_REPLICASET_NAME,
  ATTR_K8S_STATEFULSET_NAME,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import {
  ATTR_HOST_NAME,
  ATTR_LOG_RECORD_UID,
  ATTR_SECURITY_RULE_CATEGORY,
  ATTR_SECURITY_RULE_DESCRIPTION,
  ATTR_SECURITY_RULE_NAME,
  ATTR_SECURITY_RULE_REFERENCE,
  ATTR_SECURITY_RULE_RULESET_NAME,
  ATTR_SECURITY_RULE_UUID,
  ATTR_SOURCE_ADDRESS,
  ATTR_USER_NAME,
} from '@opentelemetry/semantic-conventions/incubating';
import type { Alert, Level } from '../schema/alert.ts';

/**
 * Alerts as OpenTelemetry LogRecords (the SDK's `ReadableLogRecord`, which the official
 * OTLP serializers turn into protobuf or JSON). Attribute names are OpenTelemetry semantic
 * conventions where one exists (`k8s.*`, `user.name`, `source.address`, `security_rule.*`,
 * `log.record.uid`), `klaxon.*` for the rest. Pure functions.
 */

/** Sigma level → OpenTelemetry severity number and text. */
export const OTEL_SEVERITY: Record<Level, SeverityNumber> = {
  informational: SeverityNumber.INFO,
  low: SeverityNumber.INFO4,
  medium: SeverityNumber.WARN,
  high: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};

/** Kubernetes resource type (plural, as in audit `objectRef.resource`) → its `k8s.*.name` attribute. */
const RESOURCE_NAME_ATTRIBUTE: Record<string, string> = {
  pods: ATTR_K8S_POD_NAME,
  deployments: ATTR_K8S_DEPLOYMENT_NAME,
  daemonsets: ATTR_K8S_DAEMONSET_NAME,
  statefulsets: ATTR_K8S_STATEFULSET_NAME,
  replicasets: ATTR_K8S_REPLICASET_NAME,
  jobs: ATTR_K8S_JOB_NAME,
  cronjobs: ATTR_K8S_CRONJOB_NAME,
  nodes: ATTR_K8S_NODE_NAME,
};

/** The body of each record: the alert's one-line message, or the whole alert as a structured map. */
export type OtlpBody = 'message' | 'alert';

export interface KlaxonInstance {
  hostname: string;
  version: string;
  /** `service.instance.id`: one value per Klaxon process. */
  instanceId: string;
  /** Extra resource attributes from the settings (`deployment.environment.name`, ...). */
  extra: Record<string, string>;
}

/** The Resource every record carries: this Klaxon instance (not the cluster the alert is about). */
export function klaxonResource(instance: KlaxonInstance): Resource {
  return resourceFromAttributes({
    ...instance.extra,
    [ATTR_SERVICE_NAME]: 'klaxon',
    [ATTR_SERVICE_VERSION]: instance.version,
    [ATTR_SERVICE_INSTANCE_ID]: instance.instanceId,
    [ATTR_HOST_NAME]: instance.hostname,
  });
}

function hrTime(iso: string, fallback: number): HrTime {
  const parsed = Date.parse(iso);
  const ms = Number.isNaN(parsed) ? fallback : parsed;
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

/** The attributes of one alert; absent values are left out, never sent empty. */
export function alertAttributes(alert: Alert): Attributes {
  const attributes: Attributes = {};
  const set = (key: string, value: string | number | string[] | undefined) => {
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return;
    attributes[key] = value;
  };
  set(ATTR_LOG_RECORD_UID, alert.klaxon.alert_id);
  set(ATTR_SECURITY_RULE_NAME, alert.rule.name);
  set(ATTR_SECURITY_RULE_UUID, alert.rule.id);
  set(ATTR_SECURITY_RULE_DESCRIPTION, alert.rule.description);
  set(ATTR_SECURITY_RULE_REFERENCE, alert.rule.reference?.[0]);
  set(ATTR_SECURITY_RULE_RULESET_NAME, alert.rule.ruleset);
  set(ATTR_SECURITY_RULE_CATEGORY, alert.rule.category);
  set(ATTR_K8S_CLUSTER_NAME, alert.orchestrator?.cluster?.name);
  set(ATTR_K8S_NAMESPACE_NAME, alert.orchestrator?.namespace);
  const resource = alert.orchestrator?.resource;
  const nameAttribute = resource?.type ? RESOURCE_NAME_ATTRIBUTE[resource.type] : undefined;
  if (nameAttribute) set(nameAttribute, resource?.name);
  set('klaxon.resource.type', resource?.type);
  set('klaxon.resource.name', resource?.name);
  set(ATTR_USER_NAME, alert.user?.name);
  set(ATTR_SOURCE_ADDRESS, alert.source?.ip);
  set(ATTR_USER_AGENT_ORIGINAL, alert.user_agent?.original);
  set(ATTR_CONTAINER_IMAGE_NAME, alert.container?.image?.name);
  set('klaxon.alert_id', alert.klaxon.alert_id);
  set('klaxon.severity', alert.klaxon.severity);
  set('klaxon.count', alert.klaxon.count);
  set('klaxon.revision', alert.klaxon.revision);
  set('klaxon.event_ids', alert.klaxon.event_ids);
  set('klaxon.dataset', alert.event.dataset);
  set('klaxon.correlation.type', alert.klaxon.correlation?.type);
  set('threat.technique.id', alert.threat?.technique.id);
  set('threat.tactic.name', alert.threat?.tactic.name);
  set('tags', alert.tags);
  return attributes;
}

/** JSON data (the parsed alert) as an OTLP AnyValue; structurally it already is one. */
function anyValue(value: unknown): AnyValue {
  return JSON.parse(JSON.stringify(value)) as AnyValue;
}

/** What all records of one sink share; the same objects each time, as the serializers group by identity. */
export interface OtlpRecordContext {
  resource: Resource;
  scope: { name: string; version: string };
  body: OtlpBody;
}

export function recordContext(instance: KlaxonInstance, body: OtlpBody): OtlpRecordContext {
  return { resource: klaxonResource(instance), scope: { name: 'klaxon', version: instance.version }, body };
}

export function toLogRecord(alert: Alert, context: OtlpRecordContext, now = Date.now()): ReadableLogRecord {
  return {
    hrTime: hrTime(alert['@timestamp'], now),
    hrTimeObserved: hrTime(alert.event.created, now),
    severityNumber: OTEL_SEVERITY[alert.klaxon.severity],
    severityText: alert.klaxon.severity,
    eventName: 'klaxon.alert',
    body: context.body === 'alert' ? anyValue(alert) : alert.message,
    resource: context.resource,
    instrumentationScope: context.scope,
    attributes: alertAttributes(alert),
    droppedAttributesCount: 0,
  };
}
