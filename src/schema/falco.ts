import { z } from 'zod';

/**
 * A Falco alert as Falco's `http_output` (`json_output: true`) and
 * falcosidekick send it. Falco's own output has no `uuid` and old versions no
 * `source`; `tags` may hold an empty string.
 */

/** Falco's priorities, lower-cased; `info` is what falcosidekick users often write. */
export const FALCO_PRIORITIES = [
  'emergency',
  'alert',
  'critical',
  'error',
  'warning',
  'notice',
  'informational',
  'info',
  'debug',
] as const;
export type FalcoPriorityName = (typeof FALCO_PRIORITIES)[number];
const PRIORITY_SET: ReadonlySet<string> = new Set(FALCO_PRIORITIES);

export const FalcoPriority = z.string().refine((p) => PRIORITY_SET.has(p.toLowerCase()), {
  message: `expected one of ${FALCO_PRIORITIES.join(', ')}`,
});

/** Strings, integers (nanosecond times, uids), booleans, `null` (Falco's `<NA>`) or arrays. */
export const FalcoFieldValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown())]);

export const FalcoAlert = z.looseObject({
  time: z.string().optional(),
  rule: z.string().min(1),
  priority: FalcoPriority,
  output: z.string(),
  output_fields: z.record(z.string(), FalcoFieldValue).nullish(),
  tags: z.array(z.string()).nullish(),
  source: z.string().optional(),
  hostname: z.string().optional(),
  uuid: z.string().optional(),
});
export type FalcoAlert = z.infer<typeof FalcoAlert>;

export type FalcoBodyItem = { index: number; raw: unknown } | { index: number; error: string };
export type ParsedFalcoBody = { items: FalcoBodyItem[] } | { error: string };

/**
 * Parses a `POST /v1/falco` body: one JSON alert (possibly pretty-printed), a
 * JSON array of alerts, or NDJSON. In NDJSON each non-blank line is an item
 * (`index` counts non-blank lines) and a line that is not JSON is a rejected
 * item; the body itself is rejected only when nothing in it is JSON. Items are
 * not validated here: the normalizer does that and says why.
 */
export function parseFalcoBody(text: string): ParsedFalcoBody {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'empty body' };
  let whole: unknown;
  let wholeError: string | undefined;
  try {
    whole = JSON.parse(trimmed);
  } catch (err) {
    wholeError = (err as Error).message;
  }
  if (wholeError === undefined) {
    if (Array.isArray(whole)) return { items: whole.map((raw, index) => ({ index, raw })) };
    return { items: [{ index: 0, raw: whole }] };
  }
  const lines = trimmed.split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return { error: `invalid JSON: ${wholeError}` };
  const items: FalcoBodyItem[] = lines.map((line, index) => {
    try {
      return { index, raw: JSON.parse(line) as unknown };
    } catch (err) {
      return { index, error: `invalid JSON: ${(err as Error).message}` };
    }
  });
  if (items.every((item) => 'error' in item)) return { error: `invalid JSON: ${wholeError}` };
  return { items };
}
