import { z } from 'zod';
import { ClusterName } from '../schema/cluster.ts';

/** `host:port`, as Kafka bootstrap brokers are written (`acme-logs.servicebus.windows.net:9093`). */
const Broker = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'a broker is host:port, e.g. acme-logs.servicebus.windows.net:9093');

/** Kafka topic names (an Event Hub's name is its topic): letters, digits, ".", "_" and "-". */
const Topic = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a topic is 1-249 letters, digits, ".", "_" or "-"');

/** Kafka consumer group ids: printable, no spaces (Event Hubs creates Kafka groups on first use). */
const GroupId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,255}$/, 'a consumer group is 1-255 letters, digits, ".", "_", ":" or "-"');

/**
 * `type: eventhubs`: AKS diagnostic logs (`{"records": [...]}` documents) read from an Azure Event Hub over its
 * Kafka endpoint, or from any Kafka topic carrying the same documents. The consumer group's committed offsets
 * are the checkpoint. The cluster of an event comes from this configuration: `cluster` names it outright,
 * `allowedClusters` lists the managed clusters whose `resourceId` the source believes; at least one is needed
 * (see docs/operations.md, "Which clusters a hub may speak for").
 */
export const EventHubsSourceSettings = z
  .object({
    type: z.literal('eventhubs'),
    /** The namespace's Kafka endpoint (`<namespace>.servicebus.windows.net:9093`), or Kafka brokers. */
    brokers: z.array(Broker).min(1).max(32),
    /** The Event Hub (the Kafka topic) the diagnostic setting writes to. */
    topic: Topic,
    /** The Kafka consumer group, of this source alone; default `klaxon-<source name>`. */
    consumerGroup: GroupId.optional(),
    /**
     * A file holding the connection string (a shared access policy with the Listen right): the SASL PLAIN
     * password, with `$ConnectionString` as the user name. Absent: no SASL (a plain Kafka topic).
     */
    connectionStringFile: z.string().min(1).optional(),
    /** TLS to the brokers; default on with a connection string or a CA file (Event Hubs requires it), else off. */
    tls: z.boolean().optional(),
    /** PEM CA bundle the brokers' certificates are checked against; default the system's CAs. */
    caFile: z.string().min(1).optional(),
    /** The cluster every event of this hub is from. */
    cluster: ClusterName.optional(),
    /**
     * Managed clusters (the AKS resource names, any case) whose records are read; a record naming another
     * cluster, or none, is rejected. Without `cluster`, each event is filed under the cluster its record names.
     */
    allowedClusters: z
      .array(ClusterName.transform((name) => name.toLowerCase()))
      .min(1)
      .max(1_000)
      .optional(),
    /** Where a consumer group with no committed offset starts: new messages only, or the hub's retention. */
    startAt: z.enum(['latest', 'earliest']).default('latest'),
    /** Most messages accepted (and committed) as one batch. */
    maxBatchMessages: z.coerce.number().int().min(1).max(10_000).default(100),
    /** Most bytes of message values in one batch (a single bigger message is still read alone). */
    maxBatchBytes: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(256 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    /** Largest message value, once decompressed (Event Hubs' own limit is 1 MB; Dedicated 20 MB). */
    maxMessageBytes: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Kafka consumer session timeout; Event Hubs recommends at least 30 s. */
    sessionTimeoutMs: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.cluster === undefined && config.allowedClusters === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster'],
        message:
          'set cluster (the cluster every event of this hub is from) or allowedClusters (the managed clusters whose records are read): a record names its cluster in its payload, which anyone who can send to the hub writes',
      });
    }
    if (config.tls === false && config.caFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'caFile needs tls' });
    }
  });
export type EventHubsSourceSettings = z.infer<typeof EventHubsSourceSettings>;

/** Whether the source speaks TLS to the brokers. */
export function usesTls(config: EventHubsSourceSettings): boolean {
  return config.tls ?? (config.connectionStringFile !== undefined || config.caFile !== undefined);
}
