import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedMessage } from '../bus/types.ts';
import { consumerLag } from '../metrics.ts';
import type { Chunk, ChunkConsumer, ConsumerSpec } from './chunk.ts';
import { type ChunkRetry, retryChunk } from './chunk-retry.ts';

export interface BatchConsumerOptions extends ConsumerSpec {
  kafka: Kafka;
}

/** Chunks of one partition delivered but waiting for a later stage before they are committed. */
const MAX_HANDED_OVER = 16;
/**
 * Partitions whose chunks are in flight at once. Planning is synchronous, so this overlaps only the waits of
 * delivery (produce acknowledgements, Elasticsearch bulk, commits) of one partition with the planning of others;
 * order within a partition is kept, and state is per partition or touched only while planning.
 */
const PARTITIONS_AT_ONCE = 6;
/** How long `stop` gives chunks waiting for a later stage to be committed. */
const STOP_GRACE_MS = 5_000;

interface PendingCommit {
  /** Offset to commit (after the chunk's last message). */
  next: string;
  metadata: string | null;
  commit: boolean;
  /** Group generation it belongs to: a rebalance abandons the chunks of the one before. */
  generation: number;
  highWatermark: string;
  settled: boolean;
  ok: boolean;
  ready: Promise<void>;
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
  private generation = 0;
  /** Per partition, in offset order: delivered chunks not committed yet. */
  private readonly pending = new Map<number, PendingCommit[]>();
  /** Per partition: commits run one after another, in order. */
  private readonly committing = new Map<number, Promise<void>>();
  /**
   * Partitions whose queue was abandoned (a chunk given up on: the member is stopping or lost
   * the partition; or a commit refused in a rebalance): nothing more is processed for them
   * until the group settles again, so no later commit can step over the abandoned chunks.
   */
  private readonly abandoned = new Set<number>();

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
      // The new owner of a partition re-reads what this member did not commit.
      this.generation++;
      this.pending.clear();
      this.abandoned.clear();
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
      partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
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
          if (!retry.alive() || this.abandoned.has(batch.partition)) return;
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
          const handedOver = plan.handedOver;
          const entry: PendingCommit = {
            next: (BigInt(last) + 1n).toString(),
            metadata: plan.outcome.kind === 'commit' ? (plan.outcome.metadata ?? null) : null,
            commit: plan.outcome.kind === 'commit',
            generation: this.generation,
            highWatermark: batch.highWatermark,
            settled: !handedOver,
            ok: true,
            ready: Promise.resolve(),
          };
          if (handedOver) {
            entry.ready = retryChunk(() => handedOver().then(() => true), retry).then((ok) => {
              entry.settled = true;
              entry.ok = ok === true;
              void this.commitSettled(batch.topic, batch.partition);
            });
          }
          const queue = this.pending.get(batch.partition) ?? [];
          this.pending.set(batch.partition, queue);
          queue.push(entry);
          await this.commitSettled(batch.topic, batch.partition);
          // Bounded: beyond that many chunks waiting for a later stage, this one waits too.
          while (queue.length > MAX_HANDED_OVER && !this.abandoned.has(batch.partition)) {
            await queue[0]!.ready;
            await this.commitSettled(batch.topic, batch.partition);
          }
          if (this.abandoned.has(batch.partition)) return;
          await heartbeat();
        }
      },
    });
  }

  /**
   * Commits, in offset order, the chunks at the head of a partition's queue that are ready;
   * stops at the first one still waiting for a later stage. A chunk given up on (the member
   * stopped or lost the partition) abandons the rest of the queue: whoever owns the partition
   * next reads them again.
   */
  private commitSettled(topic: string, partition: number): Promise<void> {
    const previous = this.committing.get(partition) ?? Promise.resolve();
    const done = previous.then(async () => {
      const queue = this.pending.get(partition) ?? [];
      while (queue[0]?.settled) {
        const head = queue.shift()!;
        if (!head.ok || head.generation !== this.generation) {
          this.abandoned.add(partition);
          queue.length = 0;
          return;
        }
        if (head.commit) {
          try {
            await this.consumer.commitOffsets([
              { topic, partition, offset: head.next, metadata: head.metadata },
            ]);
          } catch (error) {
            // Lost the partition in a rebalance: the new owner re-reads these chunks (sinks are idempotent).
            this.opts.logger.warn({ err: error, partition }, 'offset commit failed');
            this.abandoned.add(partition);
            queue.length = 0;
            return;
          }
        }
        const lag = BigInt(head.highWatermark) - BigInt(head.next);
        consumerLag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
      }
    });
    this.committing.set(partition, done);
    return done;
  }

  /** Kafka keeps what is not consumed yet for the next member: nothing to wait for. */
  async drain(): Promise<void> {}

  /** Commits what a later stage delivers within a short grace, then leaves the group. */
  async stop(): Promise<void> {
    const waiting = [...this.pending.values()].flat().map((p) => p.ready);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waiting).then(() => Promise.all(this.committing.values())),
      new Promise((resolve) => {
        timer = setTimeout(resolve, STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    await this.consumer.disconnect();
    this.joined = false;
  }
}
