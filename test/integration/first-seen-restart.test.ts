// First-seen state across a restart of `klaxon detect` on real Kafka: learned by one generation of replicas,
// stored in the compacted first-seen topic, read back by the next (two replicas, each for its partitions).
import { randomUUID } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDetectRuntime } from '../../src/cli/detect.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import type { NormalizedEvent } from '../../src/schema/event.ts';
import type { DetectionRuntime } from '../../src/worker/detection-runtime.ts';
import { KafkaFirstSeenLog, partitionOf } from '../../src/worker/first-seen-log.ts';
import {
  alertsOfRule,
  type FirstSeenTestRules,
  serviceAccountRequest,
  writeFirstSeenRules,
} from './detect-fixtures.ts';
import {
  elasticsearchClient,
  elasticsearchUrl,
  kafkaBrokers,
  kafkaClient,
  uniqueTopic,
  waitFor,
} from './services.ts';

const PARTITIONS = 4;
const run = randomUUID().slice(0, 8);
const prefix = `kxfs-${run}`;
const topics = {
  events: uniqueTopic('kxfs.events'),
  signals: uniqueTopic('kxfs.signals'),
  alerts: uniqueTopic('kxfs.alerts'),
  deadletter: uniqueTopic('kxfs.deadletter'),
  firstSeen: uniqueTopic('kxfs.first-seen'),
};
const groups = { detect: `kxfs-detect-${run}`, correlate: `kxfs-correlate-${run}` };
const ACCOUNTS = Array.from({ length: 12 }, (_, i) => `app-${i}`);
const APP = (name: string) => `${name}/v1.4.0 (linux/amd64) kubernetes/$Format`;
const LAPTOP = 'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350';
const DAY = 86_400_000;

let rules: FirstSeenTestRules;
let es: Client;
let producer: Producer;
const replicas: Array<{ worker: DetectionRuntime; stop: () => Promise<void> }> = [];

function env(): NodeJS.ProcessEnv {
  return {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    ELASTICSEARCH_URL: elasticsearchUrl(),
    KLAXON_EVENTS_TOPIC: topics.events,
    KLAXON_EVENTS_PARTITIONS: String(PARTITIONS),
    KLAXON_SIGNALS_TOPIC: topics.signals,
    KLAXON_ALERTS_TOPIC: topics.alerts,
    KLAXON_DEADLETTER_TOPIC: topics.deadletter,
    KLAXON_FIRST_SEEN_TOPIC: topics.firstSeen,
    KLAXON_GROUP_ID: groups.detect,
    KLAXON_CORRELATE_GROUP_ID: groups.correlate,
    KLAXON_ES_INDEX_PREFIX: prefix,
    KLAXON_RULES: rules.dir,
    KLAXON_LOG_LEVEL: process.env.KLAXON_TEST_LOG ?? 'error',
  };
}

async function startReplica(): Promise<DetectionRuntime> {
  const settings = loadConfig(env());
  const { runtime: worker, bus } = buildDetectRuntime(settings, createLogger(settings.log.level));
  await bus.start();
  await worker.start();
  replicas.push({
    worker,
    stop: async () => {
      await worker.stop();
      await bus.stop();
    },
  });
  return worker;
}

async function stopAll(): Promise<void> {
  await Promise.all(replicas.splice(0).map((r) => r.stop()));
}

async function waitJoined(workers: DetectionRuntime[]): Promise<void> {
  await waitFor(() => workers.every((w) => w.detect.isJoined && w.correlate?.isJoined), 60_000);
  const admin = kafkaClient('kxfs-group-check').admin();
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

/** Events round-robin over the partitions of the events topic. */
async function produce(events: NormalizedEvent[]): Promise<void> {
  await producer.send({
    topic: topics.events,
    acks: -1,
    messages: events.map((e, i) => ({
      key: `test/${e.user?.name}`,
      value: JSON.stringify(e),
      partition: i % PARTITIONS,
    })),
  });
}

/** The correlate group committed every signal produced so far (its first-seen records were saved before). */
async function signalsCommitted(atLeast: number): Promise<void> {
  const admin = kafkaClient('kxfs-offsets').admin();
  await admin.connect();
  try {
    await waitFor(async () => {
      const ends = await admin.fetchTopicOffsets(topics.signals);
      const total = ends.reduce((sum, p) => sum + Number(p.high), 0);
      const offsets = await admin.fetchOffsets({ groupId: groups.correlate, topics: [topics.signals] });
      const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      return total >= atLeast && committed === total;
    }, 60_000);
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  rules = writeFirstSeenRules(run);
  es = elasticsearchClient();
  producer = kafkaClient('kxfs-producer').producer();
  await producer.connect();
});

afterAll(async () => {
  await stopAll();
  await producer?.disconnect();
  await es?.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
  await es?.indices.deleteIndexTemplate({ name: `${prefix}-alerts` }).catch(() => {});
  await es?.close();
});

describe('first-seen state of klaxon detect on real Kafka', () => {
  it('survives a restart of every replica: learned before, alerting after, on the partitions of two new replicas', async () => {
    const t0 = Date.now() - 6 * DAY;
    let worker = await startReplica();
    await waitJoined([worker]);
    // Six days of each account using its own client, every day.
    const history: NormalizedEvent[] = [];
    for (let d = 0; d < 6; d++)
      for (const a of ACCOUNTS)
        history.push(serviceAccountRequest(new Date(t0 + d * DAY).toISOString(), a, APP(a)));
    await produce(history);
    // One signal per account and day: each is a day after the last (more than the hourly refresh).
    await signalsCommitted(history.length);
    expect(await alertsOfRule(es, prefix, rules.client)).toEqual([]);
    await stopAll();

    // What the topic holds: one record per account, each in the partition its signals use.
    const admin = kafkaClient('kxfs-meta').admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topics.firstSeen, topics.signals] });
    await admin.disconnect();
    expect(meta.topics.map((t) => t.partitions.length)).toEqual([PARTITIONS, PARTITIONS]);
    const log = new KafkaFirstSeenLog({
      kafka: kafkaClient('kxfs-reader'),
      topic: topics.firstSeen,
      partitions: PARTITIONS,
      signals: { topic: topics.signals },
    });
    const stored = await log.loadAll();
    expect(stored.map((c) => c.record?.group['user.username']).sort()).toEqual(
      ACCOUNTS.map((a) => `system:serviceaccount:shop:${a}`).sort(),
    );
    for (let p = 0; p < PARTITIONS; p++)
      for (const c of await log.load(p)) expect(partitionOf(c.key, PARTITIONS)).toBe(p);
    await log.close();

    worker = await startReplica();
    const second = await startReplica();
    await waitJoined([worker, second]);
    const now = t0 + 6 * DAY + 60_000;
    const today: NormalizedEvent[] = ACCOUNTS.map((a, i) =>
      serviceAccountRequest(new Date(now + i).toISOString(), a, APP(a)),
    );
    today.push(
      serviceAccountRequest(new Date(now + 100).toISOString(), 'app-3', LAPTOP),
      serviceAccountRequest(new Date(now + 101).toISOString(), 'app-3', LAPTOP),
      serviceAccountRequest(new Date(now + 102).toISOString(), 'app-10', 'curl/8.5.0'),
    );
    await produce(today);
    const alerts = await waitFor(async () => {
      const found = await alertsOfRule(es, prefix, rules.client);
      return found.length >= 2 ? found : undefined;
    }, 60_000);
    await signalsCommitted(history.length + ACCOUNTS.length + 2);
    expect((await alertsOfRule(es, prefix, rules.client)).length).toBe(2);
    expect(alerts.map((a) => a.user?.name).sort()).toEqual([
      'system:serviceaccount:shop:app-10',
      'system:serviceaccount:shop:app-3',
    ]);
    expect(alerts.map((a) => a.klaxon.correlation?.type)).toEqual(['first_seen', 'first_seen']);
  });
});
