// Google's in-memory Pub/Sub server (pstest), driven by the real @google-cloud/pubsub client through
// its emulator switch (PUBSUB_EMULATOR_HOST), the way the GKE source will drive it: streaming pull
// with flow control, ack, nack and ack-deadline expiry (both redeliver), and a server restart, which
// loses every topic and subscription. Differences from Pub/Sub itself: docs/dev-services.md.
import { Duration, type Message, type PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints, pubsubClient, runServices, uniqueTopic, waitFor } from './services.ts';

type Delivery = { id: string; ackId: string; data: string; attributes: Record<string, string> };

function record(message: Message): Delivery {
  return {
    id: message.id,
    ackId: message.ackId,
    data: message.data.toString('utf8'),
    attributes: { ...message.attributes },
  };
}

/** A GKE audit LogEntry as a Log Router sink publishes it (trimmed to what identifies it). */
function logEntry(insertId: string): string {
  return JSON.stringify({
    insertId,
    logName: 'projects/klaxon-test/logs/cloudaudit.googleapis.com%2Factivity',
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      methodName: 'io.k8s.core.v1.pods.create',
      resourceName: 'core/v1/namespaces/default/pods/web-1',
      authenticationInfo: { principalEmail: 'alice@example.com' },
      status: {},
    },
    resource: {
      type: 'k8s_cluster',
      labels: { project_id: 'klaxon-test', location: 'europe-west1', cluster_name: 'prod-eu' },
    },
    timestamp: new Date().toISOString(),
  });
}

describe('pubsub (pstest)', () => {
  let pubsub: PubSub;
  const open: Subscription[] = [];

  async function topicWithSubscription(prefix: string): Promise<{ topic: Topic; subscription: string }> {
    const [topic] = await pubsub.createTopic(uniqueTopic(prefix));
    const [subscription] = await topic.createSubscription(uniqueTopic(`${prefix}-klaxon`), {
      ackDeadlineSeconds: 10,
    });
    return { topic, subscription: subscription.name };
  }

  beforeAll(() => {
    pubsub = pubsubClient();
  });
  afterAll(async () => {
    await Promise.all(open.map((subscription) => subscription.close()));
    await pubsub.close();
  });

  it('is reached through PUBSUB_EMULATOR_HOST', async () => {
    expect(process.env.PUBSUB_EMULATOR_HOST).toBe(endpoints().pubsubEmulatorHost);
    const { topic } = await topicWithSubscription('gke-audit');
    expect(pubsub.isEmulator).toBe(true);
    expect(topic.name).toBe(`projects/${endpoints().pubsubProjectId}/topics/${topic.name.split('/').pop()}`);
    const [exists] = await topic.exists();
    expect(exists).toBe(true);
  });

  it('streams every published message once, never more outstanding than flow control allows', async () => {
    const { topic, subscription } = await topicWithSubscription('gke-audit');
    const published = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const data = logEntry(`entry-${i}`);
      published.set(
        await topic.publishMessage({ data: Buffer.from(data), attributes: { seq: String(i) } }),
        data,
      );
    }

    const subscriber = pubsub.subscription(subscription, {
      flowControl: { maxMessages: 3, allowExcessMessages: false },
    });
    open.push(subscriber);
    const deliveries: Delivery[] = [];
    let outstanding = 0;
    let mostOutstanding = 0;
    subscriber.on('message', (message: Message) => {
      deliveries.push(record(message));
      outstanding += 1;
      mostOutstanding = Math.max(mostOutstanding, outstanding);
      // Held a moment, as a source holds a message until its events are durable.
      setTimeout(() => {
        outstanding -= 1;
        message.ack();
      }, 50);
    });
    await waitFor(() => deliveries.length >= published.size, 60_000);
    await subscriber.close();

    expect(deliveries.map((delivery) => delivery.id).sort()).toEqual([...published.keys()].sort());
    for (const delivery of deliveries) {
      expect(delivery.data).toBe(published.get(delivery.id));
      expect(JSON.parse(delivery.data)).toMatchObject({ insertId: `entry-${delivery.attributes.seq}` });
    }
    expect(mostOutstanding).toBeGreaterThan(0);
    expect(mostOutstanding).toBeLessThanOrEqual(3);
  });

  it('redelivers a nacked message with a new ack id', async () => {
    const { topic, subscription } = await topicWithSubscription('gke-audit-nack');
    const id = await topic.publishMessage({ data: Buffer.from(logEntry('nacked')) });
    const subscriber = pubsub.subscription(subscription);
    open.push(subscriber);
    const deliveries: Delivery[] = [];
    subscriber.on('message', (message: Message) => {
      deliveries.push(record(message));
      if (deliveries.length === 1) message.nack();
      else message.ack();
    });
    await waitFor(() => deliveries.length >= 2, 60_000);
    await subscriber.close();

    expect(deliveries.map((delivery) => delivery.id)).toEqual([id, id]);
    expect(deliveries[1]?.ackId).not.toBe(deliveries[0]?.ackId);
  });

  it('redelivers a message whose ack deadline expired without an ack or nack', async () => {
    const { topic, subscription } = await topicWithSubscription('gke-audit-expiry');
    const id = await topic.publishMessage({ data: Buffer.from(logEntry('expired')) });
    // The client stops extending the lease after a second and drops the message without a
    // nack: the server hands it out again once the 10 s deadline has passed.
    const subscriber = pubsub.subscription(subscription, { maxExtensionTime: Duration.from({ seconds: 1 }) });
    open.push(subscriber);
    const deliveries: Delivery[] = [];
    subscriber.on('message', (message: Message) => {
      deliveries.push(record(message));
      if (deliveries.length > 1) message.ack();
    });
    await waitFor(() => deliveries.length >= 2, 90_000);
    await subscriber.close();

    expect(deliveries.map((delivery) => delivery.id)).toEqual([id, id]);
    expect(deliveries[1]?.ackId).not.toBe(deliveries[0]?.ackId);
  });

  it('forgets every topic and subscription when the server restarts', async () => {
    const { topic, subscription } = await topicWithSubscription('gke-audit-restart');
    await topic.publishMessage({ data: Buffer.from(logEntry('lost')) });
    await runServices('stop', 'pubsub');
    await runServices('start', 'pubsub');

    const [topicExists] = await topic.exists();
    expect(topicExists).toBe(false);
    await expect(pubsub.subscription(subscription).getMetadata()).rejects.toMatchObject({ code: 5 });
  });
});
