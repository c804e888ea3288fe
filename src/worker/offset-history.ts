import type { Admin } from 'kafkajs';

export interface CommittedOffset {
  offset: bigint;
  /** What the stage wrote with its last commit. */
  metadata: string | null;
}

/**
 * What a consumer group committed before, and where a partition's messages of a given time
 * begin: what the correlate stage needs to rebuild its windows when it is (re)assigned a
 * partition.
 */
export interface OffsetHistory {
  committed(topic: string, partition: number): Promise<CommittedOffset | undefined>;
  /** The first offset of a message produced at or after `timeMs`, when there is one. */
  offsetAt(topic: string, partition: number, timeMs: number): Promise<bigint | undefined>;
}

/** The group's commits and the topic's time index, from Kafka. */
export function kafkaOffsetHistory(
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsetsByTimestamp'>,
  groupId: string,
): OffsetHistory {
  return {
    async committed(topic, partition) {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const found = offsets.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition);
      if (!found || BigInt(found.offset) < 0n) return undefined;
      return { offset: BigInt(found.offset), metadata: found.metadata ?? null };
    },
    async offsetAt(topic, partition, timeMs) {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, timeMs);
      const found = byTime.find((p) => p.partition === partition);
      return found && BigInt(found.offset) >= 0n ? BigInt(found.offset) : undefined;
    },
  };
}

/**
 * The in-memory bus lives and dies with its process: no group ever committed on it before
 * the process started, so there is never anything to rebuild.
 */
export const NOTHING_COMMITTED: OffsetHistory = {
  committed: async () => undefined,
  offsetAt: async () => undefined,
};
