import type { Level } from '../schema/alert.ts';
import type { RuleTestCase } from '../schema/rule.ts';
import type { CorrelationStrategy } from './correlations/strategy.ts';
import type { EventPredicate, Requirements } from './detection.ts';
import type { FieldAccessor, FieldScope } from './fields.ts';
import type { FirstSeenDerivation } from './first-seen/derive.ts';
import type { PlaceholderStore } from './placeholders.ts';

/** Rule metadata an alert carries. */
export interface RuleMeta {
  id: string;
  /** The rule's `name`, or a kebab-case slug of its title when it has none (SigmaHQ rules). */
  name: string;
  title: string;
  description?: string;
  references?: string[];
  level: Level;
  tags: string[];
  file: string;
  line: number;
}

export interface DetectionRule extends RuleMeta {
  kind: 'detection';
  /** Load order, for stable output. */
  index: number;
  /** The name declared in the document (what correlations and aliases refer to). */
  declaredName?: string;
  scope: Exclude<FieldScope, 'ecs'>;
  logsource: Record<string, string>;
  match: EventPredicate;
  requires: Requirements;
  /** Filter rules that apply: a match stands only if every one of them holds. */
  filters: EventPredicate[];
  /** Correlation rules that refer to this rule. */
  correlations: CorrelationRule[];
  /** First-seen rules that learn from this rule's matches. */
  firstSeen: FirstSeenRule[];
  /** Emits its own alerts (not referred to by correlations only, or a referring correlation says `generate`). */
  generates: boolean;
  suppress: { by: FieldAccessor[]; byNames: string[]; windowMs: number };
  /** Alert level from the Falco alert's priority (custom attribute `klaxon.severity: falco-priority`). */
  severityFromFalco: boolean;
}

export type CorrelationType = 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered';

export interface CorrelationCondition {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
  neq?: number;
}

export interface CorrelationRule extends RuleMeta {
  kind: 'correlation';
  declaredName?: string;
  type: CorrelationType;
  /** What the type does (correlations/): the correlator asks it instead of testing `type`. */
  strategy: CorrelationStrategy;
  /** Referred rules as written (ids or names). */
  refs: string[];
  /** Referred rules, in the order written (temporal_ordered). */
  rules: (DetectionRule | CorrelationRule)[];
  groupBy: string[];
  /** alias name → referred rule's declared name → field. */
  aliases: Record<string, Record<string, string>>;
  timespanMs: number;
  /** Undefined for temporal rules without a condition: all referred rules must match. */
  condition?: CorrelationCondition;
  /** value_count: the field whose distinct values are counted. */
  field?: string;
  generate: boolean;
  correlations: CorrelationRule[];
  generates: boolean;
}

/** One field of a first-seen combination: a field name, optionally reduced by a derivation (`userAgent|family`). */
export interface FirstSeenField {
  /** As written: `userAgent|family`. */
  name: string;
  field: string;
  derive?: FirstSeenDerivation;
}

/**
 * Klaxon's extension of Sigma correlations (`first_seen:`): the first time in `timespan` that a value, or a
 * combination of values, is seen for a group-by key. Its state is a set of values per key (kinds/first-seen.ts,
 * first-seen/).
 */
export interface FirstSeenRule extends RuleMeta {
  kind: 'first_seen';
  declaredName?: string;
  /** Rules it learns from, as written (ids or names). */
  refs: string[];
  rules: DetectionRule[];
  /** `alert-on` as written: a new value alerts only in an event that also matches one of these. */
  alertRefs: string[];
  /** Empty: every match may alert. */
  alertOn: DetectionRule[];
  groupBy: string[];
  fields: FirstSeenField[];
  /** How long a value is remembered after it was last seen (and a key after its last value). */
  timespanMs: number;
  /** No alert until the rule has observed the cluster this long (event time, warm-up included). */
  learningMs: number;
  /** No alert for a key until it has been known this long. */
  keyLearningMs: number;
  /** Keys per cluster (least recently seen evicted beyond it). */
  maxKeys: number;
  /** Values per key; a key that exceeds it is saturated: it keeps learning but no longer alerts. */
  maxValues: number;
  generate: boolean;
  generates: boolean;
}

export interface FilterRule {
  kind: 'filter';
  id?: string;
  title: string;
  file: string;
  line: number;
  logsource: Record<string, string>;
  /** Rule ids or names the filter applies to. */
  rules: string[];
  match: EventPredicate;
}

/** A compiled rule document, by its kind (kinds/). */
export type Rule = DetectionRule | CorrelationRule | FirstSeenRule | FilterRule;
export type RuleKindName = Rule['kind'];

/** Everything the CLI needs about a loaded document (list, lint, test). */
export interface LoadedDoc {
  file: string;
  line: number;
  type: RuleKindName;
  raw: Record<string, unknown>;
  /** The compiled rule, when the document loaded. */
  rule?: Rule;
  tests?: RuleTestCase[];
}

export interface RuleSet {
  rules: DetectionRule[];
  correlations: CorrelationRule[];
  firstSeen: FirstSeenRule[];
  filters: FilterRule[];
  docs: LoadedDoc[];
  /** The `%placeholders%` the rules were compiled against (live: setting values changes what they match). */
  placeholders: PlaceholderStore;
}
