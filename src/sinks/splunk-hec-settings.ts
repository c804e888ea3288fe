import { z } from 'zod';
import { bool, bytes, int, MiB } from '../config-values.ts';
import { certAndKeyTogether, clientTlsFields, forwarderFields, receiverUrl } from './delivery-settings.ts';
import { filterFields } from './filter.ts';

const BaseUrl = receiverUrl('tokenFile');

export const SplunkHecSinkSettings = z
  .object({
    type: z.literal('splunk-hec'),
    /** Base URL of HEC, e.g. `https://splunk.example:8088` (`/services/collector/event` is appended). */
    url: BaseUrl,
    /** File holding the HEC token (a Kubernetes Secret mounted as a file). */
    tokenFile: z.string().min(1),
    sourcetype: z.string().min(1).default('klaxon:alert'),
    source: z.string().min(1).default('klaxon'),
    /** Target index; unset → the token's default index. */
    index: z.string().min(1).optional(),
    /** HEC `host`; unset → the alert's cluster name. */
    host: z.string().min(1).optional(),
    /** Indexer acknowledgement: turn on when the token has it enabled. */
    ack: bool.default(false),
    /** How long to wait for an acknowledgement before sending the batch again. */
    ackTimeoutSeconds: int(1, 3_600).default(120),
    ackPollMs: int(50, 60_000).default(1_000),
    /** Largest request body. */
    maxBatchBytes: bytes.default(1 * MiB),
    ...clientTlsFields,
    ...filterFields('informational'),
    ...forwarderFields,
  })
  .strict()
  .refine(...certAndKeyTogether);
export type SplunkHecSinkSettings = z.infer<typeof SplunkHecSinkSettings>;
