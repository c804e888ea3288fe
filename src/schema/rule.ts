import { z } from 'zod';

/**
 * What Klaxon reads from a Sigma document beyond the Sigma schema: the custom
 * attributes `klaxon` (suppression, severity source) and `tests` (the rule's own
 * test cases). The Sigma part itself is validated with the official JSON schemas.
 */

/** Sigma's duration format: a number and one of s, m, h, d. */
export const Duration = z.string().regex(/^[0-9]+[smhd]$/, 'a duration like 30s, 10m, 1h or 2d');

export function durationMs(text: string): number {
  const n = Number(text.slice(0, -1));
  const unit = text.slice(-1);
  const scale = unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return n * scale;
}

export const KlaxonRuleOptions = z
  .object({
    /** One alert per group key within the window (`0s` turns suppression off). */
    suppress: z
      .object({
        by: z.array(z.string().min(1)).min(1).optional(),
        window: Duration.optional(),
      })
      .strict()
      .optional(),
    /** `falco-priority`: the alert's level comes from the Falco alert's priority, not from `level`. */
    severity: z.literal('falco-priority').optional(),
    /**
     * How a field path that crosses arrays matches: `any` element (the default, Elasticsearch semantics) or `every`
     * element (allow-lists: "every container runs a trusted image").
     */
    arrays: z.enum(['any', 'every']).optional(),
  })
  .strict();
export type KlaxonRuleOptions = z.infer<typeof KlaxonRuleOptions>;

export const RuleTestCase = z
  .object({
    name: z.string().min(1),
    expect: z.enum(['fire', 'quiet']),
    /** Exact number of distinct alerts of this rule (revision 0). */
    count: z.number().int().nonnegative().optional(),
    /** Values the rule set's `%placeholders%` take for this test only (name → values). */
    placeholders: z.record(z.string().min(1), z.array(z.string())).optional(),
    /** Each event may say when it happened: `at`, seconds after the test's base time or a duration (`7d`). */
    events: z
      .array(
        z
          .record(z.string(), z.unknown())
          .refine((e) => e.at === undefined || typeof e.at === 'number' || Duration.safeParse(e.at).success, {
            message: 'at: seconds after the base time, or a duration like 90m or 7d',
          }),
      )
      .min(1),
  })
  .strict();
export type RuleTestCase = z.infer<typeof RuleTestCase>;

export const RuleTests = z.array(RuleTestCase);
