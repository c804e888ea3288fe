import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedMessage } from '../bus/types.ts';
import type { Logger } from '../log.ts';
import { consumerLag } from '../metrics.ts';
import { backoffMs, type RetryPolicy } from '../sinks/retry.ts';

/** What to do with a chunk's offsets once its work is delivered. */
export type ChunkOutcome =
  /** Resolve and commit the chunk (with optional commit metadata). */
  | { kind: 'commit'; metadata?: string }
  /** Resolve without committing: the chunk was already committed (a state rebuild re-read it). */
  | { kind: 'skip' }
  /** Rewind the partition to `offset` and drop the rest of this batch (start of a state rebuild). */
  | { kind: 'seek'; offset: string };

/**
 * A chunk's work, split in two: `plan` computes (once: detection state moves forward), and
 * `deliver` does the I/O (sinks, produce), retried until it succeeds. Retrying only the
 * delivery keeps stateful detection (suppression, correlation windows) from counting a
 * chunk twice.
 */
export interface ChunkPlan {
  deliver(): Promise<void>;
  outcome: ChunkOutcome;
}

export interface Chunk {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  logger: Logger;
  /** Messages handed to `plan` at once (a fetched batch is cut into chunks of this size). */
  chunkSize?: number;
  /** Backoff between delivery attempts of a chunk; attempts are unbounded (the partition waits). */
  retry?: RetryPolicy;
  plan(chunk: Chunk): Promise<ChunkPlan> | ChunkPlan;
  /** A new group generation: the assignment may have changed, in-memory state must be rebuilt. */
  onGroupJoin?(): void;
  /** Every failed delivery attempt (for logs and readiness). */
  onDeliveryFailure?(error: unknown): void;
  onDeliverySuccess?(): void;
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

const DEFAULT_BACKOFF: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, maxMs: 15_000 };

/**
 * A kafkajs consumer-group member that commits a chunk's offsets only after the chunk's
 * delivery succeeded (at-least-once). While delivery fails (a sink is down) the partition
 * waits on its current chunk — nothing else is fetched for it, so memory stays bounded —
 * and the member keeps heartbeating so it is not thrown out of the group. A rebalance or
 * shutdown abandons the chunk uncommitted: whoever owns the partition next reads it again.
 */
export class BatchConsumer {
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

  /** Member of the group with an assignment generation (readiness). */
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
        const size = this.opts.chunkSize ?? 500;
        const alive = () => isRunning() && !isStale();
        for (let i = 0; i < batch.messages.length; i += size) {
          if (!alive()) return;
          const slice = batch.messages.slice(i, i + size);
          const chunk: Chunk = {
            topic: batch.topic,
            partition: batch.partition,
            messages: slice.map((m) => toConsumed(batch.topic, batch.partition, m)),
          };
          const plan = await this.withRetry(() => Promise.resolve(this.opts.plan(chunk)), heartbeat, alive);
          if (!plan) return;
          if (plan.outcome.kind === 'seek') {
            this.consumer.seek({
              topic: batch.topic,
              partition: batch.partition,
              offset: plan.outcome.offset,
            });
            return;
          }
          const delivered = await this.withRetry(() => plan.deliver().then(() => true), heartbeat, alive);
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

  /**
   * Runs `attempt` until it succeeds, heartbeating meanwhile; gives up (undefined) only when
   * the consumer stops or loses the partition.
   */
  private async withRetry<T>(
    attempt: () => Promise<T>,
    heartbeat: () => Promise<void>,
    alive: () => boolean,
  ): Promise<T | undefined> {
    const policy = this.opts.retry ?? DEFAULT_BACKOFF;
    for (let n = 0; n < policy.attempts; n++) {
      if (!alive()) return undefined;
      const keepAlive = setInterval(() => void heartbeat().catch(() => {}), 2_000);
      try {
        const value = await attempt();
        this.opts.onDeliverySuccess?.();
        return value;
      } catch (error) {
        this.opts.onDeliveryFailure?.(error);
        this.opts.logger.warn({ err: error, attempt: n + 1 }, 'chunk delivery failed; retrying');
      } finally {
        clearInterval(keepAlive);
      }
      const until = Date.now() + backoffMs(policy, n);
      while (Date.now() < until && alive()) {
        await heartbeat().catch(() => {});
        await new Promise((r) => setTimeout(r, Math.min(500, until - Date.now())));
      }
    }
    return undefined;
  }

  /** Finishes (or abandons, uncommitted) the chunk in progress, then leaves the group. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
    this.joined = false;
  }
}
