import { durationMs } from '../../schema/rule.ts';
import { CORRELATION_TYPES, isCorrelationType, strategyOf } from '../correlations/index.ts';
import type { CorrelationCondition, CorrelationRule, DetectionRule } from '../ruleset.ts';
import { validateDoc } from '../validate.ts';
import { DocError, type RuleKind } from './kind.ts';
import { commonMeta, stringList } from './meta.ts';

const OPERATORS = new Set(['gt', 'gte', 'lt', 'lte', 'eq', 'neq']);

function parseCondition(cond: Record<string, unknown>): { condition: CorrelationCondition; field?: string } {
  const condition: CorrelationCondition = {};
  let field: string | undefined;
  for (const [k, v] of Object.entries(cond)) {
    if (k === 'field') {
      if (typeof v !== 'string')
        throw new DocError('condition.field must be one field name', ['correlation', 'condition']);
      field = v;
    } else if (OPERATORS.has(k) && typeof v === 'number') {
      condition[k as keyof CorrelationCondition] = v;
    } else throw new DocError(`condition: unknown operator "${k}"`, ['correlation', 'condition', k]);
  }
  if (Object.keys(condition).length === 0)
    throw new DocError('condition needs a comparison (gt, gte, lt, lte, eq, neq)', [
      'correlation',
      'condition',
    ]);
  return { condition, field };
}

/** Why a rule's references cannot be resolved: those that name nothing, and those whose rule was refused. */
function referenceProblem(unknown: string[], rejected: string[]): string {
  const parts: string[] = [];
  if (unknown.length > 0 || rejected.length === 0)
    parts.push(`unknown rule(s): ${unknown.join(', ') || '(none)'}`);
  if (rejected.length > 0) parts.push(`rejected rule(s): ${rejected.join(', ')}`);
  return `correlation refers to ${parts.join(', and to ')}`;
}

/** Whether `from` leads back to `goal` through the correlations it refers to. */
function reaches(
  from: CorrelationRule,
  goal: CorrelationRule,
  targetsOf: ReadonlyMap<CorrelationRule, (DetectionRule | CorrelationRule)[]>,
  seen: Set<CorrelationRule>,
): boolean {
  for (const t of targetsOf.get(from) ?? []) {
    if (t.kind !== 'correlation' || seen.has(t)) continue;
    if (t === goal) return true;
    seen.add(t);
    if (reaches(t, goal, targetsOf, seen)) return true;
  }
  return false;
}

/**
 * Sigma correlation rules: matches of the referred rules (or alerts of referred
 * correlations) counted or sequenced per group within a timespan; what each type
 * does is its strategy's (correlations/).
 */
export const correlationKind: RuleKind<CorrelationRule> = {
  kind: 'correlation',
  section: 'correlation',
  referable: true,
  validate: (raw) => validateDoc('correlation', raw),
  build(raw, { file, line }) {
    const c = raw.correlation as Record<string, unknown>;
    const type = String(c.type);
    if (!isCorrelationType(type))
      throw new DocError(`no strategy for type ${type} (Klaxon runs ${CORRELATION_TYPES.join(', ')})`, [
        'correlation',
        'type',
      ]);
    const timespan = String(c.timespan);
    if (!/^[0-9]+[smhd]$/.test(timespan))
      throw new DocError(`timespan "${timespan}" must be a number and one of s, m, h, d`, [
        'correlation',
        'timespan',
      ]);
    const cond = c.condition as Record<string, unknown> | undefined;
    const { condition, field } = cond ? parseCondition(cond) : { condition: undefined, field: undefined };
    const strategy = strategyOf(type);
    const problem = strategy.check({ condition, field });
    if (problem) throw new DocError(problem.reason, problem.path);
    const aliases: Record<string, Record<string, string>> = {};
    for (const [alias, map] of Object.entries((c.aliases as Record<string, unknown>) ?? {})) {
      if (map === null || typeof map !== 'object')
        throw new DocError(`alias ${alias} must map rule names to fields`, ['correlation', 'aliases', alias]);
      aliases[alias] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)]));
    }
    return {
      kind: 'correlation',
      ...commonMeta(raw, file, line),
      type,
      strategy,
      refs: stringList(c.rules),
      rules: [],
      groupBy: stringList(c['group-by']),
      aliases,
      timespanMs: durationMs(timespan),
      condition,
      field,
      generate: raw.generate === true,
      correlations: [],
      generates: true,
    };
  },
  link(correlations, { byRef, refused, built, reject }) {
    const targetsOf = new Map<CorrelationRule, (DetectionRule | CorrelationRule)[]>();
    for (const c of correlations) {
      const targets = c.refs.map((r) => byRef.get(r));
      const unknown = c.refs.filter((r, k) => !targets[k] && !refused.has(r));
      const rejected = c.refs.filter((r, k) => !targets[k] && refused.has(r));
      if (c.refs.length === 0 || unknown.length > 0 || rejected.length > 0)
        reject(c, referenceProblem(unknown, rejected));
      else targetsOf.set(c, targets as (DetectionRule | CorrelationRule)[]);
    }
    // A chain that comes back to where it started has no first event to count.
    const cyclic = [...targetsOf.keys()].filter((c) => reaches(c, c, targetsOf, new Set()));
    for (const c of cyclic) {
      const targets = targetsOf.get(c)!;
      const through = c.refs.filter((_, k) => {
        const t = targets[k]!;
        return t === c || (t.kind === 'correlation' && reaches(t, c, targetsOf, new Set()));
      });
      reject(c, `correlation refers back to itself through: ${through.join(', ')}`);
    }
    // A correlation over a refused one could never fire: refuse it too, until none is left.
    const alive = new Set([...targetsOf.keys()].filter((c) => !cyclic.includes(c)));
    for (let changed = true; changed; ) {
      changed = false;
      for (const c of alive) {
        const targets = targetsOf.get(c)!;
        const gone = c.refs.filter(
          (_, k) => targets[k]!.kind === 'correlation' && !alive.has(targets[k] as CorrelationRule),
        );
        if (gone.length === 0) continue;
        reject(c, referenceProblem([], gone));
        alive.delete(c);
        changed = true;
      }
    }
    for (const c of alive) {
      c.rules = targetsOf.get(c)!;
      for (const target of c.rules) target.correlations.push(c);
    }
    for (const r of [...built.detection, ...alive]) {
      // Sigma: rules referred to by correlations produce no alerts of their own unless a correlation says `generate`.
      r.generates = r.correlations.length === 0 || r.correlations.some((c) => c.generate);
    }
  },
};
