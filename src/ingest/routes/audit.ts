import type { FastifyInstance } from 'fastify';
import { auditDataset } from '../../datasets/audit.ts';
import { ingestRequestBytes } from '../../metrics.ts';
import { splitAuditBody } from '../../schema/audit.ts';
import { type Acceptor, type SourceItem, serializedSize } from '../../sources/accept.ts';
import { itemSizes, TOO_MANY } from '../item-spans.ts';
import { acceptAndAnswer, badBody, tooMany } from './answer.ts';

export interface AuditRouteOptions {
  acceptor: Acceptor;
  bodyLimit: number;
  eventLimit: number;
  maxItems: number;
}

/**
 * `POST /v1/audit`: the API server's audit webhook (an `EventList`), a single `Event`, or a JSON array of
 * events. A push source on the shared accept path: the cluster is the credential's, the dataset audit.
 */
export function auditRoutes(opts: AuditRouteOptions) {
  return async (app: FastifyInstance) => {
    app.post(
      '/v1/audit',
      { bodyLimit: opts.bodyLimit, config: { source: 'audit', accepts: ['application/json'] } },
      async (request, reply) => {
        const body = request.body as Buffer;
        ingestRequestBytes.observe({ endpoint: 'audit' }, body.length);
        const { eventLimit, maxItems } = opts;
        // No single event can be over the limit when the whole body is not. The scan also stops a body of
        // millions of tiny items before JSON.parse turns it into millions of objects.
        const scanned = body.length > eventLimit ? itemSizes(body, maxItems) : undefined;
        if (scanned === TOO_MANY) return tooMany(reply, 'audit', `more than ${maxItems}`, maxItems);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch (err) {
          return badBody(reply, 'audit', 'json', `invalid JSON: ${(err as Error).message}`);
        }
        const split = splitAuditBody(parsed);
        if ('error' in split) return badBody(reply, 'audit', 'schema', split.error);
        const { items } = split;
        if (items.length > maxItems) return tooMany(reply, 'audit', String(items.length), maxItems);
        const sizes = Array.isArray(scanned) && scanned.length === items.length ? scanned : undefined;
        const sourceItems: SourceItem[] = items.map((raw, index) =>
          body.length > eventLimit
            ? { index, raw, bytes: sizes ? sizes[index]! : serializedSize(raw) }
            : { index, raw },
        );
        return acceptAndAnswer(
          opts.acceptor,
          {
            dataset: auditDataset,
            cluster: request.cluster,
            items: sourceItems,
            receivedAt: new Date().toISOString(),
          },
          reply,
        );
      },
    );
  };
}
