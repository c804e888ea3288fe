// The real test services answer as the rest of the suite expects: a Kafka broker that kafkajs can
// create topics on, produce to with acks=-1 and consume from in a group; an Elasticsearch 8 node
// that indexes and searches; an Alertmanager with its v2 API.
import type { Client } from '@elastic/elasticsearch';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertmanagerUrl,
  elasticsearchClient,
  elasticsearchUrl,
  kafkaClient,
  uniqueTopic,
  waitFor,
} from './services.ts';

describe('kafka', () => {
  const consumers: Consumer[] = [];
  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  });

  it('round-trips messages through a new 2-partition topic with acks=-1 and a consumer group', async () => {
    const kafka = kafkaClient('klaxon-services-test');
    const topic = uniqueTopic('klaxon.test.roundtrip');
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(
        await admin.createTopics({
          topics: [{ topic, numPartitions: 2, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
      ).toBe(true);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
    } finally {
      await admin.disconnect();
    }

    const sent = Array.from({ length: 10 }, (_, i) => ({
      partition: i % 2,
      key: `k${i}`,
      value: `message ${i}`,
    }));
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const acks = await producer.send({ topic, acks: -1, messages: sent });
      expect(acks.map((ack) => ack.partition).sort()).toEqual([0, 1]);
      expect(acks.every((ack) => ack.errorCode === 0)).toBe(true);
    } finally {
      await producer.disconnect();
    }

    const received: { partition: number; key: string; value: string }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueTopic('klaxon.test.group') });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
        });
      },
    });
    await waitFor(() => received.length >= sent.length, 60_000);

    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    expect([...received].sort(byKey)).toEqual([...sent].sort(byKey));
  });
});

describe('elasticsearch', () => {
  let es: Client;
  const index = uniqueTopic('klaxon-test-roundtrip');
  beforeAll(() => {
    es = elasticsearchClient();
  });
  afterAll(async () => {
    await es.indices.delete({ index, ignore_unavailable: true });
    await es.close();
  });

  it('is Elasticsearch 8 (product header) and round-trips a document through index and search', async () => {
    const root = await fetch(elasticsearchUrl());
    expect(root.headers.get('x-elastic-product')).toBe('Elasticsearch');
    // The integ-test-zip has no rest-root module, so GET / (client.info / client.ping) is not there.
    const nodes = await es.nodes.info({ node_id: '_local', filter_path: 'nodes.*.version' });
    expect(Object.values(nodes.nodes).map((node) => node.version)).toEqual([
      expect.stringMatching(/^8\.19\./),
    ]);

    await es.index({
      index,
      id: 'a1',
      document: { message: 'klaxon round trip', level: 'high' },
      refresh: 'wait_for',
    });
    await es.index({
      index,
      id: 'a2',
      document: { message: 'something else', level: 'low' },
      refresh: 'wait_for',
    });
    const result = await es.search<{ message: string; level: string }>({
      index,
      query: { match: { message: 'klaxon' } },
    });
    expect(result.hits.hits.map((hit) => [hit._id, hit._source?.level])).toEqual([['a1', 'high']]);
  });
});

describe('alertmanager', () => {
  it('answers /api/v2/status with its cluster status and config', async () => {
    const response = await fetch(`${alertmanagerUrl()}/api/v2/status`);
    expect(response.status).toBe(200);
    const status = (await response.json()) as {
      cluster?: { status?: string };
      config?: { original?: string };
    };
    expect(status.cluster?.status).toBeTypeOf('string');
    expect(status.config?.original).toContain('receiver');
  });
});
