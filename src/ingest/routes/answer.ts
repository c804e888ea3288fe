import type { FastifyReply } from 'fastify';
import { ingestRejected } from '../../metrics.ts';
import type { Acceptor, SourceBatch } from '../../sources/accept.ts';
import { sendError } from '../errors.ts';
import { RetryLaterError } from '../publisher.ts';
import type { RejectReason } from '../rejections.ts';

/**
 * Valid items a route chose not to publish (Hubble flows the volume filter drops, records that hold no flow):
 * they make a batch valid, and the answer counts them in `fields`.
 */
export interface KeptItems {
  count: number;
  fields: Record<string, number>;
  /** Called once the batch is settled (durable, or refused for good), not when the sender must retry it. */
  settled?: () => void;
}

/**
 * Accepts a batch and answers as every ingest route does: `200 {accepted, rejected}` once the accepted events
 * are durable; `400 invalid_events` when no item is valid (retrying cannot help, a 200 would hide a broken
 * sender); `503` with Retry-After when nothing can be made durable now.
 */
export async function acceptAndAnswer(
  acceptor: Acceptor,
  batch: SourceBatch,
  reply: FastifyReply,
  kept: KeptItems = { count: 0, fields: {} },
): Promise<unknown> {
  let result: Awaited<ReturnType<Acceptor['accept']>>;
  try {
    result = await acceptor.accept(batch);
  } catch (err) {
    if (!(err instanceof RetryLaterError)) throw err;
    reply.header('retry-after', String(err.retryAfterSeconds));
    return sendError(reply, 'unavailable', err.message);
  }
  kept.settled?.();
  const { accepted, rejected } = result;
  if (accepted === 0 && kept.count === 0 && rejected.count > 0) {
    return sendError(reply, 'invalid_events', rejected.summary(), { accepted: 0, ...rejected.body() });
  }
  return { accepted, ...kept.fields, ...rejected.body() };
}

/** A body that cannot even be split into items: 400, counted. */
export function badBody(
  reply: FastifyReply,
  source: string,
  reason: RejectReason,
  text: string,
): FastifyReply {
  ingestRejected.inc({ source, reason });
  return sendError(reply, reason === 'json' ? 'invalid_json' : 'invalid_body', text);
}

/** More items than one request may carry: 413, counted. */
export function tooMany(reply: FastifyReply, source: string, count: string, max: number): FastifyReply {
  ingestRejected.inc({ source, reason: 'too_many' });
  return sendError(reply, 'too_many_items', `the body holds ${count} items; the limit is ${max} per request`);
}
