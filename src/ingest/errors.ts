import type { FastifyReply } from 'fastify';

/**
 * Every error an ingest endpoint answers, by its `error` code: the status and when it is given. Each body is
 * `{"error": code, "reason": text}` (batch answers add `accepted` and `rejected`). README ("Ingest
 * responses") and the OpenAPI description are written from this table.
 */
export const INGEST_ERRORS = {
  invalid_json: { status: 400, when: 'the body is not JSON (or not JSON lines where those are accepted)' },
  invalid_body: { status: 400, when: 'the body is JSON but no container of events (EventList, array, …)' },
  invalid_events: { status: 400, when: 'no item of the batch is valid: retrying cannot help' },
  invalid_compressed_body: {
    status: 400,
    when: 'the body does not decompress as its Content-Encoding says (corrupt or truncated)',
  },
  ambiguous_credentials: {
    status: 400,
    when: 'two Authorization headers, or a token and a certificate of different clusters',
  },
  bad_request: { status: 400, when: 'a malformed HTTP request' },
  unauthorized: { status: 401, when: 'no credential, or an unknown one (with WWW-Authenticate: Bearer)' },
  forbidden: { status: 403, when: 'a client certificate mapped to no cluster, or to several' },
  not_found: { status: 404, when: 'no such route' },
  request_timeout: {
    status: 408,
    when: 'the request (body included) was not complete within the request timeout',
  },
  payload_too_large: {
    status: 413,
    when: 'the body, or what it decompresses to, is over the route’s limit',
  },
  too_many_items: { status: 413, when: 'the body holds more items than KLAXON_MAX_ITEMS' },
  unsupported_media_type: { status: 415, when: 'a content type the route does not read' },
  unsupported_encoding: {
    status: 415,
    when: 'a Content-Encoding other than gzip, deflate or zstd (or several of them)',
  },
  headers_too_large: { status: 431, when: 'the request headers are too large' },
  rate_limited: { status: 429, when: 'the cluster is over KLAXON_RATE_LIMIT (with Retry-After)' },
  internal: { status: 500, when: 'a defect in Klaxon (logged)' },
  unavailable: {
    status: 503,
    when: 'neither Kafka nor the spool can take the events now (with Retry-After)',
  },
  not_ready: { status: 503, when: '/readyz: events cannot be accepted now' },
} as const;

export type IngestError = keyof typeof INGEST_ERRORS;

/** Answers with an error of the table: its status and `{error, reason}` (plus any extra fields). */
export function sendError(
  reply: FastifyReply,
  error: IngestError,
  reason: string,
  extra: object = {},
): FastifyReply {
  return reply.code(INGEST_ERRORS[error].status).send({ error, reason, ...extra });
}
