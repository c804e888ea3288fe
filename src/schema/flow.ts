import { z } from 'zod';

/**
 * Cilium Hubble flows (`flow.Flow` of cilium/api/v1/flow/flow.proto, Cilium
 * 1.19) in the JSON form the Hubble exporter and `hubble observe -o jsonpb`
 * write: protojson with the proto field names (`drop_reason_desc`, `IP`,
 * `l4.TCP.destination_port`), enums as their names, 64-bit integers as
 * strings, zero values and empty lists left out. See docs/hubble.md.
 *
 * Only the fields Klaxon reads are checked; every object is loose, because
 * Cilium adds fields in every release and an exporter field mask removes any
 * of them. Enums are kept as strings (new drop reasons appear in every
 * release); numeric enum values are turned into names before parsing.
 */

/** proto3 JSON writes `uint32` as a number. */
const Uint32 = z.number().int().nonnegative();
/** proto3 JSON writes 64-bit integers as decimal strings, and accepts numbers. */
const Uint64 = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]);
const Names = z.array(z.string());

export const HubbleWorkload = z.looseObject({
  name: z.string().nullish(),
  kind: z.string().nullish(),
});

export const HubbleEndpoint = z.looseObject({
  ID: Uint32.nullish(),
  /** The security identity: 1 host, 2 world, 6 remote-node, 7 kube-apiserver, … (reserved), larger for workloads and CIDRs. */
  identity: Uint32.nullish(),
  /** ClusterMesh cluster of the endpoint: the sender's word, never Klaxon's cluster. */
  cluster_name: z.string().nullish(),
  namespace: z.string().nullish(),
  /** `source:key=value`, e.g. `k8s:app=web`, `reserved:world`, `cidr:169.254.169.254/32`. */
  labels: Names.nullish(),
  pod_name: z.string().nullish(),
  workloads: z.array(HubbleWorkload).nullish(),
});
export type HubbleEndpoint = z.infer<typeof HubbleEndpoint>;

/** A policy that allowed or denied a flow (`hubble-network-policy-correlation-enabled`, Cilium 1.17+). */
export const HubblePolicy = z.looseObject({
  name: z.string().nullish(),
  namespace: z.string().nullish(),
  labels: Names.nullish(),
  revision: Uint64.nullish(),
  /** `NetworkPolicy`, `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy`. */
  kind: z.string().nullish(),
});
export type HubblePolicy = z.infer<typeof HubblePolicy>;

const Ports = z.looseObject({ source_port: Uint32.nullish(), destination_port: Uint32.nullish() });
const Icmp = z.looseObject({ type: Uint32.nullish(), code: Uint32.nullish() });

export const HubbleLayer4 = z.looseObject({
  TCP: Ports.extend({ flags: z.record(z.string(), z.boolean()).nullish() }).nullish(),
  UDP: Ports.nullish(),
  SCTP: Ports.nullish(),
  ICMPv4: Icmp.nullish(),
  ICMPv6: Icmp.nullish(),
  VRRP: z.looseObject({}).nullish(),
  IGMP: z.looseObject({}).nullish(),
});
export type HubbleLayer4 = z.infer<typeof HubbleLayer4>;

export const HubbleIP = z.looseObject({
  source: z.string().nullish(),
  source_xlated: z.string().nullish(),
  destination: z.string().nullish(),
  /** `IPv4` | `IPv6` (the proto field is spelt `ipVersion`). */
  ipVersion: z.string().nullish(),
  encrypted: z.boolean().nullish(),
});

export const HubbleLayer7 = z.looseObject({
  /** `REQUEST` | `RESPONSE` | `SAMPLE`. */
  type: z.string().nullish(),
  latency_ns: Uint64.nullish(),
  dns: z
    .looseObject({
      query: z.string().nullish(),
      ips: Names.nullish(),
      rcode: Uint32.nullish(),
      qtypes: Names.nullish(),
    })
    .nullish(),
  http: z
    .looseObject({
      code: Uint32.nullish(),
      method: z.string().nullish(),
      url: z.string().nullish(),
      protocol: z.string().nullish(),
      headers: z.array(z.looseObject({ key: z.string().nullish(), value: z.string().nullish() })).nullish(),
    })
    .nullish(),
  kafka: z.looseObject({}).nullish(),
});

const Service = z.looseObject({ name: z.string().nullish(), namespace: z.string().nullish() });

export const HubbleFlow = z.looseObject({
  /** RFC 3339 with nanoseconds. */
  time: z.string().nullish(),
  uuid: z.string().nullish(),
  /** `FORWARDED` | `DROPPED` | `ERROR` | `AUDIT` | `REDIRECTED` | `TRACED` | `TRANSLATED`; absent for VERDICT_UNKNOWN. */
  verdict: z.string().nullish(),
  /** Deprecated number of the drop reason (133 POLICY_DENIED, 181 POLICY_DENY). */
  drop_reason: Uint32.nullish(),
  /** `POLICY_DENIED` (no rule allowed it), `POLICY_DENY` (a deny rule matched), `AUTH_REQUIRED`, … */
  drop_reason_desc: z.string().nullish(),
  IP: HubbleIP.nullish(),
  l4: HubbleLayer4.nullish(),
  source: HubbleEndpoint.nullish(),
  destination: HubbleEndpoint.nullish(),
  /** `L3_L4` | `L7` | `SOCK`. */
  Type: z.string().nullish(),
  /** `<cluster>/<node>` since Cilium 1.16 with a cluster name set, else the node name. */
  node_name: z.string().nullish(),
  node_labels: Names.nullish(),
  source_names: Names.nullish(),
  destination_names: Names.nullish(),
  l7: HubbleLayer7.nullish(),
  /** Deprecated: `is_reply` tells a reply from an unknown direction, `reply` cannot. */
  reply: z.boolean().nullish(),
  /** Cilium monitor message type: 1 drop, 4 trace, 5 policy verdict, 129 L7 access log. */
  event_type: z
    .looseObject({ type: z.number().int().nullish(), sub_type: z.number().int().nullish() })
    .nullish(),
  source_service: Service.nullish(),
  destination_service: Service.nullish(),
  /** `INGRESS` | `EGRESS`; absent when unknown. */
  traffic_direction: z.string().nullish(),
  policy_match_type: Uint32.nullish(),
  /** A `google.protobuf.BoolValue`: absent means unknown. */
  is_reply: z.boolean().nullish(),
  egress_allowed_by: z.array(HubblePolicy).nullish(),
  ingress_allowed_by: z.array(HubblePolicy).nullish(),
  egress_denied_by: z.array(HubblePolicy).nullish(),
  ingress_denied_by: z.array(HubblePolicy).nullish(),
  policy_log: Names.nullish(),
  Summary: z.string().nullish(),
});
export type HubbleFlow = z.infer<typeof HubbleFlow>;

/**
 * One line of the Hubble exporter's file (`observer.ExportEvent`) or of
 * `hubble observe -o jsonpb` (`observer.GetFlowsResponse`): exactly one of the
 * event fields, plus the node and the time. The exporter also writes lost,
 * agent and debug events unless its allow-list keeps only flows.
 */
export const HubbleRecord = z.looseObject({
  flow: z.unknown().optional(),
  lost_events: z.unknown().optional(),
  agent_event: z.unknown().optional(),
  debug_event: z.unknown().optional(),
  node_status: z.unknown().optional(),
  node_name: z.string().nullish(),
  time: z.string().nullish(),
});
export type HubbleRecord = z.infer<typeof HubbleRecord>;

/** The record kinds that are not flows, in the order they are looked for. */
export const NON_FLOW_RECORDS = ['lost_events', 'agent_event', 'debug_event', 'node_status'] as const;
export type NonFlowRecord = (typeof NON_FLOW_RECORDS)[number];

/** A lost-events notice: Hubble could not keep up, so flows are missing (`flow.LostEvent`). */
export const HubbleLostEvents = z.looseObject({
  /** `PERF_EVENT_RING_BUFFER` | `OBSERVER_EVENTS_QUEUE` | `HUBBLE_RING_BUFFER`. */
  source: z.string().nullish(),
  num_events_lost: Uint64.nullish(),
});
export type HubbleLostEvents = z.infer<typeof HubbleLostEvents>;
