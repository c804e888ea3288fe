import type { Bus, BusMessage } from '../bus/index.ts';
import { BusUnavailableError } from '../bus/index.ts';
import type { NormalizedEvent } from '../schema/event.ts';

/**
 * Where ingest hands accepted events: the seam between "accepted" and "on Kafka".
 * `publish` resolves once the events are durable, and only then does ingest answer 2xx.
 * Today that is the bus acknowledging them; a disk spool (issue 9) implements the same
 * interface, resolving once the events are fsync'ed and draining to the bus behind.
 */
export interface EventPublisher {
  publish(messages: BusMessage[]): Promise<void>;
  /** Whether `publish` can succeed now (readiness probe). */
  ready(): Promise<boolean>;
}

/** The events could not be made durable now; the client should retry after a while (503 + Retry-After). */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Publishes straight onto the bus's events topic. */
export class BusPublisher implements EventPublisher {
  private readonly bus: Bus;
  private readonly topic: string;

  constructor(bus: Bus, topic: string) {
    this.bus = bus;
    this.topic = topic;
  }

  async publish(messages: BusMessage[]): Promise<void> {
    try {
      await this.bus.produce(this.topic, messages);
    } catch (err) {
      if (err instanceof BusUnavailableError) throw new RetryLaterError(err.message, 5);
      throw err;
    }
  }

  ready(): Promise<boolean> {
    return this.bus.ready();
  }
}

/**
 * The bus message for a normalized event: keyed by `cluster/actor` so one actor's events
 * stay in order on one partition (sequence correlations depend on it), serialized once.
 */
export function eventMessage(event: NormalizedEvent): BusMessage {
  return { ...messageEnvelope(event), value: JSON.stringify(event) };
}

/** The key and headers of an event's bus message. */
export function messageEnvelope(event: NormalizedEvent): Omit<BusMessage, 'value'> {
  const actor = event.user?.name ?? event.host?.hostname ?? '';
  return {
    key: `${event.orchestrator.cluster.name}/${actor}`,
    headers: { 'klaxon-dataset': event.event.dataset },
  };
}
