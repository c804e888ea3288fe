import type { Logger } from '../log.ts';
import type { Acceptor } from './accept.ts';
import type { CheckpointStore } from './checkpoints.ts';

/** What a source instance is given to run. */
export interface SourceContext {
  /** Its name in `sources:` (metrics label, checkpoint key prefix, log field). */
  name: string;
  /** The shared accept path: resolves when the events are durable (Kafka or the spool). */
  accept: Acceptor;
  /** Where it saves how far it has read; saved only after `accept` resolved for everything before. */
  checkpoints: CheckpointStore;
  logger: Logger;
}

/** A running pull source (a file being tailed, a CloudWatch Logs group, a Pub/Sub subscription, …). */
export interface PullSource {
  /** Starts reading; resolves once it runs (not when it stops). */
  start(): Promise<void>;
  /** Finishes the batch in flight (accepted and checkpointed, or neither), then stops. */
  stop(): Promise<void>;
  /** Whether it reads now, and why not (for `/readyz` and the logs). */
  status(): { ok: boolean; reason?: string };
}

/** The implementation of one source type: builds a running source from its validated settings. */
export interface SourceModule<C> {
  create(config: C, ctx: SourceContext): PullSource;
}
