import type { FastifyInstance } from 'fastify';
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

/**
 * Routes a push source adds to the ingest server (Firehose's HTTP endpoint delivery, Pub/Sub push). They sit
 * outside the bearer-token guard: each authenticates its own sender (a Firehose access key, a Pub/Sub OIDC
 * token) and names the cluster from that credential or its configuration, never from the payload.
 */
export type SourceRoutes = (app: FastifyInstance) => Promise<void>;

/** The implementation of one source type: a running pull source, or routes on the ingest server, or both. */
export interface SourceModule<C> {
  create?(config: C, ctx: SourceContext): PullSource;
  routes?(config: C, ctx: SourceContext): SourceRoutes;
}
