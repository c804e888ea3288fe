import type { Bus, BusMessage, SubscribeOptions, Subscription } from '../../../src/bus/types.ts';
import { BusUnavailableError } from '../../../src/bus/types.ts';

/**
 * A stand-in for Kafka in unit tests of the spool: it records what it acknowledged and can be
 * switched between up, down (fails at once) and hanging (never answers), or refuse to start.
 */
export class FakeBus implements Bus {
  readonly kind = 'kafka';
  mode: 'up' | 'down' | 'hang' = 'up';
  startable = true;
  readonly acked: Array<{ topic: string; key: string | null; value: string }> = [];
  produceCalls = 0;

  async start(): Promise<void> {
    if (!this.startable) throw new BusUnavailableError('fake bus cannot start');
  }

  produce(topic: string, messages: BusMessage[]): Promise<void> {
    this.produceCalls++;
    if (this.mode === 'down') return Promise.reject(new BusUnavailableError('fake bus is down'));
    if (this.mode === 'hang') return new Promise(() => {});
    for (const m of messages) this.acked.push({ topic, key: m.key, value: m.value.toString() });
    return Promise.resolve();
  }

  subscribe(_options: SubscribeOptions): Promise<Subscription> {
    throw new Error('not used by the spool tests');
  }

  async ready(): Promise<boolean> {
    return this.mode === 'up' && this.startable;
  }

  async stop(): Promise<void> {}

  values(): string[] {
    return this.acked.map((a) => a.value);
  }
}
