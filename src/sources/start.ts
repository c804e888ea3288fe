import type { Bus } from '../bus/index.ts';
import { KafkaBus } from '../bus/index.ts';
import type { Settings } from '../config.ts';
import { BusPublisher } from '../ingest/publisher.ts';
import type { Logger } from '../log.ts';
import { Acceptor } from './accept.ts';
import { type CheckpointStore, FileCheckpointStore, KafkaCheckpointStore } from './checkpoints.ts';
import { type RunningSources, startSources } from './runner.ts';

/** The accept path of a process: events go where the routes' go (Kafka or the spool, or the memory bus). */
export function acceptorFromSettings(settings: Settings, publishTo: Bus): Acceptor {
  return new Acceptor({
    publisher: new BusPublisher(publishTo, settings.kafka.eventsTopic),
    maxItemBytes: settings.ingest.auditEventLimit,
    maxAheadMs: settings.ingest.maxClockAheadSeconds * 1000,
  });
}

/**
 * Where checkpoints live: with Kafka, the compacted state topic every replica sees (a source moved to another
 * replica resumes where the last one stopped); without it, files in `state.dir`.
 */
export function checkpointsFor(settings: Settings, bus: Bus): CheckpointStore {
  return bus instanceof KafkaBus
    ? new KafkaCheckpointStore(bus.kafka, settings.kafka.stateTopic, settings.kafka.replicationFactor)
    : new FileCheckpointStore(settings.state.dir);
}

/**
 * Starts the pull sources of `sources:` for `serve` and `ingest`: `bus` is the process's own bus (to find Kafka
 * for the checkpoints), `publishTo` what the routes publish to (the spool in front of it).
 */
export async function startConfiguredSources(
  settings: Settings,
  buses: { bus: Bus; publishTo: Bus },
  logger: Logger,
): Promise<RunningSources & { closeCheckpoints(): Promise<void> }> {
  const checkpoints = checkpointsFor(settings, buses.bus);
  const running = await startSources(settings.sources, {
    accept: acceptorFromSettings(settings, buses.publishTo),
    checkpoints,
    logger,
  });
  return { ...running, closeCheckpoints: () => checkpoints.close() };
}
