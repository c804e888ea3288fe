import type { Bus, ConsumedMessage } from '../bus/types.ts';
import type { Logger } from '../log.ts';
import type { RetryPolicy } from '../sinks/retry.ts';
import type { CommitBarrier } from './commit-barrier.ts';
import type { OffsetHistory } from './offset-history.ts';

/** Consecutive messages of one partition, handed to a stage at once. */
export interface Chunk {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

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
  /**
   * Resolves once the work this chunk handed to a later stage has been delivered there (and
   * rejects while it has not: retried). The chunk is committed only after it, in order; the
   * consumer meanwhile goes on with the next chunks of the partition, a bounded number ahead.
   */
  handedOver?(): Promise<void>;
}

/** What a stage gives the consumer that feeds it. */
export interface StageHandlers {
  plan(chunk: Chunk): Promise<ChunkPlan> | ChunkPlan;
  /** A new group generation: the assignment may have changed, in-memory state must be rebuilt. */
  onGroupJoin?(): void;
}

export interface ConsumerSpec extends StageHandlers {
  groupId: string;
  topic: string;
  logger: Logger;
  /** Messages handed to `plan` at once. */
  chunkSize: number;
  /** Backoff between attempts of a chunk; attempts are unbounded (the partition waits). */
  retry: RetryPolicy;
  /** Every failed attempt (for readiness). */
  onDeliveryFailure?(error: unknown): void;
  onDeliverySuccess?(): void;
}

/**
 * A consumer-group member that runs a stage: plans each chunk once, retries its delivery
 * until it succeeds, and only then commits it (at-least-once).
 */
export interface ChunkConsumer {
  /** Member of its group with an assignment (readiness). */
  readonly isJoined: boolean;
  start(): Promise<void>;
  /**
   * Waits, until `deadline` (ms since the epoch), for what is already on the topic to be
   * delivered. Only a bus that does not outlive the process waits; Kafka keeps the rest.
   */
  drain(deadline: number): Promise<void>;
  /** Finishes (or abandons, uncommitted) the chunk in progress, then leaves the group. */
  stop(): Promise<void>;
}

/** A bus the runtime reads stages from and produces signals to: Kafka or the in-memory bus. */
export interface ChunkTransport {
  readonly kind: 'kafka' | 'memory';
  produce: Bus['produce'];
  consumer(spec: ConsumerSpec): ChunkConsumer;
  /** What `groupId` committed before on this bus (the correlate stage rebuilds its windows from it). */
  history(groupId: string): OffsetHistory;
  /**
   * Waits for `groupId`'s commits on `topic`, where commits outlive the process (Kafka): the
   * detect stage then hands suppression windows over to the correlate stage.
   */
  commitBarrier?(groupId: string, topic: string): CommitBarrier;
  /** Creates what the transport needs; safe to call more than once. */
  start(): Promise<void>;
  stop(): Promise<void>;
}
