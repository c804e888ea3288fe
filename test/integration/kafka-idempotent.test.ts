// The KafkaBus producer is idempotent: when the answer to a produce request is lost after the
// broker wrote the batch, kafkajs sends it again and the broker keeps one copy. Real Kafka; the
// fault is in the network: a socket factory that cuts the connection as the answer arrives.
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/bus/kafka.ts';
import { BusUnavailableError } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';
import { kafkaBrokers, kafkaClient, uniqueTopic } from './services.ts';

const PRODUCE = 0;

/**
 * Real sockets to the broker. While `answersToLose` > 0, a connection that sent a Produce request
 * is cut when the answer comes back: the broker has written the batch, the client never hears so.
 */
class LossyNetwork {
  answersToLose = 0;
  lost = 0;
  readonly factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket: Socket = connect({ host, port }, onConnect);
    let produceSent = false;
    const write = socket.write.bind(socket) as (chunk: Buffer, encoding: BufferEncoding) => boolean;
    socket.write = ((chunk: Buffer, encoding: BufferEncoding) => {
      // A request is [int32 size][int16 api key]...; kafkajs writes each in one buffer.
      if (this.answersToLose > 0 && chunk.length >= 6 && chunk.readInt16BE(4) === PRODUCE) produceSent = true;
      return write(chunk, encoding);
    }) as Socket['write'];
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data' && produceSent && this.answersToLose > 0) {
        produceSent = false;
        this.answersToLose--;
        this.lost++;
        socket.destroy(new Error('answer lost in the network (test)'));
        return true;
      }
      return emit(event, ...args);
    }) as Socket['emit'];
    return socket;
  };
}

const buses: KafkaBus[] = [];
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.stop()));
});

async function busOn(topic: string, network: LossyNetwork): Promise<KafkaBus> {
  const bus = new KafkaBus({
    brokers: kafkaBrokers(),
    clientId: `kxi-${randomUUID().slice(0, 8)}`,
    topics: [{ topic, partitions: 1 }],
    produceTimeoutMs: 60_000,
    socketFactory: network.factory,
    logger: createLogger('silent'),
  });
  buses.push(bus);
  await bus.start();
  return bus;
}

/** Every value on the topic, in offset order. */
async function valuesOf(topic: string): Promise<string[]> {
  const kafka = kafkaClient(`kxi-reader-${randomUUID()}`);
  const admin = kafka.admin();
  await admin.connect();
  const [end] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = Number(end!.high);
  const consumer = kafka.consumer({ groupId: `kxi-reader-${randomUUID()}` });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    if (total === 0) resolve();
    void consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value?.toString() ?? '');
        if (values.length >= total) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();
  return values;
}

const batch = (tag: string) => Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: `${tag}-${i}` }));

describe('the idempotent producer', () => {
  it('proves the fault: a producer that is not idempotent writes a batch twice when its answer is lost', async () => {
    const topic = uniqueTopic('kxi.control');
    const network = new LossyNetwork();
    const kafka = kafkaClient('kxi-control');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const { Kafka } = await import('kafkajs');
    const plain = new Kafka({
      clientId: 'kxi-control',
      brokers: kafkaBrokers(),
      socketFactory: network.factory,
      logCreator: () => () => {},
    }).producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 });
    await plain.connect();
    network.answersToLose = 1;
    await plain.send({ topic, acks: -1, messages: batch('a') });
    await plain.disconnect();
    expect(network.lost).toBe(1);
    const values = await valuesOf(topic);
    expect(values).toHaveLength(40);
    expect(values.slice(20)).toEqual(values.slice(0, 20));
  });

  it('keeps one copy of a batch kafkajs sent again after its answer was lost', async () => {
    const topic = uniqueTopic('kxi.retry');
    const network = new LossyNetwork();
    const bus = await busOn(topic, network);
    network.answersToLose = 1;
    await bus.produce(topic, batch('a'));
    expect(network.lost).toBe(1);
    expect(await valuesOf(topic)).toEqual(batch('a').map((m) => m.value));
  });

  it('loses nothing after kafkajs gave up on a batch: the next one goes out from a new producer', async () => {
    const topic = uniqueTopic('kxi.renew');
    const network = new LossyNetwork();
    const bus = await busOn(topic, network);
    // More lost answers than kafkajs retries (5): the produce fails, though the broker has the batch.
    network.answersToLose = 6;
    await expect(bus.produce(topic, batch('a'))).rejects.toBeInstanceOf(BusUnavailableError);
    expect(network.lost).toBe(6);
    network.answersToLose = 0;
    // A batch of the same size: under the old producer's sequence numbers the broker would take it
    // for the first one again and drop it.
    await bus.produce(topic, batch('b'));
    expect(await valuesOf(topic)).toEqual([...batch('a'), ...batch('b')].map((m) => m.value));
  });
});
