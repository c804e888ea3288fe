import { z } from 'zod';
import { type Alert, Level, SEVERITY_SCORE } from '../schema/alert.ts';

/**
 * Which alerts one sink instance takes: a minimum level, and optional rule and tag
 * patterns. Every sink has its own, so on-call is paged for `high` while the SIEM gets
 * everything, or one SIEM gets only the Falco rules.
 */

/** A rule name or tag, with `*` matching any run of characters (`falco-*`, `attack.t1611*`). */
const Pattern = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9*._:-]+$/, 'letters, digits, ".", "_", ":", "-" and the wildcard "*"');

/** The filter settings every sink type accepts; spread into each type's schema. */
export const filterFields = (defaultLevel: Level) => ({
  /** Alerts below this Sigma level are not sent to this sink (they still reach the others). */
  minLevel: Level.default(defaultLevel),
  /** Only these rules (names, `*` wildcards); empty = every rule. */
  rules: z.array(Pattern).max(500).default([]),
  /** Never these rules, even when `rules` or `tags` match. */
  excludeRules: z.array(Pattern).max(500).default([]),
  /** Only alerts with at least one of these tags (`attack.t1611`, `attack.privilege-escalation`); empty = any. */
  tags: z.array(Pattern).max(500).default([]),
});

export interface SinkFilter {
  minLevel: Level;
  rules: readonly string[];
  excludeRules: readonly string[];
  tags: readonly string[];
}

export function meetsLevel(alert: Alert, minLevel: Level): boolean {
  return SEVERITY_SCORE[alert.klaxon.severity] >= SEVERITY_SCORE[minLevel];
}

/** One anchored, case-insensitive regex for a list of patterns; undefined for an empty list. */
function compilePatterns(patterns: readonly string[]): RegExp | undefined {
  if (patterns.length === 0) return undefined;
  const alternatives = patterns.map((p) =>
    p
      .split('*')
      .map((part) => part.replace(/[.]/g, '\\.'))
      .join('.*'),
  );
  return new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
}

/** Compiles the filter once; the returned predicate runs per alert. */
export function compileFilter(filter: SinkFilter): (alert: Alert) => boolean {
  const rules = compilePatterns(filter.rules);
  const excluded = compilePatterns(filter.excludeRules);
  const tags = compilePatterns(filter.tags);
  return (alert) => {
    if (!meetsLevel(alert, filter.minLevel)) return false;
    if (excluded?.test(alert.rule.name)) return false;
    if (rules && !rules.test(alert.rule.name)) return false;
    if (tags && !(alert.tags ?? []).some((t) => tags.test(t))) return false;
    return true;
  };
}
