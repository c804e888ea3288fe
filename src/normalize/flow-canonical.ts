import { isRecord } from './redact.ts';

/**
 * Puts a Hubble flow into the one JSON form rules and the normalizer read: the
 * proto field names and enum names that the Hubble exporter and
 * `hubble observe -o jsonpb` write (protojson with `UseProtoNames`).
 *
 * Other protobuf JSON writers (protojson's default, Python's
 * `MessageToJson`, grpc-gateway) use the lowerCamelCase JSON names
 * (`dropReasonDesc`, `podName`) and some write enums as numbers; protojson
 * reads both forms, so Klaxon does too. Copy-on-write: the input is never
 * modified.
 */

/** lowerCamelCase JSON name → proto field name, for every field of flow.proto and observer.proto that differ. */
const PROTO_NAMES: ReadonlyMap<string, string> = new Map(
  [
    'drop_reason',
    'auth_type',
    'node_name',
    'node_labels',
    'source_names',
    'destination_names',
    'event_type',
    'sub_type',
    'source_service',
    'destination_service',
    'traffic_direction',
    'policy_match_type',
    'trace_observation_point',
    'trace_reason',
    'ip_trace_id',
    'drop_reason_desc',
    'is_reply',
    'debug_capture_point',
    'proxy_port',
    'trace_context',
    'trace_id',
    'sock_xlate_point',
    'socket_cookie',
    'cgroup_id',
    'egress_allowed_by',
    'ingress_allowed_by',
    'egress_denied_by',
    'ingress_denied_by',
    'policy_log',
    'cluster_name',
    'pod_name',
    'source_port',
    'destination_port',
    'source_xlated',
    'latency_ns',
    'observation_source',
    'error_code',
    'api_version',
    'api_key',
    'correlation_id',
    'group_address',
    'ingress_flow_count',
    'egress_flow_count',
    'unknown_direction_flow_count',
    'lost_events',
    'agent_event',
    'debug_event',
    'node_status',
    'num_events_lost',
  ].map((proto) => [proto.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), proto]),
);

/** Free-form content: `google.protobuf.Any` extensions are kept as they are. */
const OPAQUE = new Set(['extensions']);

/** Bounds the walk: flows are a few levels deep; deeper input is left as it is. */
const MAX_DEPTH = 16;

function renameKeys(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = renameKeys(value[i], depth + 1);
      if (next !== value[i]) {
        out ??= value.slice();
        out[i] = next;
      }
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const proto = PROTO_NAMES.get(key);
    const name = proto !== undefined && !Object.hasOwn(obj, proto) ? proto : key;
    const child = obj[key];
    const next = OPAQUE.has(name) ? child : renameKeys(child, depth + 1);
    if (name !== key || next !== child) {
      out ??= { ...obj };
      if (name !== key) delete out[key];
      Object.defineProperty(out, name, { value: next, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? obj;
}

/** flow.Verdict */
export const VERDICTS = [
  'VERDICT_UNKNOWN',
  'FORWARDED',
  'DROPPED',
  'ERROR',
  'AUDIT',
  'REDIRECTED',
  'TRACED',
  'TRANSLATED',
] as const;

const TRAFFIC_DIRECTIONS = ['TRAFFIC_DIRECTION_UNKNOWN', 'INGRESS', 'EGRESS'];
const FLOW_TYPES = ['UNKNOWN_TYPE', 'L3_L4', 'L7', 'SOCK'];
const IP_VERSIONS = ['IP_NOT_USED', 'IPv4', 'IPv6'];
const L7_TYPES = ['UNKNOWN_L7_TYPE', 'REQUEST', 'RESPONSE', 'SAMPLE'];

/** flow.DropReason of Cilium 1.19 (values below 130 are not drops). */
const DROP_REASONS: ReadonlyMap<number, string> = new Map(
  Object.entries({
    DROP_REASON_UNKNOWN: 0,
    INVALID_SOURCE_MAC: 130,
    INVALID_DESTINATION_MAC: 131,
    INVALID_SOURCE_IP: 132,
    POLICY_DENIED: 133,
    INVALID_PACKET_DROPPED: 134,
    CT_TRUNCATED_OR_INVALID_HEADER: 135,
    CT_MISSING_TCP_ACK_FLAG: 136,
    CT_UNKNOWN_L4_PROTOCOL: 137,
    CT_CANNOT_CREATE_ENTRY_FROM_PACKET: 138,
    UNSUPPORTED_L3_PROTOCOL: 139,
    MISSED_TAIL_CALL: 140,
    ERROR_WRITING_TO_PACKET: 141,
    UNKNOWN_L4_PROTOCOL: 142,
    UNKNOWN_ICMPV4_CODE: 143,
    UNKNOWN_ICMPV4_TYPE: 144,
    UNKNOWN_ICMPV6_CODE: 145,
    UNKNOWN_ICMPV6_TYPE: 146,
    ERROR_RETRIEVING_TUNNEL_KEY: 147,
    ERROR_RETRIEVING_TUNNEL_OPTIONS: 148,
    INVALID_GENEVE_OPTION: 149,
    UNKNOWN_L3_TARGET_ADDRESS: 150,
    STALE_OR_UNROUTABLE_IP: 151,
    NO_MATCHING_LOCAL_CONTAINER_FOUND: 152,
    ERROR_WHILE_CORRECTING_L3_CHECKSUM: 153,
    ERROR_WHILE_CORRECTING_L4_CHECKSUM: 154,
    CT_MAP_INSERTION_FAILED: 155,
    INVALID_IPV6_EXTENSION_HEADER: 156,
    IP_FRAGMENTATION_NOT_SUPPORTED: 157,
    SERVICE_BACKEND_NOT_FOUND: 158,
    NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT: 160,
    FAILED_TO_INSERT_INTO_PROXYMAP: 161,
    REACHED_EDT_RATE_LIMITING_DROP_HORIZON: 162,
    UNKNOWN_CONNECTION_TRACKING_STATE: 163,
    LOCAL_HOST_IS_UNREACHABLE: 164,
    NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION: 165,
    UNSUPPORTED_L2_PROTOCOL: 166,
    NO_MAPPING_FOR_NAT_MASQUERADE: 167,
    UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE: 168,
    FIB_LOOKUP_FAILED: 169,
    ENCAPSULATION_TRAFFIC_IS_PROHIBITED: 170,
    INVALID_IDENTITY: 171,
    UNKNOWN_SENDER: 172,
    NAT_NOT_NEEDED: 173,
    IS_A_CLUSTERIP: 174,
    FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND: 175,
    FORBIDDEN_ICMPV6_MESSAGE: 176,
    DENIED_BY_LB_SRC_RANGE_CHECK: 177,
    SOCKET_LOOKUP_FAILED: 178,
    SOCKET_ASSIGN_FAILED: 179,
    PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL: 180,
    POLICY_DENY: 181,
    VLAN_FILTERED: 182,
    INVALID_VNI: 183,
    INVALID_TC_BUFFER: 184,
    NO_SID: 185,
    MISSING_SRV6_STATE: 186,
    NAT46: 187,
    NAT64: 188,
    AUTH_REQUIRED: 189,
    CT_NO_MAP_FOUND: 190,
    SNAT_NO_MAP_FOUND: 191,
    INVALID_CLUSTER_ID: 192,
    UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP: 193,
    NO_EGRESS_GATEWAY: 194,
    UNENCRYPTED_TRAFFIC: 195,
    TTL_EXCEEDED: 196,
    NO_NODE_ID: 197,
    DROP_RATE_LIMITED: 198,
    IGMP_HANDLED: 199,
    IGMP_SUBSCRIBED: 200,
    MULTICAST_HANDLED: 201,
    DROP_HOST_NOT_READY: 202,
    DROP_EP_NOT_READY: 203,
    DROP_NO_EGRESS_IP: 204,
    DROP_PUNT_PROXY: 205,
  }).map(([name, value]) => [value, name]),
);

/** The name of a drop reason number; an unknown number (a newer Cilium) stays a number, as text. */
export function dropReasonName(value: number): string {
  return DROP_REASONS.get(value) ?? String(value);
}

function enumName(names: readonly string[], value: number): string {
  return names[value] ?? String(value);
}

/** Sets `obj[key]` to its enum name when it is a number; returns the (possibly copied) object. */
function nameEnum(
  obj: Record<string, unknown>,
  key: string,
  name: (value: number) => string,
): Record<string, unknown> {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) return obj;
  return { ...obj, [key]: name(value) };
}

function nameNested(
  obj: Record<string, unknown>,
  key: string,
  inner: string,
  names: readonly string[],
): Record<string, unknown> {
  const child = obj[key];
  if (!isRecord(child)) return obj;
  const named = nameEnum(child, inner, (v) => enumName(names, v));
  return named === child ? obj : { ...obj, [key]: named };
}

/** A flow object with proto field names and enum names; anything else is returned as it is. */
export function canonicalFlow(value: unknown): unknown {
  const renamed = renameKeys(value, 0);
  if (!isRecord(renamed)) return renamed;
  let flow = renamed;
  flow = nameEnum(flow, 'verdict', (v) => enumName(VERDICTS, v));
  flow = nameEnum(flow, 'drop_reason_desc', dropReasonName);
  flow = nameEnum(flow, 'traffic_direction', (v) => enumName(TRAFFIC_DIRECTIONS, v));
  flow = nameEnum(flow, 'Type', (v) => enumName(FLOW_TYPES, v));
  flow = nameNested(flow, 'IP', 'ipVersion', IP_VERSIONS);
  flow = nameNested(flow, 'l7', 'type', L7_TYPES);
  return flow;
}

/** An exporter or `hubble observe` record with proto field names (`node_name`, `lost_events`); the flow inside is not touched. */
export function canonicalRecord(value: unknown): unknown {
  if (!isRecord(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const proto = PROTO_NAMES.get(key);
    if (proto === undefined || Object.hasOwn(value, proto)) continue;
    out ??= { ...value };
    out[proto] = value[key];
    delete out[key];
  }
  return out ?? value;
}
