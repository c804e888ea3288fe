import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Kafka, type Message, Partitioners, type PartitionMetadata } from 'kafkajs';
import { type LazyProducer, stateProducer } from '../bus/lazy-producer.ts';
import { firstSeenStore } from '../metrics.ts';
import { type FirstSeenChange, FirstSeenRecord } from '../schema/first-seen.ts';

/**
 * Where first-seen state survives restarts and rebalances: the latest record of every key (a tombstone once
 * the key is forgotten), written after a chunk's alerts are delivered and before its offsets are committed,
 * read back when a partition of the signals topic is assigned. Records are facts about events ("this key saw
 * this value then"), so writing one twice, or merging two, is harmless.
 */
export interface FirstSeenLog {
  /** The records of the keys whose signals partition `partition` of the signals topic carries. */
  load(partition: number): Promise<FirstSeenChange[]>;
  /** Every record (a warm-up merges into them). */
  loadAll(): Promise<FirstSeenChange[]>;
  /** Resolves once the records survive a crash. */
  save(changes: readonly FirstSeenChange[]): Promise<void>;
  close(): Promise<void>;
}

/** A stored value back into a record, or undefined (counted) when it is not one. */
function parseRecord(text: string): FirstSeenRecord | undefined {
  try {
    const parsed = FirstSeenRecord.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // counted below
  }
  firstSeenStore.inc({ op: 'load', outcome: 'invalid' });
  return undefined;
}

function changesOf(latest: ReadonlyMap<string, FirstSeenRecord | null>): FirstSeenChange[] {
  const out: FirstSeenChange[] = [];
  for (const [key, record] of latest) if (record) out.push({ key, record });
  return out;
}

const partitioner = Partitioners.DefaultPartitioner();

/** The partition kafkajs's default partitioner (Java's murmur2) gives a key among `count` partitions. */
export function partitionOf(key: string, count: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

/** Most bytes of records in one produce request (brokers refuse record batches over 1 MiB by default). */
const REQUEST_BYTES = 512 * 1024;
/** A partition that makes no progress this long while read back fails the load (the stage retries it). */
const READ_STALL_MS = 60_000;

export interface KafkaFirstSeenLogOptions {
  kafka: Kafka;
  /** The compacted topic (`kafka.firstSeenTopic`). */
  topic: string;
  /** Partitions of the topic when Klaxon creates it: those of the signals topic, so keys line up. */
  partitions: number;
  replicationFactor?: number;
  /**
   * How the stage that reads the state partitions its signals: `klaxon detect` by the signals topic
   * (its partition count is read from Kafka), `klaxon serve` in one in-memory partition.
   */
  signals: { topic: string } | { partitions: 1 };
}

/**
 * First-seen state in a compacted Kafka topic (`klaxon.first-seen`), keyed like the signals (rule, cluster,
 * group-by values) with the same partitioner and as many partitions: a replica assigned partition p of the
 * signals topic reads partition p of the state topic. When the counts differ (partitions were added to one
 * of them) it reads every partition and keeps the keys that hash to p.
 */
export class KafkaFirstSeenLog implements FirstSeenLog {
  private readonly opts: KafkaFirstSeenLogOptions;
  private ready: Promise<void> | undefined;
  private readonly producer: LazyProducer;

  constructor(opts: KafkaFirstSeenLogOptions) {
    this.opts = opts;
    this.producer = stateProducer(opts.kafka);
  }

  private ensureTopic(): Promise<void> {
    this.ready ??= (async () => {
      const admin = this.opts.kafka.admin();
      await admin.connect();
      try {
        const existing = await admin.listTopics();
        if (existing.includes(this.opts.topic)) return;
        const signals = 'topic' in this.opts.signals ? this.opts.signals.topic : undefined;
        const count =
          signals && existing.includes(signals)
            ? (await admin.fetchTopicMetadata({ topics: [signals] })).topics[0]!.partitions.length
            : this.opts.partitions;
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: this.opts.topic,
              numPartitions: count,
              replicationFactor: this.opts.replicationFactor ?? -1,
              configEntries: [
                { name: 'cleanup.policy', value: 'compact' },
                // Segments roll daily so compaction can drop superseded records; the active one is never compacted.
                { name: 'segment.ms', value: String(86_400_000) },
              ],
            },
          ],
        });
      } finally {
        await admin.disconnect();
      }
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async partitionCounts(): Promise<{ state: number; signals: number }> {
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      const topics = [this.opts.topic];
      if ('topic' in this.opts.signals) topics.push(this.opts.signals.topic);
      const meta = await admin.fetchTopicMetadata({ topics });
      const count = (t: string) => meta.topics.find((m) => m.name === t)!.partitions.length;
      return {
        state: count(this.opts.topic),
        signals: 'topic' in this.opts.signals ? count(this.opts.signals.topic) : this.opts.signals.partitions,
      };
    } finally {
      await admin.disconnect();
    }
  }

  async load(partition: number): Promise<FirstSeenChange[]> {
    await this.ensureTopic();
    const counts = await this.partitionCounts();
    const aligned = counts.state === counts.signals;
    const latest = await this.read(aligned ? [partition] : undefined);
    if (!aligned)
      for (const key of latest.keys()) if (partitionOf(key, counts.signals) !== partition) latest.delete(key);
    return changesOf(latest);
  }

  async loadAll(): Promise<FirstSeenChange[]> {
    await this.ensureTopic();
    return changesOf(await this.read(undefined));
  }

  /** The latest record per key of the partitions named (all when undefined), read from the start to the current end. */
  private async read(partitions: number[] | undefined): Promise<Map<string, FirstSeenRecord | null>> {
    const { kafka, topic } = this.opts;
    const admin = kafka.admin();
    await admin.connect();
    let offsets: Array<{ partition: number; high: string; low: string }>;
    try {
      offsets = await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
    const ends = new Map<number, bigint>();
    for (const o of offsets)
      if ((!partitions || partitions.includes(o.partition)) && BigInt(o.high) > BigInt(o.low))
        ends.set(o.partition, BigInt(o.high));
    const latest = new Map<string, FirstSeenRecord | null>();
    if (ends.size === 0) return latest;
    // A throwaway group that commits nothing: kafkajs assigns partitions only through a group.
    const consumer = kafka.consumer({ groupId: `klaxon-first-seen-reader-${randomUUID()}` });
    let stall: NodeJS.Timeout | undefined;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const pending = new Set(ends.keys());
        const watch = () => {
          clearTimeout(stall);
          stall = setTimeout(() => reject(new Error(`reading ${topic} stalled`)), READ_STALL_MS);
        };
        watch();
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = ends.get(batch.partition);
              if (end === undefined || !pending.has(batch.partition)) {
                consumer.pause([{ topic, partitions: [batch.partition] }]);
                return;
              }
              watch();
              for (const m of batch.messages) {
                if (BigInt(m.offset) >= end) break;
                const key = m.key?.toString();
                if (key === undefined) continue;
                latest.set(key, m.value === null ? null : (parseRecord(m.value.toString()) ?? null));
              }
              if (BigInt(batch.lastOffset()) + 1n >= end) {
                pending.delete(batch.partition);
                consumer.pause([{ topic, partitions: [batch.partition] }]);
                if (pending.size === 0) resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      clearTimeout(stall);
      await consumer.disconnect();
    }
    firstSeenStore.inc({ op: 'load', outcome: 'ok' });
    return latest;
  }

  async save(changes: readonly FirstSeenChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.ensureTopic();
    const producer = await this.producer.get();
    let batch: Message[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        await producer.send({ topic: this.opts.topic, acks: -1, messages: batch });
      } catch (err) {
        firstSeenStore.inc({ op: 'save', outcome: 'error' });
        throw err;
      }
      firstSeenStore.inc({ op: 'save', outcome: 'ok' }, batch.length);
      batch = [];
      bytes = 0;
    };
    for (const c of changes) {
      const value = c.record ? JSON.stringify(c.record) : null;
      batch.push({ key: c.key, value });
      bytes += c.key.length + (value?.length ?? 0);
      if (bytes >= REQUEST_BYTES) await flush();
    }
    await flush();
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

/** Records appended beyond the live ones before the file is rewritten with only the latest of each key. */
const COMPACT_SLACK = 10_000;

/**
 * First-seen state in `state.dir` (`klaxon serve` without Kafka, one in-memory signals partition): an
 * append-only file of JSON lines `{"key": …, "record": …|null}`, synced before `save` resolves, the latest line
 * of a key winning. When it holds more superseded lines than live ones it is rewritten (write, fsync, rename,
 * fsync the directory), as Kafka compacts its topic. A line a crash cut short is skipped.
 */
export class FileFirstSeenLog implements FirstSeenLog {
  private readonly dir: string;
  private readonly file: string;
  /** Lines in the file, and live keys when it was last read or rewritten. */
  private lines = 0;
  private live = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, 'first-seen.jsonl');
  }

  load(): Promise<FirstSeenChange[]> {
    return this.loadAll();
  }

  async loadAll(): Promise<FirstSeenChange[]> {
    const latest = await this.readLatest();
    const out = changesOf(latest);
    this.live = out.length;
    firstSeenStore.inc({ op: 'load', outcome: 'ok' });
    return out;
  }

  private async readLatest(): Promise<Map<string, FirstSeenRecord | null>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    const latest = new Map<string, FirstSeenRecord | null>();
    let lines = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      lines++;
      let entry: { key?: unknown; record?: unknown };
      try {
        entry = JSON.parse(line) as { key?: unknown; record?: unknown };
      } catch {
        firstSeenStore.inc({ op: 'load', outcome: 'invalid' });
        continue;
      }
      if (typeof entry.key !== 'string') continue;
      latest.set(
        entry.key,
        entry.record === null ? null : (parseRecord(JSON.stringify(entry.record)) ?? null),
      );
    }
    this.lines = lines;
    return latest;
  }

  async save(changes: readonly FirstSeenChange[]): Promise<void> {
    if (changes.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const text = changes.map((c) => `${JSON.stringify({ key: c.key, record: c.record })}\n`).join('');
    try {
      const file = await open(this.file, 'a', 0o600);
      try {
        await file.writeFile(text);
        await file.sync();
      } finally {
        await file.close();
      }
    } catch (err) {
      firstSeenStore.inc({ op: 'save', outcome: 'error' });
      throw err;
    }
    firstSeenStore.inc({ op: 'save', outcome: 'ok' }, changes.length);
    this.lines += changes.length;
    if (this.lines > 2 * this.live + COMPACT_SLACK) await this.compact();
  }

  /** Rewrites the file with the latest record of each live key. */
  private async compact(): Promise<void> {
    const latest = changesOf(await this.readLatest());
    const temp = `${this.file}.tmp`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(latest.map((c) => `${JSON.stringify(c)}\n`).join(''));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, this.file);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.lines = latest.length;
    this.live = latest.length;
  }

  async close(): Promise<void> {}
}
