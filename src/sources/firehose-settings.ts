import { z } from 'zod';
import { bytes, MiB } from '../config-values.ts';

/**
 * `type: firehose`: Amazon Data Firehose's HTTP endpoint delivery of EKS audit logs (a CloudWatch Logs
 * subscription filter → Firehose → `POST <path>` on the ingest server), authenticated by the
 * `X-Amz-Firehose-Access-Key` header.
 */
export const FirehoseSourceSettings = z
  .object({
    type: z.literal('firehose'),
    /**
     * YAML `cluster: key` or `cluster: [keys]` (the tokens file's format). A key listed under several clusters
     * may send all of them: each event's cluster is then the one its log group `/aws/eks/<cluster>/cluster`
     * names, among those.
     */
    accessKeysFile: z.string().min(1),
    /** The URL path Firehose is given (`https://<klaxon>/v1/firehose`). */
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]{0,200}$/, 'a URL path such as /v1/firehose')
      .default('/v1/firehose'),
    /** Largest request body as received (413 beyond); Firehose's buffer size (1-64 MiB) must stay under it. */
    bodyLimit: bytes.default(16 * MiB),
    /** Most bytes the gzip layers of one request (the body and every record) may inflate to, in all. */
    maxInflatedBytes: bytes.default(160 * MiB),
  })
  .strict();
export type FirehoseSourceSettings = z.infer<typeof FirehoseSourceSettings>;
