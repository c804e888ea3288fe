// Issue 16's done-check on the real pipeline: a default-deny namespace with a pod that scans its neighbours,
// amid ordinary traffic, sent as the Fluent Bit shipper sends the Hubble exporter's file (JSON lines chunks to
// POST /v1/flows) → klaxon ingest → Kafka → klaxon detect → Elasticsearch: one alert, not thousands, and the drops
// in the metric the dashboard reads.
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import type { Json } from '../unit/scenarios/hubble.ts';
import { FLOW_T0 } from '../unit/scenarios/hubble.ts';
import { neighbourScan, quietFlowsHour } from '../unit/scenarios/quiet-flows.ts';
import { alertsOfRule } from './detect-fixtures.ts';
import { groupLag, isolatedEnv, startDetect, startIngest, TOKEN } from './fault-processes.ts';
import { elasticsearchClient, kafkaClient, waitFor } from './services.ts';

/** Moves a record (and its flow) by `deltaMs`, keeping the nanoseconds protojson wrote. */
function retimed(record: Json, deltaMs: number): Json {
  const move = (t: unknown) => {
    const text = String(t);
    return `${new Date(Date.parse(text) + deltaMs).toISOString().slice(0, 23)}${text.slice(23)}`;
  };
  const flow = record.flow as Json | undefined;
  return {
    ...record,
    ...(flow ? { flow: { ...flow, time: move(flow.time) } } : {}),
    time: move(record.time),
  };
}

interface Answer {
  accepted: number;
  filtered: number;
  not_flows: number;
  rejected: unknown[];
}

/** POSTs JSON lines in chunks, as Fluent Bit's http output does with `Format json_lines`. */
async function ship(url: string, records: Json[], perChunk: number): Promise<Answer> {
  const total: Answer = { accepted: 0, filtered: 0, not_flows: 0, rejected: [] };
  for (let i = 0; i < records.length; i += perChunk) {
    const body = `${records
      .slice(i, i + perChunk)
      .map((r) => JSON.stringify(r))
      .join('\n')}\n`;
    const res = await fetch(`${url}/v1/flows`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const answer = JSON.parse(text) as Answer;
    total.accepted += answer.accepted;
    total.filtered += answer.filtered;
    total.not_flows += answer.not_flows;
    total.rejected.push(...answer.rejected);
  }
  return total;
}

/** The value of one series of a counter in Prometheus text. */
async function series(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf('}'));
    const have = inside.split(',');
    if (wanted.every((w) => have.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

describe('Hubble flows through POST /v1/flows, Kafka, klaxon detect and Elasticsearch', () => {
  const running: Klaxon[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
  });

  it('a pod scanning its default-deny namespace amid ordinary traffic raises one alert, and its drops are counted', async () => {
    const env: Record<string, string> = {
      ...isolatedEnv('flows'),
      KLAXON_FLOWS_METRIC_NAMESPACES: 'shop,payments',
    };
    const ingest = await startIngest(env);
    running.push(ingest.proc);
    running.push(await startDetect(env));

    // Fifteen minutes of the quiet hour with the scan in its middle and a lost-events notice, ending now.
    const quarter = quietFlowsHour().filter((r) => Date.parse(String(r.time)) < FLOW_T0 + 900_000);
    const scan = neighbourScan(FLOW_T0 + 450_000);
    const lost = {
      lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '17', cpu: 1 },
      node_name: 'prod-eu/ip-10-0-21-58.eu-west-1.compute.internal',
      time: new Date(FLOW_T0 + 600_000).toISOString(),
    };
    const delta = Date.now() - 60_000 - (FLOW_T0 + 900_000);
    const records = [...quarter, ...scan, lost]
      .sort((a, b) => String(a.time).localeCompare(String(b.time)))
      .map((r) => retimed(r, delta));

    const answer = await ship(ingest.url, records, 1000);
    expect(answer.rejected).toEqual([]);
    expect(answer.not_flows).toBe(1);
    expect(answer.accepted + answer.filtered).toBe(records.length - 1);
    // Every drop of the scan is published; of the ordinary traffic, only the few watched connections.
    expect(answer.accepted).toBeGreaterThanOrEqual(scan.length);
    expect(answer.accepted).toBeLessThan(scan.length + quarter.length / 20);

    const es = elasticsearchClient();
    const prefix = env.KLAXON_ES_INDEX_PREFIX!;
    await waitFor(
      async () => (await alertsOfRule(es, prefix, 'hubble-address-sweep')).length > 0,
      90_000,
      500,
    );
    // Once both stages have committed everything, every alert the flows raise is in Elasticsearch (a chunk is
    // committed only after the sinks have its alerts): then look at all of them.
    const kafka = kafkaClient('klaxon-flows-test');
    await waitFor(
      async () =>
        (await groupLag(kafka, env.KLAXON_GROUP_ID!, env.KLAXON_EVENTS_TOPIC!)) === 0 &&
        (await groupLag(kafka, env.KLAXON_CORRELATE_GROUP_ID!, env.KLAXON_SIGNALS_TOPIC!)) === 0,
      90_000,
      500,
    );
    await es.indices.refresh({ index: `${prefix}-alerts*`, allow_no_indices: true });
    const all = await es.search<Alert>({ index: `${prefix}-alerts*`, allow_no_indices: true, size: 100 });
    const alerts = all.hits.hits.map((h) => h._source!);
    expect(alerts.map((a) => `${a.klaxon.severity} ${a.rule.name}`)).toEqual(['high hubble-address-sweep']);
    const [alert] = alerts;
    expect(alert!.orchestrator?.cluster?.name).toBe('fault');
    expect(alert!.orchestrator?.namespace).toBe('shop');
    expect(alert!.source?.ip).toBe('10.0.21.77');

    // The metric behind the dashboard's row: one per dropped packet (drop notifications), in the named namespace.
    expect(
      await series(ingest.url, 'klaxon_network_policy_drops_total', {
        cluster: 'fault',
        direction: 'egress',
        namespace: 'shop',
      }),
    ).toBe(scan.length / 2);
    expect(await series(ingest.url, 'klaxon_hubble_lost_events_total', { cluster: 'fault' })).toBe(17);
    expect(
      await series(ingest.url, 'klaxon_ingest_events_total', {
        source: 'flows',
        cluster: 'fault',
        outcome: 'accepted',
      }),
    ).toBe(answer.accepted);
  }, 240_000);
});
