import type { Rule, RuleKindName } from '../ruleset.ts';
import { correlationKind } from './correlation.ts';
import { detectionKind } from './detection.ts';
import { filterKind } from './filter.ts';
import { firstSeenKind } from './first-seen.ts';
import type { RuleKind } from './kind.ts';

/**
 * The rule kinds Klaxon loads, one builder module each; also the order in which their references
 * are linked (correlations before filters).
 *
 * Adding a kind is one more entry. `first_seen` (Klaxon's extension of Sigma) is the stateful
 * example: its section and zod schema, `build`, `link` (the detection rules whose matches send it
 * signals) and its state (first-seen/), held beside the Correlator in the detector's cluster state.
 */
export const RULE_KINDS: { readonly [K in RuleKindName]: RuleKind<Extract<Rule, { kind: K }>> } = {
  detection: detectionKind,
  correlation: correlationKind,
  first_seen: firstSeenKind,
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
