import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { pino } from 'pino';
import type { Bus, BusMessage } from '../bus/index.ts';
import { SpoolBus } from '../bus/spool.ts';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { ingestEvents, ingestRejected, ingestRequestBytes, ingestRequests, registry } from '../metrics.ts';
import {
  type NormalizeContext,
  type NormalizeResult,
  normalizeAudit,
  normalizeFalco,
} from '../normalize/index.ts';
import { splitAuditBody } from '../schema/audit.ts';
import { parseFalcoBody } from '../schema/falco.ts';
import { type AuthConfig, authenticate } from './auth.ts';
import {
  clientErrorHandler,
  closeAfterResponse,
  effectiveMaxConnections,
  limitConnections,
} from './connections.ts';
import { itemSizes, TOO_MANY } from './item-spans.ts';
import { BusPublisher, type EventPublisher, eventMessage, RetryLaterError } from './publisher.ts';
import { RateLimiter } from './rate-limit.ts';
import { Rejections, type RejectReason } from './rejections.ts';

export interface IngestAppOptions {
  settings: Pick<Settings, 'ingest' | 'kafka'>;
  bus: Bus;
  /** Defaults to publishing straight onto the bus's events topic. */
  publisher?: EventPublisher;
  auth: AuthConfig;
  logger?: Logger;
  /** Serve HTTPS; with `ca`, client certificates are requested and verified (mTLS). */
  https?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

type Source = 'audit' | 'falco';

const JSON_TYPES = ['application/json'];
const NDJSON_TYPES = [
  'application/x-ndjson',
  'application/jsonl',
  'application/ndjson',
  'application/json-seq',
];

/** Bytes of an item as JSON; a nesting too deep to serialize (stack overflow) counts as unbounded. */
function serializedSize(item: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(item) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Normalizes and serializes one item. Whatever a hostile item does (e.g. nesting that
 * defeats JSON.stringify), it costs that item, never the batch.
 */
function toMessage(
  normalize: (raw: unknown, ctx: NormalizeContext) => NormalizeResult,
  raw: unknown,
  ctx: NormalizeContext,
): { message: BusMessage } | { reason: string } {
  try {
    const result = normalize(raw, ctx);
    return result.ok ? { message: eventMessage(result.event) } : { reason: result.reason };
  } catch (err) {
    return { reason: `cannot be processed: ${(err as Error).message}` };
  }
}

/** Request → cluster named by its credential (set by the auth hook, before the body is read). */
const clusterOf = new WeakMap<FastifyRequest, string>();

function sourceOf(request: FastifyRequest): Source | undefined {
  const url = request.routeOptions.url;
  return url === '/v1/audit' ? 'audit' : url === '/v1/falco' ? 'falco' : undefined;
}

/**
 * The ingest HTTP app (not listening; use `app.listen` or `app.inject`). Every error body
 * is `{"error": code, "reason": text}`.
 */
export async function buildIngestApp(options: IngestAppOptions): Promise<FastifyInstance> {
  const { settings, auth } = options;
  const limits = settings.ingest;
  const publisher = options.publisher ?? new BusPublisher(options.bus, settings.kafka.eventsTopic);
  const requestTimeout = limits.requestTimeoutSeconds * 1000;
  const maxAheadMs = limits.maxClockAheadSeconds * 1000;
  // Node checks request deadlines only every `connectionsCheckingInterval` (30 s by default).
  const idleMs = limits.idleTimeoutSeconds * 1000;
  const timeouts = {
    connectionsCheckingInterval: Math.min(5_000, Math.max(250, requestTimeout / 4)),
    headersTimeout: Math.min(60_000, requestTimeout, idleMs),
  };
  const https = options.https
    ? {
        ...timeouts,
        cert: options.https.cert,
        key: options.https.key,
        ...(options.https.ca ? { ca: options.https.ca, requestCert: true, rejectUnauthorized: false } : {}),
      }
    : null;
  const rateLimiter =
    limits.rateLimit > 0 ? new RateLimiter({ rate: limits.rateLimit, burst: limits.rateBurst }) : undefined;
  const app = Fastify({
    loggerInstance: options.logger ?? pino({ level: 'silent' }),
    // Per-request lines would flood the log at webhook rates; errors are logged in the handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.falcoBodyLimit,
    requestTimeout,
    // A connection that sends nothing for this long is closed, whether it never sent a request (no token
    // needed to open one) or sits idle between keep-alive requests.
    connectionTimeout: idleMs,
    keepAliveTimeout: idleMs,
    clientErrorHandler,
    ...(https ? { https } : { http: timeouts }),
  }) as unknown as FastifyInstance;
  limitConnections(app.server, {
    max: effectiveMaxConnections(limits.maxConnections),
    perAddress: limits.maxConnectionsPerAddress,
  });
  // A request refused before its body was read is answered at once and its connection closed, so a
  // sender without a valid credential cannot hold the connection by trickling the body.
  const refuse = (reply: FastifyReply, status: number) => {
    closeAfterResponse(reply.raw, reply.request.raw.socket);
    return reply.code(status);
  };

  // Keep the raw bytes: JSON.parse runs once in the handler, and the per-event size limit
  // is measured on the bytes rather than by re-serializing.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const source = sourceOf(request);
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      if (source) ingestRejected.inc({ source, reason: 'too_large' });
      const limit = source === 'audit' ? limits.auditBodyLimit : limits.falcoBodyLimit;
      // Not closed: the sender is authenticated (the check runs before the body is read), and Node drops the
      // rest of the body so the client reads this answer instead of a reset.
      return reply.code(413).send({
        error: 'payload_too_large',
        reason: `request body exceeds the limit of ${limit} bytes`,
      });
    }
    if (status >= 500) {
      request.log.error({ err }, 'ingest request failed');
      return reply.code(500).send({ error: 'internal', reason: 'internal error' });
    }
    return reply.code(status).send({ error: 'bad_request', reason: err.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', reason: `no route ${request.method} ${request.url}` }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await publisher.ready();
    // With the spool, ingest is safe while Kafka is down: ready, but the body says degraded.
    if (options.bus instanceof SpoolBus) {
      const status = await options.bus.status();
      return ready
        ? { status: status.degraded ? 'degraded' : 'ready', ...status }
        : reply
            .code(503)
            .send({ error: 'not_ready', reason: 'kafka is unreachable and the spool is full', ...status });
    }
    return ready
      ? { status: 'ready' }
      : reply.code(503).send({ error: 'not_ready', reason: `${options.bus.kind} bus is not reachable` });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );

  /** Authenticates and checks the content type before Fastify reads the body. */
  const guard = (source: Source, types: string[]) => async (request: FastifyRequest, reply: FastifyReply) => {
    const result = authenticate(
      { headers: request.headers, rawHeaders: request.raw.rawHeaders, socket: request.raw.socket },
      auth,
    );
    if (!result.ok) {
      ingestRejected.inc({ source, reason: 'auth' });
      if (result.status === 401) {
        reply.header(
          'www-authenticate',
          request.headers.authorization
            ? 'Bearer realm="klaxon", error="invalid_token"'
            : 'Bearer realm="klaxon"',
        );
      }
      return refuse(reply, result.status).send({ error: result.error, reason: result.reason });
    }
    const type = mediaType(request.headers['content-type']);
    if (!types.includes(type)) {
      ingestRejected.inc({ source, reason: 'content_type' });
      return refuse(reply, 415).send({
        error: 'unsupported_media_type',
        reason: `content type ${type || '(none)'} is not accepted here; send ${types.join(' or ')}`,
      });
    }
    const wait = rateLimiter?.take(result.cluster) ?? 0;
    if (wait > 0) {
      ingestRejected.inc({ source, reason: 'rate_limited' });
      return refuse(reply, 429)
        .header('retry-after', String(wait))
        .send({
          error: 'rate_limited',
          reason: `cluster ${result.cluster} is over its rate limit of ${limits.rateLimit} requests per second`,
        });
    }
    clusterOf.set(request, result.cluster);
  };
  const countResponse = (endpoint: Source) => async (_request: FastifyRequest, reply: FastifyReply) => {
    ingestRequests.inc({ endpoint, code: String(reply.statusCode) });
  };

  /** Publishes the accepted events and answers; shared by both endpoints. */
  const finish = async (
    reply: FastifyReply,
    source: Source,
    cluster: string,
    messages: BusMessage[],
    rejected: Rejections,
  ) => {
    if (rejected.count > 0) {
      ingestEvents.inc({ source, cluster, outcome: 'rejected' }, rejected.count);
    }
    if (messages.length === 0 && rejected.count > 0) {
      // A batch with nothing valid is a client bug: retrying it cannot help, but a 200 would hide it.
      return reply.code(400).send({
        error: 'invalid_events',
        reason: rejected.summary(),
        accepted: 0,
        ...rejected.body(),
      });
    }
    try {
      await publisher.publish(messages);
    } catch (err) {
      if (!(err instanceof RetryLaterError)) throw err;
      ingestRejected.inc({ source, reason: 'unavailable' }, messages.length);
      return reply
        .code(503)
        .header('retry-after', String(err.retryAfterSeconds))
        .send({ error: 'unavailable', reason: err.message });
    }
    ingestEvents.inc({ source, cluster, outcome: 'accepted' }, messages.length);
    return { accepted: messages.length, ...rejected.body() };
  };

  const tooMany = (reply: FastifyReply, source: Source, count: string) => {
    ingestRejected.inc({ source, reason: 'too_many' });
    return reply.code(413).send({
      error: 'too_many_items',
      reason: `the body holds ${count} items; the limit is ${limits.maxItems} per request`,
    });
  };

  const badBody = (reply: FastifyReply, source: Source, reason: RejectReason, text: string) => {
    ingestRejected.inc({ source, reason });
    return reply.code(400).send({ error: reason === 'json' ? 'invalid_json' : 'invalid_body', reason: text });
  };

  app.post(
    '/v1/audit',
    {
      bodyLimit: limits.auditBodyLimit,
      onRequest: guard('audit', JSON_TYPES),
      onResponse: countResponse('audit'),
    },
    async (request, reply) => {
      const body = request.body as Buffer;
      const cluster = clusterOf.get(request)!;
      ingestRequestBytes.observe({ endpoint: 'audit' }, body.length);
      const eventLimit = limits.auditEventLimit;
      // No single event can be over the limit when the whole body is not. The scan also stops a body of
      // millions of tiny items before JSON.parse turns it into millions of objects.
      const scanned = body.length > eventLimit ? itemSizes(body, limits.maxItems) : undefined;
      if (scanned === TOO_MANY) return tooMany(reply, 'audit', `more than ${limits.maxItems}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return badBody(reply, 'audit', 'json', `invalid JSON: ${(err as Error).message}`);
      }
      const split = splitAuditBody(parsed);
      if ('error' in split) return badBody(reply, 'audit', 'schema', split.error);
      const { items } = split;
      if (items.length > limits.maxItems) return tooMany(reply, 'audit', String(items.length));
      const sizes = Array.isArray(scanned) && scanned.length === items.length ? scanned : undefined;
      const ctx = { cluster, receivedAt: new Date().toISOString(), maxAheadMs };
      const messages: BusMessage[] = [];
      const rejected = new Rejections('audit');
      for (let index = 0; index < items.length; index++) {
        const item = items[index];
        if (body.length > eventLimit) {
          const size = sizes ? sizes[index]! : serializedSize(item);
          if (size > eventLimit) {
            rejected.add(
              index,
              'too_large',
              Number.isFinite(size)
                ? `event is ${size} bytes, over the limit of ${eventLimit} bytes`
                : 'event is nested too deeply to process',
            );
            continue;
          }
        }
        const outcome = toMessage(normalizeAudit, item, ctx);
        if ('message' in outcome) messages.push(outcome.message);
        else rejected.add(index, 'schema', outcome.reason);
      }
      return finish(reply, 'audit', cluster, messages, rejected);
    },
  );

  app.post(
    '/v1/falco',
    {
      bodyLimit: limits.falcoBodyLimit,
      onRequest: guard('falco', [...JSON_TYPES, ...NDJSON_TYPES]),
      onResponse: countResponse('falco'),
    },
    async (request, reply) => {
      const body = request.body as Buffer;
      const cluster = clusterOf.get(request)!;
      ingestRequestBytes.observe({ endpoint: 'falco' }, body.length);
      const parsed = parseFalcoBody(body.toString('utf8'));
      if ('error' in parsed) return badBody(reply, 'falco', 'json', parsed.error);
      if (parsed.items.length > limits.maxItems) return tooMany(reply, 'falco', String(parsed.items.length));
      const ctx = { cluster, receivedAt: new Date().toISOString(), maxAheadMs };
      const messages: BusMessage[] = [];
      const rejected = new Rejections('falco');
      for (const item of parsed.items) {
        if ('error' in item) {
          rejected.add(item.index, 'json', item.error);
          continue;
        }
        const outcome = toMessage(normalizeFalco, item.raw, ctx);
        if ('message' in outcome) messages.push(outcome.message);
        else rejected.add(item.index, 'schema', outcome.reason);
      }
      return finish(reply, 'falco', cluster, messages, rejected);
    },
  );

  return app;
}
