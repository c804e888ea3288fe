import type { MemoryBus } from '../bus/memory.ts';
import type { ConsumedBatch, Subscription } from '../bus/types.ts';
import { consumerLag } from '../metrics.ts';
import type { ChunkConsumer, ConsumerSpec } from './chunk.ts';
import { type ChunkRetry, retryChunk } from './chunk-retry.ts';

export interface MemoryConsumerOptions extends ConsumerSpec {
  bus: MemoryBus;
}

/**
 * The in-memory counterpart of `BatchConsumer` (`klaxon serve` without Kafka): the same
 * plan-once, deliver-until-it-succeeds, then-commit contract, on the memory bus's single
 * partition. One batch is one chunk, so a batch is never handed over again after part of
 * it was delivered. While delivery fails the topic waits, and producers to it wait for
 * room once it holds the bus's capacity: memory stays bounded.
 */
export class MemoryChunkConsumer implements ChunkConsumer {
  private readonly opts: MemoryConsumerOptions;
  private subscription: Subscription | undefined;
  private stopping = false;
  /** Offset after the last delivered chunk. */
  private position = 0;

  constructor(opts: MemoryConsumerOptions) {
    this.opts = opts;
  }

  get isJoined(): boolean {
    return this.subscription !== undefined && !this.stopping;
  }

  async start(): Promise<void> {
    this.subscription = await this.opts.bus.subscribe({
      groupId: this.opts.groupId,
      topics: [this.opts.topic],
      fromBeginning: true,
      maxBatchSize: this.opts.chunkSize,
      handleBatch: (batch) => this.handle(batch),
    });
  }

  private async handle(batch: ConsumedBatch): Promise<void> {
    const retry: ChunkRetry = {
      policy: this.opts.retry,
      logger: this.opts.logger,
      alive: () => !this.stopping,
      onFailure: this.opts.onDeliveryFailure,
      onSuccess: this.opts.onDeliverySuccess,
    };
    const chunk = { topic: batch.topic, partition: batch.partition, messages: batch.messages };
    const plan = await retryChunk(() => Promise.resolve(this.opts.plan(chunk)), retry);
    // Stopping: the chunk is abandoned with the process (the memory bus does not outlive it).
    if (!plan) return;
    if (plan.outcome.kind === 'seek') {
      throw new Error('the in-memory bus keeps no committed history to rebuild from');
    }
    if (!(await retryChunk(() => plan.deliver().then(() => true), retry))) return;
    const handedOver = plan.handedOver;
    if (handedOver && !(await retryChunk(() => handedOver().then(() => true), retry))) return;
    this.position = Number(batch.messages[batch.messages.length - 1]!.offset) + 1;
    consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Math.max(0, this.opts.bus.end(batch.topic) - this.position),
    );
  }

  async drain(deadline: number): Promise<void> {
    while (!this.stopping && this.position < this.opts.bus.end(this.opts.topic) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.subscription?.stop();
  }
}
