import type { Admin } from 'kafkajs';
import type { KafkaBus, TopicSpec } from '../bus/kafka.ts';
import type { MemoryBus } from '../bus/memory.ts';
import { BatchConsumer } from './batch-consumer.ts';
import type { ChunkTransport } from './chunk.ts';
import { type CommitBarrier, kafkaCommitBarrier } from './commit-barrier.ts';
import { MemoryChunkConsumer } from './memory-consumer.ts';
import { kafkaOffsetHistory, NOTHING_COMMITTED } from './offset-history.ts';

/**
 * Stages as Kafka consumer groups (`klaxon detect`, and `serve`'s events when Kafka is set).
 * `topics` are created on start when missing (the topics the runtime writes).
 */
export function kafkaTransport(bus: KafkaBus, topics: TopicSpec[] = []): ChunkTransport {
  const admin: Admin = bus.kafka.admin();
  const barriers: CommitBarrier[] = [];
  let started: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    kind: 'kafka',
    produce: (topic, messages) => bus.produce(topic, messages),
    consumer: (spec) => new BatchConsumer({ ...spec, kafka: bus.kafka }),
    history: (groupId) => kafkaOffsetHistory(admin, groupId),
    commitBarrier: (groupId, topic) => {
      const barrier = kafkaCommitBarrier(admin, groupId, topic);
      barriers.push(barrier);
      return barrier;
    },
    start() {
      started ??= (async () => {
        await bus.ensureTopics(topics);
        await admin.connect();
      })();
      return started;
    },
    stop() {
      for (const barrier of barriers) barrier.close();
      stopped ??= admin.disconnect();
      return stopped;
    },
  };
}

/** Stages on the in-process bus (`klaxon serve`): nothing to create, nothing committed before. */
export function memoryTransport(bus: MemoryBus): ChunkTransport {
  return {
    kind: 'memory',
    produce: (topic, messages) => bus.produce(topic, messages),
    consumer: (spec) => new MemoryChunkConsumer({ ...spec, bus }),
    history: () => NOTHING_COMMITTED,
    start: async () => {},
    stop: async () => {},
  };
}
