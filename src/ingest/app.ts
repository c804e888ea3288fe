import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { pino } from 'pino';
import type { Bus } from '../bus/index.ts';
import { SpoolBus } from '../bus/spool.ts';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { ingestRejected } from '../metrics.ts';
import { Acceptor } from '../sources/accept.ts';
import type { SourceRoutes } from '../sources/types.ts';
import type { AuthConfig } from './auth.ts';
import { clientErrorHandler, effectiveMaxConnections, limitConnections } from './connections.ts';
import { BodyDecodeError, decompressBodies } from './decompress.ts';
import { sendError } from './errors.ts';
import { guardIngest } from './guard.ts';
import { healthRoutes, type Readiness } from './health.ts';
import { describeRoutes } from './openapi.ts';
import { BusPublisher, type EventPublisher } from './publisher.ts';
import { RateLimiter } from './rate-limit.ts';
import { auditRoutes } from './routes/audit.ts';
import { falcoRoutes } from './routes/falco.ts';
import { flowRoutes } from './routes/flows.ts';

export interface IngestAppOptions {
  settings: Pick<Settings, 'ingest' | 'kafka'>;
  bus: Bus;
  /** Defaults to publishing straight onto the bus's events topic. */
  publisher?: EventPublisher;
  auth: AuthConfig;
  logger?: Logger;
  /** Serve HTTPS; with `ca`, client certificates are requested and verified (mTLS). */
  https?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Pull sources that cannot read now: `/readyz` says degraded and names them. */
  sourceProblems?: () => string[];
  /** Routes of push sources (`sources:`), which authenticate their own senders. */
  sourceRoutes?: SourceRoutes[];
}

/**
 * The ingest HTTP app (not listening; use `app.listen` or `app.inject`): the server's limits, the health
 * routes (no credential), and the ingest routes — push sources on the shared accept path — behind the guard
 * (credential, content type, rate). Every error body is `{"error": code, "reason": text}` (errors.ts).
 */
export async function buildIngestApp(options: IngestAppOptions): Promise<FastifyInstance> {
  const { settings, auth } = options;
  const limits = settings.ingest;
  const publisher = options.publisher ?? new BusPublisher(options.bus, settings.kafka.eventsTopic);
  const acceptor = new Acceptor({
    publisher,
    maxItemBytes: limits.auditEventLimit,
    maxAheadMs: limits.maxClockAheadSeconds * 1000,
  });
  const requestTimeout = limits.requestTimeoutSeconds * 1000;
  const idleMs = limits.idleTimeoutSeconds * 1000;
  // Node checks request deadlines only every `connectionsCheckingInterval` (30 s by default).
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

  // Keep the raw bytes: JSON.parse runs once in the handler, and the per-event size limit
  // is measured on the bytes rather than by re-serializing.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  decompressBodies(app);

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const source = request.routeOptions.config?.source;
    // Fastify marks the answer to a body it could not read `Connection: close`, and Node then destroys the socket
    // while the client is still sending: the reset can discard the answer before the client reads it. The sender
    // is authenticated (the guard runs before the body is read), so the connection is kept and Node reads and drops
    // the rest of the body, within the request timeout.
    reply.removeHeader('connection');
    if (err instanceof BodyDecodeError) {
      if (source) ingestRejected.inc({ source, reason: err.reject });
      return sendError(reply, err.error, err.message);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      if (source) ingestRejected.inc({ source, reason: 'too_large' });
      return sendError(
        reply,
        'payload_too_large',
        `request body exceeds the limit of ${request.routeOptions.bodyLimit} bytes`,
      );
    }
    if ((err.statusCode ?? 500) >= 500) {
      request.log.error({ err }, 'ingest request failed');
      return sendError(reply, 'internal', 'internal error');
    }
    return sendError(reply, 'bad_request', err.message);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'not_found', `no route ${request.method} ${request.url}`),
  );

  // Before every route: the description gathers them as they are added.
  describeRoutes(app);
  app.register(healthRoutes(() => readiness(options, publisher)));
  // Push sources authenticate their own senders (a Firehose access key …): each in its own scope, outside the guard.
  for (const routes of options.sourceRoutes ?? []) app.register(routes);

  const rateLimiter =
    limits.rateLimit > 0 ? new RateLimiter({ rate: limits.rateLimit, burst: limits.rateBurst }) : undefined;
  app.register(async (ingest) => {
    guardIngest(ingest, { auth, rateLimiter, rateLimit: limits.rateLimit });
    await ingest.register(
      auditRoutes({
        acceptor,
        bodyLimit: limits.auditBodyLimit,
        eventLimit: limits.auditEventLimit,
        maxItems: limits.maxItems,
      }),
    );
    await ingest.register(
      falcoRoutes({ acceptor, bodyLimit: limits.falcoBodyLimit, maxItems: limits.maxItems }),
    );
    await ingest.register(
      flowRoutes({ acceptor, settings: limits.flows, eventLimit: limits.auditEventLimit }),
    );
  });
  return app;
}

/**
 * Ready while events can be made durable. With the spool, ingest is safe while Kafka is down: ready, but
 * degraded; so it is while a pull source cannot read (the routes still work).
 */
async function readiness(options: IngestAppOptions, publisher: EventPublisher): Promise<Readiness> {
  const ready = await publisher.ready();
  const sources = options.sourceProblems?.() ?? [];
  const sourceDetails = sources.length > 0 ? { sources } : {};
  if (options.bus instanceof SpoolBus) {
    const status = await options.bus.status();
    return ready
      ? {
          ready: true,
          degraded: status.degraded || sources.length > 0,
          details: { ...status, ...sourceDetails },
        }
      : { ready: false, reason: 'kafka is unreachable and the spool is full', details: { ...status } };
  }
  if (!ready) return { ready: false, reason: `${options.bus.kind} bus is not reachable` };
  return sources.length > 0 ? { ready: true, degraded: true, details: sourceDetails } : { ready: true };
}
