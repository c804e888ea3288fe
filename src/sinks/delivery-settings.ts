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

/** An http(s) URL without credentials in it: those go in the file named by `secretsField`. */
export function receiverUrl(secretsField: string) {
  return z
    .url({ protocol: /^https?$/ })
    .refine(
      (u) => !new URL(u).username && !new URL(u).password,
      `no credentials in the URL: use ${secretsField}`,
    );
}

/** TLS to an HTTPS receiver: the CA bundle that signed it, and a client certificate and key (PEM files). */
export const clientTlsFields = {
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
};

/** For `.refine`: a client certificate needs its key, and a key its certificate. */
export const certAndKeyTogether = [
  (s: { certFile?: string | undefined; keyFile?: string | undefined }) =>
    Boolean(s.certFile) === Boolean(s.keyFile),
  { message: 'certFile and keyFile go together' },
] as const;

const DeliveryFields = z.object({ ...forwarderFields, ...filterFields('informational') });
/** What the forwarding sink needs from any type's settings. */
export type ForwarderSettings = z.infer<typeof DeliveryFields>;
