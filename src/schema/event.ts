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

/**
 * ECS `process.*`: a process as Kubernetes states it — the command of an exec, or a container's `command` + `args`
 * in a pod spec (normalize/process.ts). Secret values in it are already redacted.
 */
export const ProcessFields = z.object({
  /** Basename of the program (`args[0]`), when the args name one. */
  name: z.string().optional(),
  /** `args[0]` when it is a path. */
  executable: z.string().optional(),
  args: z.array(z.string()),
  args_count: z.number().int().nonnegative(),
  /** The args joined by single spaces (no shell quoting is added or removed). */
  command_line: z.string(),
});
export type ProcessFields = z.infer<typeof ProcessFields>;

/** One process a pod spec declares, with the container it belongs to (`klaxon.processes`). */
export const ContainerProcess = ProcessFields.extend({
  container: z.object({ name: z.string().optional() }),
});
export type ContainerProcess = z.infer<typeof ContainerProcess>;

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
    .object({
      id: z.string().optional(),
      /** The container an exec, attach or new ephemeral container targets. */
      name: z.string().optional(),
      image: z.object({ name: z.string().optional() }).optional(),
    })
    .optional(),
  /**
   * The process an exec starts, the new ephemeral container's, or the first process a created or changed pod
   * spec declares (every one of them is in `klaxon.processes`).
   */
  process: ProcessFields.optional(),
  host: z.object({ hostname: z.string().optional() }).optional(),
  /** The original audit event, redacted (no Secret values, no last-applied annotation). */
  kubernetes: z.object({ audit: JsonObject }).optional(),
  /** The original Falco alert. */
  falco: JsonObject.optional(),
  klaxon: z
    .object({
      /** JSON paths whose values the normalizer removed. */
      redacted: z.array(z.string()).optional(),
      /**
       * Every process the event starts or declares, in order (exec: its one; a pod spec: containers, init
       * containers, ephemeral containers — those with a `command` or `args`). Rules that must see all of
       * a pod's containers match `klaxon.processes.command_line`.
       */
      processes: z.array(ContainerProcess).optional(),
    })
    .optional(),
});
export type NormalizedEvent = z.infer<typeof NormalizedEvent>;
