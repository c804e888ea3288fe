// Klaxon's state topics (first-seen records, source checkpoints) on real Kafka: their producer is connected on
// first use. Saves that race for it must share one, or the others are never disconnected and their sockets keep
// `klaxon detect` from exiting after a shutdown (the correlate stage saves from several partitions at once).
import { describe, expect, it } from 'vitest';
import { KafkaCheckpointStore } from '../../src/sources/checkpoints.ts';
import { KafkaFirstSeenLog } from '../../src/worker/first-seen-log.ts';
import { kafkaClient, uniqueTopic, waitFor } from './services.ts';

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Waits until this process holds no more TCP sockets than `before` (sockets close a moment after disconnect). */
const backTo = (before: number) => waitFor(() => tcpSockets() <= before, 5_000).catch(() => false);

describe('state topic producers', () => {
  it('first-seen saves racing for the producer share one, and close leaves no socket open', async () => {
    const before = tcpSockets();
    const log = new KafkaFirstSeenLog({
      kafka: kafkaClient('kx-state-first-seen'),
      topic: uniqueTopic('kx.state.first-seen'),
      partitions: 3,
      signals: { partitions: 1 },
    });
    const change = (n: number) => ({
      key: `["fs-rule","prod","app-${n}"]`,
      record: {
        rule: 'fs-rule',
        cluster: 'prod',
        group: { app: `app-${n}` },
        first: n,
        since: 0,
        values: [],
      },
    });
    await Promise.all(Array.from({ length: 8 }, (_, n) => log.save([change(n)])));
    expect((await log.loadAll()).map((c) => c.key).sort()).toEqual(
      Array.from({ length: 8 }, (_, n) => change(n).key).sort(),
    );
    await log.close();
    expect(await backTo(before)).toBe(true);
  });

  it('checkpoint saves racing for the producer share one, and close leaves no socket open', async () => {
    const before = tcpSockets();
    const kafka = kafkaClient('kx-state-checkpoints');
    const topic = uniqueTopic('kx.state.checkpoints');
    const store = new KafkaCheckpointStore(kafka, topic);
    expect(await store.load('stream-0')).toBeUndefined(); // creates the topic
    await Promise.all(Array.from({ length: 8 }, (_, n) => store.save(`stream-${n}`, `token-${n}`)));
    await store.close();
    const again = new KafkaCheckpointStore(kafka, topic);
    expect(await again.load('stream-5')).toBe('token-5');
    await again.close();
    expect(await backTo(before)).toBe(true);
  });
});
