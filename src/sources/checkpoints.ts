import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Consumer, Kafka } from 'kafkajs';
import { type LazyProducer, stateProducer } from '../bus/lazy-producer.ts';

/**
 * Where a pull source remembers how far it has read (a CloudWatch stream's last event, a file's offset, …).
 * A source saves a position only after `Acceptor.accept` resolved for everything before it: a restart resumes
 * there, so nothing read is lost and nothing accepted is read again (beyond the batch in flight, which the
 * sinks deduplicate by alert id).
 */
export interface CheckpointStore {
  /** The last position saved under `key`, or undefined. */
  load(key: string): Promise<string | undefined>;
  /** Saves durably: resolves once the position survives a crash. */
  save(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** A key as a file name: readable, and never a path. */
function fileName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`;
}

/**
 * Checkpoints as files in `state.dir` (`KLAXON_STATE_DIR`), for `klaxon serve` and `klaxon ingest` without
 * Kafka: one small JSON file per key, replaced atomically (write, fsync, rename, fsync the directory).
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async load(key: string): Promise<string | undefined> {
    try {
      const text = await readFile(join(this.dir, fileName(key)), 'utf8');
      const parsed = JSON.parse(text) as { key?: unknown; value?: unknown };
      return parsed.key === key && typeof parsed.value === 'string' ? parsed.value : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(key: string, value: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = join(this.dir, fileName(key));
    const temp = `${target}.tmp`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(JSON.stringify({ key, value }));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Removes leftovers of a save a crash interrupted. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => unlink(join(this.dir, n))));
  }

  async close(): Promise<void> {}
}

/**
 * Checkpoints in a compacted Kafka topic (`kafka.stateTopic`, default `klaxon.state`), for `klaxon ingest`
 * with Kafka: every replica sees the same positions, so a source moved to another replica (or pod) resumes
 * where the last one stopped. `load` reads the topic once, from the start to its end; `save` produces the key
 * with `acks: -1`.
 */
export class KafkaCheckpointStore implements CheckpointStore {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly producer: LazyProducer;
  private positions: Map<string, string> | undefined;

  private readonly replicationFactor: number;

  constructor(kafka: Kafka, topic: string, replicationFactor = -1) {
    this.kafka = kafka;
    this.topic = topic;
    this.replicationFactor = replicationFactor;
    this.producer = stateProducer(kafka);
  }

  /** Creates the compacted topic when it is missing. */
  private async ensureTopic(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(this.topic)) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: this.topic,
              numPartitions: 1,
              replicationFactor: this.replicationFactor,
              configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
            },
          ],
        });
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async readAll(): Promise<Map<string, string>> {
    await this.ensureTopic();
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; offset: string }>;
    try {
      ends = await admin.fetchTopicOffsets(this.topic);
    } finally {
      await admin.disconnect();
    }
    const positions = new Map<string, string>();
    const pending = new Set(ends.filter((e) => BigInt(e.offset) > 0n).map((e) => e.partition));
    if (pending.size === 0) return positions;
    const consumer: Consumer = this.kafka.consumer({
      groupId: `klaxon-state-reader-${process.pid}-${Date.now()}`,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const key = message.key?.toString();
              if (key !== undefined) {
                if (message.value === null) positions.delete(key);
                else positions.set(key, message.value.toString());
              }
              const end = ends.find((e) => e.partition === partition)!;
              if (BigInt(message.offset) + 1n >= BigInt(end.offset)) {
                pending.delete(partition);
                if (pending.size === 0) resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return positions;
  }

  async load(key: string): Promise<string | undefined> {
    this.positions ??= await this.readAll();
    return this.positions.get(key);
  }

  async save(key: string, value: string): Promise<void> {
    const producer = await this.producer.get();
    await producer.send({ topic: this.topic, acks: -1, messages: [{ key, value }] });
    this.positions?.set(key, value);
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
