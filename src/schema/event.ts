import { z } from 'zod';

/**
 * The normalized event: the contract between ingest and detection, carried as
 * JSON on the `klaxon.events` topic. ECS-shaped so Elasticsearch and SIEM rules
 * read it without translation (DESIGN §3.2).
 */
export const EventDataset = z.enum(['kubernetes.audit', 'falco', 'cilium.hubble']);
export type EventDataset = z.infer<typeof EventDataset>;

export const EventOutcome = z.enum(['success', 'failure', 'unknown']);

const JsonObject = z.record(z.string(), z.unknown());

/**
 * One side of a network flow: ECS `source.*`/`destination.*` (ip, port,
 * domain), plus the Kubernetes endpoint Hubble saw there (Klaxon fields, the
 * same values as the flow's own `source.namespace`, `source.labels`, …).
 */
export const EndpointFields = z.object({
  ip: z.string().optional(),
  port: z.number().optional(),
  domain: z.string().optional(),
  namespace: z.string().optional(),
  pod: z.string().optional(),
  /** The pod's owner (Deployment, DaemonSet, …); a bare pod is its own workload, kind `Pod`. */
  workload: z.object({ name: z.string(), kind: z.string().optional() }).optional(),
  /** Cilium security identity. */
  identity: z.number().optional(),
  /** Reserved entities (`world`, `host`, `remote-node`, `kube-apiserver`, …), as CiliumNetworkPolicy names them. */
  entity: z.array(z.string()).optional(),
  /** Cilium labels, `source:key=value` (`k8s:app=web`, `reserved:world`). */
  labels: z.array(z.string()).optional(),
});

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

/** ECS `network.*` of a flow. */
export const NetworkFields = z.object({
  /** `tcp`, `udp`, `icmp`, `ipv6-icmp`, `sctp`, … */
  transport: z.string().optional(),
  /** `ipv4` | `ipv6` */
  type: z.string().optional(),
  /** `ingress` | `egress` | `unknown`, from the policy-enforcing endpoint's view. */
  direction: z.string().optional(),
  /** L7: `dns`, `http`, `kafka`. */
  protocol: z.string().optional(),
});

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
    /** ECS categorization of flows: `network`. */
    category: z.array(z.string()).optional(),
    /** ECS: `connection`/`protocol`, plus `allowed` or `denied`. */
    type: z.array(z.string()).optional(),
    /** Why: a flow's drop reason (`POLICY_DENIED`). */
    reason: z.string().optional(),
  }),
  user: z.object({ name: z.string().optional(), roles: z.array(z.string()).optional() }).optional(),
  source: EndpointFields.optional(),
  destination: EndpointFields.optional(),
  network: NetworkFields.optional(),
  /** ECS rule of the event itself: the policies that denied a flow. */
  rule: z.object({ name: z.array(z.string()).optional() }).optional(),
  dns: z.object({ question: z.object({ name: z.string() }) }).optional(),
  http: z
    .object({
      request: z.object({ method: z.string() }).optional(),
      response: z.object({ status_code: z.number() }).optional(),
    })
    .optional(),
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
  /** The original Hubble flow (proto field names; L7 credentials redacted). */
  hubble: z.object({ flow: JsonObject }).optional(),
  klaxon: z
    .object({
      /** JSON paths whose values the normalizer removed. */
      redacted: z.array(z.string()).optional(),
      /** The event's own time when it was too far ahead of the receive time to be used (`@timestamp` is the latter). */
      claimed_timestamp: z.string().optional(),
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
