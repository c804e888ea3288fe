import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { falcoDataset } from '../../datasets/falco.ts';
import { ingestRequestBytes } from '../../metrics.ts';
import { FalcoAlert, parseFalcoBody } from '../../schema/falco.ts';
import type { Acceptor, SourceItem } from '../../sources/accept.ts';
import { BATCH_ERRORS, BatchAnswer, GUARDED_ROUTE_ERRORS, type RouteDoc } from '../route-doc.ts';
import { acceptAndAnswer, badBody, tooMany } from './answer.ts';
import { JSON_RECORDS } from './media-types.ts';

export interface FalcoRouteOptions {
  acceptor: Acceptor;
  bodyLimit: number;
  maxItems: number;
}

/** One alert or a JSON array of them; NDJSON bodies are one alert a line. */
export const FalcoBody = z.union([FalcoAlert, z.array(FalcoAlert)]);

const DOC: RouteDoc = {
  summary: 'Falco alerts',
  description:
    "Falco's `http_output` (one alert per request, `json_output: true`), falcosidekick's webhook, a JSON array of alerts, or NDJSON (one alert a line; a line that is not JSON is listed in `rejected`). The cluster is the credential's.",
  tag: 'ingest',
  security: ['ingestToken', 'clientCertificate'],
  body: {
    name: 'FalcoBody',
    description: 'Falco alerts',
    contentTypes: JSON_RECORDS,
    schema: FalcoBody,
  },
  responses: {
    200: { description: 'The accepted alerts are durable; refused items are listed.', schema: BatchAnswer },
  },
  errors: [...BATCH_ERRORS, ...GUARDED_ROUTE_ERRORS],
};

/**
 * `POST /v1/falco`: one Falco alert (`http_output`, falcosidekick), a JSON array, or NDJSON. A push source on
 * the shared accept path: the cluster is the credential's, the dataset Falco.
 */
export function falcoRoutes(opts: FalcoRouteOptions) {
  return async (app: FastifyInstance) => {
    app.post(
      '/v1/falco',
      { bodyLimit: opts.bodyLimit, config: { source: 'falco', accepts: JSON_RECORDS, openapi: DOC } },
      async (request, reply) => {
        const body = request.body as Buffer;
        ingestRequestBytes.observe({ endpoint: 'falco' }, body.length);
        const parsed = parseFalcoBody(body.toString('utf8'));
        if ('error' in parsed) return badBody(reply, 'falco', 'json', parsed.error);
        if (parsed.items.length > opts.maxItems)
          return tooMany(reply, 'falco', String(parsed.items.length), opts.maxItems);
        const items: SourceItem[] = parsed.items.map((item) =>
          'error' in item ? { index: item.index, reason: 'json', error: item.error } : item,
        );
        return acceptAndAnswer(
          opts.acceptor,
          { dataset: falcoDataset, cluster: request.cluster, items, receivedAt: new Date().toISOString() },
          reply,
        );
      },
    );
  };
}
