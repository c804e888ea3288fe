import type { Bus } from '../bus/types.ts';
import type { Settings } from '../config.ts';
import { AlertmanagerSink } from './alertmanager.ts';
import { ElasticsearchSink } from './elasticsearch.ts';
import { KafkaAlertsSink } from './kafka-alerts.ts';
import type { Sink } from './sink.ts';

/**
 * The sinks the configuration asks for, plus the alerts topic when `alertsBus` is given.
 * `elasticsearch` is also the event indexer when `indexEvents` is set.
 */
export function sinksFromSettings(
  settings: Settings,
  use: { alertsBus?: Pick<Bus, 'produce' | 'ready'>; indexEvents: boolean },
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
      indexEvents: use.indexEvents,
      maxEventAgeDays: es.maxEventAgeDays,
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
  if (use.alertsBus) sinks.push(new KafkaAlertsSink(use.alertsBus, settings.kafka.alertsTopic));
  return elasticsearch ? { sinks, elasticsearch } : { sinks };
}
