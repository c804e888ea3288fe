import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFlowShaped, normalizeFlow, parseFlowRecord } from '../../../src/normalize/flow.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';
import { parseHubbleText } from '../../../src/sources/hubble.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const ctx = { cluster: 'eu-prod-credential', receivedAt: '2026-11-30T12:00:00.000Z' };

function records(file: string): unknown[] {
  const parsed = parseHubbleText(readFileSync(join(FIXTURES, file), 'utf8'));
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.items.map((item) => {
    if ('error' in item) throw new Error(item.error);
    return item.raw;
  });
}

function events(file: string): NormalizedEvent[] {
  return records(file).map((raw) => {
    const result = normalizeFlow(raw, ctx);
    if (!result.ok) throw new Error(result.reason);
    return result.event;
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('normalizeFlow: Hubble flows → ECS', () => {
  it('a drop by a Kubernetes NetworkPolicy (default deny ingress): denied at the destination pod, no policy named', () => {
    const [verdict, drop] = events('drop-networkpolicy.jsonl');
    for (const e of [verdict!, drop!]) {
      expect(e.event).toMatchObject({
        kind: 'event',
        dataset: 'cilium.hubble',
        action: 'dropped',
        outcome: 'failure',
        category: ['network'],
        type: ['connection', 'denied'],
        reason: 'POLICY_DENIED',
        ingested: ctx.receivedAt,
      });
      expect(e['@timestamp']).toMatch(/^2026-11-30T09:14:07\.1125839\d\dZ$/);
      expect(e.network).toEqual({ direction: 'ingress', transport: 'tcp', type: 'ipv4' });
      expect(e.orchestrator).toEqual({
        type: 'kubernetes',
        cluster: { name: 'eu-prod-credential' },
        namespace: 'payments',
        resource: { type: 'pods', name: 'payments-api-5c8f9d7b86-kq4tz' },
      });
      expect(e.source).toMatchObject({
        ip: '10.0.12.87',
        port: 43312,
        namespace: 'shop',
        pod: 'cart-7d9c6b5f4-x2x8q',
        workload: { name: 'cart', kind: 'Deployment' },
        identity: 48213,
      });
      expect(e.source?.labels).toContain('k8s:app.kubernetes.io/name=cart');
      expect(e.source?.entity).toBeUndefined();
      expect(e.destination).toMatchObject({ ip: '10.0.21.144', port: 8443, namespace: 'payments' });
      expect(e.destination?.labels).toContain('k8s:io.cilium.k8s.namespace.labels.klaxon.io/sensitive=true');
      expect(e.related).toEqual({ ip: ['10.0.12.87', '10.0.21.144'] });
      expect(e.host).toEqual({ hostname: 'ip-10-0-21-58.eu-west-1.compute.internal' });
      // Kubernetes NetworkPolicies have no deny rules: Hubble names no denying policy.
      expect(e.rule).toBeUndefined();
    }
    expect(verdict!.hubble?.flow.event_type).toEqual({ type: 5 });
    expect(drop!.hubble?.flow.event_type).toEqual({ type: 1, sub_type: 133 });
    expect(verdict!.event.id).not.toBe(drop!.event.id);
  });

  it('a drop by a CiliumNetworkPolicy deny rule names the policy in rule.name, on the egress side', () => {
    const [verdict, drop] = events('drop-ciliumnetworkpolicy.jsonl');
    expect(verdict!.rule).toEqual({ name: ['deny-instance-metadata'] });
    expect(verdict!.event.reason).toBe('POLICY_DENY');
    expect(verdict!.network?.direction).toBe('egress');
    expect(verdict!.orchestrator.namespace).toBe('ci');
    expect(verdict!.orchestrator.resource?.name).toBe('runner-xjz4kq2m-project-42-concurrent-0-7h2lp');
    // A bare pod (no owner) is its own workload, so correlations can still group by workload.
    expect(verdict!.source?.workload).toEqual({
      name: 'runner-xjz4kq2m-project-42-concurrent-0-7h2lp',
      kind: 'Pod',
    });
    expect(verdict!.destination).toEqual({
      ip: '169.254.169.254',
      port: 80,
      identity: 16777219,
      entity: ['world'],
      labels: ['cidr:169.254.169.254/32', 'reserved:world'],
    });
    // The drop notification is not correlated to a policy by Hubble.
    expect(drop!.rule).toBeUndefined();
    expect(drop!.event.reason).toBe('POLICY_DENY');
  });

  it('an audit-mode verdict: the flow went through, a policy in audit mode would have dropped it', () => {
    const [e] = events('audit-verdict.jsonl');
    expect(e!.event).toMatchObject({ action: 'audit', outcome: 'success', type: ['connection', 'allowed'] });
    expect(e!.event.reason).toBeUndefined();
    expect(e!.orchestrator.namespace).toBe('data');
    expect(e!.destination?.workload).toEqual({ name: 'postgres', kind: 'StatefulSet' });
  });

  it('IPv6 flows, from hubble observe -o jsonpb', () => {
    const [redis, imds, icmp] = events('observe-ipv6.jsonl');
    expect(redis!.network).toEqual({ direction: 'ingress', transport: 'tcp', type: 'ipv6' });
    expect(redis!.source?.ip).toBe('2a05:d018:1e3:8c01:d3f2::4');
    expect(redis!.destination).toMatchObject({ ip: '2a05:d018:1e3:8c03:71a9::2', port: 6379 });
    expect(imds!.event).toMatchObject({ action: 'forwarded', type: ['connection', 'allowed'] });
    // world-ipv6 is a part of world.
    expect(imds!.destination?.entity).toEqual(['world-ipv6', 'world']);
    expect(imds!.destination?.ip).toBe('fd00:ec2::254');
    // A router solicitation dropped by the datapath: no ports, no endpoints, not a policy drop.
    expect(icmp!.network).toEqual({ direction: 'unknown', transport: 'ipv6-icmp', type: 'ipv6' });
    expect(icmp!.event.reason).toBe('INVALID_SOURCE_IP');
    expect(icmp!.source).toEqual({ ip: 'fe80::64d8:8aff:fe72:fc14' });
    expect(icmp!.orchestrator.namespace).toBeUndefined();
    expect(icmp!.host?.hostname).toBe('ip-10-1-4-17.eu-west-1.compute.internal');
  });

  it('reply flows keep the addresses as observed (server → client) and say so in the original flow', () => {
    const [request, reply, imdsReply] = events('reply-flows.jsonl');
    expect(request!.destination?.port).toBe(10250);
    expect(reply!.source).toMatchObject({ ip: '10.0.21.58', port: 10250, entity: ['remote-node'] });
    expect(reply!.hubble?.flow.is_reply).toBe(true);
    expect(imdsReply!.source).toMatchObject({ ip: '169.254.169.254', port: 80 });
    expect(imdsReply!.orchestrator.namespace).toBe('kube-system');
  });

  it('flows with no Kubernetes endpoint on one side: world, remote node, host, kube-apiserver, an FQDN', () => {
    const [fromWorld, fromNode, probe, toApiserver, toFqdn] = events('no-kubernetes-endpoint.jsonl');
    expect(fromWorld!.source).toEqual({
      ip: '198.51.100.77',
      port: 51234,
      identity: 2,
      entity: ['world'],
      labels: ['reserved:world'],
    });
    expect(fromWorld!.orchestrator.namespace).toBe('shop');
    expect(fromNode!.source?.entity).toEqual(['remote-node']);
    expect(probe!.source?.entity).toEqual(['host']);
    expect(probe!.event.action).toBe('forwarded');
    expect(toApiserver!.destination?.entity).toEqual(['kube-apiserver', 'remote-node']);
    expect(toApiserver!.hubble?.flow.destination_service).toEqual({
      name: 'kubernetes',
      namespace: 'default',
    });
    expect(toFqdn!.destination).toMatchObject({ domain: 'pastebin.com', entity: ['world'], port: 443 });
    expect(toFqdn!.orchestrator.namespace).toBe('shop');
  });

  it('L7 flows: DNS through the proxy, a refused lookup, HTTP with its credentials redacted, an L7 denial', () => {
    const [query, answer, refused, http, denied] = events('l7-dns-http.jsonl');
    expect(query!.event.type).toEqual(['protocol', 'allowed']);
    expect(query!.network).toMatchObject({ protocol: 'dns', transport: 'udp' });
    expect(query!.dns).toEqual({ question: { name: 'payments-api.payments.svc.cluster.local' } });
    expect(answer!.hubble?.flow.l7).toMatchObject({ type: 'RESPONSE', latency_ns: '1664508' });
    expect(refused!.event).toMatchObject({
      action: 'dropped',
      type: ['protocol', 'denied'],
      outcome: 'failure',
    });
    expect(refused!.dns?.question.name).toBe('pool.supportxmr.com');
    expect(http!.network?.protocol).toBe('http');
    expect(http!.http).toEqual({ request: { method: 'GET' } });
    const text = JSON.stringify(http);
    expect(text).not.toContain('eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9');
    expect(text).not.toContain('8f14e45fceea167a5a36dedd4bea2543');
    expect(text).toContain('currency=EUR');
    expect(http!.klaxon?.redacted).toEqual([
      '/hubble/flow/l7/http/headers/1/value',
      '/hubble/flow/l7/http/url',
    ]);
    expect(denied!.event.type).toEqual(['protocol', 'denied']);
    expect(denied!.orchestrator.namespace).toBe('payments');
  });

  it('the cluster is the credential’s: the flow’s cluster_name and the node’s cluster prefix stay in the original only', () => {
    for (const file of ['drop-networkpolicy.jsonl', 'observe-ipv6.jsonl', 'no-kubernetes-endpoint.jsonl'])
      for (const e of events(file)) {
        expect(e.orchestrator.cluster.name).toBe('eu-prod-credential');
        expect(e.host?.hostname).not.toContain('/');
      }
    const [e] = events('drop-ciliumnetworkpolicy.jsonl');
    expect(e!.hubble!.flow.source).toMatchObject({ cluster_name: 'prod-eu' });
  });

  it('every field of a normalized flow is in the event schema (Kafka consumers decode with it)', () => {
    for (const file of [
      'drop-networkpolicy.jsonl',
      'drop-ciliumnetworkpolicy.jsonl',
      'audit-verdict.jsonl',
      'observe-ipv6.jsonl',
      'reply-flows.jsonl',
      'no-kubernetes-endpoint.jsonl',
      'l7-dns-http.jsonl',
    ])
      for (const e of events(file)) expect(NormalizedEvent.parse(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });

  it('event.id is a content id: the same flow gives the same id whatever its key order or JSON names', () => {
    const [line] = readFileSync(join(FIXTURES, 'drop-ciliumnetworkpolicy.jsonl'), 'utf8').split('\n');
    const raw = JSON.parse(line!) as { flow: Record<string, unknown>; node_name: string };
    const reordered = {
      time: raw.flow.time,
      flow: Object.fromEntries(Object.entries(raw.flow).reverse()),
      node_name: raw.node_name,
    };
    const [camel] = records('camelcase-names.jsonl');
    const a = normalizeFlow(raw, ctx);
    const b = normalizeFlow(reordered, ctx);
    const c = normalizeFlow(camel, ctx);
    if (!a.ok || !b.ok || !c.ok) throw new Error('refused');
    expect(b.event.event.id).toBe(a.event.event.id);
    // camelCase JSON names (protojson defaults, Python's MessageToJson) read the same as the proto names.
    expect(c.event).toEqual(a.event);
    const other = normalizeFlow(
      { ...raw, flow: { ...raw.flow, uuid: 'f0f0f0f0-0000-4000-8000-000000000000' } },
      ctx,
    );
    if (!other.ok) throw new Error(other.reason);
    expect(other.event.event.id).not.toBe(a.event.event.id);
    expect(a.event.event.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('enums written as numbers are read as their names', () => {
    const result = normalizeFlow(
      {
        time: '2026-11-30T09:00:00.5Z',
        verdict: 2,
        drop_reason_desc: 133,
        traffic_direction: 1,
        Type: 1,
        IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
        l4: { TCP: { source_port: 40000, destination_port: 5432 } },
        destination: { namespace: 'data', pod_name: 'postgres-0' },
      },
      ctx,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.event.event).toMatchObject({
      action: 'dropped',
      reason: 'POLICY_DENIED',
      type: ['connection', 'denied'],
    });
    expect(result.event.network).toEqual({ direction: 'ingress', transport: 'tcp', type: 'ipv4' });
    expect(result.event.hubble?.flow).toMatchObject({
      verdict: 'DROPPED',
      traffic_direction: 'INGRESS',
      Type: 'L3_L4',
    });
  });

  it('time: the flow’s, else the record’s, else when Klaxon received it', () => {
    const flow = { verdict: 'DROPPED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } };
    const fromRecord = normalizeFlow({ flow, time: '2026-11-30T09:00:01.000000001Z' }, ctx);
    const fromReceipt = normalizeFlow({ flow }, ctx);
    const none = normalizeFlow({ flow }, { cluster: 'c' });
    expect(fromRecord.ok && fromRecord.event['@timestamp']).toBe('2026-11-30T09:00:01.000000001Z');
    expect(fromReceipt.ok && fromReceipt.event['@timestamp']).toBe(ctx.receivedAt);
    expect(none).toEqual({ ok: false, reason: 'missing or invalid time' });
  });

  it('a flow dated ahead of its receipt is filed under the receive time, its claim kept (issue 22)', () => {
    const flow = { verdict: 'DROPPED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } };
    const future = normalizeFlow({ flow: { ...flow, time: '2031-01-01T00:00:00.000000001Z' } }, ctx);
    if (!future.ok) throw new Error(future.reason);
    expect(future.event['@timestamp']).toBe(ctx.receivedAt);
    expect(future.event.klaxon?.claimed_timestamp).toBe('2031-01-01T00:00:00.000000001Z');
    // The record's time is the sender's word as much as the flow's.
    const recordTime = normalizeFlow({ flow, time: '2026-11-30T12:05:00Z' }, ctx);
    expect(recordTime.ok && recordTime.event['@timestamp']).toBe(ctx.receivedAt);
    expect(recordTime.ok && recordTime.event.klaxon?.claimed_timestamp).toBe('2026-11-30T12:05:00Z');
    // Within the allowed skew (default 60 s), and a tighter one that the context sets.
    const skew = normalizeFlow({ flow: { ...flow, time: '2026-11-30T12:00:30Z' } }, ctx);
    expect(skew.ok && skew.event['@timestamp']).toBe('2026-11-30T12:00:30Z');
    expect(skew.ok && skew.event.klaxon).toBeUndefined();
    const tight = normalizeFlow(
      { flow: { ...flow, time: '2026-11-30T12:00:30Z' } },
      { ...ctx, maxAheadMs: 10_000 },
    );
    expect(tight.ok && tight.event['@timestamp']).toBe(ctx.receivedAt);
    // The past is the sender's to say (replays, a shipper's backlog).
    const past = normalizeFlow({ flow: { ...flow, time: '2026-11-01T00:00:00Z' } }, ctx);
    expect(past.ok && past.event['@timestamp']).toBe('2026-11-01T00:00:00Z');
  });

  it('the cluster is the credential’s: a ClusterMesh cluster_name or a node_name prefix stay raw fields', () => {
    const result = normalizeFlow(
      {
        flow: {
          time: '2026-11-30T09:00:00Z',
          verdict: 'DROPPED',
          drop_reason_desc: 'POLICY_DENIED',
          IP: { source: '10.0.0.1', destination: '10.0.0.2' },
          source: { cluster_name: 'attacker-cluster', namespace: 'shop', pod_name: 'web-1' },
          destination: { cluster_name: 'other', namespace: 'data', pod_name: 'db-0' },
          node_name: 'spoofed-cluster/node-a',
          traffic_direction: 'EGRESS',
        },
        node_name: 'another-cluster/node-b',
      },
      ctx,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.event.orchestrator.cluster).toEqual({ name: ctx.cluster });
    expect(result.event.host).toEqual({ hostname: 'node-a' });
    expect(JSON.stringify({ ...result.event, hubble: undefined })).not.toMatch(
      /attacker|spoofed|another-cluster/,
    );
    expect(result.event.hubble?.flow).toMatchObject({ node_name: 'spoofed-cluster/node-a' });
  });

  it('does not modify its input', () => {
    for (const raw of records('l7-dns-http.jsonl')) {
      const before = JSON.stringify(raw);
      expect(normalizeFlow(deepFreeze(raw), ctx).ok).toBe(true);
      expect(JSON.stringify(raw)).toBe(before);
    }
  });

  it('says why it refuses what is not a flow', () => {
    expect(normalizeFlow('text', ctx)).toEqual({ ok: false, reason: 'expected a JSON object' });
    expect(normalizeFlow({}, ctx)).toEqual({
      ok: false,
      reason: 'not a Hubble flow (no flow, verdict, IP, l4 or endpoints)',
    });
    expect(normalizeFlow({ flow: 5, node_name: 'n' }, ctx)).toEqual({
      ok: false,
      reason: 'flow: expected an object',
    });
    expect(normalizeFlow({ verdict: { a: 1 } }, ctx)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^verdict: /),
    });
    expect(normalizeFlow({ flow: { l4: { TCP: { destination_port: -1 } } } }, ctx)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^flow\.l4\.TCP\.destination_port: /),
    });
    expect(normalizeFlow({ node_name: 'n', time: '2026-11-30T09:00:00Z' }, ctx).ok).toBe(false);
  });

  it('lost-events notices are records, not flows, and say how many flows are missing', () => {
    const [lost] = records('lost-events.jsonl');
    expect(parseFlowRecord(lost)).toEqual({
      ok: false,
      kind: 'lost_events',
      reason: 'not a flow: lost_events (Hubble lost 312 events)',
      lost: 312,
    });
    expect(normalizeFlow(lost, ctx)).toEqual({
      ok: false,
      reason: 'not a flow: lost_events (Hubble lost 312 events)',
      skip: true,
    });
    expect(normalizeFlow({ node_status: { state: 'NODE_CONNECTED' } }, ctx)).toMatchObject({ skip: true });
    expect(normalizeFlow({ flow: 'x' }, ctx)).not.toHaveProperty('skip');
    expect(parseFlowRecord({ agent_event: { type: 'ENDPOINT_CREATED' }, node_name: 'n' })).toMatchObject({
      kind: 'agent_event',
    });
  });

  it('tells flows from audit events and Falco alerts', () => {
    for (const raw of records('no-kubernetes-endpoint.jsonl')) {
      expect(isFlowShaped(raw)).toBe(true);
      expect(isFlowShaped((raw as { flow: unknown }).flow)).toBe(true);
    }
    expect(isFlowShaped(records('lost-events.jsonl')[0])).toBe(true);
    expect(isFlowShaped({ kind: 'Event', auditID: 'a', verb: 'get', sourceIPs: ['10.0.0.1'] })).toBe(false);
    expect(
      isFlowShaped({
        rule: 'Terminal shell in container',
        priority: 'Notice',
        output: 'o',
        source: 'syscall',
      }),
    ).toBe(false);
    expect(isFlowShaped({ verb: 'get' })).toBe(false);
    expect(isFlowShaped([])).toBe(false);
  });
});
