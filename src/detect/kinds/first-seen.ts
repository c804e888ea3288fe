import { z } from 'zod';
import { Level } from '../../schema/alert.ts';
import { Duration, durationMs } from '../../schema/rule.ts';
import { DERIVATION_NAMES, isDerivation, makeDerivation } from '../first-seen/derive.ts';
import type { PlaceholderStore } from '../placeholders.ts';
import type { DetectionRule, FirstSeenField, FirstSeenRule } from '../ruleset.ts';
import type { SchemaProblem } from '../validate.ts';
import { DocError, type RuleKind } from './kind.ts';
import { commonMeta, stringList } from './meta.ts';

const DEFAULT_LEARNING = '1d';
const DEFAULT_MAX_KEYS = 100_000;
const DEFAULT_MAX_VALUES = 32;

/** `field` or `field|derivation`. */
const FieldSpec = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => s.split('|').length <= 2 && s.split('|').every((p) => p !== ''), {
    message: 'a field name, optionally followed by one derivation: userAgent|family',
  })
  .refine((s) => !s.includes('|') || isDerivation(s.split('|')[1]!), {
    message: `unknown derivation (Klaxon knows ${DERIVATION_NAMES.join(', ')})`,
  });

/** The `first_seen` section: Klaxon's extension of Sigma correlations (the Sigma schemas do not know it). */
export const FirstSeenSection = z
  .object({
    /** The rules whose matches it learns from (ids or names), as a correlation's `rules`. */
    rules: z.array(z.string().min(1)).min(1).max(32),
    /** A new value alerts only in an event that also matches one of these rules (default: any match). */
    'alert-on': z.array(z.string().min(1)).min(1).max(32).optional(),
    'group-by': z.array(z.string().min(1).max(256)).max(8).optional(),
    /** The value remembered per key; `fields` for a combination (one value made of all of them). */
    field: FieldSpec.optional(),
    fields: z.array(FieldSpec).min(1).max(4).optional(),
    /** A value not seen for this long is new again. */
    timespan: Duration,
    /** No alert until the rule has observed the cluster this long (default 1d). */
    learning: Duration.optional(),
    /** No alert for a key until it has been known this long (default: `learning`). */
    'key-learning': Duration.optional(),
    'max-keys': z.number().int().min(1).max(10_000_000).optional(),
    'max-values': z.number().int().min(1).max(1_000).optional(),
  })
  .strict()
  .refine((s) => (s.field === undefined) !== (s.fields === undefined), {
    message: 'give either field or fields',
    path: ['field'],
  });
export type FirstSeenSection = z.infer<typeof FirstSeenSection>;

/** A first-seen document: Sigma's metadata, the `first_seen` section; other custom attributes pass. */
export const FirstSeenDoc = z.looseObject({
  title: z.string().min(1).max(256),
  id: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a UUID')
    .optional(),
  name: z.string().min(1).max(256).optional(),
  status: z.enum(['stable', 'test', 'experimental', 'deprecated', 'unsupported']).optional(),
  description: z.string().optional(),
  references: z.array(z.string()).optional(),
  author: z.string().optional(),
  tags: z.array(z.string().regex(/^[a-z0-9_-]+\.[a-z0-9._-]+$/, 'a Sigma tag: namespace.value')).optional(),
  falsepositives: z.array(z.string()).optional(),
  level: Level,
  generate: z.boolean().optional(),
  first_seen: FirstSeenSection,
});

function validate(raw: Record<string, unknown>): SchemaProblem[] {
  const parsed = FirstSeenDoc.safeParse(raw);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    return { path, reason: `${path.join('.') || 'document'}: ${issue.message}` };
  });
}

function fieldOf(spec: string, placeholders: PlaceholderStore): FirstSeenField {
  const [field, derivation] = spec.split('|') as [string, string | undefined];
  return derivation === undefined
    ? { name: spec, field }
    : { name: spec, field, derive: makeDerivation(derivation, placeholders) };
}

/**
 * First-seen rules (`first_seen:`, Klaxon's extension of Sigma correlations): the first time within
 * `timespan` that a value, or a combination, appears for a group-by key. A kind of its own rather than a
 * correlation type: it keeps no window of signals but a set of values per key for weeks, with a learning
 * period, so its state is stored (Kafka or `state.dir`), not rebuilt from the signals topic.
 */
export const firstSeenKind: RuleKind<FirstSeenRule> = {
  kind: 'first_seen',
  section: 'first_seen',
  referable: false,
  named: true,
  validate,
  build(raw, { file, line, placeholders }) {
    const s = FirstSeenDoc.parse(raw).first_seen;
    const timespanMs = durationMs(s.timespan);
    const learningMs = durationMs(s.learning ?? DEFAULT_LEARNING);
    const keyLearningMs = s['key-learning'] === undefined ? learningMs : durationMs(s['key-learning']);
    if (timespanMs < 60_000)
      throw new DocError('timespan must be at least 1m: it is how long a value is remembered', [
        'first_seen',
        'timespan',
      ]);
    const specs = s.fields ?? [s.field!];
    if (new Set(specs).size !== specs.length)
      throw new DocError('fields are listed twice', ['first_seen', 'fields']);
    return {
      kind: 'first_seen',
      ...commonMeta(raw, file, line),
      refs: stringList(s.rules),
      rules: [],
      alertRefs: s['alert-on'] ?? [],
      alertOn: [],
      groupBy: s['group-by'] ?? [],
      fields: specs.map((spec) => fieldOf(spec, placeholders)),
      timespanMs,
      learningMs,
      keyLearningMs,
      maxKeys: s['max-keys'] ?? DEFAULT_MAX_KEYS,
      maxValues: s['max-values'] ?? DEFAULT_MAX_VALUES,
      generate: raw.generate === true,
      generates: true,
    };
  },
  link(rules, { byRef, refused, reject }) {
    const resolve = (refs: string[]) => {
      const targets = refs.map((ref) => byRef.get(ref));
      const missing = refs
        .filter((_, k) => targets[k]?.kind !== 'detection')
        .map((m) => (refused.has(m) ? `${m} (refused)` : byRef.has(m) ? `${m} (not a detection rule)` : m));
      return { targets: targets as DetectionRule[], missing };
    };
    /** Detection rules first-seen rules learn from, with whether one of those says `generate`. */
    const referred = new Map<DetectionRule, boolean>();
    for (const r of rules) {
      const learn = resolve(r.refs);
      const alert = resolve(r.alertRefs);
      const missing = [...learn.missing, ...alert.missing];
      if (missing.length > 0) {
        reject(r, `first_seen refers to unknown detection rule(s): ${missing.join(', ')}`);
        continue;
      }
      r.rules = learn.targets;
      r.alertOn = alert.targets;
      for (const t of r.rules) t.firstSeen.push(r);
      // `alert-on` rules are conditions, not feeds: they keep alerting on their own as they did.
      for (const t of r.rules) referred.set(t, (referred.get(t) ?? false) || r.generate);
    }
    // As for correlations: a rule that only feeds first-seen rules raises no alerts of its own, unless one says `generate`.
    for (const [d, generate] of referred) d.generates = generate || d.correlations.some((c) => c.generate);
  },
};
