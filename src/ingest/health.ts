import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registry } from '../metrics.ts';
import { sendError } from './errors.ts';
import type { RouteDoc } from './route-doc.ts';

const open = (
  summary: string,
  description: string,
  responses: RouteDoc['responses'],
): { openapi: RouteDoc } => ({
  openapi: { summary, description, tag: 'operations', security: [], responses },
});

const HEALTHZ = open('Liveness', 'The process answers.', {
  200: { description: 'alive', schema: z.object({ status: z.literal('ok') }) },
});
const READYZ = {
  openapi: {
    ...open(
      'Readiness',
      'Whether events can be made durable now: `ready`, or `degraded` when they can but not fully (Kafka down with the spool taking them, a pull source that cannot read), with details.',
      {
        200: {
          description: 'ready or degraded',
          schema: z.looseObject({ status: z.enum(['ready', 'degraded']) }),
        },
      },
    ).openapi,
    errors: ['not_ready'],
  } satisfies RouteDoc,
};
const METRICS = open('Prometheus metrics', 'Prometheus text exposition of every Klaxon metric.', {
  200: { description: 'metrics', contentType: 'text/plain' },
});

/** What `/readyz` says: ready (maybe degraded, with details) or not, with the reason. */
export type Readiness =
  | { ready: true; degraded?: boolean; details?: Record<string, unknown> }
  | { ready: false; reason: string; details?: Record<string, unknown> };

/**
 * `/healthz` (the process answers), `/readyz` (it can do its job now: 200, `degraded` when it can but not
 * fully; 503 with the reason otherwise) and `/metrics`, without credentials: the same on ingest, serve and
 * detect.
 */
export function healthRoutes(ready: () => Promise<Readiness>) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', { config: HEALTHZ }, async () => ({ status: 'ok' }));
    app.get('/readyz', { config: READYZ }, async (_request, reply) => {
      const state = await ready();
      if (!state.ready) return sendError(reply, 'not_ready', state.reason, state.details);
      return { status: state.degraded ? 'degraded' : 'ready', ...state.details };
    });
    app.get('/metrics', { config: METRICS }, async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    );
  };
}
