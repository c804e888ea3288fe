import type { Bus } from '../bus/types.ts';
import type { Settings } from '../config.ts';
import { AlertmanagerSink } from './alertmanager.ts';
import { ElasticsearchSink } from './elasticsearch.ts';
import { KafkaAlertsSink } from './kafka-alerts.ts';
import type { Sink } from './sink.ts';

/** The sinks the configuration asks for. `elasticsearch` is also the event indexer when enabled. */
export function sinksFromSettings(
  settings: Settings,
  bus: Pick<Bus, 'produce' | 'ready'> | undefined,
): { sinks: Sink[]; elasticsearch?: ElasticsearchSink } {
  const sinks: Sink[] = [];
  let elasticsearch: ElasticsearchSink | undefined;
  const es = settings.elasticsearch;
  if (es.url) {
    elasticsearch = new ElasticsearchSink({
      url: es.url,
      apiKey: es.apiKey,
      username: es.username,
      password: es.password,
      caFile: es.caFile,
      indexPrefix: es.indexPrefix,
      indexEvents: es.indexEvents,
    });
    sinks.push(elasticsearch);
  }
  const am = settings.alertmanager;
  if (am.url) {
    sinks.push(
      new AlertmanagerSink({
        url: am.url,
        minLevel: am.minLevel,
        resolveAfterMs: am.resolveAfterSeconds * 1000,
        runbookBaseUrl: am.runbookBaseUrl,
      }),
    );
  }
  if (bus) sinks.push(new KafkaAlertsSink(bus, settings.kafka.alertsTopic));
  return elasticsearch ? { sinks, elasticsearch } : { sinks };
}
