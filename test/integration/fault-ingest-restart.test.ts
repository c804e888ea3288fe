// The spool survives the ingest process: `klaxon ingest` with no reachable Kafka accepts 20
// bindings into its spool, is SIGKILLed (no graceful anything), and a new process on the same
// spool directory delivers all 20 to the real Kafka, in order, once it can reach it.
import type { Consumer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import {
  clusterAdminBinding,
  isolatedEnv,
  metricValue,
  postLikeApiServer,
  startIngest,
} from './fault-processes.ts';
import { kafkaClient, waitFor } from './services.ts';

const procs: Klaxon[] = [];
const consumers: Consumer[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await Promise.all(consumers.map((c) => c.disconnect()));
});

describe('ingest restart with a full spool', () => {
  it('delivers what a SIGKILLed ingest had spooled, in order', { timeout: 180_000 }, async () => {
    const env = isolatedEnv('ingest-restart');
    // Nothing listens on port 1: Kafka is unreachable from the start.
    const offline = await startIngest({ ...env, KAFKA_BROKERS: '127.0.0.1:1' });
    procs.push(offline.proc);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const event = clusterAdminBinding('ingest-restart');
      sent.push(event.auditID as string);
      expect((await postLikeApiServer(offline.url, [event])).status).toBe(200);
    }
    expect(await metricValue(offline.url, 'klaxon_spool_events')).toBe(20);
    expect(await offline.proc.kill('SIGKILL')).toBe('SIGKILL');

    const online = await startIngest(env);
    procs.push(online.proc);
    await waitFor(async () => (await metricValue(online.url, 'klaxon_spool_events')) === 0, 90_000, 500);
    expect(await metricValue(online.url, 'klaxon_spool_drained_total')).toBe(20);

    const consumer = kafkaClient('klaxon-ingest-restart').consumer({
      groupId: `${env.KLAXON_GROUP_ID}.check`,
    });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: env.KLAXON_EVENTS_TOPIC!, fromBeginning: true });
    const received: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value!.toString()) as { event: { id: string } };
        received.push(event.event.id.split('/')[0]!);
      },
    });
    await waitFor(() => received.length >= 20, 60_000, 200);
    // One key (cluster/actor), so one partition: the order of arrival is kept.
    expect(received).toEqual(sent);
  });
});
