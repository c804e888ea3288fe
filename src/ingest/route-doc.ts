import { z } from 'zod';
import { INGEST_ERRORS, type IngestError } from './errors.ts';
import { MAX_LISTED_REJECTIONS } from './rejections.ts';

/**
 * What a route says about itself for the OpenAPI description (openapi.ts): it sits in the route's own
 * `config.openapi`, beside the handler, and every schema in it is the zod schema the code uses. The
 * description is gathered from the routes the server really has, so it cannot list one that is not there.
 */
export interface RouteDoc {
  summary: string;
  description: string;
  tag: 'ingest' | 'sources' | 'operations';
  /** Names of `components.securitySchemes` (openapi.ts), any one of which opens the route; none: open. */
  security: readonly SecurityScheme[];
  /** `name`: its entry in `components.schemas` (one per data contract, shared by every media type). */
  body?: { name: string; description: string; contentTypes: readonly string[]; schema: z.ZodType };
  /** Responses other than the errors of the table: status → what it means and its body. */
  responses: Record<number, ResponseDoc>;
  /** Errors of the table (errors.ts) the route answers with, each with its `{error, reason}` body. */
  errors?: readonly IngestError[];
}

export interface ResponseDoc {
  description: string;
  /** JSON unless `contentType` says otherwise. */
  schema?: z.ZodType;
  contentType?: string;
  headers?: readonly ResponseHeader[];
}

export type SecurityScheme = 'ingestToken' | 'clientCertificate' | 'firehoseAccessKey' | 'pubsubPushToken';
export type ResponseHeader = 'Retry-After' | 'WWW-Authenticate';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's part of the OpenAPI description (`GET /openapi.json`). */
    openapi?: RouteDoc;
  }
}

/** An item a batch route refused, and why. */
export const Rejection = z.object({
  index: z.int().nonnegative().describe('position of the item in the body (0-based)'),
  reason: z.string().describe('why it was refused (at most 300 characters)'),
});

/** The part of a batch answer about refused items. */
const RejectedPart = {
  rejected: z
    .array(Rejection)
    .max(MAX_LISTED_REJECTIONS)
    .describe(`the first ${MAX_LISTED_REJECTIONS} refused items`),
  rejected_count: z.int().nonnegative().optional().describe('every refused item, when the list is cut short'),
  rejected_by_reason: z
    .record(z.string(), z.int().nonnegative())
    .optional()
    .describe('refused items by reason, when the list is cut short'),
};

/** `200` of /v1/audit and /v1/falco: how many items are durable, and which were refused. */
export const BatchAnswer = z.object({
  accepted: z.int().nonnegative().describe('items made durable (Kafka or the spool)'),
  ...RejectedPart,
});

/** `200` of /v1/flows: as BatchAnswer, plus the flows the volume filter kept out and the records holding none. */
export const FlowsAnswer = BatchAnswer.extend({
  filtered: z.int().nonnegative().describe('valid flows the volume filter did not publish'),
  not_flows: z.int().nonnegative().describe('records that hold no flow (lost_events, agent_event, …)'),
});

/** The body of every error answer of the table: `{"error": code, "reason": text}`, some with more fields. */
export function errorBody(codes: readonly IngestError[]) {
  return z.looseObject({
    error: z.enum(codes as [IngestError, ...IngestError[]]),
    reason: z.string().describe('what was wrong, for a person'),
  });
}

/** `error` codes of the table by HTTP status. */
export function errorsByStatus(codes: readonly IngestError[]): Map<number, IngestError[]> {
  const out = new Map<number, IngestError[]>();
  for (const code of codes) {
    const status = INGEST_ERRORS[code].status;
    out.set(status, [...(out.get(status) ?? []), code]);
  }
  return out;
}

/**
 * What every route behind the ingest guard (guard.ts) may answer besides its own errors: the credential, the
 * media type, the rate, the body's encoding and size, the server's limits, and a defect.
 */
export const GUARDED_ROUTE_ERRORS: readonly IngestError[] = [
  'ambiguous_credentials',
  'unauthorized',
  'forbidden',
  'unsupported_media_type',
  'rate_limited',
  'unsupported_encoding',
  'invalid_compressed_body',
  'payload_too_large',
  'request_timeout',
  'headers_too_large',
  'bad_request',
  'internal',
];

/** Errors of a batch route's body (answer.ts). */
export const BATCH_ERRORS: readonly IngestError[] = [
  'invalid_json',
  'invalid_body',
  'invalid_events',
  'too_many_items',
  'unavailable',
];
