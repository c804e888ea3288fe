import { busProduceSeconds } from '../metrics.ts';
import type {
  Bus,
  BusMessage,
  ConsumedBatch,
  ConsumedMessage,
  SubscribeOptions,
  Subscription,
} from './types.ts';
import { BusUnavailableError } from './types.ts';

/** A set of waiters woken together. */
class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A retained message; its value becomes a Buffer only when a consumer reads it, off the producer's path. */
class MemoryMessage implements ConsumedMessage {
  readonly topic: string;
  readonly partition = 0;
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Record<string, string>;
  readonly timestamp: number;
  private raw: Buffer | string;

  constructor(topic: string, offset: number, message: BusMessage, timestamp: number) {
    this.topic = topic;
    this.offset = String(offset);
    this.key = message.key;
    this.headers = message.headers ?? {};
    this.timestamp = timestamp;
    this.raw = message.value;
  }

  get value(): Buffer {
    if (typeof this.raw === 'string') this.raw = Buffer.from(this.raw);
    return this.raw;
  }
}

interface TopicLog {
  /** Offset of entries[0]. */
  base: number;
  entries: ConsumedMessage[];
}

interface MemoryBusOptions {
  /** Messages retained per topic and not yet consumed by every active group; producers wait beyond it. */
  capacity?: number;
  /** How long `produce` waits for room before giving up with `BusUnavailableError`. */
  produceTimeoutMs?: number;
  /** Told about a batch handler failure before the batch is redelivered. */
  onHandlerError?: (err: unknown, batch: { topic: string; messages: number }) => void;
}

/**
 * The embedded bus of `klaxon serve`: one partition per topic, offsets per consumer
 * group, bounded retention with backpressure on producers. Nothing survives the
 * process; Kafka is the durable bus.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly topics = new Map<string, TopicLog>();
  private readonly consumers = new Set<MemoryConsumer>();
  private readonly data = new Signal();
  private readonly space = new Signal();
  private running = false;
  readonly capacity: number;
  private readonly produceTimeoutMs: number;
  private readonly onHandlerError: NonNullable<MemoryBusOptions['onHandlerError']>;

  constructor(options: MemoryBusOptions = {}) {
    this.capacity = options.capacity ?? 100_000;
    this.produceTimeoutMs = options.produceTimeoutMs ?? 30_000;
    this.onHandlerError = options.onHandlerError ?? (() => {});
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async ready(): Promise<boolean> {
    return this.running;
  }

  private log(topic: string): TopicLog {
    let log = this.topics.get(topic);
    if (!log) {
      log = { base: 0, entries: [] };
      this.topics.set(topic, log);
    }
    return log;
  }

  /** Offset one past the last message of `topic`. */
  end(topic: string): number {
    const log = this.log(topic);
    return log.base + log.entries.length;
  }

  async produce(topic: string, messages: BusMessage[]): Promise<void> {
    if (!this.running) throw new BusUnavailableError('memory bus is not running');
    if (messages.length === 0) return;
    const end = busProduceSeconds.startTimer({ topic });
    try {
      await this.append(topic, messages);
    } finally {
      end();
    }
  }

  private async append(topic: string, messages: BusMessage[]): Promise<void> {
    const log = this.log(topic);
    const deadline = Date.now() + this.produceTimeoutMs;
    while (log.entries.length > 0 && log.entries.length + messages.length > this.capacity) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.running) {
        throw new BusUnavailableError(`memory bus topic ${topic} is full (${this.capacity} messages)`);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.space.wait(), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    const timestamp = Date.now();
    let offset = log.base + log.entries.length;
    for (const m of messages) log.entries.push(new MemoryMessage(topic, offset++, m, timestamp));
    this.data.notify();
  }

  /** Reads messages from `offset` on, up to `max`. */
  read(topic: string, offset: number, max: number): ConsumedMessage[] {
    const log = this.log(topic);
    const start = Math.max(0, offset - log.base);
    return log.entries.slice(start, start + max);
  }

  /** Drops what every active consumer of the topic has committed. */
  trim(topic: string): void {
    const log = this.log(topic);
    let min = Number.POSITIVE_INFINITY;
    for (const c of this.consumers) {
      const committed = c.committed.get(topic);
      if (committed !== undefined) min = Math.min(min, committed);
    }
    if (min === Number.POSITIVE_INFINITY || min <= log.base) return;
    log.entries.splice(0, min - log.base);
    log.base = min;
    this.space.notify();
  }

  waitForData(): Promise<void> {
    return this.data.wait();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    for (const c of this.consumers) {
      if (c.options.groupId === options.groupId) {
        throw new Error(`memory bus: group ${options.groupId} already has a consumer`);
      }
    }
    const consumer = new MemoryConsumer(this, options, this.onHandlerError);
    this.consumers.add(consumer);
    consumer.run().finally(() => {
      this.consumers.delete(consumer);
      for (const topic of options.topics) this.trim(topic);
    });
    return consumer;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    this.space.notify();
  }

  wake(): void {
    this.data.notify();
  }
}

class MemoryConsumer implements Subscription {
  readonly committed = new Map<string, number>();
  private paused = false;
  private stopped = false;
  private done: Promise<void> | undefined;
  private readonly bus: MemoryBus;
  readonly options: SubscribeOptions;
  private readonly onError: NonNullable<MemoryBusOptions['onHandlerError']>;

  constructor(
    bus: MemoryBus,
    options: SubscribeOptions,
    onError: NonNullable<MemoryBusOptions['onHandlerError']>,
  ) {
    this.bus = bus;
    this.options = options;
    this.onError = onError;
    for (const topic of options.topics) {
      this.committed.set(topic, options.fromBeginning ? 0 : bus.end(topic));
    }
  }

  run(): Promise<void> {
    this.done ??= this.loop();
    return this.done;
  }

  private async loop(): Promise<void> {
    const max = this.options.maxBatchSize ?? 1000;
    let failures = 0;
    while (!this.stopped) {
      const dataArrived = this.bus.waitForData();
      let delivered = false;
      for (const topic of this.options.topics) {
        if (this.paused || this.stopped) break;
        const offset = this.committed.get(topic) ?? 0;
        const messages = this.bus.read(topic, offset, max);
        if (messages.length === 0) continue;
        delivered = true;
        const batch: ConsumedBatch = { topic, partition: 0, messages, heartbeat: async () => {} };
        try {
          await this.options.handleBatch(batch);
          failures = 0;
          this.committed.set(topic, offset + messages.length);
          this.bus.trim(topic);
        } catch (err) {
          this.onError(err, { topic, messages: messages.length });
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(5000, 50 * 2 ** failures)));
        }
      }
      if (!delivered) await dataArrived;
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.bus.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.bus.wake();
    await this.done;
  }
}
