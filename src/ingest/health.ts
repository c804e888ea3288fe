import type { FastifyInstance } from 'fastify';
import { registry } from '../metrics.ts';
import { sendError } from './errors.ts';

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
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const state = await ready();
      if (!state.ready) return sendError(reply, 'not_ready', state.reason, state.details);
      return { status: state.degraded ? 'degraded' : 'ready', ...state.details };
    });
    app.get('/metrics', async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    );
  };
}
