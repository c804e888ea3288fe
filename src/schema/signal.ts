import { z } from 'zod';
import { Alert } from './alert.ts';

/** The fields of an event an alert carries as context (DESIGN §3.4). */
export const AlertContext = Alert.pick({
  user: true,
  related: true,
  source: true,
  destination: true,
  network: true,
  user_agent: true,
  orchestrator: true,
  container: true,
  process: true,
  kubernetes: true,
  falco: true,
  hubble: true,
}).extend({
  '@timestamp': z.string(),
  dataset: z.string(),
});
export type AlertContext = z.infer<typeof AlertContext>;

/**
 * A base-rule match addressed to one correlation rule, serializable so the
 * distributed detector can key it by `key` on `klaxon.signals`: every signal
 * of a correlation window lands on one replica, and a restarted replica
 * rebuilds its windows by re-reading them. Correlation output depends on
 * signals only. A `suppression` signal is a detection-rule match addressed to
 * the rule's own suppression window the same way (`key`: the rule and its
 * `suppress.by` values), so that window, too, lives on one replica and is
 * rebuilt from the topic.
 */
export const Signal = z.object({
  /** Absent on every signal written before suppression signals existed: `correlation`. */
  kind: z.enum(['correlation', 'suppression']).optional(),
  /** Correlation rule id; for a suppression signal, the detection rule's id. */
  correlation: z.string(),
  /** The base rule (or inner correlation) that matched: its id. */
  rule: z.string(),
  /** Stable group key: correlation id + the group-by values (suppression: rule id + `suppress.by` values). */
  key: z.string(),
  /** group-by name → value (suppression: `suppress.by` field → value, `''` when absent). */
  group: z.record(z.string(), z.string()),
  /** Event time, epoch milliseconds. */
  time: z.number(),
  event_id: z.string(),
  /** value_count: the value of the counted field; first_seen: the value (or combination) remembered. */
  value: z.string().optional(),
  /** first_seen: the event teaches its value but cannot alert (it matches none of the rule's `alert-on`). */
  learn_only: z.literal(true).optional(),
  context: AlertContext,
});
export type Signal = z.infer<typeof Signal>;
