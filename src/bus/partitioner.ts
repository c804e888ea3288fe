import { type ICustomPartitioner, type PartitionerArgs, Partitioners } from 'kafkajs';

/** Keys remembered per topic; beyond it the memory starts again (keys hold payload values: user names). */
const MAX_KEYS = 10_000;

interface TopicKeys {
  /** The topic's partition count the partitions were computed for. */
  partitions: number;
  byKey: Map<string, number>;
}

/**
 * kafkajs's default partitioner (murmur2 of the key, as the Java client), remembering each string key's
 * partition: an event's key is its cluster and actor, which recur on nearly every message, while hashing
 * one costs a buffer copy and a pure-JS murmur2 (about 3 µs). Partitions are exactly the default
 * partitioner's, so whatever computes a key's partition with it (the commit barrier) agrees; a change in the
 * topic's partition count forgets them.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const hash = Partitioners.DefaultPartitioner();
  const topics = new Map<string, TopicKeys>();
  return (args: PartitionerArgs) => {
    const { topic, partitionMetadata, message } = args;
    const key = message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null))
      return hash(args);
    let known = topics.get(topic);
    if (!known || known.partitions !== partitionMetadata.length || known.byKey.size >= MAX_KEYS) {
      known = { partitions: partitionMetadata.length, byKey: new Map() };
      topics.set(topic, known);
    }
    let partition = known.byKey.get(key);
    if (partition === undefined) {
      partition = hash(args);
      known.byKey.set(key, partition);
    }
    return partition;
  };
};
