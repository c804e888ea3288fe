import type { FastifyInstance } from 'fastify';
import { falcoDataset } from '../../datasets/falco.ts';
import { ingestRequestBytes } from '../../metrics.ts';
import { parseFalcoBody } from '../../schema/falco.ts';
import type { Acceptor, SourceItem } from '../../sources/accept.ts';
import { acceptAndAnswer, badBody, tooMany } from './answer.ts';
import { JSON_RECORDS } from './media-types.ts';

export interface FalcoRouteOptions {
  acceptor: Acceptor;
  bodyLimit: number;
  maxItems: number;
}

/**
 * `POST /v1/falco`: one Falco alert (`http_output`, falcosidekick), a JSON array, or NDJSON. A push source on
 * the shared accept path: the cluster is the credential's, the dataset Falco.
 */
export function falcoRoutes(opts: FalcoRouteOptions) {
  return async (app: FastifyInstance) => {
    app.post(
      '/v1/falco',
      { bodyLimit: opts.bodyLimit, config: { source: 'falco', accepts: JSON_RECORDS } },
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
