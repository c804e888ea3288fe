// Kafka's SASL PLAIN listeners, which authenticate as Azure Event Hubs' Kafka endpoint does: user
// name `$ConnectionString`, password the namespace connection string; over TLS (SASL_SSL, a test
// CA) and without (SASL_PLAINTEXT). kafkajs, as the AKS source will use it, against the real broker.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { eventHubs, eventHubsKafka, uniqueTopic, waitFor } from './services.ts';

/** Fail at the first refusal instead of retrying for half a minute. */
const once = { retry: { retries: 0 }, connectionTimeout: 5_000, authenticationTimeout: 5_000 };

/** A diagnostic-logs document as AKS sends it to Event Hubs: the audit Event is a JSON string. */
function diagnosticDocument(auditID: string): string {
  const event = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    verb: 'get',
    requestURI: '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef',
    user: { username: 'masterclient', groups: ['system:masters', 'system:authenticated'] },
    objectRef: {
      resource: 'secrets',
      namespace: 'kube-system',
      name: 'bootstrap-token-abcdef',
      apiVersion: 'v1',
    },
    responseStatus: { metadata: {}, code: 200 },
  };
  return JSON.stringify({
    records: [
      {
        time: new Date().toISOString(),
        resourceId:
          '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG-PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-WEU',
        category: 'kube-audit',
        operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
        properties: { log: JSON.stringify(event), stream: 'stdout', pod: 'kube-apiserver-5d4c8f7b9-x2x7q' },
      },
    ],
  });
}

async function produce(kafka: Kafka, topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const acks = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
    expect(acks.every((ack) => ack.errorCode === 0)).toBe(true);
  } finally {
    await producer.disconnect();
  }
}

describe('kafka SASL listeners (Event Hubs authentication)', () => {
  it('takes $ConnectionString with the right connection string on both listeners, produce and consume', async () => {
    const topic = uniqueTopic('insights-logs-kube-audit');
    const plain = eventHubsKafka({ tls: false });
    const tls = eventHubsKafka({ tls: true });

    const admin = plain.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(
        true,
      );
    } finally {
      await admin.disconnect();
    }
    const sent = [diagnosticDocument('over-sasl-plaintext'), diagnosticDocument('over-sasl-ssl')];
    await produce(plain, topic, [sent[0] ?? '']);
    await produce(tls, topic, [sent[1] ?? '']);

    // Read back over TLS as a consumer group, as the AKS source does with its own group.
    const received: string[] = [];
    const consumer = tls.consumer({ groupId: uniqueTopic('klaxon-aks') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value?.toString('utf8') ?? '');
        },
      });
      await waitFor(() => received.length >= sent.length, 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect([...received].sort()).toEqual([...sent].sort());
    const record = (JSON.parse(received[0] ?? '{}') as { records: { properties: { log: string } }[] })
      .records[0];
    expect(JSON.parse(record?.properties.log ?? '{}')).toMatchObject({ kind: 'Event', verb: 'get' });
  });

  it('refuses a wrong connection string with a SASL authentication error, on both listeners', async () => {
    for (const tls of [false, true]) {
      const kafka = eventHubsKafka({
        tls,
        connectionStringFile: eventHubs().wrongConnectionStringFile,
        overrides: once,
      });
      const admin = kafka.admin();
      await expect(admin.connect()).rejects.toMatchObject({
        name: 'KafkaJSSASLAuthenticationError',
        message: expect.stringMatching(/Invalid username or password/),
      });
      await admin.disconnect();
    }
  });

  it('refuses plaintext on the SASL_SSL port, a server it cannot verify, and a client without SASL', async () => {
    const hubs = eventHubs();
    const password = readFileSync(hubs.connectionStringFile, 'utf8').trim();
    const sasl = { mechanism: 'plain' as const, username: '$ConnectionString', password };
    const attempts = [
      {
        brokers: hubs.saslSslBrokers,
        ssl: false,
        sasl,
        error: /Closed connection|ECONNRESET|socket hang up/,
      },
      { brokers: hubs.saslSslBrokers, ssl: { ca: [] }, sasl, error: /certificate/ },
      {
        brokers: hubs.saslBrokers,
        ssl: false,
        sasl: undefined,
        error: /Closed connection|ECONNRESET|socket hang up/,
      },
    ];
    for (const { error, ...config } of attempts) {
      const kafka = new Kafka({
        clientId: 'klaxon-test-refused',
        logLevel: logLevel.NOTHING,
        ...once,
        ...config,
      });
      const admin = kafka.admin();
      await expect(admin.connect().then(() => admin.listTopics())).rejects.toThrow(error);
      await admin.disconnect();
    }
  });
});
