import { type Kafka, Partitioners, type Producer } from 'kafkajs';

/** What `LazyProducer` needs of a producer. */
export type Connectable = Pick<Producer, 'connect' | 'disconnect'>;

/**
 * A producer connected on first use, once however many callers ask while it connects: when each concurrent
 * first caller made its own, all but one were never disconnected, and their sockets kept `klaxon detect`
 * from exiting after a shutdown. A failed connect is forgotten, so the next call tries again.
 */
export class LazyProducer<P extends Connectable = Producer> {
  private readonly make: () => P;
  private connecting: Promise<P> | undefined;

  constructor(make: () => P) {
    this.make = make;
  }

  get(): Promise<P> {
    if (this.connecting) return this.connecting;
    const producer = this.make();
    const connecting = producer.connect().then(
      () => producer,
      async (error: unknown) => {
        if (this.connecting === connecting) this.connecting = undefined;
        await producer.disconnect().catch(() => {});
        throw error;
      },
    );
    this.connecting = connecting;
    return connecting;
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    const producer = await connecting?.catch(() => undefined);
    await producer?.disconnect();
  }
}

/** A producer for Klaxon's own state topics, with kafkajs's default partitioner named (keys line up with it). */
export function stateProducer(kafka: Kafka): LazyProducer {
  return new LazyProducer(() =>
    kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner }),
  );
}
