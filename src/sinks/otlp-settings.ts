import { z } from 'zod';
import { certAndKeyTogether, clientTlsFields, forwarderFields, receiverUrl } from './delivery-settings.ts';
import { filterFields } from './filter.ts';

const Endpoint = receiverUrl('headersFile');

export const OtlpSinkSettings = z
  .object({
    type: z.literal('otlp'),
    /** Base URL of the collector's OTLP/HTTP receiver, e.g. `http://otel-collector:4318`. */
    endpoint: Endpoint,
    /** Appended to `endpoint`. */
    logsPath: z.string().startsWith('/').default('/v1/logs'),
    encoding: z.enum(['protobuf', 'json']).default('protobuf'),
    compression: z.enum(['none', 'gzip']).default('none'),
    /** The LogRecord body: the whole alert as a structured map, or only its one-line message. */
    body: z.enum(['alert', 'message']).default('alert'),
    /** Extra resource attributes (`deployment.environment.name: prod`). */
    resource: z.record(z.string().min(1), z.string()).default({}),
    /** YAML file of extra request headers whose values are secrets (`Authorization: Bearer ...`). */
    headersFile: z.string().min(1).optional(),
    ...clientTlsFields,
    ...filterFields('informational'),
    ...forwarderFields,
  })
  .strict()
  .refine(...certAndKeyTogether);
export type OtlpSinkSettings = z.infer<typeof OtlpSinkSettings>;
