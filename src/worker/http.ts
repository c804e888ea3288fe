import Fastify, { type FastifyInstance } from 'fastify';
import { healthRoutes } from '../ingest/health.ts';

/** The health and metrics app of `klaxon detect`: the same routes as ingest's. */
export function healthApp(ready: () => Promise<{ ready: boolean; reason?: string }>): FastifyInstance {
  const app = Fastify({ logger: false });
  app.register(
    healthRoutes(async () => {
      const state = await ready();
      return state.ready ? { ready: true } : { ready: false, reason: state.reason ?? 'not ready' };
    }),
  );
  return app;
}
