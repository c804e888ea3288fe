import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { auditDataset } from '../../datasets/audit.ts';
import { ingestRequestBytes } from '../../metrics.ts';
import { AuditEvent, AuditEventList, splitAuditBody } from '../../schema/audit.ts';
import { type Acceptor, type SourceItem, serializedSize } from '../../sources/accept.ts';
import { itemSpans, TOO_MANY } from '../item-spans.ts';
import { BATCH_ERRORS, BatchAnswer, GUARDED_ROUTE_ERRORS, type RouteDoc } from '../route-doc.ts';
import { acceptAndAnswer, badBody, tooMany } from './answer.ts';

/** What the API server's audit webhook and log shippers send: an EventList, an array of events or one event. */
export const AuditBody = z.union([AuditEventList, z.array(AuditEvent), AuditEvent]);

const DOC: RouteDoc = {
  summary: 'Kubernetes audit events',
  description:
    "The API server's audit webhook (`--audit-webhook-config-file`: an `EventList`), or a JSON array of events, or one `Event`. Each event is checked alone: a bad one is listed in `rejected`, the others go through. The cluster is the credential's, never the payload's.",
  tag: 'ingest',
  security: ['ingestToken', 'clientCertificate'],
  body: {
    name: 'AuditBody',
    description: 'audit.k8s.io/v1 events',
    contentTypes: ['application/json'],
    schema: AuditBody,
  },
  responses: {
    200: { description: 'The accepted events are durable; refused items are listed.', schema: BatchAnswer },
  },
  errors: [...BATCH_ERRORS, ...GUARDED_ROUTE_ERRORS],
};

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
      {
        bodyLimit: opts.bodyLimit,
        config: { source: 'audit', accepts: DOC.body!.contentTypes, openapi: DOC },
      },
      async (request, reply) => {
        const body = request.body as Buffer;
        ingestRequestBytes.observe({ endpoint: 'audit' }, body.length);
        const { eventLimit, maxItems } = opts;
        // One pass over the bytes finds each event's span: its size for the per-event limit, and its own text,
        // which is published as it came when normalization keeps the event unchanged (verbatim.ts). The scan
        // also stops a body of millions of tiny items before JSON.parse turns it into millions of objects.
        const scanned = itemSpans(body, maxItems);
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
        // A single Event body is its own item: spans the scan found (of an `items` field inside it) are not items.
        const single = items.length === 1 && items[0] === parsed;
        const spans =
          !single && scanned !== undefined && scanned.starts.length === items.length ? scanned : undefined;
        // Invalid UTF-8 decodes to U+FFFD: the bytes would not say what was checked.
        const texts = spans !== undefined && isUtf8(body) ? spans : undefined;
        const sourceItems: SourceItem[] = items.map((raw, index) => {
          const item: SourceItem & { raw: unknown } = { index, raw };
          // No single event can be over the limit when the whole body is not.
          if (body.length > eventLimit)
            item.bytes = spans ? spans.ends[index]! - spans.starts[index]! : serializedSize(raw);
          if (texts)
            item.text = {
              text: body.subarray(texts.starts[index], texts.ends[index]),
              members: texts.members[index]!,
            };
          return item;
        });
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
