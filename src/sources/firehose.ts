import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditDataset } from '../datasets/audit.ts';
import { mediaType } from '../ingest/guard.ts';
import { RetryLaterError } from '../ingest/publisher.ts';
import type { RejectReason } from '../ingest/rejections.ts';
import type { RouteDoc } from '../ingest/route-doc.ts';
import type { Logger } from '../log.ts';
import { ingestRejected, ingestRequestBytes, ingestRequests } from '../metrics.ts';
import { decodeJsonData, type InflateBudget } from '../normalize/bounded-decode.ts';
import type { CloudItem } from '../normalize/cloud-batch.ts';
import type { EksOrigin } from '../normalize/cloudwatch.ts';
import { eksAuditFromFirehose, firehoseError, firehoseSuccess } from '../normalize/firehose.ts';
import { FirehoseErrorResponse, FirehoseRequest, FirehoseResponse } from '../schema/firehose.ts';
import type { Acceptor, SourceItem } from './accept.ts';
import { sourceItems } from './cloud-items.ts';
import { clusterForLogGroup, FirehoseKeys } from './firehose-keys.ts';
import type { FirehoseSourceSettings } from './firehose-settings.ts';
import type { SourceModule, SourceRoutes } from './types.ts';

/** The metrics label of the route (`endpoint` and `source` of the ingest metrics). */
const LABEL = 'firehose';
const ACCESS_KEY = 'x-amz-firehose-access-key';
const REQUEST_ID = 'x-amz-firehose-request-id';
/** Request ids of deliveries already stored, so a retry Firehose sends after a lost answer is not stored twice. */
const REMEMBERED_REQUESTS = 10_000;

export interface FirehoseRouteOptions {
  path: string;
  bodyLimit: number;
  maxInflatedBytes: number;
  keys: FirehoseKeys;
  accept: Acceptor;
  logger: Logger;
}

const refused = (description: string) => ({ description, schema: FirehoseErrorResponse });

const DOC: RouteDoc = {
  summary: 'Amazon Data Firehose HTTP endpoint delivery (EKS audit logs)',
  description:
    "A `firehose` source: Firehose's HTTP endpoint delivery (protocol 1.0) of a CloudWatch Logs subscription of an EKS cluster's audit log. Each record is the base64 of a gzip'd subscription payload; control messages and the cluster's other log streams are acknowledged and skipped. Every answer is in Firehose's shape: any status but 200 makes Firehose retry, then back the records up to S3.",
  tag: 'sources',
  security: ['firehoseAccessKey'],
  body: {
    name: 'FirehoseRequest',
    description: 'a Firehose delivery',
    contentTypes: ['application/json'],
    schema: FirehoseRequest,
  },
  responses: {
    200: {
      description: "Every event is durable (or the request id was already stored: Firehose's retry).",
      schema: FirehoseResponse,
    },
    400: refused(
      'Not a Firehose request, a body that does not decompress, or every event of it refused (retrying cannot help).',
    ),
    401: refused('Unknown or missing X-Amz-Firehose-Access-Key.'),
    413: refused('The body, or what its records inflate to, is over the limit.'),
    415: refused('A content type other than application/json, or an unsupported Content-Encoding.'),
    500: refused('A defect in Klaxon (logged).'),
    503: { ...refused('The events cannot be made durable now.'), headers: ['Retry-After'] },
  },
};

/** Answers Firehose's way: `{requestId, timestamp, errorMessage}` with a non-2xx status, counted. */
function fail(
  reply: FastifyReply,
  status: number,
  reason: RejectReason,
  requestId: string,
  message: string,
): FastifyReply {
  ingestRejected.inc({ source: LABEL, reason });
  return reply.code(status).send(firehoseError(requestId, Date.now(), message));
}

function headerRequestId(request: FastifyRequest): string {
  const id = request.headers[REQUEST_ID];
  return typeof id === 'string' ? id.slice(0, 256) : '';
}

/** A bounded set of the most recent keys, oldest forgotten first. */
class RecentIds {
  private readonly ids = new Set<string>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
}

/** Items by the cluster each is filed under; the ones no cluster can take are rejected in the first one's batch. */
function byCluster(
  allowed: readonly string[],
  items: readonly CloudItem<EksOrigin>[],
): Map<string, SourceItem[]> {
  const groups = new Map<string, SourceItem[]>(allowed.map((c) => [c, []]));
  items.forEach((item, index) => {
    let cluster = allowed[0]!;
    let mapped: CloudItem<EksOrigin> = item;
    if (item.ok) {
      const decided = clusterForLogGroup(allowed, item.origin.logGroup);
      if ('cluster' in decided) cluster = decided.cluster;
      else mapped = { ok: false, reason: decided.error, where: item.where };
    }
    groups.get(cluster)!.push(...sourceItems([mapped], index));
  });
  for (const [cluster, list] of groups) if (list.length === 0) groups.delete(cluster);
  return groups;
}

/**
 * `POST /v1/firehose`: Amazon Data Firehose's HTTP endpoint delivery (protocol 1.0). The access key is
 * checked before the body is read; the body (gzip'd or not: `Content-Encoding: gzip`) holds records, each the
 * base64 of a gzip'd CloudWatch Logs subscription payload; control messages and EKS's other log streams are
 * acknowledged and skipped. 200 `{requestId, timestamp}` only once every event is durable; any failure is a
 * non-2xx `{requestId, timestamp, errorMessage}`, so Firehose retries (and finally backs the data up to S3).
 */
export function firehoseRoutes(opts: FirehoseRouteOptions): SourceRoutes {
  const allowedOf = new WeakMap<FastifyRequest, readonly string[]>();
  const stored = new RecentIds(REMEMBERED_REQUESTS);
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      const key = request.headers[ACCESS_KEY];
      const allowed = typeof key === 'string' ? opts.keys.lookup(key) : undefined;
      if (!allowed) {
        // Refused before the body is read, and the connection closed: no unauthenticated body is taken in.
        reply.header('connection', 'close');
        return fail(
          reply,
          401,
          'auth',
          headerRequestId(request),
          'unknown or missing X-Amz-Firehose-Access-Key',
        );
      }
      const type = mediaType(request.headers['content-type']);
      if (type !== 'application/json') {
        reply.header('connection', 'close');
        return fail(
          reply,
          415,
          'content_type',
          headerRequestId(request),
          `content type ${type || '(none)'}: Firehose sends application/json`,
        );
      }
      allowedOf.set(request, allowed);
    });
    app.addHook('onResponse', async (request, reply) => {
      ingestRequests.inc({ endpoint: LABEL, code: String(reply.statusCode) });
      if (reply.statusCode !== 200)
        opts.logger.warn(
          { requestId: headerRequestId(request), status: reply.statusCode },
          'Firehose delivery refused',
        );
    });
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const id = headerRequestId(request);
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return fail(reply, 413, 'too_large', id, `request body over the limit of ${opts.bodyLimit} bytes`);
      const status = err.statusCode ?? 500;
      if (status >= 500 || status < 400) {
        opts.logger.error({ err, requestId: id }, 'Firehose request failed');
        return reply.code(500).send(firehoseError(id, Date.now(), 'internal error'));
      }
      // What the body's decoding refused (a request body decompressed beyond its limit …), in Firehose's shape.
      const reason = status === 413 ? 'too_large' : status === 415 ? 'content_type' : 'bad_request';
      return fail(reply, status, reason, id, err.message);
    });

    app.post(
      opts.path,
      { bodyLimit: opts.bodyLimit, config: { source: LABEL, openapi: DOC } },
      async (request, reply) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        ingestRequestBytes.observe({ endpoint: LABEL }, body.length);
        const headerId = headerRequestId(request);
        const budget: InflateBudget = { remaining: opts.maxInflatedBytes };
        const decoded = decodeJsonData(body, budget);
        if (!decoded.ok) {
          const tooLarge = decoded.reason === 'decompressed size over the limit';
          return fail(reply, tooLarge ? 413 : 400, tooLarge ? 'too_large' : 'json', headerId, decoded.reason);
        }
        if (decoded.value.length !== 1)
          return fail(reply, 400, 'json', headerId, 'expected one JSON document (a Firehose request)');
        const delivery = eksAuditFromFirehose(decoded.value[0], {
          maxEventBytes: Number.POSITIVE_INFINITY,
          maxInflatedBytes: budget.remaining,
        });
        if (!delivery.ok) return fail(reply, 400, 'schema', delivery.requestId ?? headerId, delivery.reason);
        const { requestId } = delivery;
        const allowed = allowedOf.get(request)!;
        // A digest: the request id is the sender's text, of any length.
        const seenKey = createHash('sha256')
          .update(`${allowed.join(',')}/${requestId}`)
          .digest('base64url');
        if (stored.has(seenKey)) return firehoseSuccess(requestId, Date.now());

        const receivedAt = new Date().toISOString();
        let accepted = 0;
        let rejected = 0;
        let firstRejection: string | undefined;
        try {
          for (const [cluster, items] of byCluster(allowed, delivery.batch.items)) {
            const result = await opts.accept.accept({ dataset: auditDataset, cluster, items, receivedAt });
            accepted += result.accepted;
            rejected += result.rejected.count;
            firstRejection ??= result.rejected.listed[0]?.reason;
          }
        } catch (err) {
          if (!(err instanceof RetryLaterError)) throw err;
          reply.header('retry-after', String(err.retryAfterSeconds));
          return fail(reply, 503, 'unavailable', requestId, err.message);
        }
        if (rejected > 0)
          opts.logger.warn(
            {
              requestId: requestId.slice(0, 256),
              accepted,
              rejected,
              ignored: delivery.batch.ignored,
              first: firstRejection,
            },
            'Firehose delivery: events rejected',
          );
        if (accepted === 0 && rejected > 0) {
          // Retrying cannot help; a non-2xx makes Firehose back the records up to S3 instead of dropping them.
          return reply
            .code(400)
            .send(
              firehoseError(
                requestId,
                Date.now(),
                `all ${rejected} events were rejected; first: ${firstRejection ?? 'unknown'}`,
              ),
            );
        }
        stored.add(seenKey);
        return firehoseSuccess(requestId, Date.now());
      },
    );
  };
}

export const firehoseSource: SourceModule<FirehoseSourceSettings> = {
  routes: (config, ctx) =>
    firehoseRoutes({
      path: config.path,
      bodyLimit: config.bodyLimit,
      maxInflatedBytes: config.maxInflatedBytes,
      keys: FirehoseKeys.fromFile(`sources.${ctx.name}.accessKeysFile`, config.accessKeysFile),
      accept: ctx.accept,
      logger: ctx.logger,
    }),
};
