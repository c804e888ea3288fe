import type { FastifyInstance } from 'fastify';
import type { Consumer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, KafkaBus } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config.ts';
import { buildIngestApp } from '../../src/ingest/app.ts';
import { TokenTable } from '../../src/ingest/auth.ts';
import type { NormalizedEvent } from '../../src/schema/event.ts';
import { auditEvent, bearer, eventList, falcoAlert, TOKENS } from '../unit/ingest/helpers.ts';
import { kafkaBrokers, kafkaClient, uniqueTopic, waitFor } from './services.ts';

const logger = pino({ level: 'silent' });
const topic = uniqueTopic('ingest-events');
const settings = loadConfig({
  KAFKA_BROKERS: kafkaBrokers().join(','),
  KLAXON_EVENTS_TOPIC: topic,
  KLAXON_EVENTS_PARTITIONS: '3',
});
const bus = createBus(settings, logger);
let app: FastifyInstance;

/** Every message on the topic, read back with a plain kafkajs consumer. */
const received: Array<{ key: string; partition: number; event: NormalizedEvent }> = [];
let consumer: Consumer;

beforeAll(async () => {
  expect(bus).toBeInstanceOf(KafkaBus);
  await bus.start();
  app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable(TOKENS) }, logger });
  consumer = kafkaClient().consumer({ groupId: uniqueTopic('ingest-reader') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      received.push({
        key: message.key?.toString() ?? '',
        partition,
        event: JSON.parse(message.value!.toString()) as NormalizedEvent,
      });
    },
  });
});

afterAll(async () => {
  await consumer?.disconnect();
  await app?.close();
  await bus.stop();
});

describe('ingest onto a real Kafka topic', () => {
  it('creates the events topic with the configured partitions and reports ready', async () => {
    const admin = kafkaClient().admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(meta.topics[0]?.partitions).toHaveLength(3);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('puts the valid items of a mixed batch on the topic, normalized, keyed cluster/actor, in order per actor', async () => {
    const items = [
      auditEvent({ user: { username: 'alice' } }),
      { kind: 'Event', verb: 3 },
      auditEvent({ user: { username: 'bob' }, verb: 'delete' }),
      'garbage',
      auditEvent({ user: { username: 'alice' }, verb: 'create' }),
    ];
    const res = await app.inject({
      method: 'POST',
      url: '/v1/audit',
      headers: bearer(TOKENS.staging[0]!),
      payload: eventList(items),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().accepted).toBe(3);
    expect(res.json().rejected.map((r: { index: number }) => r.index)).toEqual([1, 3]);
    const ids = [0, 2, 4].map((i) => `${(items[i] as { auditID: string }).auditID}/ResponseComplete`);
    const mine = await waitFor(() => {
      const got = received.filter((r) => ids.includes(r.event.event.id));
      return got.length === 3 && got;
    });
    for (const r of mine) {
      expect(r.event.orchestrator.cluster.name).toBe('staging');
      expect(r.key).toBe(`staging/${r.event.user?.name}`);
      expect(r.event.kubernetes?.audit).toBeTypeOf('object');
    }
    const alice = mine.filter((r) => r.key === 'staging/alice');
    expect(alice.map((r) => r.event.event.action)).toEqual(['list', 'create']);
    expect(new Set(alice.map((r) => r.partition)).size).toBe(1);
  });

  it('takes a multi-MiB batch (sent in several produce requests) and a Falco alert', async () => {
    const items = Array.from({ length: 400 }, (_, n) =>
      auditEvent({
        level: 'RequestResponse',
        verb: 'update',
        user: { username: `user-${n % 7}` },
        objectRef: { resource: 'configmaps', namespace: 'apps', name: `cm-${n}`, apiVersion: 'v1' },
        requestObject: { kind: 'ConfigMap', data: { payload: 'p'.repeat(12 * 1024) } },
      }),
    );
    const res = await app.inject({
      method: 'POST',
      url: '/v1/audit',
      headers: bearer(TOKENS.prod),
      payload: eventList(items),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 400, rejected: [] });
    const falco = await app.inject({
      method: 'POST',
      url: '/v1/falco',
      headers: bearer(TOKENS.prod),
      payload: falcoAlert({ uuid: 'c7f3a9d2-1111-4222-8333-444455556666' }),
    });
    expect(falco.statusCode).toBe(200);
    await waitFor(
      () => received.filter((r) => r.event.orchestrator.cluster.name === 'prod').length === 401,
      60_000,
    );
    const names = new Set(received.map((r) => r.event.orchestrator.resource?.name));
    for (let n = 0; n < 400; n++) expect(names.has(`cm-${n}`)).toBe(true);
    expect(received.some((r) => r.event.event.dataset === 'falco')).toBe(true);
  });
});

describe('KafkaBus consumer side', () => {
  it('redelivers a batch whose handler failed and commits once it succeeded', async () => {
    const own = uniqueTopic('bus-consume');
    const kbus = new KafkaBus({
      brokers: kafkaBrokers(),
      clientId: 'klaxon-test',
      topics: [{ topic: own, partitions: 1 }],
      logger,
    });
    await kbus.start();
    const groupId = uniqueTopic('bus-group');
    await kbus.produce(
      own,
      Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: `m${i}` })),
    );
    const seen: string[] = [];
    let fail = true;
    const sub = await kbus.subscribe({
      groupId,
      topics: [own],
      fromBeginning: true,
      handleBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value.toString()));
        if (fail) {
          fail = false;
          throw new Error('sink down');
        }
      },
    });
    await waitFor(() => seen.length >= 10, 60_000);
    expect(seen.slice(0, 5)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(seen.slice(5, 10)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await sub.stop();
    const admin = kafkaClient().admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [own] });
    await admin.disconnect();
    expect(offsets[0]?.partitions[0]?.offset).toBe('5');
    await kbus.stop();
  });
});
