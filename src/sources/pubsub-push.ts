import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { countAuthorization } from '../ingest/auth.ts';
import { sendError } from '../ingest/errors.ts';
import { mediaType, refuse } from '../ingest/guard.ts';
import type { RouteDoc } from '../ingest/route-doc.ts';
import { badBody } from '../ingest/routes/answer.ts';
import { ingestRejected, ingestRequestBytes, ingestRequests, pubsubMessages } from '../metrics.ts';
import { gkeAuditFromJson, isPubSubPush } from '../normalize/gke-readers.ts';
import { isRecord } from '../normalize/redact.ts';
import { PubSubPushEnvelope } from '../schema/gke.ts';
import { acceptMessages, convertMessage, DeadLetterLog } from './pubsub-messages.ts';
import type { PubSubPushSourceSettings } from './pubsub-push-settings.ts';
import { PushTokenVerifier } from './push-token.ts';
import type { SourceContext, SourceModule, SourceRoutes } from './types.ts';

/** The `endpoint` and `source` label of the push route in the ingest metrics. */
const LABEL = 'pubsub';

/** The envelope's message id (Pub/Sub sends `messageId` and `message_id`), if it looks like one. */
function messageIdOf(envelope: unknown): string | undefined {
  const message = isRecord(envelope) && isRecord(envelope.message) ? envelope.message : undefined;
  const id = message?.messageId ?? message?.message_id;
  return typeof id === 'string' && /^[\w.:-]{1,128}$/.test(id) ? id : undefined;
}

/** The 200 answers: the events made durable, or the message dead-lettered (acked, never retried). */
export const PushAnswer = z.union([
  z.object({ accepted: z.int().nonnegative() }),
  z.object({ accepted: z.literal(0), deadLettered: z.literal(true), reason: z.string() }),
]);

const DOC: RouteDoc = {
  summary: 'Pub/Sub push (GKE audit logs)',
  description:
    "A `pubsub-push` source: the envelope a Pub/Sub push subscription posts, its message the Cloud Logging entry of a GKE audit log. Authenticated by the subscription's OIDC token before the body is read. Pub/Sub acks a message on 2xx and sends it again on anything else.",
  tag: 'sources',
  security: ['pubsubPushToken'],
  body: {
    name: 'PubSubPushEnvelope',
    description: 'a Pub/Sub push envelope',
    contentTypes: ['application/json'],
    schema: PubSubPushEnvelope,
  },
  responses: {
    200: {
      description:
        'The events are durable, or the message can never be processed (not a GKE audit entry, a cluster this source does not take): dead-lettered, counted, acked.',
      schema: PushAnswer,
    },
  },
  errors: [
    'invalid_json',
    'invalid_body',
    'ambiguous_credentials',
    'unauthorized',
    'forbidden',
    'unsupported_media_type',
    'unsupported_encoding',
    'invalid_compressed_body',
    'payload_too_large',
    'request_timeout',
    'headers_too_large',
    'bad_request',
    'internal',
    'unavailable',
  ],
};

/**
 * `type: pubsub-push`: `POST <path>` (default `/v1/pubsub`) takes the envelope a Pub/Sub push subscription posts,
 * outside the bearer-token guard: the request is authenticated by the subscription's OIDC token before its body
 * is read (401 a bad or missing token, 403 another service account's, 503 when the signing keys cannot be
 * fetched). Pub/Sub acks a message on 2xx and redelivers it on anything else, so:
 * - 200 `{accepted}` once its events are durable;
 * - 200 `{accepted: 0, deadLettered: true, reason}` for a message that can never be processed (not a GKE
 *   Kubernetes audit entry, a cluster this source does not take): acked so Pub/Sub stops sending it, counted,
 *   its reason logged;
 * - 503 with Retry-After when its events cannot be made durable now: Pub/Sub sends it again later;
 * - 400 for a body that is not a push envelope at all (Pub/Sub never sends one).
 */
function pushRoutes(config: PubSubPushSourceSettings, ctx: SourceContext): SourceRoutes {
  const verifier = new PushTokenVerifier(config);
  const deadLetters = new DeadLetterLog(ctx.logger, ctx.name);

  return async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (countAuthorization(request.raw.rawHeaders) > 1) {
        ingestRejected.inc({ source: LABEL, reason: 'auth' });
        return refuse(reply, 'ambiguous_credentials', 'more than one Authorization header');
      }
      const check = await verifier.check(request.headers.authorization);
      if (!check.ok) {
        if (check.status === 503) {
          ctx.logger.warn({ source: ctx.name, err: check.cause }, 'cannot verify Pub/Sub push tokens');
          ingestRejected.inc({ source: LABEL, reason: 'unavailable' });
          reply.header('retry-after', '10');
          return refuse(reply, 'unavailable', check.reason);
        }
        ingestRejected.inc({ source: LABEL, reason: 'auth' });
        if (check.status === 401)
          reply.header('www-authenticate', 'Bearer realm="klaxon", error="invalid_token"');
        return refuse(reply, check.status === 401 ? 'unauthorized' : 'forbidden', check.reason);
      }
      const type = mediaType(request.headers['content-type']);
      if (type !== 'application/json') {
        ingestRejected.inc({ source: LABEL, reason: 'content_type' });
        return refuse(
          reply,
          'unsupported_media_type',
          `content type ${type || '(none)'}: send application/json`,
        );
      }
    });
    app.addHook('onResponse', async (_request: FastifyRequest, reply: FastifyReply) => {
      ingestRequests.inc({ endpoint: LABEL, code: String(reply.statusCode) });
    });

    app.post(
      config.path,
      { bodyLimit: config.bodyLimit, config: { source: LABEL, openapi: DOC } },
      async (request, reply) => {
        const body = request.body as Buffer;
        ingestRequestBytes.observe({ endpoint: LABEL }, body.length);
        let envelope: unknown;
        try {
          envelope = JSON.parse(body.toString('utf8'));
        } catch (err) {
          return badBody(reply, LABEL, 'json', `invalid JSON: ${(err as Error).message}`);
        }
        if (!isPubSubPush(envelope))
          return badBody(
            reply,
            LABEL,
            'schema',
            'not a Pub/Sub push envelope ({"message": {"data": …}, "subscription": …})',
          );
        pubsubMessages.inc({ source: ctx.name, outcome: 'received' });
        const messageId = messageIdOf(envelope);
        const converted = convertMessage(gkeAuditFromJson(envelope), config, ctx.name);
        const outcome = (await acceptMessages(ctx.accept, [converted], new Date().toISOString()))[0]!;
        switch (outcome.kind) {
          case 'accepted':
            pubsubMessages.inc({ source: ctx.name, outcome: 'acked' });
            return { accepted: outcome.events };
          case 'deadletter':
            deadLetters.record(messageId, outcome.reason);
            pubsubMessages.inc({ source: ctx.name, outcome: 'acked' });
            return { accepted: 0, deadLettered: true, reason: outcome.reason };
          case 'retry':
            pubsubMessages.inc({ source: ctx.name, outcome: 'nacked' });
            reply.header('retry-after', String(outcome.retryAfterSeconds));
            return sendError(reply, 'unavailable', outcome.reason);
        }
      },
    );
  };
}

export const pubsubPushSource: SourceModule<PubSubPushSourceSettings> = { routes: pushRoutes };
