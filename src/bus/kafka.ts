import {
  type Admin,
  CompressionTypes,
  type Consumer,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  type Producer,
} from 'kafkajs';
import type { Logger } from '../log.ts';
import { busProduceSeconds } from '../metrics.ts';
import { rememberingPartitioner } from './partitioner.ts';
import type { Bus, BusMessage, ConsumedMessage, SubscribeOptions, Subscription } from './types.ts';
import { BusUnavailableError } from './types.ts';

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** -1: the broker's default. */
  replicationFactor?: number;
  configEntries?: Array<{ name: string; value: string }>;
}

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Topics created on `start` when missing. */
  topics?: TopicSpec[];
  compression?: 'none' | 'gzip';
  ssl?: boolean;
  /** How long `produce` may take before it fails with `BusUnavailableError`. */
  produceTimeoutMs?: number;
  /** How connections to the brokers are opened (default: kafkajs's TCP/TLS sockets); a proxy, or a test's faults. */
  socketFactory?: ISocketFactory;
  logger: Logger;
}

/**
 * One produce request's records per partition form one record batch, and brokers refuse
 * batches over `message.max.bytes` (1 MiB by default): so big ingest requests go out in
 * chunks of at most this many bytes.
 */
const CHUNK_BYTES = 768 * 1024;

interface Pending {
  topic: string;
  messages: Message[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * kafkajs warns, for every idempotent producer whose retries are bounded, that this "may invalidate
 * EoS guarantees": a batch whose answer never came leaves the producer's sequence numbers ambiguous.
 * `KafkaBus` replaces its producer after any failed send, so the bound costs a duplicate at worst,
 * never a loss; logged at debug, not as a warning at every start.
 */
const HANDLED_WARNINGS = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
]);

/** kafkajs logs through pino, quietly (kafkajs is chatty at INFO). */
export function logCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level === logLevel.ERROR) logger.error({ kafka: extra }, message);
      else if (level === logLevel.WARN && !HANDLED_WARNINGS.has(message))
        logger.warn({ kafka: extra }, message);
      else logger.debug({ kafka: extra }, message);
    };
}

/**
 * Kafka through kafkajs. The producer uses `acks: -1` and sends one request at a time:
 * concurrent `produce` calls are coalesced into the next request (group commit), so
 * throughput grows with concurrency while per-producer order is kept. It is idempotent
 * (kafkajs requires one request in flight for that, which it already was): when kafkajs
 * retries a request whose answer was lost, the broker recognises the batch by its producer
 * id and sequence numbers and keeps one copy. Once kafkajs gives up, those sequence numbers
 * are ambiguous (the broker may hold the batch, and would swallow a different batch of the
 * same size sent with them as a duplicate), so the next send goes out from a new producer
 * (a new producer id): a resend may then duplicate, never vanish (`event.id` dedupes).
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly kafka: Kafka;
  private producer: Producer;
  /** A send failed: the producer's sequence numbers are ambiguous, replace it before the next send. */
  private producerSuspect = false;
  private readonly admin: Admin;
  private readonly options: KafkaBusOptions;
  private readonly consumers = new Set<Consumer>();
  private queue: Pending[] = [];
  private flushing = false;
  private started = false;

  constructor(options: KafkaBusOptions) {
    this.options = options;
    const config: KafkaConfig = {
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: options.ssl,
      ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
      logCreator: logCreator(options.logger.child({ component: 'kafkajs' })),
      logLevel: logLevel.WARN,
    };
    this.kafka = new Kafka(config);
    this.producer = this.newProducer();
    this.admin = this.kafka.admin();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      allowAutoTopicCreation: false,
      maxInFlightRequests: 1,
      idempotent: true,
      // The default partitioner's partitions (the commit barrier computes signal partitions with it), remembered.
      createPartitioner: rememberingPartitioner,
    });
  }

  /** Continues under a new producer id; the old producer's sequence numbers are never used again. */
  private async renewProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.disconnect().catch(() => {});
    await this.producer.connect();
    this.producerSuspect = false;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await this.ensureTopics(this.options.topics ?? []);
    await this.producer.connect();
    this.started = true;
  }

  /** Creates the topics that do not exist yet (others can add their own topics here). */
  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    if (specs.length === 0) return;
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: specs.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor ?? -1,
        configEntries: s.configEntries,
      })),
    });
  }

  /** Started, and the metadata of the first owned topic (else of the cluster) arrives within 3 s. */
  async ready(): Promise<boolean> {
    if (!this.started) return false;
    const topic = this.options.topics?.[0]?.topic;
    let timer: NodeJS.Timeout | undefined;
    try {
      const probe = topic ? this.admin.fetchTopicMetadata({ topics: [topic] }) : this.admin.describeCluster();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), 3000);
      });
      await Promise.race([probe, timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  produce(topic: string, messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (!this.started) return Promise.reject(new BusUnavailableError('kafka bus is not started'));
    const end = busProduceSeconds.startTimer({ topic });
    let entry: Pending | undefined;
    const acked = new Promise<void>((resolve, reject) => {
      entry = { topic, messages: messages as Message[], resolve, reject };
      this.queue.push(entry);
      if (!this.flushing) void this.flush();
    });
    // A call that timed out is retried or spooled by its caller: if it is still queued (the
    // request before it hangs on a broker that is down), it must not be sent later as well,
    // and the queue stays bounded by what arrives within the timeout.
    const forget = () => {
      const at = entry ? this.queue.indexOf(entry) : -1;
      if (at >= 0) this.queue.splice(at, 1);
    };
    return withTimeout(acked, this.options.produceTimeoutMs ?? 15_000, forget).finally(() => end());
  }

  /** Sends everything queued, in chunks; each caller resolves when its last chunk is acked. */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const pending = this.queue;
        this.queue = [];
        const { chunks, lastChunkOf } = chunkPending(pending);
        let next = 0; // first pending not yet resolved
        for (let i = 0; i < chunks.length; i++) {
          try {
            if (this.producerSuspect) await this.renewProducer();
            await this.producer.sendBatch({
              acks: -1,
              compression:
                this.options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
              topicMessages: chunks[i],
            });
          } catch (err) {
            this.producerSuspect = true;
            const e = new BusUnavailableError(`kafka produce failed: ${(err as Error).message}`);
            for (let p = next; p < pending.length; p++) pending[p]!.reject(e);
            next = pending.length;
            break;
          }
          while (next < pending.length && lastChunkOf[next]! <= i) pending[next++]!.resolve();
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const consumer = this.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
    this.consumers.add(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? false });
    const max = options.maxBatchSize ?? 1000;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
        for (let i = 0; i < batch.messages.length; i += max) {
          if (!isRunning() || isStale()) return;
          const slice = batch.messages.slice(i, i + max);
          const messages: ConsumedMessage[] = slice.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString() : null,
            value: m.value ?? Buffer.alloc(0),
            headers: stringHeaders(m.headers),
            timestamp: Number(m.timestamp),
          }));
          await options.handleBatch({ topic: batch.topic, partition: batch.partition, messages, heartbeat });
          const last = slice[slice.length - 1]!.offset;
          resolveOffset(last);
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
          ]);
          await heartbeat();
        }
      },
    });
    const topics = options.topics.map((topic) => ({ topic }));
    return {
      pause: () => consumer.pause(topics),
      resume: () => consumer.resume(topics),
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

/** Splits queued produce calls into requests of at most CHUNK_BYTES, keeping message order. */
function chunkPending(pending: Pending[]): {
  chunks: Array<Array<{ topic: string; messages: Message[] }>>;
  lastChunkOf: number[];
} {
  const chunks: Array<Array<{ topic: string; messages: Message[] }>> = [];
  const lastChunkOf: number[] = [];
  let chunk: Array<{ topic: string; messages: Message[] }> = [];
  let bytes = 0;
  for (const p of pending) {
    let group: { topic: string; messages: Message[] } | undefined;
    for (const m of p.messages) {
      const size = byteLength(m.value) + (m.key ? byteLength(m.key) : 0);
      if (bytes > 0 && bytes + size > CHUNK_BYTES) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
        group = undefined;
      }
      if (!group) {
        group = { topic: p.topic, messages: [] };
        chunk.push(group);
      }
      group.messages.push(m);
      bytes += size;
    }
    lastChunkOf.push(chunks.length);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return { chunks, lastChunkOf };
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new BusUnavailableError(`kafka did not acknowledge within ${ms} ms`));
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
