import { type Admin, Partitioners, type PartitionMetadata } from 'kafkajs';

/** Per partition: the offset a consumer group must have committed to. */
export type CommitMarks = Map<number, bigint>;

/**
 * Lets a stage wait until the next stage has delivered what it handed over: the detect stage
 * commits an events chunk only once the correlate stage committed (so delivered to every sink)
 * the suppression signals the chunk produced. The events topic's lag therefore stays the
 * measure of detection work not yet delivered, and a sink outage holds the events offsets.
 */
export interface CommitBarrier {
  /** Where the messages produced so far under `keys` end: call after they were acknowledged. */
  mark(keys: readonly string[]): Promise<CommitMarks>;
  /** Resolves once the group committed up to every mark; throws when `timeoutMs` passes first. */
  reached(marks: CommitMarks, timeoutMs: number): Promise<void>;
  /**
   * The stage is stopping: every wait fails now (its chunk stays uncommitted, for the next owner) instead of
   * polling on, through an admin client being disconnected, until its timeout.
   */
  close(): void;
}

/** The producer's partitioner (`KafkaBus` uses the same), so a key's partition is computed, not guessed. */
const partitionOf = Partitioners.DefaultPartitioner();

/** Partition metadata is fetched again after this long (partitions are added rarely). */
const METADATA_MAX_AGE_MS = 60_000;

export class BarrierTimeoutError extends Error {
  override name = 'BarrierTimeoutError';
}

export class BarrierClosedError extends Error {
  override name = 'BarrierClosedError';
}

interface Waiter {
  marks: CommitMarks;
  timeoutMs: number;
  deadline: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A barrier on `groupId`'s commits of `topic`, from Kafka's offsets (any replica may own a partition). Every
 * chunk waiting on it shares one poll of the group's offsets each `pollMs`: a poll per waiter, with up to 16
 * chunks waiting on each of six partitions (a correlate stage slowed by a sink outage), would send thousands of
 * offset fetches a second to a broker that may be in trouble already.
 */
export function kafkaCommitBarrier(
  admin: Pick<Admin, 'fetchTopicMetadata' | 'fetchTopicOffsets' | 'fetchOffsets'>,
  groupId: string,
  topic: string,
  pollMs = 25,
): CommitBarrier {
  let metadata: { partitions: PartitionMetadata[]; at: number } | undefined;
  const partitions = async (): Promise<PartitionMetadata[]> => {
    if (!metadata || Date.now() - metadata.at > METADATA_MAX_AGE_MS) {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      metadata = { partitions: topics[0]?.partitions ?? [], at: Date.now() };
    }
    return metadata.partitions;
  };
  const waiters = new Set<Waiter>();
  let polling = false;
  let closed = false;
  const stopping = () => new BarrierClosedError(`${groupId}: the stage is stopping`);
  const poll = async () => {
    polling = true;
    try {
      while (waiters.size > 0 && !closed) {
        let committed: Map<number, bigint>;
        try {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
          committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
        } catch (error) {
          // Each waiter's chunk retries its wait.
          for (const w of waiters) w.reject(error);
          waiters.clear();
          return;
        }
        const now = Date.now();
        for (const w of waiters) {
          let behind = 0;
          for (const [partition, mark] of w.marks) if ((committed.get(partition) ?? -1n) < mark) behind++;
          if (behind === 0) w.resolve();
          else if (now >= w.deadline) {
            w.reject(
              new BarrierTimeoutError(
                `${groupId} has not delivered the signals handed over on ${behind} partition(s) of ${topic} within ${w.timeoutMs} ms`,
              ),
            );
          } else continue;
          waiters.delete(w);
        }
        if (waiters.size > 0) await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    } finally {
      polling = false;
    }
  };
  return {
    async mark(keys) {
      const marks: CommitMarks = new Map();
      if (keys.length === 0) return marks;
      const partitionMetadata = await partitions();
      const wanted = new Set(
        keys.map((key) => partitionOf({ topic, partitionMetadata, message: { key, value: null } })),
      );
      for (const end of await admin.fetchTopicOffsets(topic)) {
        if (wanted.has(end.partition)) marks.set(end.partition, BigInt(end.high));
      }
      return marks;
    },
    reached(marks, timeoutMs) {
      if (marks.size === 0) return Promise.resolve();
      if (closed) return Promise.reject(stopping());
      return new Promise<void>((resolve, reject) => {
        waiters.add({ marks, timeoutMs, deadline: Date.now() + timeoutMs, resolve, reject });
        if (!polling) void poll();
      });
    },
    close() {
      closed = true;
      for (const w of waiters) w.reject(stopping());
      waiters.clear();
    },
  };
}
