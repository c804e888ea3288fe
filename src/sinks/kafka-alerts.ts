import type { Bus } from '../bus/types.ts';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from './sink.ts';

/**
 * Alerts on a Kafka topic for SIEM connectors, keyed by `klaxon.alert_id`: a consumer that
 * keeps the last message per key (or a compacted topic) sees each alert once, at its latest
 * revision. The bus acknowledges only when all in-sync replicas have the messages.
 */
export class KafkaAlertsSink implements Sink {
  readonly name = 'kafka';
  private readonly bus: Pick<Bus, 'produce' | 'ready'>;
  readonly topic: string;

  constructor(bus: Pick<Bus, 'produce' | 'ready'>, topic: string) {
    this.bus = bus;
    this.topic = topic;
  }

  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    if (alerts.length === 0) return [];
    try {
      await this.bus.produce(
        this.topic,
        alerts.map((a) => ({
          key: a.klaxon.alert_id,
          value: JSON.stringify(a),
          headers: { 'klaxon-revision': String(a.klaxon.revision), 'klaxon-rule': a.rule.name },
        })),
      );
    } catch (error) {
      sinkWrites.inc({ sink: this.name, outcome: 'error' }, alerts.length);
      throw new SinkUnavailableError(this.name, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    sinkWrites.inc({ sink: this.name, outcome: 'ok' }, alerts.length);
    return [];
  }

  ready(): Promise<boolean> {
    return this.bus.ready();
  }

  async close(): Promise<void> {}
}
