import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ingestRejected, ingestRequests } from '../metrics.ts';
import { type AuthConfig, authenticate } from './auth.ts';
import { type IngestError, sendError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The metrics label of the route (`audit`, `falco`, `flows`): its `source` and `endpoint`. */
    source?: string;
    /** Media types the route reads (`application/json`, …). */
    accepts?: readonly string[];
  }
  interface FastifyRequest {
    /** The cluster the request's credential names (set before the body is read). */
    cluster: string;
  }
}

export interface GuardOptions {
  auth: AuthConfig;
  rateLimiter?: RateLimiter;
  rateLimit: number;
}

export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * A request refused before its body was read is answered at once and its connection closed (`Connection:
 * close`: Node ends the socket once the answer is sent, and the client knows not to reuse it), so a sender
 * without a valid credential cannot hold the connection by trickling the body. A client still sending a large
 * body may see the connection reset instead of the answer; it retries, as it would on the answer.
 */
export function refuse(reply: FastifyReply, error: IngestError, reason: string): FastifyReply {
  reply.header('connection', 'close');
  return sendError(reply, error, reason);
}

/**
 * Guards the ingest routes of a Fastify scope: before a body is read, the credential names the cluster
 * (`request.cluster`), the content type is one the route reads, and the cluster is under its rate; the
 * answer of every request is counted by route and status. Only the routes registered in this scope get
 * these hooks (Fastify's encapsulation); health and metrics, outside it, need no credential.
 */
export function guardIngest(app: FastifyInstance, opts: GuardOptions): void {
  app.decorateRequest('cluster', '');
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const source = request.routeOptions.config.source ?? 'unknown';
    const result = authenticate(
      { headers: request.headers, rawHeaders: request.raw.rawHeaders, socket: request.raw.socket },
      opts.auth,
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
      return refuse(reply, result.error as IngestError, result.reason);
    }
    const types = request.routeOptions.config.accepts ?? [];
    const type = mediaType(request.headers['content-type']);
    if (!types.includes(type)) {
      ingestRejected.inc({ source, reason: 'content_type' });
      return refuse(
        reply,
        'unsupported_media_type',
        `content type ${type || '(none)'} is not accepted here; send ${types.join(' or ')}`,
      );
    }
    const wait = opts.rateLimiter?.take(result.cluster) ?? 0;
    if (wait > 0) {
      ingestRejected.inc({ source, reason: 'rate_limited' });
      reply.header('retry-after', String(wait));
      return refuse(
        reply,
        'rate_limited',
        `cluster ${result.cluster} is over its rate limit of ${opts.rateLimit} requests per second`,
      );
    }
    request.cluster = result.cluster;
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    ingestRequests.inc({
      endpoint: request.routeOptions.config.source ?? 'unknown',
      code: String(reply.statusCode),
    });
  });
}
