import { z } from 'zod';
import { bytes, int, MiB } from '../config-values.ts';
import { filterFields } from './filter.ts';

/**
 * Delivery settings every forwarding sink type accepts (spread into each type's schema).
 * `spool` (the default) gives the sink its own bounded durable buffer; `spool: false` makes
 * the detector hold its commit until the receiver has the alerts.
 */
export const forwarderFields = {
  /** Durable buffer: `dir` defaults to `<dirname of ingest.spool.dir>/sinks/<name>`. */
  spool: z
    .union([
      z.literal(false),
      z.object({ dir: z.string().min(1).optional(), maxBytes: bytes.default(256 * MiB) }).strict(),
    ])
    .default({ maxBytes: 256 * MiB }),
  /** Alerts per request or write. */
  batchSize: int(1, 10_000).default(100),
  /** Deadline of one connection, write or request. */
  timeoutSeconds: int(1, 300).default(10),
  /** Attempts per batch before the sink reports itself unavailable, with doubling backoff between them. */
  retry: z
    .object({
      attempts: int(1, 100).default(5),
      initialBackoffMs: int(10, 60_000).default(200),
      maxBackoffMs: int(10, 600_000).default(5_000),
    })
    .strict()
    .prefault({}),
};

const DeliveryFields = z.object({ ...forwarderFields, ...filterFields('informational') });
/** What the forwarding sink needs from any type's settings. */
export type ForwarderSettings = z.infer<typeof DeliveryFields>;
