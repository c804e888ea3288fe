import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedMessage } from '../bus/types.ts';
import { consumerLag } from '../metrics.ts';
import type { Chunk, ChunkConsumer, ConsumerSpec } from './chunk.ts';
import { type ChunkRetry, retryChunk } from './chunk-retry.ts';

export interface BatchConsumerOptions extends ConsumerSpec {
  kafka: Kafka;
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString() : null,
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  };
}

/**
 * A kafkajs consumer-group member that commits a chunk's offsets only after the chunk's
 * delivery succeeded (at-least-once). While delivery fails (a sink is down) the partition
 * waits on its current chunk — nothing else is fetched for it, so memory stays bounded —
 * and the member keeps heartbeating so it is not thrown out of the group. A rebalance or
 * shutdown abandons the chunk uncommitted: whoever owns the partition next reads it again.
 */
export class BatchConsumer implements ChunkConsumer {
  readonly consumer: Consumer;
  private readonly opts: BatchConsumerOptions;
  private joined = false;

  constructor(opts: BatchConsumerOptions) {
    this.opts = opts;
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    const { GROUP_JOIN, CRASH, DISCONNECT, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => {
      this.joined = true;
      opts.onGroupJoin?.();
    });
    for (const event of [CRASH, DISCONNECT, STOP] as const) {
      this.consumer.on(event, () => {
        this.joined = false;
      });
    }
  }

  get isJoined(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // A new group starts from the earliest retained message: events produced before the
    // first detector started are still detected.
    await this.consumer.subscribe({ topics: [this.opts.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
        const size = this.opts.chunkSize;
        const retry: ChunkRetry = {
          policy: this.opts.retry,
          logger: this.opts.logger,
          alive: () => isRunning() && !isStale(),
          heartbeat,
          onFailure: this.opts.onDeliveryFailure,
          onSuccess: this.opts.onDeliverySuccess,
        };
        for (let i = 0; i < batch.messages.length; i += size) {
          if (!retry.alive()) return;
          const slice = batch.messages.slice(i, i + size);
          const chunk: Chunk = {
            topic: batch.topic,
            partition: batch.partition,
            messages: slice.map((m) => toConsumed(batch.topic, batch.partition, m)),
          };
          const plan = await retryChunk(() => Promise.resolve(this.opts.plan(chunk)), retry);
          if (!plan) return;
          if (plan.outcome.kind === 'seek') {
            this.consumer.seek({
              topic: batch.topic,
              partition: batch.partition,
              offset: plan.outcome.offset,
            });
            return;
          }
          const delivered = await retryChunk(() => plan.deliver().then(() => true), retry);
          if (!delivered) return;
          const last = slice[slice.length - 1]!.offset;
          resolveOffset(last);
          const next = (BigInt(last) + 1n).toString();
          if (plan.outcome.kind === 'commit') {
            try {
              await this.consumer.commitOffsets([
                {
                  topic: batch.topic,
                  partition: batch.partition,
                  offset: next,
                  metadata: plan.outcome.metadata ?? null,
                },
              ]);
            } catch (error) {
              // Lost the partition in a rebalance: the new owner re-reads this chunk (sinks are idempotent).
              this.opts.logger.warn({ err: error, partition: batch.partition }, 'offset commit failed');
              return;
            }
          }
          const lag = BigInt(batch.highWatermark) - BigInt(next);
          consumerLag.set(
            { topic: batch.topic, partition: String(batch.partition) },
            Number(lag > 0n ? lag : 0n),
          );
          await heartbeat();
        }
      },
    });
  }

  /** Kafka keeps what is not consumed yet for the next member: nothing to wait for. */
  async drain(): Promise<void> {}

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    this.joined = false;
  }
}
