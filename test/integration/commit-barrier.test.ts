// The detect stage's wait for the correlate stage's commits, on real Kafka: every chunk waiting shares one poll of
// the group's offsets (a poll each would send thousands of offset fetches a second once many chunks wait).
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BarrierClosedError,
  BarrierTimeoutError,
  kafkaCommitBarrier,
} from '../../src/worker/commit-barrier.ts';
import { kafkaClient, uniqueTopic } from './services.ts';

const kafka = kafkaClient('kx-commit-barrier');
const topic = uniqueTopic('kx.barrier.signals');
const groupId = uniqueTopic('kx-barrier-correlate');
const POLL_MS = 25;
let admin: Admin;
let fetches = 0;
const keys = Array.from({ length: 30 }, (_, i) => `["k8s-rule","prod","user-${i}"]`);

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: 'signal' })) });
  await producer.disconnect();
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

/** The real admin, counting the offset fetches the barrier sends. */
function counted(): Pick<Admin, 'fetchTopicMetadata' | 'fetchTopicOffsets' | 'fetchOffsets'> {
  return {
    fetchTopicMetadata: (o) => admin.fetchTopicMetadata(o),
    fetchTopicOffsets: (t) => admin.fetchTopicOffsets(t),
    fetchOffsets: (o) => {
      fetches++;
      return admin.fetchOffsets(o);
    },
  };
}

describe('kafkaCommitBarrier', () => {
  it('lets many waiting chunks share one poll, and releases each once the group committed past its mark', async () => {
    const barrier = kafkaCommitBarrier(counted(), groupId, topic, POLL_MS);
    const marks = await Promise.all(keys.map((key) => barrier.mark([key])));
    expect(new Set(marks.flatMap((m) => [...m.keys()])).size).toBe(3);
    fetches = 0;
    const started = Date.now();
    let released = 0;
    const waits = marks.map((m) => barrier.reached(m, 30_000).then(() => released++));
    await new Promise((r) => setTimeout(r, 400));
    expect(released).toBe(0);
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })),
    });
    await Promise.all(waits);
    const polls = (Date.now() - started) / POLL_MS;
    expect(released).toBe(keys.length);
    // One fetch per poll for all 30 waiters (a fetch is slower than the poll interval, so fewer), not 30.
    expect(fetches).toBeLessThanOrEqual(polls + 2);
  });

  it('times out a waiter whose mark is never reached, while the others go on', async () => {
    const group = uniqueTopic('kx-barrier-never');
    const barrier = kafkaCommitBarrier(counted(), group, topic, POLL_MS);
    const mark = await barrier.mark([keys[0]!]);
    const [partition, end] = [...mark][0]!;
    const short = barrier.reached(mark, 200);
    const long = barrier.reached(mark, 30_000);
    await expect(short).rejects.toBeInstanceOf(BarrierTimeoutError);
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition, offset: end.toString() }] });
    await expect(long).resolves.toBeUndefined();
  });

  it('fails every wait at once when the stage stops, and polls no more', async () => {
    const barrier = kafkaCommitBarrier(counted(), uniqueTopic('kx-barrier-stopping'), topic, POLL_MS);
    const mark = await barrier.mark([keys[0]!]);
    const waiting = barrier.reached(mark, 30_000);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    barrier.close();
    await expect(waiting).rejects.toBeInstanceOf(BarrierClosedError);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(barrier.reached(mark, 30_000)).rejects.toBeInstanceOf(BarrierClosedError);
    const after = fetches;
    await new Promise((r) => setTimeout(r, 10 * POLL_MS));
    // At most the fetch that was under way when it closed.
    expect(fetches - after).toBeLessThanOrEqual(1);
  });
});
