import { z } from 'zod';
import { bytes, int, MiB } from '../config-values.ts';
import { GkeClusterChoice, refineClusterChoice } from './gke-cluster.ts';

/** `projects/<project>/subscriptions/<name>`, as Pub/Sub names a subscription. */
export const SUBSCRIPTION_NAME =
  /^projects\/((?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9])\/subscriptions\/[A-Za-z][\w.~+%-]{2,254}$/;

/**
 * `type: pubsub`: GKE audit entries from a Pub/Sub subscription (a Log Router sink's topic), by streaming pull.
 * Credentials: Application Default Credentials (Workload Identity in GKE, `GOOGLE_APPLICATION_CREDENTIALS`
 * elsewhere); `PUBSUB_EMULATOR_HOST` points the client at an emulator instead.
 */
export const PubSubSourceSettings = z
  .object({
    type: z.literal('pubsub'),
    subscription: z
      .string()
      .regex(SUBSCRIPTION_NAME, 'a subscription is projects/<project>/subscriptions/<name>'),
    ...GkeClusterChoice,
    /** Most messages held at once (received, not yet acked or nacked): Pub/Sub sends no more. */
    maxMessages: int(1, 10_000).default(1_000),
    /** Most message bytes held at once. */
    maxBytes: bytes.refine((n) => n >= MiB && n <= 1024 * MiB, 'between 1MiB and 1GiB').default(64 * MiB),
    /** Messages accepted (made durable) together, at most. */
    batchSize: int(1, 1_000).default(100),
    /** How long a message waits for others to fill its batch. */
    batchMs: int(0, 5_000).default(100),
    /**
     * How long the client keeps extending a held message's lease; a message held longer (events that cannot be
     * made durable for that long) is redelivered.
     */
    maxExtensionMinutes: int(1, 60).default(10),
  })
  .strict()
  .superRefine(refineClusterChoice);
export type PubSubSourceSettings = z.infer<typeof PubSubSourceSettings>;
