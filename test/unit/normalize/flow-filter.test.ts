import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeFlow, parseFlowRecord } from '../../../src/normalize/flow.ts';
import {
  compileFlowFilter,
  type FlowDecision,
  FlowFilterOptions,
} from '../../../src/normalize/flow-filter.ts';
import { DropMetricNamespaces, dropMetricLabels } from '../../../src/normalize/flow-metric-labels.ts';
import type { HubbleFlow } from '../../../src/schema/flow.ts';
import { parseHubbleText } from '../../../src/sources/hubble.ts';
import { neighbourScan, quietFlowsHour } from '../scenarios/quiet-flows.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');

function flows(file: string): HubbleFlow[] {
  const parsed = parseHubbleText(readFileSync(join(FIXTURES, file), 'utf8'));
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.items.map((item) => {
    const record = 'raw' in item ? parseFlowRecord(item.raw) : undefined;
    if (!record?.ok) throw new Error(`not a flow in ${file}`);
    return record.record.flow;
  });
}

function flowOf(raw: unknown): HubbleFlow {
  const parsed = parseFlowRecord(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record.flow;
}

const defaults = compileFlowFilter(FlowFilterOptions.parse({}));
const decide = (file: string): FlowDecision[] => flows(file).map(defaults);

const imdsSyn = (extra: Record<string, unknown> = {}) =>
  flowOf({
    verdict: 'FORWARDED',
    IP: { source: '10.0.11.140', destination: '169.254.169.254', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 49872, destination_port: 80, flags: { SYN: true } } },
    source: { namespace: 'shop', pod_name: 'web-1' },
    traffic_direction: 'EGRESS',
    is_reply: false,
    ...extra,
  });

describe('the volume filter: which flows ingest publishes', () => {
  it('publishes every policy drop, by a NetworkPolicy or a CiliumNetworkPolicy, verdict and drop notification alike', () => {
    expect(decide('drop-networkpolicy.jsonl')).toEqual(
      Array(4).fill({ publish: true, reason: 'policy-drop' }),
    );
    expect(decide('drop-ciliumnetworkpolicy.jsonl')).toEqual(
      Array(2).fill({ publish: true, reason: 'policy-drop' }),
    );
  });

  it('publishes audit-mode verdicts unless told not to', () => {
    expect(decide('audit-verdict.jsonl')).toEqual([{ publish: true, reason: 'audit' }]);
    const noAudit = compileFlowFilter(FlowFilterOptions.parse({ audit: false }));
    expect(flows('audit-verdict.jsonl').map(noAudit)).toEqual([{ publish: false, reason: 'audit' }]);
  });

  it('drops datapath drops that are not policy, unless told to publish them', () => {
    const [, , icmp] = flows('observe-ipv6.jsonl');
    expect(defaults(icmp!)).toEqual({ publish: false, reason: 'other-drop' });
    const all = compileFlowFilter(FlowFilterOptions.parse({ otherDrops: true }));
    expect(all(icmp!)).toEqual({ publish: true, reason: 'other-drop' });
  });

  it('publishes allowed connections to the metadata service (IPv4 and IPv6), the kubelet and etcd; not their replies', () => {
    expect(decide('observe-ipv6.jsonl')).toEqual([
      { publish: true, reason: 'policy-drop' },
      { publish: true, reason: 'watched-destination' },
      { publish: false, reason: 'other-drop' },
    ]);
    expect(decide('reply-flows.jsonl')).toEqual([
      { publish: true, reason: 'watched-destination' },
      { publish: false, reason: 'reply' },
      { publish: false, reason: 'reply' },
    ]);
    for (const port of [2379, 2380, 10250, 10255])
      expect(
        defaults(
          imdsSyn({
            IP: { source: '10.0.11.140', destination: '10.0.5.10' },
            l4: { TCP: { destination_port: port, flags: { SYN: true } } },
          }),
        ),
      ).toEqual({ publish: true, reason: 'watched-destination' });
    expect(defaults(imdsSyn())).toEqual({ publish: true, reason: 'watched-destination' });
    // The rest of the connection adds nothing.
    expect(
      defaults(
        imdsSyn({
          l4: { TCP: { source_port: 49872, destination_port: 80, flags: { ACK: true, PSH: true } } },
        }),
      ),
    ).toEqual({
      publish: false,
      reason: 'allowed',
    });
    // A field mask that removed the flags: every flow to the destination counts.
    expect(defaults(imdsSyn({ l4: { TCP: { destination_port: 80 } } }))).toEqual({
      publish: true,
      reason: 'watched-destination',
    });
    expect(defaults(imdsSyn({ is_reply: undefined, reply: true }))).toEqual({
      publish: false,
      reason: 'reply',
    });
  });

  it('drops ordinary allowed traffic: probes, API server, DNS', () => {
    expect(decide('no-kubernetes-endpoint.jsonl')).toEqual([
      { publish: true, reason: 'policy-drop' },
      { publish: true, reason: 'policy-drop' },
      { publish: false, reason: 'allowed' },
      { publish: false, reason: 'allowed' },
      { publish: true, reason: 'policy-drop' },
    ]);
  });

  it('publishes L7 denials (the proxy drops only what a policy denies; Hubble gives no drop reason)', () => {
    expect(decide('l7-dns-http.jsonl')).toEqual([
      { publish: false, reason: 'allowed' },
      { publish: false, reason: 'reply' },
      { publish: true, reason: 'policy-drop' },
      { publish: false, reason: 'allowed' },
      { publish: true, reason: 'policy-drop' },
    ]);
  });

  it('takes its watched destinations and policy reasons from the options', () => {
    const custom = compileFlowFilter(
      FlowFilterOptions.parse({
        policyDropReasons: ['POLICY_DENY'],
        watched: { cidrs: ['100.100.100.200', '10.0.5.0/24'], ports: [6443] },
      }),
    );
    const [npDrop] = flows('drop-networkpolicy.jsonl');
    expect(custom(npDrop!)).toEqual({ publish: false, reason: 'other-drop' });
    expect(custom(imdsSyn())).toEqual({ publish: false, reason: 'allowed' });
    expect(custom(imdsSyn({ IP: { destination: '100.100.100.200' } }))).toEqual({
      publish: true,
      reason: 'watched-destination',
    });
    expect(custom(imdsSyn({ IP: { destination: '10.0.5.77' } }))).toEqual({
      publish: true,
      reason: 'watched-destination',
    });
    expect(
      custom(imdsSyn({ IP: { destination: '10.0.6.1' }, l4: { TCP: { destination_port: 6443 } } })),
    ).toEqual({
      publish: true,
      reason: 'watched-destination',
    });
    // The deprecated numeric drop reason is read when the name is missing.
    const legacy = flowOf({
      verdict: 'DROPPED',
      drop_reason: 181,
      IP: { source: '10.0.0.1', destination: '10.0.0.2' },
    });
    expect(custom(legacy)).toEqual({ publish: true, reason: 'policy-drop' });
  });

  it('refuses options that are not what it reads, with the path and the problem', () => {
    for (const bad of [
      { watched: { cidrs: ['169.254.169.254/33'] } },
      { watched: { cidrs: ['metadata.google.internal'] } },
      { watched: { ports: [0] } },
      { watched: { ports: Array.from({ length: 257 }, (_, i) => i + 1) } },
      { policyDropReasons: ['policy denied'] },
      { audits: true },
    ]) {
      const parsed = FlowFilterOptions.safeParse(bad);
      expect(parsed.success, JSON.stringify(bad)).toBe(false);
    }
    expect(FlowFilterOptions.parse({}).watched).toEqual({
      cidrs: ['169.254.169.254/32', 'fd00:ec2::254/128'],
      ports: [10250, 10255, 2379, 2380],
    });
  });

  it('an hour of a healthy cluster: thousands of flows, a few hundred published (watched destinations and stray drops)', () => {
    const records = quietFlowsHour();
    expect(records.length).toBeGreaterThan(10_000);
    const counts = new Map<string, number>();
    for (const raw of records) {
      const d = defaults(flowOf(raw));
      const key = `${d.publish ? 'publish' : 'drop'}:${d.reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.get('publish:policy-drop')).toBe(6);
    expect(counts.get('publish:audit')).toBeUndefined();
    const published = [...counts].filter(([k]) => k.startsWith('publish:')).reduce((n, [, c]) => n + c, 0);
    expect(published).toBeLessThan(records.length / 20);
    expect(counts.get('drop:allowed')).toBeGreaterThan(5000);
    expect(counts.get('drop:reply')).toBeGreaterThan(1000);
    for (const raw of records) expect(normalizeFlow(raw, { cluster: 'c' }).ok).toBe(true);
  });

  it('the neighbour scan is all policy drops', () => {
    const decisions = new Set(neighbourScan().map((raw) => defaults(flowOf(raw)).reason));
    expect([...decisions]).toEqual(['policy-drop']);
  });
});

describe('labels of klaxon_network_policy_drops_total', () => {
  const namespaces = new Set(DropMetricNamespaces.parse(['payments', 'data']));

  it('names a namespace only when it is in the configured set', () => {
    const [np] = flows('drop-networkpolicy.jsonl');
    const [cnp] = flows('drop-ciliumnetworkpolicy.jsonl');
    const [, , icmp] = flows('observe-ipv6.jsonl');
    expect(dropMetricLabels(np!, namespaces)).toEqual({ direction: 'ingress', namespace: 'payments' });
    expect(dropMetricLabels(cnp!, namespaces)).toEqual({ direction: 'egress', namespace: 'other' });
    expect(dropMetricLabels(icmp!, namespaces)).toEqual({ direction: 'unknown', namespace: 'none' });
  });

  it('a flood of namespaces makes no new label values', () => {
    const values = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const flow = flowOf({
        verdict: 'DROPPED',
        drop_reason_desc: 'POLICY_DENIED',
        traffic_direction: 'INGRESS',
        destination: { namespace: `attacker-${i}`, pod_name: 'p' },
      });
      values.add(dropMetricLabels(flow, namespaces).namespace);
    }
    expect([...values]).toEqual(['other']);
  });

  it('the namespace list is bounded and cannot shadow the catch-all labels', () => {
    expect(DropMetricNamespaces.safeParse(['other']).success).toBe(false);
    expect(DropMetricNamespaces.safeParse(['none']).success).toBe(false);
    expect(DropMetricNamespaces.safeParse(['Payments']).success).toBe(false);
    expect(DropMetricNamespaces.safeParse(Array.from({ length: 51 }, (_, i) => `ns-${i}`)).success).toBe(
      false,
    );
  });
});
