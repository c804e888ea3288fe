import Fastify, { type FastifyInstance } from 'fastify';
import { registry } from '../metrics.ts';

/** `/healthz` (alive), `/readyz` (ready to do its job, with the reason when not), `/metrics`. */
export function healthApp(ready: () => Promise<{ ready: boolean; reason?: string }>): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = await ready();
    return state.ready
      ? { status: 'ready' }
      : reply.code(503).send({ error: 'not_ready', reason: state.reason ?? 'not ready' });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  return app;
}
