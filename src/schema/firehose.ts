import { z } from 'zod';

/**
 * Amazon Data Firehose HTTP endpoint delivery, protocol version 1.0:
 * docs.aws.amazon.com/firehose/latest/dev/httpdeliveryrequestresponse.html.
 * The request body (JSON, possibly `Content-Encoding: gzip`), and the body of
 * the answer: `{requestId, timestamp}` with 200 once the data is stored, the
 * same plus `errorMessage` with any other status (Firehose then retries).
 */

export const FirehoseRequest = z.looseObject({
  requestId: z.string().min(1),
  timestamp: z.number(),
  /** Items are checked one by one, so a broken record rejects only itself. */
  records: z.array(z.unknown()),
});
export type FirehoseRequest = z.infer<typeof FirehoseRequest>;

export const FirehoseRecord = z.looseObject({ data: z.string() });

export const FirehoseResponse = z.object({
  /** The request's own `requestId` (Firehose matches them). */
  requestId: z.string(),
  /** Milliseconds since the epoch, when the endpoint answered. */
  timestamp: z.number().int(),
});
export type FirehoseResponse = z.infer<typeof FirehoseResponse>;

export const FirehoseErrorResponse = FirehoseResponse.extend({ errorMessage: z.string() });
export type FirehoseErrorResponse = z.infer<typeof FirehoseErrorResponse>;
