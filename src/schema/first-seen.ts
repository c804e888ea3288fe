import { z } from 'zod';

/**
 * What the state store keeps of one first-seen key (a message of the compacted first-seen topic, a line of
 * the `state.dir` log): the values seen with when each was last seen. The store's key is the signal key
 * (rule id, cluster, group-by values), so a record lands on the partition that owns the key's signals.
 */
export const FirstSeenRecord = z
  .object({
    /** First-seen rule id. */
    rule: z.string().min(1),
    cluster: z.string(),
    group: z.record(z.string(), z.string()),
    /** When the key was first observed (event time, ms). */
    first: z.number(),
    /** When the rule first observed the cluster (event time, ms): its learning period starts there. */
    since: z.number(),
    /** [value, last seen (ms)], least recently seen first. */
    values: z.array(z.tuple([z.string(), z.number()])).max(1_000),
    /** More values than the rule's max-values: the key learns but no longer alerts. */
    saturated: z.boolean().optional(),
  })
  .strict();
export type FirstSeenRecord = z.infer<typeof FirstSeenRecord>;

/** A key's new record, or null when the key was forgotten (a tombstone). */
export interface FirstSeenChange {
  key: string;
  record: FirstSeenRecord | null;
}
