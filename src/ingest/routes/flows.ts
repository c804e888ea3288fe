import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hubbleDataset } from '../../datasets/hubble.ts';
import { ingestRequestBytes } from '../../metrics.ts';
import { HubbleFlow, HubbleRecord } from '../../schema/flow.ts';
import type { Acceptor } from '../../sources/accept.ts';
import { FlowIntake } from '../../sources/flow-intake.ts';
import type { FlowsSettings } from '../../sources/flow-settings.ts';
import { parseHubbleText } from '../../sources/hubble.ts';
import { itemSizes, TOO_MANY } from '../item-spans.ts';
import { moreRecordLinesThan } from '../record-lines.ts';
import { BATCH_ERRORS, FlowsAnswer, GUARDED_ROUTE_ERRORS, type RouteDoc } from '../route-doc.ts';
import { acceptAndAnswer, badBody, tooMany } from './answer.ts';
import { JSON_RECORDS } from './media-types.ts';

export interface FlowRouteOptions {
  acceptor: Acceptor;
  settings: FlowsSettings;
  /** Largest single flow, checked when the body is bigger than this. */
  eventLimit: number;
}

/** A record of the exporter or `hubble observe`, a bare flow, or a JSON array of them; JSON lines are one a line. */
export const FlowsBody = z.union([HubbleRecord, HubbleFlow, z.array(z.union([HubbleRecord, HubbleFlow]))]);

const DOC: RouteDoc = {
  summary: 'Cilium Hubble flows',
  description:
    'The Hubble exporter\'s file as Fluent Bit or Vector ship it (JSON lines of `{"flow": …, "node_name": …, "time": …}`), `hubble observe -o jsonpb` output, a JSON array of records or bare flows, or one record. The volume filter (`ingest.flows.filter`) keeps ordinary allowed traffic out: `filtered` counts it, `not_flows` the records that hold no flow. The cluster is the credential\'s.',
  tag: 'ingest',
  security: ['ingestToken', 'clientCertificate'],
  body: {
    name: 'FlowsBody',
    description: 'Hubble flow records',
    contentTypes: JSON_RECORDS,
    schema: FlowsBody,
  },
  responses: {
    200: { description: 'The published flows are durable; refused items are listed.', schema: FlowsAnswer },
  },
  errors: [...BATCH_ERRORS, ...GUARDED_ROUTE_ERRORS],
};

/**
 * `POST /v1/flows`: Cilium Hubble flows as the exporter's file and `hubble observe -o jsonpb` write them (JSON
 * lines of `{"flow": …, "node_name": …, "time": …}`), a JSON array of records or bare flows, or one record. A
 * push source on the shared accept path: the cluster is the credential's, the dataset Hubble's. The volume
 * filter (`ingest.flows.filter`) runs before the Acceptor: the flows it drops and the records that hold no
 * flow are counted, never published, never rejected; the answer says how many of each.
 */
export function flowRoutes(opts: FlowRouteOptions) {
  const intake = new FlowIntake(opts.settings);
  const { maxItems, bodyLimit } = opts.settings;
  return async (app: FastifyInstance) => {
    app.post(
      '/v1/flows',
      { bodyLimit, config: { source: 'flows', accepts: JSON_RECORDS, openapi: DOC } },
      async (request, reply) => {
        const body = request.body as Buffer;
        ingestRequestBytes.observe({ endpoint: 'flows' }, body.length);
        // Counted on the bytes, before JSON.parse can turn a body of tiny records into millions of objects.
        if (itemSizes(body, maxItems) === TOO_MANY || moreRecordLinesThan(body, maxItems))
          return tooMany(reply, 'flows', `more than ${maxItems}`, maxItems);
        const parsed = parseHubbleText(body.toString('utf8'));
        if ('error' in parsed) return badBody(reply, 'flows', 'json', parsed.error);
        if (parsed.items.length > maxItems)
          return tooMany(reply, 'flows', String(parsed.items.length), maxItems);
        const sorting = intake.sort(
          parsed.items,
          body.length > opts.eventLimit ? opts.eventLimit : undefined,
        );
        const cluster = request.cluster;
        return acceptAndAnswer(
          opts.acceptor,
          { dataset: hubbleDataset, cluster, items: sorting.items, receivedAt: new Date().toISOString() },
          reply,
          {
            count: sorting.kept,
            fields: { filtered: sorting.filtered, not_flows: sorting.notFlows },
            settled: () => FlowIntake.count(sorting, cluster),
          },
        );
      },
    );
  };
}
