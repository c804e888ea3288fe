/**
 * The bus between ingest and detection: Kafka in production, an in-process queue
 * for `klaxon serve`. Delivery is at-least-once: `produce` resolves only when every
 * message is acknowledged, and a consumer's offsets move only after its batch
 * handler resolved.
 */

export interface BusMessage {
  /** Partitioning key: messages with the same key stay in order. */
  key: string | null;
  /** Serialized once by the producer; the bus never re-encodes it. */
  value: Buffer | string;
  headers?: Record<string, string>;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  /** Decimal string, as Kafka has 64-bit offsets. */
  offset: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  /** Milliseconds since the epoch when the message was produced. */
  timestamp: number;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
  /** Keeps the consumer's group membership alive during a long handler. */
  heartbeat(): Promise<void>;
}

export interface SubscribeOptions {
  /** Consumers with the same group share the partitions; offsets are kept per group. */
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts (default: the end). */
  fromBeginning?: boolean;
  /** Upper bound on messages per batch handed to `handleBatch`. */
  maxBatchSize?: number;
  /**
   * Called with each batch, in order per partition. The batch's offsets are committed
   * only after the returned promise resolves; when it rejects, the same messages are
   * delivered again (at-least-once). Commit-after-sinks is therefore: await the sinks here.
   */
  handleBatch(batch: ConsumedBatch): Promise<void>;
}

export interface Subscription {
  /** Stops delivering new batches (the batch in progress finishes). */
  pause(): void;
  resume(): void;
  /** Leaves the group after the batch in progress finishes. */
  stop(): Promise<void>;
}

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  /** Connects and creates the topics the bus owns. */
  start(): Promise<void>;
  /** Resolves once every message is acknowledged (Kafka: by all in-sync replicas). */
  produce(topic: string, messages: BusMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Whether the bus can take messages now (readiness probe). Never throws. */
  ready(): Promise<boolean>;
  /** Stops every subscription, then the producer. */
  stop(): Promise<void>;
}

/** The bus could not take the messages (unreachable, full, timed out); worth retrying later. */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}
