import type { Rule, RuleKindName } from '../ruleset.ts';
import { correlationKind } from './correlation.ts';
import { detectionKind } from './detection.ts';
import { filterKind } from './filter.ts';
import type { RuleKind } from './kind.ts';

/**
 * The rule kinds Klaxon loads, one builder module each; also the order in which their references
 * are linked (correlations before filters).
 *
 * Adding a kind is one more entry. Issue 20's `first_seen` would provide: its section
 * (`first_seen:`, Klaxon's extension of Sigma), its schema (zod), `build` (the rules it watches,
 * the value and group-by fields, the learning period, TTL and caps), `link` (resolving the rules it
 * watches, as a correlation does, so their matches send it signals) and its own state — a store per
 * cluster fed by those signals, held beside the Correlator in the detector's cluster state — with its
 * list in the RuleSet.
 */
export const RULE_KINDS: { readonly [K in RuleKindName]: RuleKind<Extract<Rule, { kind: K }>> } = {
  detection: detectionKind,
  correlation: correlationKind,
  filter: filterKind,
};

/** The kinds in registry order. */
export const KINDS = Object.values(RULE_KINDS) as RuleKind<Rule>[];

/**
 * A document's kind: the first whose section it has. One with none is a detection rule, so the
 * detection schema says what it lacks.
 */
export function kindOf(raw: Record<string, unknown>): RuleKind<Rule> {
  return KINDS.find((k) => k !== RULE_KINDS.detection && k.section in raw) ?? RULE_KINDS.detection;
}
