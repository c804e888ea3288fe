import { z } from 'zod';

/**
 * The normalized event: the contract between ingest and detection, carried as
 * JSON on the `klaxon.events` topic. ECS-shaped so Elasticsearch and SIEM rules
 * read it without translation (DESIGN §3.2).
 */
export const EventDataset = z.enum(['kubernetes.audit', 'falco']);
export type EventDataset = z.infer<typeof EventDataset>;

export const EventOutcome = z.enum(['success', 'failure', 'unknown']);

const JsonObject = z.record(z.string(), z.unknown());

export const NormalizedEvent = z.object({
  '@timestamp': z.string(),
  event: z.object({
    kind: z.literal('event'),
    dataset: EventDataset,
    action: z.string(),
    outcome: EventOutcome,
    /** Dedupe key: audit `auditID/stage`; Falco `uuid` or a content hash. */
    id: z.string(),
    ingested: z.string().optional(),
  }),
  user: z.object({ name: z.string().optional(), roles: z.array(z.string()).optional() }).optional(),
  source: z.object({ ip: z.string().optional() }).optional(),
  related: z.object({ ip: z.array(z.string()).optional(), user: z.array(z.string()).optional() }).optional(),
  user_agent: z.object({ original: z.string().optional() }).optional(),
  orchestrator: z.object({
    type: z.literal('kubernetes'),
    cluster: z.object({ name: z.string() }),
    namespace: z.string().optional(),
    resource: z
      .object({
        type: z.string().optional(),
        name: z.string().optional(),
        parent: z.object({ type: z.string() }).optional(),
      })
      .optional(),
  }),
  container: z
    .object({ id: z.string().optional(), image: z.object({ name: z.string().optional() }).optional() })
    .optional(),
  host: z.object({ hostname: z.string().optional() }).optional(),
  /** The original audit event, redacted (no Secret values, no last-applied annotation). */
  kubernetes: z.object({ audit: JsonObject }).optional(),
  /** The original Falco alert. */
  falco: JsonObject.optional(),
  klaxon: z
    .object({
      /** JSON paths whose values the normalizer removed. */
      redacted: z.array(z.string()).optional(),
      /** The event's own time when it was too far ahead of the receive time to be used (`@timestamp` is the latter). */
      claimed_timestamp: z.string().optional(),
    })
    .optional(),
});
export type NormalizedEvent = z.infer<typeof NormalizedEvent>;
