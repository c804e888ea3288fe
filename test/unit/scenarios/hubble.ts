/**
 * Builders for Hubble flows as the Hubble exporter writes them (Cilium 1.19: protojson with proto field names, in
 * declaration order, zero values left out; one `{"flow": …, "node_name": …, "time": …}` record a line). See
 * docs/hubble.md for where each shape comes from. Deterministic: same calls, same records.
 */
import { uuid } from './k8s.ts';

export type Json = Record<string, unknown>;

/** 2026-11-30T09:00:00Z: the flow scenarios' clock starts here. */
export const FLOW_T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
export const CLUSTER = 'prod-eu';

/** RFC 3339 with nanoseconds, as protojson writes a Timestamp. */
export function nanos(ms: number, extraNanos: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  const frac = `${iso.slice(20, 23)}${String(Math.floor(extraNanos) % 1_000_000).padStart(6, '0')}`;
  return `${iso.slice(0, 19)}.${frac}Z`;
}

export interface Node {
  name: string;
  ip: string;
  zone: string;
}

export const NODES: readonly Node[] = [
  { name: 'ip-10-0-11-21.eu-west-1.compute.internal', ip: '10.0.11.21', zone: 'eu-west-1a' },
  { name: 'ip-10-0-12-34.eu-west-1.compute.internal', ip: '10.0.12.34', zone: 'eu-west-1b' },
  { name: 'ip-10-0-21-58.eu-west-1.compute.internal', ip: '10.0.21.58', zone: 'eu-west-1c' },
];

export interface Pod {
  namespace: string;
  name: string;
  ip: string;
  identity: number;
  labels: string[];
  workload?: { name: string; kind: string };
  node: Node;
  /** The local endpoint id on its node. */
  id: number;
}

/** Cilium's label set of a pod: its own labels, its namespace's, the cluster, the service account; sorted. */
export function podLabels(
  namespace: string,
  own: Record<string, string>,
  serviceAccount: string,
  namespaceLabels: Record<string, string> = {},
): string[] {
  const labels = Object.entries(own).map(([k, v]) => `k8s:${k}=${v}`);
  for (const [k, v] of Object.entries({ 'kubernetes.io/metadata.name': namespace, ...namespaceLabels }))
    labels.push(`k8s:io.cilium.k8s.namespace.labels.${k}=${v}`);
  labels.push(
    `k8s:io.cilium.k8s.policy.cluster=${CLUSTER}`,
    `k8s:io.cilium.k8s.policy.serviceaccount=${serviceAccount}`,
    `k8s:io.kubernetes.pod.namespace=${namespace}`,
  );
  return labels.sort();
}

/** A reserved or CIDR identity: no pod behind it. */
export interface Peer {
  ip: string;
  identity: number;
  labels: string[];
  names?: string[];
}

export const world = (ip: string, names?: string[]): Peer => ({
  ip,
  identity: 2,
  labels: ['reserved:world'],
  ...(names ? { names } : {}),
});
export const host = (node: Node): Peer => ({ ip: node.ip, identity: 1, labels: ['reserved:host'] });
export const remoteNode = (node: Node): Peer => ({
  ip: node.ip,
  identity: 6,
  labels: ['reserved:remote-node'],
});
export const kubeApiserver = (ip: string): Peer => ({
  ip,
  identity: 7,
  labels: ['reserved:kube-apiserver', 'reserved:remote-node'],
});

export type Side = Pod | Peer;

function isPod(side: Side): side is Pod {
  return 'namespace' in side;
}

function endpoint(side: Side, local: boolean): Json {
  if (!isPod(side)) return { identity: side.identity, labels: side.labels };
  const ep: Json = {};
  if (local) ep.ID = side.id;
  ep.identity = side.identity;
  ep.cluster_name = CLUSTER;
  ep.namespace = side.namespace;
  ep.labels = side.labels;
  ep.pod_name = side.name;
  if (side.workload) ep.workloads = [side.workload];
  return ep;
}

function mac(seed: string): string {
  return uuid(`mac:${seed}`)
    .replaceAll('-', '')
    .slice(0, 12)
    .replace(/(..)(?!$)/g, '$1:');
}

export type Verdict = 'FORWARDED' | 'DROPPED' | 'AUDIT';
export type Transport = 'TCP' | 'UDP';

export interface FlowSpec {
  at: number;
  /** Sub-millisecond part, so flows in the same millisecond differ. */
  nanos?: number;
  src: Side;
  dst: Side;
  sport: number;
  dport: number;
  transport?: Transport;
  verdict: Verdict;
  /** Monitor event: 4 trace, 5 policy verdict, 1 drop, 129 L7. */
  eventType: 1 | 4 | 5 | 129;
  direction: 'INGRESS' | 'EGRESS';
  reply?: boolean;
  flags?: Record<string, boolean>;
  dropReason?: [number, string];
  /** Trace observation point (event type 4). */
  observation?: 'TO_STACK' | 'TO_ENDPOINT';
  /** The node that saw it (default: the enforcing pod's node). */
  node?: Node;
  l7?: Json;
  allowedBy?: Json[];
  deniedBy?: Json[];
  destinationNames?: string[];
  destinationService?: { name: string; namespace: string };
}

const TRACE_SUB_TYPE = { TO_ENDPOINT: 0, TO_STACK: 3 } as const;

/** One exporter record, fields in flow.proto's declaration order as protojson writes them. */
export function flowRecord(spec: FlowSpec): Json {
  const time = nanos(spec.at, spec.nanos ?? 0);
  const enforcing = spec.direction === 'INGRESS' ? spec.dst : spec.src;
  const node = spec.node ?? (isPod(enforcing) ? enforcing.node : NODES[0]!);
  const nodeName = `${CLUSTER}/${node.name}`;
  const transport = spec.transport ?? 'TCP';
  const l7 = spec.eventType === 129;
  const flow: Json = {
    time,
    uuid: uuid(`flow:${time}:${spec.src.ip}:${spec.sport}:${spec.dst.ip}:${spec.dport}:${spec.eventType}`),
    emitter: { name: 'Hubble', version: '1.19.4' },
    verdict: spec.verdict,
  };
  if (spec.dropReason) flow.drop_reason = spec.dropReason[0];
  if (!l7) flow.ethernet = { source: mac(spec.src.ip), destination: mac(spec.dst.ip) };
  flow.IP = { source: spec.src.ip, destination: spec.dst.ip, ipVersion: 'IPv4' };
  const ports: Json = { source_port: spec.sport, destination_port: spec.dport };
  if (transport === 'TCP' && spec.flags) ports.flags = spec.flags;
  flow.l4 = { [transport]: ports };
  flow.source = endpoint(spec.src, isPod(spec.src) && spec.src.node === node);
  flow.destination = endpoint(spec.dst, isPod(spec.dst) && spec.dst.node === node);
  flow.Type = l7 ? 'L7' : 'L3_L4';
  flow.node_name = nodeName;
  if (!isPod(spec.dst) && spec.destinationNames) flow.destination_names = spec.destinationNames;
  if (spec.l7) flow.l7 = spec.l7;
  flow.event_type =
    spec.eventType === 4
      ? { type: 4, sub_type: TRACE_SUB_TYPE[spec.observation ?? 'TO_STACK'] }
      : spec.eventType === 1
        ? { type: 1, sub_type: spec.dropReason?.[0] ?? 133 }
        : { type: spec.eventType };
  if (spec.destinationService) flow.destination_service = spec.destinationService;
  flow.traffic_direction = spec.direction;
  if (spec.eventType === 4) {
    flow.trace_observation_point = spec.observation ?? 'TO_STACK';
    flow.trace_reason = spec.reply ? 'REPLY' : 'NEW';
  }
  if (spec.dropReason) flow.drop_reason_desc = spec.dropReason[1];
  if (spec.eventType !== 1) flow.is_reply = spec.reply ?? false;
  if (!l7 && spec.flags) flow.Summary = `TCP Flags: ${Object.keys(spec.flags).join(', ')}`;
  if (spec.allowedBy)
    flow[spec.direction === 'INGRESS' ? 'ingress_allowed_by' : 'egress_allowed_by'] = spec.allowedBy;
  if (spec.deniedBy)
    flow[spec.direction === 'INGRESS' ? 'ingress_denied_by' : 'egress_denied_by'] = spec.deniedBy;
  return { flow, node_name: nodeName, time };
}

/** A policy as network-policy correlation reports it. */
export function policy(kind: string, namespace: string, name: string, revision: number): Json {
  return {
    name,
    namespace,
    labels: [
      `k8s:io.cilium.k8s.policy.derived-from=${kind}`,
      `k8s:io.cilium.k8s.policy.name=${name}`,
      `k8s:io.cilium.k8s.policy.namespace=${namespace}`,
      `k8s:io.cilium.k8s.policy.uid=${uuid(`policy:${namespace}/${name}`)}`,
    ],
    revision: String(revision),
    kind,
  };
}

const SYN = { SYN: true };
const SYN_ACK = { SYN: true, ACK: true };

/**
 * A TCP connection as a node reports it with the default monitor aggregation: the SYN leaving the client, the
 * policy verdict at the server when a policy selects it, and the SYN-ACK back to the client.
 */
export function connection(
  at: number,
  src: Side,
  dst: Side,
  sport: number,
  dport: number,
  allowedBy?: Json[],
): Json[] {
  const out: Json[] = [];
  const srcNode = isPod(src) ? src.node : undefined;
  out.push(
    flowRecord({
      at,
      nanos: 1000,
      src,
      dst,
      sport,
      dport,
      verdict: 'FORWARDED',
      eventType: 4,
      direction: 'EGRESS',
      flags: SYN,
      observation: 'TO_STACK',
      ...(srcNode ? { node: srcNode } : {}),
    }),
  );
  if (allowedBy && isPod(dst))
    out.push(
      flowRecord({
        at,
        nanos: 350_000,
        src,
        dst,
        sport,
        dport,
        verdict: 'FORWARDED',
        eventType: 5,
        direction: 'INGRESS',
        flags: SYN,
        allowedBy,
      }),
    );
  if (isPod(src))
    out.push(
      flowRecord({
        at: at + 1,
        nanos: 120_000,
        src: dst,
        dst: src,
        sport: dport,
        dport: sport,
        verdict: 'FORWARDED',
        eventType: 4,
        direction: 'EGRESS',
        reply: true,
        flags: SYN_ACK,
        observation: 'TO_ENDPOINT',
        node: src.node,
      }),
    );
  return out;
}

/** A policy drop as the enforcing node reports it: the policy verdict and the drop notification. */
export function policyDrop(
  at: number,
  src: Side,
  dst: Side,
  sport: number,
  dport: number,
  direction: 'INGRESS' | 'EGRESS',
  deniedBy?: Json[],
): Json[] {
  const reason: [number, string] = deniedBy ? [181, 'POLICY_DENY'] : [133, 'POLICY_DENIED'];
  const base = { at, src, dst, sport, dport, direction, flags: SYN, dropReason: reason } as const;
  return [
    flowRecord({ ...base, nanos: 2000, verdict: 'DROPPED', eventType: 5, ...(deniedBy ? { deniedBy } : {}) }),
    flowRecord({ ...base, nanos: 9000, verdict: 'DROPPED', eventType: 1 }),
  ];
}
