import type { Command } from 'commander';
import { type KafkaBus, kafkaBusFromSettings } from '../bus/index.ts';
import { ConfigError, loadConfig, type Settings } from '../config.ts';
import { loadRules } from '../detect/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { sinksFromSettings } from '../sinks/from-settings.ts';
import { JsonlSink } from '../sinks/jsonl.ts';
import { deadLetterTopic } from '../worker/deadletter.ts';
import { DetectionRuntime } from '../worker/detection-runtime.ts';
import { KafkaFirstSeenLog } from '../worker/first-seen-log.ts';
import { healthApp } from '../worker/http.ts';
import { kafkaTransport } from '../worker/transports.ts';
import { placeholdersFromSettings } from './placeholders.ts';

interface DetectFlags {
  port?: string;
  rules?: string[];
}

/**
 * The detection runtime with every stage on Kafka, from settings; the caller starts the bus,
 * then the runtime. Throws ConfigError on unusable settings.
 */
export function buildDetectRuntime(
  settings: Settings,
  logger: Logger,
): { runtime: DetectionRuntime; bus: KafkaBus } {
  const { kafka } = settings;
  if (!kafka.brokers || kafka.brokers.length === 0) {
    throw new ConfigError('needs Kafka: set KAFKA_BROKERS (klaxon serve runs without it)');
  }
  const placeholders = placeholdersFromSettings(settings.detect, logger);
  const { ruleset, errors } = loadRules(settings.detect.rules, { placeholders });
  for (const e of errors) logger.error({ where: e.where }, `rule not loaded: ${e.reason}`);
  if (ruleset.rules.length === 0) {
    throw new ConfigError(`no detection rule loaded from ${settings.detect.rules.join(', ')}`);
  }
  const bus = kafkaBusFromSettings(settings, kafka.brokers, logger);
  const deadLetters = deadLetterTopic(bus, kafka.deadletterTopic);
  const { sinks, elasticsearch } = sinksFromSettings(settings, {
    alertsBus: bus,
    indexEvents: settings.elasticsearch.indexEvents,
    logger,
    deadLetters,
  });
  if (settings.detect.alertsFile) sinks.push(new JsonlSink({ file: settings.detect.alertsFile }));
  // Created when missing: the topics the runtime writes (signals, alerts, dead letters).
  const transport = kafkaTransport(
    bus,
    [kafka.signalsTopic, kafka.alertsTopic, kafka.deadletterTopic].map((topic) => ({
      topic,
      partitions: kafka.eventsPartitions,
      replicationFactor: kafka.replicationFactor,
    })),
  );
  const runtime = new DetectionRuntime({
    ruleset,
    sinks,
    logger,
    events: { transport, topic: kafka.eventsTopic, groupId: kafka.groupId },
    signals: { transport, topic: kafka.signalsTopic, groupId: kafka.correlateGroupId },
    deadLetters,
    latenessMs: settings.detect.latenessSeconds * 1000,
    eventIndex: elasticsearch?.indexEvents ? elasticsearch : undefined,
    firstSeen:
      ruleset.firstSeen.length > 0
        ? new KafkaFirstSeenLog({
            kafka: bus.kafka,
            topic: kafka.firstSeenTopic,
            partitions: kafka.eventsPartitions,
            replicationFactor: kafka.replicationFactor,
            signals: { topic: kafka.signalsTopic },
          })
        : undefined,
  });
  logger.info(
    {
      rules: ruleset.rules.length,
      correlations: ruleset.correlations.length,
      firstSeen: ruleset.firstSeen.length,
      sinks: sinks.map((s) => s.name),
    },
    'detector configured',
  );
  return { runtime, bus };
}

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description(
      'Distributed detector: consumes klaxon.events as a Kafka consumer group and writes alerts to the sinks',
    )
    .option('--port <port>', 'port of /healthz, /readyz and /metrics (default 8081, KLAXON_DETECT_PORT)')
    .option('--rules <paths...>', 'rule files or directories (default: detections, KLAXON_RULES)')
    .action(async (flags: DetectFlags) => {
      let settings: Settings;
      try {
        settings = loadConfig(process.env, { 'detect.port': flags.port, 'detect.rules': flags.rules });
      } catch (error) {
        process.stderr.write(`klaxon detect: ${(error as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const logger = createLogger(settings.log.level);
      let built: ReturnType<typeof buildDetectRuntime>;
      try {
        built = buildDetectRuntime(settings, logger);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`klaxon detect: ${error.message}\n`);
        process.exitCode = 2;
        return;
      }
      const { runtime, bus } = built;
      const app = healthApp(() => runtime.ready());
      await app.listen({ host: settings.ingest.host ?? '0.0.0.0', port: settings.detect.port });
      logger.info({ port: settings.detect.port }, 'health and metrics listening');

      let stopping: Promise<void> | undefined;
      const shutdown = (signal: string) => {
        stopping ??= (async () => {
          logger.info(
            { signal },
            'stopping: finishing the batch in progress, committing, leaving the groups',
          );
          await runtime.stop();
          await bus.stop();
          await app.close();
          logger.info('stopped');
        })();
        return stopping;
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));

      await bus.start();
      await runtime.start();
      logger.info('detector running');
    });
}
