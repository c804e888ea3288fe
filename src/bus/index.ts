import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { KafkaBus } from './kafka.ts';
import { MemoryBus } from './memory.ts';
import type { Bus } from './types.ts';

export { KafkaBus } from './kafka.ts';
export { MemoryBus } from './memory.ts';
export type {
  Bus,
  BusMessage,
  ConsumedBatch,
  ConsumedMessage,
  SubscribeOptions,
  Subscription,
} from './types.ts';
export { BusUnavailableError } from './types.ts';

/** Kafka when `KAFKA_BROKERS` is set, else the in-process bus. Not started yet. */
export function createBus(settings: Settings, logger: Logger): Bus {
  const { brokers } = settings.kafka;
  if (!brokers || brokers.length === 0) {
    return new MemoryBus({
      onHandlerError: (err, batch) => logger.error({ err, ...batch }, 'batch handler failed; redelivering'),
    });
  }
  return kafkaBusFromSettings(settings, brokers, logger);
}

/** The Kafka bus on `brokers`, owning (and probed for readiness on) the events topic. Not started yet. */
export function kafkaBusFromSettings(settings: Settings, brokers: string[], logger: Logger): KafkaBus {
  const { kafka } = settings;
  return new KafkaBus({
    brokers,
    clientId: kafka.clientId,
    compression: kafka.compression,
    ssl: kafka.ssl,
    topics: [
      {
        topic: kafka.eventsTopic,
        partitions: kafka.eventsPartitions,
        replicationFactor: kafka.replicationFactor,
      },
    ],
    logger,
  });
}
