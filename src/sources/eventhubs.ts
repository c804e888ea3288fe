import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Consumer, type EachBatchPayload, Kafka } from 'kafkajs';
import { auditDataset } from '../datasets/audit.ts';
import { eventHubsLag, eventHubsMessages, eventHubsRecords } from '../metrics.ts';
import { CHUNK_RETRY, retryChunk } from '../worker/chunk-retry.ts';
import { describeProblem, type EventHubsSecrets, kafkaConfig, readSecrets } from './eventhubs-client.ts';
import {
  type ClusterPolicy,
  type DecodedMessage,
  type DecodeLimits,
  decodeMessage,
  type Plan,
  planBatches,
} from './eventhubs-records.ts';
import { type EventHubsSourceSettings, usesTls } from './eventhubs-settings.ts';
import type { PullSource, SourceContext, SourceModule } from './types.ts';

/** Rejected records named in the log per batch; the rest are counted. */
const LOGGED_REJECTIONS = 10;
/** Between attempts to connect: doubling from 1 s to 30 s. */
const RECONNECT_MS = { first: 1_000, max: 30_000 };

/** What one batch of messages came to. */
interface Outcome {
  accepted: number;
  rejected: Array<{ where: string; text: string }>;
  rejectedCount: number;
}

/**
 * AKS diagnostic logs from an Event Hub, over its Kafka endpoint (`type: eventhubs`), or from a Kafka topic
 * with the same documents. A consumer group of its own; the group's committed offsets are the checkpoint: a
 * batch's offsets are committed only once `accept` resolved for it, so a restart (or another replica taking the
 * partition) resumes after the last durable batch and repeats at most the batch in flight, whose events keep
 * their ids (and so their alerts' ids, which the sinks deduplicate). Replicas share the hub's partitions
 * through the group. The connection string and CA are read from their files at every connection.
 */
class EventHubsSource implements PullSource {
  private readonly config: EventHubsSourceSettings;
  private readonly ctx: SourceContext;
  private readonly groupId: string;
  private readonly policy: ClusterPolicy;
  private readonly limits: DecodeLimits;
  private running = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  private problem: string | undefined = 'not connected yet';
  /** Partitions this replica reports a lag for (dropped when a rebalance takes them away). */
  private readonly lagPartitions = new Set<number>();

  constructor(config: EventHubsSourceSettings, ctx: SourceContext) {
    this.config = config;
    this.ctx = ctx;
    this.groupId = config.consumerGroup ?? `klaxon-${ctx.name}`;
    this.policy = {
      cluster: config.cluster,
      allowed: config.allowedClusters ? new Set(config.allowedClusters) : undefined,
    };
    this.limits = { maxMessageBytes: config.maxMessageBytes, maxEventBytes: ctx.accept.maxItemBytes };
  }

  async start(): Promise<void> {
    if (sendsSecretInClear(this.config))
      this.ctx.logger.warn(
        { source: this.ctx.name },
        'connectionStringFile with tls: false: the connection string crosses the network unencrypted',
      );
    this.running = true;
    this.loop = this.supervise();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.consumer?.disconnect().catch(() => {});
    await this.loop;
    this.keepLag(new Set());
  }

  status(): { ok: boolean; reason?: string } {
    return this.problem ? { ok: false, reason: this.problem } : { ok: true };
  }

  private report(problem: string): void {
    if (problem !== this.problem)
      this.ctx.logger.error({ source: this.ctx.name, topic: this.config.topic }, problem);
    this.problem = problem;
  }

  /** Forgets the lag of partitions no longer read here, so the sum over replicas stays right. */
  private keepLag(assigned: ReadonlySet<number>): void {
    for (const partition of this.lagPartitions) {
      if (assigned.has(partition)) continue;
      eventHubsLag.remove({ source: this.ctx.name, partition: String(partition) });
      this.lagPartitions.delete(partition);
    }
  }

  private setLag(partition: number, highWatermark: string, next: string): void {
    const lag = BigInt(highWatermark) - BigInt(next);
    eventHubsLag.set({ source: this.ctx.name, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
    this.lagPartitions.add(partition);
  }

  /** Connects, runs the consumer until it crashes or the source stops, and starts over after a pause. */
  private async supervise(): Promise<void> {
    const stopped = once(this.stopping.signal, 'abort').then(() => undefined);
    let failures = 0;
    while (this.running) {
      let secrets: EventHubsSecrets = {};
      let consumer: Consumer | undefined;
      try {
        secrets = await readSecrets(this.config);
        consumer = this.newConsumer(secrets);
        this.consumer = consumer;
        const crashed = new Promise<unknown>((resolve) => {
          consumer!.on(consumer!.events.CRASH, (e) => resolve(e.payload.error));
        });
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          this.keepLag(new Set(e.payload.memberAssignment[this.config.topic] ?? []));
          if (this.problem !== undefined)
            this.ctx.logger.info(
              { source: this.ctx.name, topic: this.config.topic, group: this.groupId },
              'reading the hub',
            );
          this.problem = undefined;
          failures = 0;
        });
        await consumer.connect();
        await consumer.subscribe({
          topics: [this.config.topic],
          fromBeginning: this.config.startAt === 'earliest',
        });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => this.eachBatch(consumer!, payload),
        });
        const error = await Promise.race([crashed, stopped]);
        if (!this.running) break;
        this.report(describeProblem(error, this.config, secrets));
      } catch (err) {
        if (!this.running) break;
        this.report(describeProblem(err, this.config, secrets));
      } finally {
        await consumer?.disconnect().catch(() => {});
        this.consumer = undefined;
      }
      const pause = Math.min(RECONNECT_MS.max, RECONNECT_MS.first * 2 ** Math.min(failures++, 10));
      await sleep(pause, undefined, { signal: this.stopping.signal }).catch(() => {});
    }
  }

  private newConsumer(secrets: EventHubsSecrets): Consumer {
    const kafka = new Kafka(kafkaConfig(this.config, secrets, this.ctx.logger));
    return kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.config.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      // Below the 240 s after which Azure closes idle connections (Microsoft's recommended value).
      metadataMaxAge: 180_000,
      maxBytes: this.config.maxBatchBytes,
      // Every crash goes back to `supervise`, which reads the connection string again before reconnecting.
      retry: { retries: 5, restartOnFailure: async () => false },
    });
  }

  /** Consecutive messages from `start`, up to the batch limits (at least one). */
  private chunk(payload: EachBatchPayload, start: number): DecodedMessage[] {
    const { batch } = payload;
    const out: DecodedMessage[] = [];
    let bytes = 0;
    for (let i = start; i < batch.messages.length && out.length < this.config.maxBatchMessages; i++) {
      const m = batch.messages[i]!;
      const decoded = decodeMessage(`${batch.partition}@${m.offset}`, m.value, this.limits);
      if (out.length > 0 && bytes + decoded.bytes > this.config.maxBatchBytes) break;
      out.push(decoded);
      bytes += decoded.bytes;
    }
    return out;
  }

  private async eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
    const source = this.ctx.name;
    const retry = {
      policy: CHUNK_RETRY,
      logger: this.ctx.logger.child({ source, partition: batch.partition }),
      alive: () => this.running && isRunning() && !isStale(),
      heartbeat,
      onFailure: (error: unknown) => {
        this.problem = `events cannot be made durable now: ${(error as Error).message}`;
      },
      onSuccess: () => {
        this.problem = undefined;
      },
    };
    const first = batch.messages[0];
    if (first) this.setLag(batch.partition, batch.highWatermark, first.offset);
    for (let i = 0; i < batch.messages.length; ) {
      if (!retry.alive()) return;
      const messages = this.chunk(payload, i);
      const plan = planBatches(messages, this.policy);
      const outcome = await retryChunk(() => this.acceptAll(plan), retry);
      if (!outcome) return;
      i += messages.length;
      const last = batch.messages[i - 1]!.offset;
      resolveOffset(last);
      const next = (BigInt(last) + 1n).toString();
      try {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      } catch (error) {
        // The partition moved to another member, which reads this batch again (same event ids: no new alerts).
        this.ctx.logger.warn({ err: error, source, partition: batch.partition }, 'offset commit failed');
        return;
      }
      this.count(plan, outcome, messages.length);
      this.setLag(batch.partition, batch.highWatermark, next);
      await heartbeat();
    }
  }

  /** One accept per cluster of the plan; a `RetryLaterError` from any leaves the whole batch uncommitted. */
  private async acceptAll(plan: Plan): Promise<Outcome> {
    const outcome: Outcome = { accepted: 0, rejected: [], rejectedCount: 0 };
    const receivedAt = new Date().toISOString();
    for (const batch of plan.batches) {
      const result = await this.ctx.accept.accept({
        dataset: auditDataset,
        cluster: batch.cluster,
        items: batch.items,
        receivedAt,
      });
      outcome.accepted += result.accepted;
      outcome.rejectedCount += result.rejected.count;
      for (const r of result.rejected.listed)
        outcome.rejected.push({ where: batch.where[r.index] ?? '', text: r.reason });
    }
    return outcome;
  }

  private count(plan: Plan, outcome: Outcome, messages: number): void {
    const source = this.ctx.name;
    eventHubsMessages.inc({ source }, messages);
    eventHubsRecords.inc({ source, outcome: 'accepted' }, outcome.accepted);
    eventHubsRecords.inc({ source, outcome: 'rejected' }, plan.rejected.length + outcome.rejectedCount);
    eventHubsRecords.inc({ source, outcome: 'ignored' }, plan.ignored);
    const rejected = [
      ...plan.rejected.map((r) => ({ where: r.where, reason: r.text })),
      ...outcome.rejected.map((r) => ({ where: r.where, reason: r.text })),
    ];
    if (rejected.length > 0)
      this.ctx.logger.warn(
        {
          source,
          rejected: rejected.slice(0, LOGGED_REJECTIONS),
          count: plan.rejected.length + outcome.rejectedCount,
        },
        'records rejected',
      );
  }
}

/** SASL PLAIN without TLS sends the connection string as it is. */
function sendsSecretInClear(config: EventHubsSourceSettings): boolean {
  return config.connectionStringFile !== undefined && !usesTls(config);
}

export const eventHubsSource: SourceModule<EventHubsSourceSettings> = {
  create: (config, ctx) => new EventHubsSource(config, ctx),
};
