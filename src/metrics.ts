import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric Klaxon exports, in one place (DESIGN §3.6). Labels are
 * bounded: never a user, pod, auditID or anything else an attacker controls.
 * Cluster names come from Klaxon's own configuration (the credential), not from
 * payloads, so they are bounded too.
 */
export const registry = new Registry();
// Unprefixed on purpose: the standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...)
// are what Node and process dashboards and alerts query.
collectDefaultMetrics({ register: registry });

const r = [registry];

// Ingest
export const ingestRequests = new Counter({
  name: 'klaxon_ingest_requests_total',
  help: 'HTTP requests to the ingest endpoints, by endpoint and status code.',
  labelNames: ['endpoint', 'code'] as const,
  registers: r,
});
export const ingestEvents = new Counter({
  name: 'klaxon_ingest_events_total',
  help: 'Events received, by source (audit|falco|flows), cluster and outcome (accepted|rejected|duplicate).',
  labelNames: ['source', 'cluster', 'outcome'] as const,
  registers: r,
});
export const ingestRejected = new Counter({
  name: 'klaxon_ingest_rejected_total',
  help: 'Rejected requests or batch items, by source and reason (bounded set of reasons).',
  labelNames: ['source', 'reason'] as const,
  registers: r,
});
export const ingestRequestBytes = new Histogram({
  name: 'klaxon_ingest_request_bytes',
  help: 'Size of ingest request bodies in bytes (decompressed).',
  labelNames: ['endpoint'] as const,
  buckets: [1024, 16384, 131072, 1048576, 4194304, 16777216, 33554432],
  registers: r,
});
export const busProduceSeconds = new Histogram({
  name: 'klaxon_bus_produce_seconds',
  help: 'Time for the bus to acknowledge a produced batch.',
  labelNames: ['topic'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: r,
});

// Cilium Hubble flows at ingest (POST /v1/flows): what the volume filter did, what Hubble itself lost, and the
// policy drops. Every label value is from a fixed set or Klaxon's configuration, never a flow's.
export const ingestFlows = new Counter({
  name: 'klaxon_ingest_flows_total',
  help: 'Hubble flows read at ingest, by cluster, decision (published|filtered) and the volume filter’s reason (policy-drop|audit|watched-destination|other-drop|allowed|reply).',
  labelNames: ['cluster', 'decision', 'reason'] as const,
  registers: r,
});
export const ingestHubbleRecords = new Counter({
  name: 'klaxon_ingest_hubble_records_total',
  help: 'Hubble records that hold no flow (lost_events, agent_event, debug_event, node_status): counted, not rejected.',
  labelNames: ['cluster', 'kind'] as const,
  registers: r,
});
export const hubbleLostEvents = new Counter({
  name: 'klaxon_hubble_lost_events_total',
  help: 'Events Hubble reports it lost (its lost_events notices: a ring buffer or queue overflowed), by cluster.',
  labelNames: ['cluster'] as const,
  registers: r,
});
export const networkPolicyDrops = new Counter({
  name: 'klaxon_network_policy_drops_total',
  help: 'Packets and L7 requests dropped by network policy (Hubble drop notifications and L7 denials; policy verdict events are not counted twice), by cluster, direction and namespace (one of ingest.flows.metricNamespaces, other, or none).',
  labelNames: ['cluster', 'direction', 'namespace'] as const,
  registers: r,
});

// Durable spool at ingest
export const spoolEvents = new Gauge({
  name: 'klaxon_spool_events',
  help: 'Events held in the ingest spool, waiting for Kafka.',
  registers: r,
});
export const spoolBytes = new Gauge({
  name: 'klaxon_spool_bytes',
  help: 'Bytes used by the ingest spool on disk.',
  registers: r,
});
export const spoolDrained = new Counter({
  name: 'klaxon_spool_drained_total',
  help: 'Events drained from the spool to Kafka.',
  registers: r,
});
export const spoolDropped = new Counter({
  name: 'klaxon_spool_dropped_total',
  help: 'Events refused because the spool was full (answered 503).',
  registers: r,
});
export const spoolCorrupt = new Counter({
  name: 'klaxon_spool_corrupt_records_total',
  help: 'Torn or corrupt spool records found on recovery (checksum mismatch), skipped.',
  registers: r,
});

// EKS: the CloudWatch Logs source (`type: cloudwatch`); `source` is the instance's name in `sources:`
export const cloudwatchEvents = new Counter({
  name: 'klaxon_cloudwatch_events_total',
  help: 'CloudWatch Logs events the EKS source read, by outcome: new (sent on), late (sent on, found only by the late scan), repeat (read before: dropped), ignored (another stream, or before the start).',
  labelNames: ['source', 'cluster', 'outcome'] as const,
  registers: r,
});
export const cloudwatchLagSeconds = new Gauge({
  name: 'klaxon_cloudwatch_lag_seconds',
  help: 'Now minus the time of the newest event the EKS CloudWatch Logs source has read (grows while the cluster logs nothing).',
  labelNames: ['source', 'cluster'] as const,
  registers: r,
});
export const cloudwatchErrors = new Counter({
  name: 'klaxon_cloudwatch_errors_total',
  help: 'Failed polls of the EKS CloudWatch Logs source, by kind (throttled|unavailable|credentials|access_denied|not_found|retry_later|checkpoint|overflow|other).',
  labelNames: ['source', 'cluster', 'kind'] as const,
  registers: r,
});

// Detection
export const detectEvents = new Counter({
  name: 'klaxon_detect_events_total',
  help: 'Normalized events evaluated by the detector, by source.',
  labelNames: ['source'] as const,
  registers: r,
});
export const detectLagSeconds = new Histogram({
  name: 'klaxon_detect_lag_seconds',
  help: 'Delay from the triggering event time to the alert.',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
  registers: r,
});
export const alertsTotal = new Counter({
  name: 'klaxon_alerts_total',
  help: 'Alerts raised, by rule, severity and cluster.',
  labelNames: ['rule', 'severity', 'cluster'] as const,
  registers: r,
});
export const alertsSuppressed = new Counter({
  name: 'klaxon_alerts_suppressed_total',
  help: 'Rule matches folded into an alert already raised in the same window, by rule.',
  labelNames: ['rule'] as const,
  registers: r,
});
export const rulesLoaded = new Gauge({
  name: 'klaxon_rules_loaded',
  help: 'Rules loaded, by type (detection|correlation|filter).',
  labelNames: ['type'] as const,
  registers: r,
});
export const rulesRejected = new Counter({
  name: 'klaxon_rules_rejected_total',
  help: 'Rule files or documents that failed to load.',
  registers: r,
});
export const placeholderValues = new Gauge({
  name: 'klaxon_placeholder_values',
  help: 'Values held by each configured rule placeholder (detect.placeholders), by placeholder name.',
  labelNames: ['name'] as const,
  registers: r,
});
export const placeholderReloads = new Counter({
  name: 'klaxon_placeholder_reloads_total',
  help: 'Re-reads of placeholder files after they changed, by outcome (ok|error).',
  labelNames: ['outcome'] as const,
  registers: r,
});
export const correlationKeys = new Gauge({
  name: 'klaxon_correlation_keys',
  help: 'Live correlation windows (rule x group key).',
  registers: r,
});
export const correlationEvicted = new Counter({
  name: 'klaxon_correlation_evicted_total',
  help: 'Correlation windows dropped, by reason (expired|cap).',
  labelNames: ['reason'] as const,
  registers: r,
});
export const firstSeenKeys = new Gauge({
  name: 'klaxon_first_seen_keys',
  help: 'Keys (rule x cluster x group-by values) whose values first-seen rules remember.',
  registers: r,
});
export const firstSeenEvicted = new Counter({
  name: 'klaxon_first_seen_evicted_total',
  help: 'First-seen state forgotten, by reason (expired: a key not seen for its timespan; cap: a key beyond max-keys, least recently seen first; value-cap: a value beyond max-values, which saturates its key).',
  labelNames: ['reason'] as const,
  registers: r,
});
export const firstSeenNew = new Counter({
  name: 'klaxon_first_seen_new_values_total',
  help: 'Values seen for the first time for a known key, by outcome (alerted|learning|saturated).',
  labelNames: ['outcome'] as const,
  registers: r,
});
export const firstSeenStore = new Counter({
  name: 'klaxon_first_seen_store_total',
  help: 'First-seen state store operations (Kafka topic or state.dir), by op (load|save) and outcome (ok|error|invalid: a stored record that is not one, skipped); saves count records.',
  labelNames: ['op', 'outcome'] as const,
  registers: r,
});
export const sinkWrites = new Counter({
  name: 'klaxon_sink_writes_total',
  help: 'Alerts written to sinks, by sink (the configured name) and outcome (ok|spooled|duplicate|retry|resent|error|rejected).',
  labelNames: ['sink', 'outcome'] as const,
  registers: r,
});
export const sinkQueueAlerts = new Gauge({
  name: 'klaxon_sink_queue_alerts',
  help: "Alerts in a sink's durable buffer, waiting for its receiver, by sink.",
  labelNames: ['sink'] as const,
  registers: r,
});
export const sinkQueueBytes = new Gauge({
  name: 'klaxon_sink_queue_bytes',
  help: "Bytes on disk of a sink's durable buffer, by sink.",
  labelNames: ['sink'] as const,
  registers: r,
});
export const sinkQueueCorrupt = new Counter({
  name: 'klaxon_sink_queue_corrupt_records_total',
  help: "Torn or corrupt records found in a sink's durable buffer (checksum mismatch), skipped, by sink.",
  labelNames: ['sink'] as const,
  registers: r,
});
export const deadletters = new Counter({
  name: 'klaxon_deadletter_total',
  help: 'Dead letters (to the dead-letter topic; logged by serve), by reason.',
  labelNames: ['reason'] as const,
  registers: r,
});
export const consumerLag = new Gauge({
  name: 'klaxon_consumer_lag_messages',
  help: 'Messages between the committed offset and the end of each partition.',
  labelNames: ['topic', 'partition'] as const,
  registers: r,
});

// The eventhubs source (AKS diagnostic logs over Event Hubs' Kafka endpoint); `source` is the instance's name.
export const eventHubsMessages = new Counter({
  name: 'klaxon_eventhubs_messages_total',
  help: 'Event Hubs messages (diagnostic-logs documents) read and committed, by source.',
  labelNames: ['source'] as const,
  registers: r,
});
export const eventHubsRecords = new Counter({
  name: 'klaxon_eventhubs_records_total',
  help: 'Diagnostic-log records read, by source and outcome (accepted: durable; rejected: broken or of a cluster the source does not read; ignored: another log category).',
  labelNames: ['source', 'outcome'] as const,
  registers: r,
});
export const eventHubsLag = new Gauge({
  name: 'klaxon_eventhubs_lag_messages',
  help: 'Messages of the hub not committed yet by the source, by source and partition (partitions this replica reads).',
  labelNames: ['source', 'partition'] as const,
  registers: r,
});

// Security signals the hardening guides ask to watch: counters by cluster and a
// small fixed label, so a Grafana panel needs no log search.
export const k8sAuthFailures = new Counter({
  name: 'klaxon_k8s_auth_failures_total',
  help: 'Requests refused with 401 (failed authentication) or 403 (forbidden), by code.',
  labelNames: ['cluster', 'code'] as const,
  registers: r,
});
export const k8sRbacChanges = new Counter({
  name: 'klaxon_k8s_rbac_changes_total',
  help: 'Changes to Roles, ClusterRoles and their bindings, by verb.',
  labelNames: ['cluster', 'verb'] as const,
  registers: r,
});
export const k8sPrivilegedPods = new Counter({
  name: 'klaxon_k8s_privileged_pods_total',
  help: 'Pods or pod templates created or changed with a privileged container, by kind.',
  labelNames: ['cluster', 'kind'] as const,
  registers: r,
});
export const k8sNetworkPolicyChanges = new Counter({
  name: 'klaxon_k8s_networkpolicy_changes_total',
  help: 'NetworkPolicy creates, updates, patches and deletes, by verb.',
  labelNames: ['cluster', 'verb'] as const,
  registers: r,
});
export const k8sImagePullFailures = new Counter({
  name: 'klaxon_k8s_image_pull_failures_total',
  help: 'ErrImagePull / ImagePullBackOff seen in core Events or pod status updates.',
  labelNames: ['cluster'] as const,
  registers: r,
});
export const k8sQuotaExceeded = new Counter({
  name: 'klaxon_k8s_quota_exceeded_total',
  help: 'Requests refused because a ResourceQuota was exceeded.',
  labelNames: ['cluster'] as const,
  registers: r,
});
export const k8sSecretReads = new Counter({
  name: 'klaxon_k8s_secret_reads_total',
  help: 'Secret get/list/watch requests, by verb.',
  labelNames: ['cluster', 'verb'] as const,
  registers: r,
});
export const k8sPodExec = new Counter({
  name: 'klaxon_k8s_pod_exec_total',
  help: 'exec, attach and port-forward into pods, by subresource.',
  labelNames: ['cluster', 'subresource'] as const,
  registers: r,
});
export const falcoAlerts = new Counter({
  name: 'klaxon_falco_alerts_total',
  help: 'Falco alerts received, by priority.',
  labelNames: ['cluster', 'priority'] as const,
  registers: r,
});

// Pub/Sub sources (GKE): `pubsub` (pull) and `pubsub-push`, by the source's name in `sources:`.
export const pubsubMessages = new Counter({
  name: 'klaxon_pubsub_messages_total',
  help: 'Pub/Sub messages of the pubsub and pubsub-push sources, by source and outcome: received, acked (events durable, or dead-lettered), nacked (redelivered later), deadlettered (never convertible: acked, reason logged).',
  labelNames: ['source', 'outcome'] as const,
  registers: r,
});
export const pubsubEvents = new Counter({
  name: 'klaxon_pubsub_events_total',
  help: 'Audit events converted from the GKE entries of Pub/Sub messages, by source.',
  labelNames: ['source'] as const,
  registers: r,
});
