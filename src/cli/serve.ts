import type { Command } from 'commander';
import { type Bus, createBus, KafkaBus, MemoryBus } from '../bus/index.ts';
import { withSpool } from '../bus/spool.ts';
import { ConfigError, type Settings } from '../config.ts';
import { loadRules, type RuleSet } from '../detect/index.ts';
import {
  announceGeneratedToken,
  type ListenFlags,
  onShutdownSignal,
  planOrReport,
  settingsFromFlags,
  startBusOrReport,
  startSourcesOrReport,
} from '../ingest/lifecycle.ts';
import { startIngestServer } from '../ingest/server.ts';
import { createLogger, type Logger } from '../log.ts';
import { sinksFromSettings } from '../sinks/from-settings.ts';
import { JsonlSink } from '../sinks/jsonl.ts';
import type { Sink } from '../sinks/sink.ts';
import { deadLetterLog } from '../worker/deadletter.ts';
import { DetectionRuntime } from '../worker/detection-runtime.ts';
import { FileFirstSeenLog, type FirstSeenLog, KafkaFirstSeenLog } from '../worker/first-seen-log.ts';
import { kafkaTransport, memoryTransport } from '../worker/transports.ts';
import { type AlertOutput, alertLine } from './format.ts';
import { FORMAT_HELP, FORMAT_OPTION, type OutputFlags, outputOrReport } from './output-flags.ts';
import { placeholdersFromSettings } from './placeholders.ts';

/**
 * Alerts on stdout (JSON lines or text, `output`) and as JSON lines in the alerts file; Elasticsearch and
 * Alertmanager when configured. No alerts topic and no event index: serve's output is stdout, and
 * KLAXON_INDEX_EVENTS is `klaxon detect`'s.
 */
async function openSinks(settings: Settings, output: AlertOutput, logger: Logger): Promise<Sink[]> {
  const stdout = new JsonlSink({ stream: process.stdout, line: (a) => alertLine(a, output), name: 'stdout' });
  const file = settings.detect.alertsFile ? [new JsonlSink({ file: settings.detect.alertsFile })] : [];
  const { sinks, elasticsearch } = sinksFromSettings(settings, {
    indexEvents: false,
    logger,
    deadLetters: deadLetterLog(logger),
  });
  await elasticsearch?.installTemplates();
  return [stdout, ...file, ...sinks];
}

/**
 * Where serve keeps first-seen state: the compacted topic with Kafka (its signals are one in-memory
 * partition, so it reads every partition of the topic), else `state.dir`.
 */
function firstSeenLogOf(settings: Settings, events: Bus): FirstSeenLog {
  const { kafka } = settings;
  return events instanceof KafkaBus
    ? new KafkaFirstSeenLog({
        kafka: events.kafka,
        topic: kafka.firstSeenTopic,
        partitions: kafka.eventsPartitions,
        replicationFactor: kafka.replicationFactor,
        signals: { partitions: 1 },
      })
    : new FileFirstSeenLog(settings.state.dir);
}

/**
 * The detection runtime of `klaxon detect`, in one process: events from Kafka as group
 * `KLAXON_SERVE_GROUP_ID` when `events` is Kafka, else from the in-memory bus; signals always on
 * the in-memory bus (a single process keeps its correlation windows in memory, and judges them
 * when it stops); dead letters to the log.
 */
export function buildServeRuntime(
  settings: Settings,
  buses: { events: Bus; memory: MemoryBus },
  ruleset: RuleSet,
  sinks: Sink[],
  logger: Logger,
): DetectionRuntime {
  const { kafka } = settings;
  const memory = memoryTransport(buses.memory);
  return new DetectionRuntime({
    ruleset,
    sinks,
    logger,
    events: {
      transport: buses.events instanceof KafkaBus ? kafkaTransport(buses.events) : memory,
      topic: kafka.eventsTopic,
      groupId: kafka.serveGroupId,
    },
    signals: { transport: memory, topic: kafka.signalsTopic, groupId: `${kafka.serveGroupId}-correlate` },
    deadLetters: deadLetterLog(logger),
    latenessMs: settings.detect.latenessSeconds * 1000,
    closeWindowsOnStop: true,
    firstSeen: ruleset.firstSeen.length > 0 ? firstSeenLogOf(settings, buses.events) : undefined,
  });
}

async function serve(flags: ListenFlags & OutputFlags): Promise<number> {
  const settings = settingsFromFlags('serve', flags);
  if (!settings) return 2;
  const output = outputOrReport('serve', flags, process.stdout.isTTY === true);
  if (!output) return 2;
  const logger = createLogger(settings.log.level);
  const plan = planOrReport('serve', settings);
  if (!plan) return 2;
  const placeholders = placeholdersFromSettings(settings.detect, logger);
  const { ruleset, errors } = loadRules(settings.detect.rules, { placeholders });
  for (const e of errors) logger.warn({ where: e.where }, `rule not loaded: ${e.reason}`);
  let sinks: Sink[];
  try {
    sinks = await openSinks(settings, output, logger);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`klaxon serve: ${err.message}\n`);
    return 2;
  }
  const onHandlerError = (err: unknown, batch: { topic: string; messages: number }) =>
    logger.error({ err, ...batch }, 'batch handler failed; redelivering');
  const events = createBus(settings, logger);
  const memory = events instanceof MemoryBus ? events : new MemoryBus({ onHandlerError });
  const bus = withSpool(events, settings, logger, { startOffline: false });
  if (!(await startBusOrReport('serve', bus, `cannot start the ${bus.kind} bus`))) return 1;
  await memory.start();
  const runtime = buildServeRuntime(settings, { events, memory }, ruleset, sinks, logger);
  await runtime.start();
  const sources = await startSourcesOrReport('serve', settings, { bus: events, publishTo: bus }, logger);
  if (!sources) {
    await runtime.stop({ drainMs: 0 });
    await bus.stop();
    return 1;
  }
  const server = await startIngestServer({
    settings,
    plan,
    bus,
    logger,
    sourceProblems: sources.problems,
    sourceRoutes: sources.routes,
  });
  announceGeneratedToken(plan.generatedToken);
  logger.info(
    { url: server.url, bus: bus.kind, rules: ruleset.rules.length, ruleErrors: errors.length },
    'klaxon serve listening',
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await server.close();
    await sources.stop();
    // The in-memory bus does not survive the process: detect what ingest accepted first.
    await runtime.stop({ drainMs: 10_000 });
    await bus.stop();
    await memory.stop();
  });
  return 0;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'ingest and detection in one process: in-memory bus unless KAFKA_BROKERS is set; alerts on stdout (text on a terminal, else JSON lines)',
    )
    .option('-p, --port <port>', 'listen port (default 8080, or KLAXON_PORT)')
    .option(
      '-H, --host <host>',
      'listen address (default 0.0.0.0 with credentials configured, else 127.0.0.1)',
    )
    .option(FORMAT_OPTION, FORMAT_HELP)
    .option('--min-level <level>', 'print only alerts at this level or above (the alerts file keeps all)')
    .action(async (flags: ListenFlags & OutputFlags) => {
      process.exitCode = await serve(flags);
    });
}
