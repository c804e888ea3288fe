import { randomUUID } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDetectRuntime } from '../../src/cli/detect.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import type { NormalizedEvent } from '../../src/schema/event.ts';
import { DEADLETTER_HEADERS } from '../../src/worker/deadletter.ts';
import type { DetectionRuntime } from '../../src/worker/detection-runtime.ts';
import {
  alertsOfRule,
  clusterAdminBinding,
  failedAuth,
  type TestRules,
  writeTestRules,
} from './detect-fixtures.ts';
import {
  alertmanagerUrl,
  elasticsearchClient,
  elasticsearchUrl,
  kafkaBrokers,
  kafkaClient,
  uniqueTopic,
  waitFor,
} from './services.ts';

const PARTITIONS = 4;
const run = randomUUID().slice(0, 8);
const prefix = `kxt-${run}`;
const topics = {
  events: uniqueTopic('kxt.events'),
  signals: uniqueTopic('kxt.signals'),
  alerts: uniqueTopic('kxt.alerts'),
  deadletter: uniqueTopic('kxt.deadletter'),
};

let rules: TestRules;
let es: Client;
let producer: Producer;
const replicas: Array<{ worker: DetectionRuntime; stop: () => Promise<void> }> = [];
const consumers: Consumer[] = [];

function env(groups: { detect: string; correlate: string }): NodeJS.ProcessEnv {
  return {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    ELASTICSEARCH_URL: elasticsearchUrl(),
    KLAXON_ALERTMANAGER_URL: alertmanagerUrl(),
    KLAXON_EVENTS_TOPIC: topics.events,
    KLAXON_EVENTS_PARTITIONS: String(PARTITIONS),
    KLAXON_SIGNALS_TOPIC: topics.signals,
    KLAXON_ALERTS_TOPIC: topics.alerts,
    KLAXON_DEADLETTER_TOPIC: topics.deadletter,
    KLAXON_GROUP_ID: groups.detect,
    KLAXON_CORRELATE_GROUP_ID: groups.correlate,
    KLAXON_ES_INDEX_PREFIX: prefix,
    KLAXON_RULES: rules.dir,
    KLAXON_LOG_LEVEL: process.env.KLAXON_TEST_LOG ?? 'error',
  };
}

const defaultGroups = { detect: `kxt-detect-${run}`, correlate: `kxt-correlate-${run}` };

async function startReplica(groups = defaultGroups): Promise<DetectionRuntime> {
  const settings = loadConfig(env(groups));
  const { runtime: worker, bus } = buildDetectRuntime(settings, createLogger(settings.log.level));
  await bus.start();
  await worker.start();
  const replica = {
    worker,
    stop: async () => {
      await worker.stop();
      await bus.stop();
    },
  };
  replicas.push(replica);
  return worker;
}

async function stopAll(): Promise<void> {
  const all = replicas.splice(0);
  await Promise.all(all.map((r) => r.stop()));
}

/** Every worker joined both groups, and both groups settled with one member per worker. */
async function waitJoined(workers: DetectionRuntime[], groups = defaultGroups): Promise<void> {
  await waitFor(() => workers.every((w) => w.detect.isJoined && w.correlate?.isJoined), 60_000);
  const admin = kafkaClient('kxt-group-check').admin();
  await admin.connect();
  try {
    await waitFor(async () => {
      const described = await admin.describeGroups([groups.detect, groups.correlate]);
      return described.groups.every((g) => g.state === 'Stable' && g.members.length === workers.length);
    }, 90_000);
  } finally {
    await admin.disconnect();
  }
}

/** Sends events round-robin over the partitions (so a burst is spread across replicas). */
async function produce(events: NormalizedEvent[], offset = 0): Promise<void> {
  await producer.send({
    topic: topics.events,
    acks: -1,
    messages: events.map((e, i) => ({
      key: `test/${e.user?.name}`,
      value: JSON.stringify(e),
      partition: (i + offset) % PARTITIONS,
    })),
  });
}

const alertsInEs = (ruleName: string) => alertsOfRule(es, prefix, ruleName);

async function alertsInAlertmanager(ruleName: string): Promise<Array<{ labels: Record<string, string> }>> {
  const filter = encodeURIComponent(`alertname="${ruleName}"`);
  const response = await fetch(`${alertmanagerUrl()}/api/v2/alerts?filter=${filter}`);
  return (await response.json()) as Array<{ labels: Record<string, string> }>;
}

/** Reads a whole topic from the start, for `ms` after the first message (or until `ms` passes). */
async function readTopic(topic: string, ms: number) {
  const consumer = kafkaClient(`kxt-reader-${randomUUID()}`).consumer({
    groupId: `kxt-reader-${randomUUID()}`,
  });
  consumers.push(consumer);
  const seen: Array<{ key: string | null; value: string; headers: Record<string, string> }> = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', headers });
    },
  });
  await new Promise((r) => setTimeout(r, ms));
  await consumer.disconnect();
  return seen;
}

beforeAll(async () => {
  rules = writeTestRules(run);
  es = elasticsearchClient();
  producer = kafkaClient('kxt-producer').producer();
  await producer.connect();
});

afterAll(async () => {
  await stopAll();
  await Promise.allSettled(consumers.map((c) => c.disconnect()));
  await producer?.disconnect();
  await es?.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
  await es?.indices.deleteIndexTemplate({ name: `${prefix}-alerts` }).catch(() => {});
  await es?.close();
});

describe('klaxon detect against real Kafka, Elasticsearch and Alertmanager', () => {
  it('turns produced events into alerts in Elasticsearch and Alertmanager, and bad messages into dead letters', async () => {
    const worker = await startReplica();
    await waitJoined([worker]);
    expect((await worker.ready()).ready).toBe(true);

    const event = clusterAdminBinding(new Date().toISOString(), 'mallory');
    await produce([event]);
    await producer.send({
      topic: topics.events,
      acks: -1,
      messages: [
        { key: 'junk', value: '{"not json', partition: 1 },
        { key: 'junk', value: JSON.stringify({ hello: 'world' }), partition: 2 },
      ],
    });

    const [doc] = await waitFor(async () => {
      const found = await alertsInEs(rules.admin);
      return found.length > 0 ? found : undefined;
    });
    expect(doc!.event.kind).toBe('alert');
    expect(doc!['@timestamp']).toBe(event['@timestamp']);
    expect(doc!.rule.name).toBe(rules.admin);
    expect(doc!.user?.name).toBe('mallory');
    expect(doc!.orchestrator?.cluster?.name).toBe('test');
    expect(doc!.threat?.technique.id).toEqual(['T1098']);
    expect(doc!.klaxon.event_ids).toEqual([event.event.id]);

    const paged = await waitFor(async () => {
      const found = await alertsInAlertmanager(rules.admin);
      return found.length > 0 ? found : undefined;
    });
    expect(paged).toHaveLength(1);
    expect(paged[0]!.labels).toMatchObject({ alertname: rules.admin, severity: 'high', cluster: 'test' });

    const letters = await waitFor(async () => {
      const found = await readTopic(topics.deadletter, 3_000);
      return found.length >= 2 ? found : undefined;
    });
    expect(letters.map((l) => l.headers[DEADLETTER_HEADERS.reason]).sort()).toEqual([
      'invalid-event',
      'invalid-json',
    ]);
    expect(letters.every((l) => l.headers[DEADLETTER_HEADERS.topic] === topics.events)).toBe(true);
  });

  it('raises exactly one correlation alert for a burst spread over four partitions and two replicas', async () => {
    await startReplica();
    const workers = replicas.map((r) => r.worker);
    expect(workers).toHaveLength(2);
    await waitJoined(workers);

    const ip = '203.0.113.77';
    const t0 = Date.now();
    const burst = Array.from({ length: 10 }, (_, i) =>
      failedAuth(new Date(t0 + i * 100).toISOString(), `user-${i}`, ip),
    );
    await produce(burst);

    const docs = await waitFor(async () => {
      const found = await alertsInEs(rules.burst);
      return found.length > 0 ? found : undefined;
    }, 60_000);
    // Give a second replica time to raise a duplicate if the design let it.
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await alertsInEs(rules.burst);
    expect(after).toHaveLength(1);
    expect(after[0]!.klaxon.count).toBe(10);
    expect(after[0]!.klaxon.correlation?.group).toEqual({ 'source.ip': ip });
    expect(docs[0]!.klaxon.alert_id).toBe(after[0]!.klaxon.alert_id);

    const published = await readTopic(topics.alerts, 3_000);
    const burstIds = new Set(
      published.filter((m) => m.headers['klaxon-rule'] === rules.burst).map((m) => m.key),
    );
    expect([...burstIds]).toEqual([after[0]!.klaxon.alert_id]);
    expect(await alertsInAlertmanager(rules.burst)).toHaveLength(1);
  });

  it('creates no duplicate when the same offsets are consumed again by a fresh consumer group', async () => {
    await stopAll();
    const before = {
      admin: await alertsInEs(rules.admin),
      burst: await alertsInEs(rules.burst),
      am: await alertsInAlertmanager(rules.admin),
    };
    const again = { detect: `kxt-detect-again-${run}`, correlate: `kxt-correlate-again-${run}` };
    const worker = await startReplica(again);
    await waitJoined([worker], again);
    // The fresh groups start from the earliest offsets: every event and signal is processed again.
    const published = await waitFor(async () => {
      const all = await readTopic(topics.alerts, 2_000);
      const burst = all.filter((m) => m.headers['klaxon-rule'] === rules.burst);
      return burst.length >= 2 ? all : undefined;
    }, 60_000);
    expect(
      new Set(published.filter((m) => m.headers['klaxon-rule'] === rules.burst).map((m) => m.key)).size,
    ).toBe(1);
    expect((await alertsInEs(rules.admin)).map((a) => a.klaxon.alert_id)).toEqual(
      before.admin.map((a) => a.klaxon.alert_id),
    );
    expect((await alertsInEs(rules.burst)).map((a) => a.klaxon.alert_id)).toEqual(
      before.burst.map((a) => a.klaxon.alert_id),
    );
    expect(await alertsInAlertmanager(rules.admin)).toHaveLength(before.am.length);
  });

  it('keeps an open correlation window across a restart of every replica', async () => {
    await stopAll();
    let worker = await startReplica();
    await waitJoined([worker]);
    const ip = '198.51.100.23';
    const t0 = Date.now();
    const events = Array.from({ length: 10 }, (_, i) =>
      failedAuth(new Date(t0 + i * 100).toISOString(), `r-${i}`, ip),
    );
    await produce(events.slice(0, 6));
    const admin = kafkaClient('kxt-admin').admin();
    await admin.connect();
    try {
      // Wait until the correlation stage committed the six signals, then restart.
      await waitFor(async () => {
        const offsets = await admin.fetchOffsets({
          groupId: defaultGroups.correlate,
          topics: [topics.signals],
        });
        const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
        const ends = await admin.fetchTopicOffsets(topics.signals);
        const total = ends.reduce((sum, p) => sum + Number(p.high), 0);
        return total >= 16 && committed === total;
      }, 60_000);
    } finally {
      await admin.disconnect();
    }
    expect(
      await alertsInEs(`${rules.burst}`).then((a) =>
        a.filter((x) => x.klaxon.correlation?.group['source.ip'] === ip),
      ),
    ).toEqual([]);
    await stopAll();

    worker = await startReplica();
    await waitJoined([worker]);
    await produce(events.slice(6), 2);
    const fired = await waitFor(async () => {
      const found = (await alertsInEs(rules.burst)).filter(
        (a) => a.klaxon.correlation?.group['source.ip'] === ip,
      );
      return found.length > 0 ? found : undefined;
    }, 60_000);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.klaxon.count).toBe(10);
  });
});
