import type { Command } from 'commander';
import { createBus } from '../bus/index.ts';
import { withSpool } from '../bus/spool.ts';
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
import { createLogger } from '../log.ts';

async function ingest(flags: ListenFlags): Promise<number> {
  const settings = settingsFromFlags('ingest', flags);
  if (!settings) return 2;
  if (!settings.kafka.brokers?.length) {
    process.stderr.write(
      'klaxon ingest: KAFKA_BROKERS is required (e.g. KAFKA_BROKERS=127.0.0.1:9092); use `klaxon serve` to run without Kafka\n',
    );
    return 2;
  }
  const logger = createLogger(settings.log.level);
  const plan = planOrReport('ingest', settings);
  if (!plan) return 2;
  // Kafka down at start is survivable: events go to the spool until it is reachable.
  const events = createBus(settings, logger);
  const bus = withSpool(events, settings, logger, { startOffline: true });
  if (!(await startBusOrReport('ingest', bus, `cannot open the spool in ${settings.ingest.spool.dir}`)))
    return 1;
  const sources = await startSourcesOrReport('ingest', settings, { bus: events, publishTo: bus }, logger);
  if (!sources) {
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
    { url: server.url, bus: bus.kind, topic: settings.kafka.eventsTopic },
    'klaxon ingest listening',
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await server.close();
    await sources.stop();
    await bus.stop();
  });
  return 0;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('receive audit and Falco events over HTTP and put them on Kafka (KAFKA_BROKERS)')
    .option('-p, --port <port>', 'listen port (default 8080, or KLAXON_PORT)')
    .option(
      '-H, --host <host>',
      'listen address (default 0.0.0.0 with credentials configured, else 127.0.0.1)',
    )
    .action(async (flags: ListenFlags) => {
      process.exitCode = await ingest(flags);
    });
}
