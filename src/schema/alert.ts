import { z } from 'zod';
import { EndpointFields, NetworkFields } from './event.ts';

/** Sigma levels, in increasing order of urgency. */
export const Level = z.enum(['informational', 'low', 'medium', 'high', 'critical']);
export type Level = z.infer<typeof Level>;

/** Elastic's numeric severity scale for `event.severity`. */
export const SEVERITY_SCORE: Record<Level, number> = {
  informational: 1,
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
};

const JsonObject = z.record(z.string(), z.unknown());

/**
 * The alert: an ECS document written to Elasticsearch, to `klaxon.alerts` and as
 * a JSON line (DESIGN §3.4). `klaxon.alert_id` is deterministic so every sink can
 * be idempotent.
 */
export const Alert = z.object({
  '@timestamp': z.string(),
  event: z.object({
    kind: z.literal('alert'),
    created: z.string(),
    severity: z.number(),
    dataset: z.string().optional(),
  }),
  message: z.string(),
  rule: z.object({
    name: z.string(),
    id: z.string(),
    description: z.string().optional(),
    reference: z.array(z.string()).optional(),
    ruleset: z.literal('klaxon'),
    category: z.string().optional(),
  }),
  threat: z
    .object({
      framework: z.literal('MITRE ATT&CK'),
      technique: z.object({ id: z.array(z.string()) }),
      tactic: z.object({ name: z.array(z.string()) }),
    })
    .optional(),
  klaxon: z.object({
    severity: Level,
    alert_id: z.string(),
    event_ids: z.array(z.string()),
    count: z.number().int().positive(),
    /**
     * 0 for the alert as first raised (immediately, so on-call is paged at once);
     * 1 for the same alert re-emitted when its suppression or correlation window
     * closes with a final `count` and `event_ids`. Same `alert_id`: sinks upsert.
     */
    revision: z.number().int().nonnegative(),
    /** For correlation alerts: the correlation type and the group-by values. */
    correlation: z.object({ type: z.string(), group: z.record(z.string(), z.string()) }).optional(),
  }),
  user: z.object({ name: z.string().optional() }).optional(),
  /** Every identity behind the user (ECS): a cloud user's object id or ARN, an impersonated user. */
  related: z.object({ user: z.array(z.string()).optional() }).optional(),
  source: EndpointFields.optional(),
  destination: EndpointFields.optional(),
  network: NetworkFields.optional(),
  user_agent: z.object({ original: z.string().optional() }).optional(),
  orchestrator: z
    .object({
      cluster: z.object({ name: z.string() }).optional(),
      namespace: z.string().optional(),
      resource: z.object({ type: z.string().optional(), name: z.string().optional() }).optional(),
    })
    .optional(),
  container: z
    .object({ name: z.string().optional(), image: z.object({ name: z.string().optional() }).optional() })
    .optional(),
  /** The process the event started or declared (exec command, container command): what on-call reads first. */
  process: z.object({ name: z.string().optional(), command_line: z.string().optional() }).optional(),
  kubernetes: z.object({ audit: JsonObject }).optional(),
  falco: JsonObject.optional(),
  hubble: z.object({ flow: JsonObject }).optional(),
  tags: z.array(z.string()).optional(),
});
export type Alert = z.infer<typeof Alert>;
