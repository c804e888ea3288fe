import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { type EventPublisher, RetryLaterError } from '../../../src/ingest/publisher.ts';
import { registry } from '../../../src/metrics.ts';
import { neighbourScan, quietFlowsHour } from '../scenarios/quiet-flows.ts';
import { makeApp, published, TOKENS } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const fixture = (file: string) => readFileSync(join(FIXTURES, file), 'utf8');
const NDJSON = 'application/x-ndjson';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(env: Record<string, string> = {}): Promise<MemoryBus> {
  const made = await makeApp(env);
  app = made.app;
  return made.bus;
}

function post(payload: InjectOptions['payload'], type = NDJSON, token = TOKENS.prod) {
  return app!.inject({
    method: 'POST',
    url: '/v1/flows',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    payload,
  });
}

/** The current value of one series of a counter (0 when it has none yet). */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

const lines = (records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

describe('POST /v1/flows', () => {
  it('publishes the policy drops of an exporter file, named by the credential’s cluster', async () => {
    const bus = await start();
    const res = await post(fixture('drop-networkpolicy.jsonl'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 4, filtered: 0, not_flows: 0, rejected: [] });
    const events = published(bus);
    expect(events).toHaveLength(4);
    for (const e of events) {
      expect(e.event.dataset).toBe('cilium.hubble');
      expect(e.event.action).toBe('dropped');
      // The exporter's node_name says prod-eu/…: the token says prod.
      expect(e.orchestrator.cluster.name).toBe('prod');
      expect(e.host?.hostname).toBe('ip-10-0-21-58.eu-west-1.compute.internal');
    }
  });

  it('filters ordinary traffic before the Acceptor: counted by reason, never published, never rejected', async () => {
    const bus = await start();
    const before = {
      allowed: await counter('klaxon_ingest_flows_total', {
        cluster: 'prod',
        decision: 'filtered',
        reason: 'allowed',
      }),
      reply: await counter('klaxon_ingest_flows_total', {
        cluster: 'prod',
        decision: 'filtered',
        reason: 'reply',
      }),
      watched: await counter('klaxon_ingest_flows_total', {
        cluster: 'prod',
        decision: 'published',
        reason: 'watched-destination',
      }),
      accepted: await counter('klaxon_ingest_events_total', {
        source: 'flows',
        cluster: 'prod',
        outcome: 'accepted',
      }),
      rejected: await counter('klaxon_ingest_events_total', {
        source: 'flows',
        cluster: 'prod',
        outcome: 'rejected',
      }),
    };
    // metrics-server's SYN to a kubelet (watched), the kubelet's SYN-ACK and the metadata service's reply.
    const res = await post(fixture('reply-flows.jsonl'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 1, filtered: 2, not_flows: 0, rejected: [] });
    expect(published(bus).map((e) => e.destination?.port)).toEqual([10250]);
    expect(
      await counter('klaxon_ingest_flows_total', { cluster: 'prod', decision: 'filtered', reason: 'reply' }),
    ).toBe(before.reply + 2);
    expect(
      await counter('klaxon_ingest_flows_total', {
        cluster: 'prod',
        decision: 'published',
        reason: 'watched-destination',
      }),
    ).toBe(before.watched + 1);
    expect(
      await counter('klaxon_ingest_events_total', { source: 'flows', cluster: 'prod', outcome: 'accepted' }),
    ).toBe(before.accepted + 1);
    expect(
      await counter('klaxon_ingest_events_total', { source: 'flows', cluster: 'prod', outcome: 'rejected' }),
    ).toBe(before.rejected);
    // A batch that is all ordinary traffic is valid: 200, nothing published.
    const filteredTotal = async () => {
      let sum = 0;
      for (const reason of ['allowed', 'reply', 'other-drop', 'audit'])
        sum += await counter('klaxon_ingest_flows_total', { cluster: 'prod', decision: 'filtered', reason });
      return sum;
    };
    const filteredBefore = await filteredTotal();
    const quiet = quietFlowsHour().slice(0, 500);
    const all = await post(lines(quiet));
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({ accepted: expect.any(Number), rejected: [] });
    const body = all.json() as { accepted: number; filtered: number };
    expect(body.accepted + body.filtered).toBe(500);
    expect(body.filtered).toBeGreaterThan(450);
    // What goes through are the connections opened to the watched destinations: kubelets, the metadata service.
    const through = published(bus).slice(1);
    expect(through).toHaveLength(body.accepted);
    for (const e of through)
      expect(
        e.destination?.port === 10250 || e.destination?.ip === '169.254.169.254',
        JSON.stringify(e.destination),
      ).toBe(true);
    const filteredNow = await filteredTotal();
    expect(filteredNow - filteredBefore).toBe(body.filtered);
    expect(
      await counter('klaxon_ingest_flows_total', {
        cluster: 'prod',
        decision: 'filtered',
        reason: 'allowed',
      }),
    ).toBeGreaterThan(before.allowed + 200);
  });

  it('counts records that hold no flow (lost events) without rejecting them, and what Hubble lost', async () => {
    const bus = await start();
    const lostBefore = await counter('klaxon_hubble_lost_events_total', { cluster: 'prod' });
    const kindBefore = await counter('klaxon_ingest_hubble_records_total', {
      cluster: 'prod',
      kind: 'lost_events',
    });
    const agent = {
      agent_event: { type: 'AGENT_STARTED' },
      node_name: 'prod-eu/n1',
      time: '2026-11-30T10:00:00Z',
    };
    const res = await post(`${fixture('lost-events.jsonl')}${JSON.stringify(agent)}\n`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 0, filtered: 0, not_flows: 2, rejected: [] });
    expect(published(bus)).toEqual([]);
    expect(await counter('klaxon_hubble_lost_events_total', { cluster: 'prod' })).toBe(lostBefore + 312);
    expect(
      await counter('klaxon_ingest_hubble_records_total', { cluster: 'prod', kind: 'lost_events' }),
    ).toBe(kindBefore + 1);
  });

  it('reads a JSON array of bare flows, jq-pretty records and hubble observe lines', async () => {
    const bus = await start();
    const flows = fixture('drop-ciliumnetworkpolicy.jsonl')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { flow: unknown }).flow);
    const array = await post(JSON.stringify(flows), 'application/json');
    expect(array.json()).toEqual({ accepted: 2, filtered: 0, not_flows: 0, rejected: [] });
    const pretty = await post(fixture('observe-jq-pretty.json'), 'application/json');
    expect(pretty.statusCode).toBe(200);
    expect((pretty.json() as { accepted: number }).accepted).toBeGreaterThan(0);
    const ipv6 = await post(fixture('observe-ipv6.jsonl'));
    // The router solicitation dropped as INVALID_SOURCE_IP is no policy drop.
    expect(ipv6.json()).toEqual({ accepted: 2, filtered: 1, not_flows: 0, rejected: [] });
    expect(published(bus).some((e) => e.destination?.ip === 'fd00:ec2::254')).toBe(true);
  });

  it('rejects the broken items of a batch by index and lets the rest through; 400 when nothing is valid', async () => {
    const bus = await start();
    const [first, second] = fixture('drop-ciliumnetworkpolicy.jsonl').trim().split('\n');
    const torn = `${first}\n${second!.slice(0, 80)}\n{"flow":{"l4":{"TCP":{"destination_port":-1}}}}\n`;
    const res = await post(torn);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accepted: 1,
      rejected: [
        { index: 1, reason: expect.stringMatching(/^invalid JSON/) },
        { index: 2, reason: expect.stringMatching(/^flow\.l4\.TCP\.destination_port/) },
      ],
    });
    expect(published(bus)).toHaveLength(1);
    const none = await post('{"flow": 5}\n{"node_name": "x"}\n');
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ error: 'invalid_events', accepted: 0 });
    expect((await post('', NDJSON)).statusCode).toBe(400);
    expect((await post('not json at all')).json()).toMatchObject({ error: 'invalid_json' });
  });

  it('files a flow dated in the future under its receive time', async () => {
    const bus = await start();
    const [line] = fixture('drop-ciliumnetworkpolicy.jsonl').trim().split('\n');
    const record = JSON.parse(line!) as { flow: Record<string, unknown>; time: string };
    record.flow.time = '2035-01-01T00:00:00.000000001Z';
    record.time = record.flow.time as string;
    const sent = Date.now();
    expect((await post(lines([record]))).statusCode).toBe(200);
    const [event] = published(bus);
    expect(Date.parse(event!['@timestamp'])).toBeGreaterThanOrEqual(sent - 1000);
    expect(Date.parse(event!['@timestamp'])).toBeLessThan(Date.parse('2030-01-01T00:00:00Z'));
    expect(event!.klaxon?.claimed_timestamp).toBe('2035-01-01T00:00:00.000000001Z');
  });

  it('needs a credential and a JSON content type', async () => {
    await start();
    const noToken = await app!.inject({
      method: 'POST',
      url: '/v1/flows',
      headers: { 'content-type': NDJSON },
      payload: fixture('drop-networkpolicy.jsonl'),
    });
    expect(noToken.statusCode).toBe(401);
    expect((await post(fixture('drop-networkpolicy.jsonl'), 'text/plain')).statusCode).toBe(415);
    for (const type of ['application/json', 'application/jsonl', 'application/ndjson'])
      expect((await post(fixture('drop-networkpolicy.jsonl'), type)).statusCode, type).toBe(200);
  });
});

describe('POST /v1/flows: limits', { timeout: 60_000 }, () => {
  it('has a body limit of its own (16 MiB by default): a shipper’s 9 MiB batch goes through', async () => {
    const bus = await start();
    const batch: unknown[] = [];
    let size = 0;
    for (const record of quietFlowsHour()) {
      if (size > 9 * 1024 * 1024) break;
      batch.push(record);
      size += JSON.stringify(record).length + 1;
    }
    const body = lines(batch);
    const records = batch.length;
    expect(body.length).toBeGreaterThan(9 * 1024 * 1024);
    const res = await post(body);
    expect(res.statusCode, res.body.slice(0, 200)).toBe(200);
    const answer = res.json() as { accepted: number; filtered: number; rejected: unknown[] };
    expect(answer.rejected).toEqual([]);
    expect(answer.accepted + answer.filtered).toBe(records);
    expect(published(bus)).toHaveLength(answer.accepted);
  });

  it('answers 413 over KLAXON_FLOWS_BODY_LIMIT and over KLAXON_FLOWS_MAX_ITEMS, before parsing', async () => {
    await start({ KLAXON_FLOWS_BODY_LIMIT: '64KiB', KLAXON_FLOWS_MAX_ITEMS: '100' });
    const big = await post(fixture('l7-dns-http.jsonl').repeat(40));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: 'payload_too_large' });
    const many = await post('{}\n'.repeat(101));
    expect(many.statusCode).toBe(413);
    expect(many.json()).toMatchObject({ error: 'too_many_items' });
    const manyArray = await post(`[${'{},'.repeat(100)}{}]`, 'application/json');
    expect(manyArray.json()).toMatchObject({ error: 'too_many_items' });
    expect((await post('{}\n'.repeat(100))).statusCode).toBe(400);
  });

  it('rejects a published flow over the per-event limit as an item, when the body is bigger than it', async () => {
    const bus = await start({ KLAXON_AUDIT_EVENT_LIMIT: '4KiB' });
    const [line] = fixture('drop-ciliumnetworkpolicy.jsonl').trim().split('\n');
    const record = JSON.parse(line!) as { flow: { source: { labels: string[] } } };
    record.flow.source.labels = Array.from({ length: 200 }, (_, i) => `k8s:padding-${i}=${'x'.repeat(20)}`);
    const res = await post(`${line}\n${JSON.stringify(record)}\n`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accepted: 1,
      rejected: [{ index: 1, reason: expect.stringMatching(/over the limit of 4096 bytes/) }],
    });
    expect(published(bus)).toHaveLength(1);
  });

  it('answers 503 with Retry-After when nothing can be made durable, and counts the batch only once it settles', async () => {
    let down = true;
    const bus = new MemoryBus();
    await bus.start();
    const publisher: EventPublisher = {
      ready: async () => !down,
      publish: async (messages) => {
        if (down) throw new RetryLaterError('kafka is unreachable', 5);
        await bus.produce('klaxon.events', messages);
      },
    };
    app = await buildIngestApp({
      settings: loadConfig({}),
      bus,
      publisher,
      auth: { tokens: new TokenTable(TOKENS) },
    });
    const drops = () =>
      counter('klaxon_network_policy_drops_total', {
        cluster: 'prod',
        direction: 'egress',
        namespace: 'other',
      });
    const before = await drops();
    const refused = await post(fixture('drop-ciliumnetworkpolicy.jsonl'));
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(await drops()).toBe(before);
    down = false;
    expect((await post(fixture('drop-ciliumnetworkpolicy.jsonl'))).statusCode).toBe(200);
    // Two records of one dropped packet (policy verdict and drop notification): one drop.
    expect(await drops()).toBe(before + 1);
  });
});

describe('POST /v1/flows: the volume filter from the settings file', () => {
  it('publishes what ingest.flows.filter asks for, and refuses a misspelt option with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-flows-'));
    try {
      const file = join(dir, 'klaxon.yaml');
      writeFileSync(file, 'ingest:\n  flows:\n    filter:\n      otherDrops: true\n      audit: false\n');
      const bus = await start({ KLAXON_CONFIG: file });
      // The IPv6 router solicitation dropped as INVALID_SOURCE_IP is now published.
      expect((await post(fixture('observe-ipv6.jsonl'))).json()).toMatchObject({ accepted: 3, filtered: 0 });
      expect((await post(fixture('audit-verdict.jsonl'))).json()).toMatchObject({ accepted: 0, filtered: 1 });
      expect(published(bus).map((e) => e.event.reason)).toContain('INVALID_SOURCE_IP');
      writeFileSync(file, 'ingest:\n  flows:\n    filter:\n      otherDrop: true\n');
      expect(() => loadConfig({ KLAXON_CONFIG: file })).toThrow(/ingest\.flows\.filter.*otherDrop/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('klaxon_network_policy_drops_total', () => {
  it('labels the namespace from the configured set only: a flood of namespaces makes no new series', async () => {
    await start({ KLAXON_FLOWS_METRIC_NAMESPACES: 'payments, data' });
    const scan = neighbourScan().slice(0, 40);
    const flood = scan.map((r, i) => {
      const copy = JSON.parse(JSON.stringify(r)) as { flow: { source: { namespace: string } } };
      copy.flow.source.namespace = `attacker-ns-${i}`;
      return copy;
    });
    const payments = await counter('klaxon_network_policy_drops_total', {
      cluster: 'prod',
      direction: 'ingress',
      namespace: 'payments',
    });
    expect((await post(lines(flood))).statusCode).toBe(200);
    expect((await post(fixture('drop-networkpolicy.jsonl'))).statusCode).toBe(200);
    const text = await registry.getSingleMetricAsString('klaxon_network_policy_drops_total');
    expect(text).not.toContain('attacker-ns');
    const namespaces = new Set([...text.matchAll(/namespace="([^"]*)"/g)].map((m) => m[1]));
    for (const ns of namespaces) expect(['payments', 'data', 'other', 'none']).toContain(ns);
    // The NetworkPolicy drop fixture: two packets, each a verdict and a drop notification, into payments.
    expect(
      await counter('klaxon_network_policy_drops_total', {
        cluster: 'prod',
        direction: 'ingress',
        namespace: 'payments',
      }),
    ).toBe(payments + 2);
  });

  it('refuses namespace lists that are too long or use the reserved labels', () => {
    expect(() => loadConfig({ KLAXON_FLOWS_METRIC_NAMESPACES: 'payments,other' })).toThrow(
      /KLAXON_FLOWS_METRIC_NAMESPACES/,
    );
    const many = Array.from({ length: 51 }, (_, i) => `ns-${i}`).join(',');
    expect(() => loadConfig({ KLAXON_FLOWS_METRIC_NAMESPACES: many })).toThrow(
      /KLAXON_FLOWS_METRIC_NAMESPACES/,
    );
    expect(
      loadConfig({ KLAXON_FLOWS_METRIC_NAMESPACES: 'payments, data' }).ingest.flows.metricNamespaces,
    ).toEqual(['payments', 'data']);
  });
});
