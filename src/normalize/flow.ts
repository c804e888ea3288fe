import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../schema/event.ts';
import {
  type HubbleEndpoint,
  HubbleFlow,
  HubbleLostEvents,
  HubbleRecord,
  NON_FLOW_RECORDS,
  type NonFlowRecord,
} from '../schema/flow.ts';
import { canonicalJson } from './falco.ts';
import { canonicalFlow, canonicalRecord, dropReasonName } from './flow-canonical.ts';
import { redactFlow } from './flow-redact.ts';
import { klaxonSection } from './klaxon-section.ts';
import { describeIssue, withoutThrowing } from './reason.ts';
import { isRecord, sanitizeJson } from './redact.ts';
import { boundedTimestamp, canonicalTime } from './time.ts';
import type { NormalizeContext, NormalizeResult } from './types.ts';

/** A flow read from an exporter line, a `hubble observe` line or a bare `flow.Flow` object. */
export interface FlowRecord {
  /** The parsed flow (proto field names, enum names). */
  flow: HubbleFlow;
  /** The same flow as JSON, canonical form, not yet redacted. */
  raw: Record<string, unknown>;
  /** The record's `node_name` (the flow's own is kept in `raw`). */
  nodeName?: string;
  /** The record's `time`. */
  time?: string;
}

export type ParsedFlowRecord =
  | { ok: true; record: FlowRecord }
  /** A well-formed record that holds no flow: Hubble's lost-events notices, agent and debug events, relay node status. */
  | { ok: false; kind: NonFlowRecord; reason: string; lost?: number }
  | { ok: false; kind: 'invalid'; reason: string };

/** Top-level fields of `flow.Flow` that tell a bare flow from the other shapes Klaxon reads. */
const FLOW_FIELDS = [
  'verdict',
  'IP',
  'l4',
  'l7',
  'Type',
  'drop_reason_desc',
  'traffic_direction',
  'event_type',
  'is_reply',
];

/**
 * A Hubble record (`{"flow": {…}, "node_name": …, "time": …}`), a non-flow
 * record of the same streams, or a bare flow. Audit events (`auditID`) and
 * Falco alerts (`rule` with `output`) are not; a Falco alert's `source` is a
 * string, a flow's an object.
 */
export function isFlowShaped(raw: unknown): boolean {
  if (!isRecord(raw) || Object.hasOwn(raw, 'auditID') || Object.hasOwn(raw, 'output')) return false;
  const record = canonicalRecord(raw) as Record<string, unknown>;
  if (isRecord(record.flow)) return true;
  if (NON_FLOW_RECORDS.some((k) => isRecord(record[k]))) return true;
  const flow = canonicalFlow(raw) as Record<string, unknown>;
  return (
    FLOW_FIELDS.some((k) => Object.hasOwn(flow, k)) || isRecord(flow.source) || isRecord(flow.destination)
  );
}

function lostCount(value: unknown): number | undefined {
  const parsed = HubbleLostEvents.safeParse(value);
  if (!parsed.success) return undefined;
  const n = Number(parsed.data.num_events_lost ?? 0);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Splits a record into its flow (validated) or says what else it is. Pure; never throws on JSON input. */
export function parseFlowRecord(raw: unknown): ParsedFlowRecord {
  if (!isRecord(raw)) return { ok: false, kind: 'invalid', reason: 'expected a JSON object' };
  const canonical = canonicalRecord(raw) as Record<string, unknown>;
  let flowValue: unknown = raw;
  let nodeName: string | undefined;
  let time: string | undefined;
  if (Object.hasOwn(canonical, 'flow') || NON_FLOW_RECORDS.some((k) => Object.hasOwn(canonical, k))) {
    const record = HubbleRecord.safeParse(canonical);
    if (!record.success) return { ok: false, kind: 'invalid', reason: describeIssue(record.error.issues) };
    const other = NON_FLOW_RECORDS.find((k) => record.data[k] !== undefined && record.data[k] !== null);
    if (record.data.flow === undefined || record.data.flow === null) {
      if (other === undefined) return { ok: false, kind: 'invalid', reason: 'flow: expected an object' };
      const reason = `not a flow: ${other}`;
      if (other !== 'lost_events') return { ok: false, kind: other, reason };
      const lost = lostCount(record.data.lost_events);
      return lost === undefined
        ? { ok: false, kind: other, reason }
        : { ok: false, kind: other, reason: `${reason} (Hubble lost ${lost} events)`, lost };
    }
    if (!isRecord(record.data.flow))
      return { ok: false, kind: 'invalid', reason: 'flow: expected an object' };
    flowValue = record.data.flow;
    nodeName = record.data.node_name ?? undefined;
    time = record.data.time ?? undefined;
  } else if (!isFlowShaped(raw)) {
    return {
      ok: false,
      kind: 'invalid',
      reason: 'not a Hubble flow (no flow, verdict, IP, l4 or endpoints)',
    };
  }
  const flowRaw = canonicalFlow(flowValue) as Record<string, unknown>;
  const parsed = HubbleFlow.safeParse(flowRaw);
  if (!parsed.success) {
    const reason = describeIssue(parsed.error.issues);
    return { ok: false, kind: 'invalid', reason: flowValue === raw ? reason : `flow.${reason}` };
  }
  const record: FlowRecord = { flow: parsed.data, raw: flowRaw };
  if (nodeName) record.nodeName = nodeName;
  if (time) record.time = time;
  return { ok: true, record };
}

/** The drop reason's name, from `drop_reason_desc` or the deprecated numeric `drop_reason`. */
export function dropReasonOf(flow: HubbleFlow): string | undefined {
  if (flow.drop_reason_desc) return flow.drop_reason_desc;
  return flow.drop_reason ? dropReasonName(flow.drop_reason) : undefined;
}

/** Reserved identity numbers (pkg/identity/numericidentity.go) for flows whose labels a field mask removed. */
const RESERVED_IDENTITIES: readonly (string | undefined)[] = [
  undefined,
  'host',
  'world',
  'unmanaged',
  'health',
  'init',
  'remote-node',
  'kube-apiserver',
  'ingress',
  'world-ipv4',
  'world-ipv6',
];

/** The reserved entities an endpoint is (`world`, `host`, `remote-node`, `kube-apiserver`, …), as CiliumNetworkPolicy's `toEntities` names them. */
export function entitiesOf(ep: HubbleEndpoint): string[] {
  const out = new Set<string>();
  for (const label of ep.labels ?? []) {
    if (!label.startsWith('reserved:')) continue;
    const name = label.slice('reserved:'.length).split('=')[0]!;
    if (name !== '') out.add(name);
  }
  if (out.size === 0 && ep.identity) {
    const name = RESERVED_IDENTITIES[ep.identity];
    if (name) out.add(name);
  }
  // `world-ipv4`/`world-ipv6` (dual-stack clusters) are parts of `world`.
  if (out.has('world-ipv4') || out.has('world-ipv6')) out.add('world');
  return [...out];
}

type Side = NonNullable<NormalizedEvent['source']>;

function nonEmpty(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function endpointSide(
  ep: HubbleEndpoint | null | undefined,
  ip: string | undefined,
  port: number | undefined,
  names: readonly string[] | null | undefined,
): Side | undefined {
  const side: Side = {};
  if (ip) side.ip = ip;
  if (port !== undefined) side.port = port;
  const domain = nonEmpty(names?.[0]);
  if (domain) side.domain = domain;
  if (ep) {
    const namespace = nonEmpty(ep.namespace);
    const pod = nonEmpty(ep.pod_name);
    if (namespace) side.namespace = namespace;
    if (pod) side.pod = pod;
    const workload = ep.workloads?.find((w) => nonEmpty(w.name));
    // A bare pod (`kubectl run`) is its own workload, so grouping by workload still works.
    if (workload?.name)
      side.workload = { name: workload.name, ...(workload.kind ? { kind: workload.kind } : {}) };
    else if (pod) side.workload = { name: pod, kind: 'Pod' };
    if (ep.identity) side.identity = ep.identity;
    const entities = entitiesOf(ep);
    if (entities.length > 0) side.entity = entities;
    if (ep.labels && ep.labels.length > 0) side.labels = ep.labels;
  }
  return Object.keys(side).length > 0 ? side : undefined;
}

const TRANSPORTS = [
  ['TCP', 'tcp'],
  ['UDP', 'udp'],
  ['SCTP', 'sctp'],
  ['ICMPv4', 'icmp'],
  ['ICMPv6', 'ipv6-icmp'],
  ['VRRP', 'vrrp'],
  ['IGMP', 'igmp'],
] as const;

function transportOf(flow: HubbleFlow): { transport?: string; sport?: number; dport?: number } {
  const l4 = flow.l4;
  if (!l4) return {};
  for (const [key, name] of TRANSPORTS) {
    const proto = l4[key];
    if (!proto) continue;
    const ports = proto as { source_port?: number | null; destination_port?: number | null };
    const out: { transport: string; sport?: number; dport?: number } = { transport: name };
    if (ports.source_port) out.sport = ports.source_port;
    if (ports.destination_port) out.dport = ports.destination_port;
    return out;
  }
  return {};
}

type Direction = 'ingress' | 'egress' | 'unknown';

function directionOf(flow: HubbleFlow): Direction {
  if (flow.traffic_direction === 'INGRESS') return 'ingress';
  if (flow.traffic_direction === 'EGRESS') return 'egress';
  return 'unknown';
}

/**
 * The local endpoint of the connection, whose policy applies: the destination
 * of an ingress flow, the source of an egress one. Hubble's direction is the
 * connection's, so for a reply packet the two are the other way round. For an
 * unknown direction, the side that is a pod.
 */
export function enforcingSide(flow: HubbleFlow): HubbleEndpoint | undefined {
  const direction = directionOf(flow);
  const reply = flow.is_reply === true;
  if (direction === 'ingress') return (reply ? flow.source : flow.destination) ?? undefined;
  if (direction === 'egress') return (reply ? flow.destination : flow.source) ?? undefined;
  if (flow.source?.pod_name) return flow.source;
  return flow.destination?.pod_name ? flow.destination : undefined;
}

type Outcome = NormalizedEvent['event']['outcome'];

function verdictTypes(verdict: string, l7: boolean): { type: string[]; outcome: Outcome } {
  const kind = l7 ? 'protocol' : 'connection';
  if (verdict === 'DROPPED') return { type: [kind, 'denied'], outcome: 'failure' };
  // AUDIT: the packet went through; a policy in audit mode would have dropped it.
  if (verdict === 'FORWARDED' || verdict === 'REDIRECTED' || verdict === 'AUDIT')
    return { type: [kind, 'allowed'], outcome: 'success' };
  return { type: [kind], outcome: 'unknown' };
}

/** Names of the policies that denied the flow (`*_denied_by`, set for CiliumNetworkPolicy deny rules). */
function denyingPolicies(flow: HubbleFlow): string[] {
  const names = new Set<string>();
  for (const policy of [...(flow.ingress_denied_by ?? []), ...(flow.egress_denied_by ?? [])]) {
    const name = nonEmpty(policy.name);
    if (name) names.add(name);
  }
  return [...names];
}

/** The node name without the `<cluster>/` prefix Cilium adds: the cluster is Klaxon's to say. */
function bareNode(name: string | null | undefined): string | undefined {
  const value = nonEmpty(name);
  if (!value) return undefined;
  return nonEmpty(value.slice(value.lastIndexOf('/') + 1));
}

function setL7(event: NormalizedEvent, flow: HubbleFlow): void {
  const l7 = flow.l7;
  if (!l7) return;
  const query = nonEmpty(l7.dns?.query);
  if (query) {
    event.network!.protocol = 'dns';
    event.dns = { question: { name: query.endsWith('.') ? query.slice(0, -1) : query } };
  } else if (l7.http) {
    event.network!.protocol = 'http';
    const http: NonNullable<NormalizedEvent['http']> = {};
    const method = nonEmpty(l7.http.method);
    if (method) http.request = { method };
    if (l7.http.code) http.response = { status_code: l7.http.code };
    if (Object.keys(http).length > 0) event.http = http;
  } else if (l7.kafka) {
    event.network!.protocol = 'kafka';
  }
}

/**
 * A parsed Hubble flow → normalized event. `hubble.flow` is the canonical
 * flow with the secrets of L7 HTTP flows redacted. Pure; never throws.
 */
export function normalizeFlowRecord(record: FlowRecord, ctx: NormalizeContext): NormalizeResult {
  return withoutThrowing((r, c) => toEvent(r as FlowRecord, c), record, ctx);
}

/** An exporter or `hubble observe` record, or a bare flow → normalized event. Pure; never throws. */
export function normalizeFlow(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  return withoutThrowing(
    (r, c) => {
      const parsed = parseFlowRecord(r);
      if (parsed.ok) return toEvent(parsed.record, c);
      return parsed.kind === 'invalid'
        ? { ok: false, reason: parsed.reason }
        : { ok: false, reason: parsed.reason, skip: true };
    },
    raw,
    ctx,
  );
}

function toEvent(record: FlowRecord, ctx: NormalizeContext): NormalizeResult {
  const { flow } = record;
  const own = canonicalTime(flow.time) ?? canonicalTime(record.time) ?? canonicalTime(ctx.receivedAt);
  if (own === undefined) return { ok: false, reason: 'missing or invalid time' };
  // A sender must not date flows into the future, where they would move correlation windows and clocks.
  const time = boundedTimestamp(own, ctx.receivedAt, ctx.maxAheadMs);

  const redaction = redactFlow(record.raw);
  const sanitized = sanitizeJson(redaction.value);
  const original = sanitized.value;
  const nodeName = nonEmpty(flow.node_name) ?? nonEmpty(record.nodeName);
  const id = createHash('sha256')
    .update(canonicalJson({ flow: original, node_name: nodeName }))
    .digest('hex');

  const verdict = nonEmpty(flow.verdict) ?? 'VERDICT_UNKNOWN';
  const { type, outcome } = verdictTypes(verdict, flow.Type === 'L7' || Boolean(flow.l7));
  const event: NormalizedEvent = {
    '@timestamp': time.timestamp,
    event: {
      kind: 'event',
      dataset: 'cilium.hubble',
      action: verdict.toLowerCase(),
      outcome,
      id,
      category: ['network'],
      type,
    },
    orchestrator: { type: 'kubernetes', cluster: { name: ctx.cluster } },
    network: { direction: directionOf(flow) },
    hubble: { flow: original },
  };
  if (ctx.receivedAt !== undefined) event.event.ingested = ctx.receivedAt;
  const reason = verdict === 'DROPPED' ? dropReasonOf(flow) : undefined;
  if (reason) event.event.reason = reason;

  const { transport, sport, dport } = transportOf(flow);
  if (transport) event.network!.transport = transport;
  if (flow.IP?.ipVersion === 'IPv4') event.network!.type = 'ipv4';
  else if (flow.IP?.ipVersion === 'IPv6') event.network!.type = 'ipv6';
  const sourceIp = nonEmpty(flow.IP?.source);
  const destinationIp = nonEmpty(flow.IP?.destination);
  const source = endpointSide(flow.source, sourceIp, sport, flow.source_names);
  const destination = endpointSide(flow.destination, destinationIp, dport, flow.destination_names);
  if (source) event.source = source;
  if (destination) event.destination = destination;
  const ips = [...new Set([sourceIp, destinationIp].filter((ip): ip is string => ip !== undefined))];
  if (ips.length > 0) event.related = { ip: ips };

  const side = enforcingSide(flow);
  const namespace = nonEmpty(side?.namespace);
  const pod = nonEmpty(side?.pod_name);
  if (namespace) event.orchestrator.namespace = namespace;
  if (pod) event.orchestrator.resource = { type: 'pods', name: pod };

  const policies = denyingPolicies(flow);
  if (policies.length > 0) event.rule = { name: policies };
  const host = bareNode(nodeName);
  if (host) event.host = { hostname: host };
  setL7(event, flow);
  const redacted = [...redaction.redacted, ...sanitized.redacted].map((p) => `/hubble/flow${p}`);
  const klaxon = klaxonSection({ redacted, claimedTimestamp: time.claimed });
  if (klaxon) event.klaxon = klaxon;
  return { ok: true, event };
}
