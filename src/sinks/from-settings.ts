import { dirname, join } from 'node:path';
import type { Bus } from '../bus/types.ts';
import { ConfigError, type Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import type { DeadLetterOutput } from '../worker/deadletter.ts';
import { AlertmanagerSink } from './alertmanager.ts';
import { ElasticsearchSink } from './elasticsearch.ts';
import { KafkaAlertsSink } from './kafka-alerts.ts';
import { createNamedSink } from './named-sinks.ts';
import type { RejectedAlert, Sink } from './sink.ts';

/**
 * The sinks the configuration asks for, plus the alerts topic when `alertsBus` is given.
 * `elasticsearch` is also the event indexer when `indexEvents` is set. Named instances
 * (`sinks:`) follow; alerts their receivers refuse after the detector committed go to
 * `deadLetters` (the runtime's: the topic in `detect`, the log in `serve`).
 */
export function sinksFromSettings(
  settings: Settings,
  use: {
    alertsBus?: Pick<Bus, 'produce' | 'ready'>;
    indexEvents: boolean;
    logger: Logger;
    /** Where alerts a buffered sink refused for good go (the runtime's dead letters). */
    deadLetters?: DeadLetterOutput;
  },
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
        filter: am,
        resolveAfterMs: am.resolveAfterSeconds * 1000,
        runbookBaseUrl: am.runbookBaseUrl,
      }),
    );
  }
  if (use.alertsBus) sinks.push(new KafkaAlertsSink(use.alertsBus, settings.kafka.alertsTopic));
  const { deadLetters } = use;
  const onRejected = deadLetters
    ? (rejected: RejectedAlert[]) =>
        deadLetters.send(
          rejected.map((r) => ({
            reason: 'sink-rejected' as const,
            detail: `${r.sink}: ${r.reason}`,
            key: r.alert.klaxon.alert_id,
            value: JSON.stringify(r.alert),
          })),
        )
    : undefined;
  const spoolRoot = join(dirname(settings.ingest.spool.dir), 'sinks');
  for (const [name, instance] of Object.entries(settings.sinks)) {
    try {
      sinks.push(
        createNamedSink(name, instance, {
          logger: use.logger,
          spoolRoot,
          ...(onRejected ? { onRejected } : {}),
        }),
      );
    } catch (error) {
      throw new ConfigError(`sinks.${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return elasticsearch ? { sinks, elasticsearch } : { sinks };
}
