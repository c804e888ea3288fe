import type { Command } from 'commander';
import { type Bus, createBus, MemoryBus, type Subscription } from '../bus/index.ts';
import { withSpool } from '../bus/spool.ts';
import type { Settings } from '../config.ts';
import { Detector, loadRules } from '../detect/index.ts';
import {
  announceGeneratedToken,
  type ListenFlags,
  onShutdownSignal,
  planOrReport,
  settingsFromFlags,
  startBusOrReport,
} from '../ingest/lifecycle.ts';
import { startIngestServer } from '../ingest/server.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Alert } from '../schema/alert.ts';
import { sinksFromSettings } from '../sinks/from-settings.ts';
import { JsonlSink } from '../sinks/jsonl.ts';
import { type Sink, writeToAll } from '../sinks/sink.ts';
import { decodeEvent } from '../worker/decode.ts';
import { countSecuritySignals } from '../worker/security-signals.ts';
import { type AlertOutput, alertLine } from './format.ts';
import { FORMAT_HELP, FORMAT_OPTION, type OutputFlags, outputOrReport } from './output-flags.ts';
import { placeholdersFromSettings } from './placeholders.ts';

/**
 * Alerts on stdout (JSON lines or text, `output`) and as JSON lines in the alerts file; Elasticsearch and
 * Alertmanager when configured. No alerts topic and no event index: serve's output is stdout, and
 * KLAXON_INDEX_EVENTS is `klaxon detect`'s.
 */
async function openSinks(settings: Settings, output: AlertOutput): Promise<Sink[]> {
  const stdout = new JsonlSink({ stream: process.stdout, line: (a) => alertLine(a, output), name: 'stdout' });
  const file = settings.detect.alertsFile ? [new JsonlSink({ file: settings.detect.alertsFile })] : [];
  const { sinks, elasticsearch } = sinksFromSettings(settings, { indexEvents: false });
  await elasticsearch?.installTemplates();
  return [stdout, ...file, ...sinks];
}

/** Writes until every sink has the alerts: re-running detection on a redelivery would not re-raise them. */
async function deliver(
  sinks: Sink[],
  alerts: Alert[],
  logger: Logger,
  stopping: () => boolean,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const rejected = await writeToAll(sinks, alerts);
      for (const r of rejected)
        logger.error({ sink: r.sink, rule: r.alert.rule.name }, `alert refused: ${r.reason}`);
      return;
    } catch (err) {
      if (stopping()) throw err;
      logger.warn({ err, attempt }, 'alert sinks unavailable; retrying');
      await new Promise((r) => setTimeout(r, Math.min(10_000, 200 * 2 ** attempt)));
    }
  }
}

/** In-process detection: every event on the events topic goes through one Detector. */
async function startDetection(
  settings: Settings,
  bus: Bus,
  detector: Detector,
  sinks: Sink[],
  logger: Logger,
): Promise<{ subscription: Subscription; processed: () => number; stop: () => Promise<void> }> {
  let stopping = false;
  let processed = 0;
  const subscription = await bus.subscribe({
    groupId: settings.kafka.serveGroupId,
    topics: [settings.kafka.eventsTopic],
    // A new group reads what ingest accepted before it joined; later starts resume from the commit.
    fromBeginning: true,
    handleBatch: async (batch) => {
      const alerts: Alert[] = [];
      for (const m of batch.messages) {
        const where = { offset: m.offset, partition: m.partition };
        const decoded = decodeEvent(m.value);
        if (!decoded.ok) {
          logger.error(
            { ...where, reason: decoded.reason, detail: decoded.detail },
            'event skipped: invalid',
          );
          continue;
        }
        try {
          countSecuritySignals(decoded.value);
          alerts.push(...detector.process(decoded.value));
        } catch (err) {
          logger.error({ err, ...where }, 'event skipped: cannot be evaluated');
        }
      }
      await deliver(sinks, alerts, logger, () => stopping);
      processed += batch.messages.length;
    },
  });
  return {
    subscription,
    processed: () => processed,
    stop: async () => {
      stopping = true;
      await subscription.stop();
      await deliver(sinks, detector.flush(), logger, () => true);
    },
  };
}

/** Lets the in-memory bus's consumer finish what ingest accepted (it does not survive the process). */
async function drainMemoryBus(
  bus: Bus,
  topic: string,
  processed: () => number,
  timeoutMs: number,
): Promise<void> {
  if (!(bus instanceof MemoryBus)) return;
  const deadline = Date.now() + timeoutMs;
  while (processed() < bus.end(topic) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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
  const detector = new Detector(ruleset, { latenessMs: settings.detect.latenessSeconds * 1000 });
  const sinks = await openSinks(settings, output);
  const bus = withSpool(createBus(settings, logger), settings, logger, { startOffline: false });
  if (!(await startBusOrReport('serve', bus, `cannot start the ${bus.kind} bus`))) return 1;
  const detection = await startDetection(settings, bus, detector, sinks, logger);
  const server = await startIngestServer({ settings, plan, bus, logger });
  announceGeneratedToken(plan.generatedToken);
  logger.info(
    { url: server.url, bus: bus.kind, rules: ruleset.rules.length, ruleErrors: errors.length },
    'klaxon serve listening',
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await server.close();
    await drainMemoryBus(bus, settings.kafka.eventsTopic, detection.processed, 10_000);
    await detection.stop();
    await bus.stop();
    await Promise.allSettled(sinks.map((s) => s.close()));
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
