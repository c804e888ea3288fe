import { compileDetection } from '../detection.ts';
import type { DetectionRule, FilterRule } from '../ruleset.ts';
import { validateDoc } from '../validate.ts';
import type { RuleKind } from './kind.ts';
import { klaxonOptions, optionalString, stringList } from './meta.ts';

/** A filter applies to a rule whose logsource has every key/value of the filter's logsource. */
function logsourceCovers(filter: Record<string, string>, rule: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(filter)) {
    if (k === 'definition') continue;
    if (typeof v !== 'string' || rule[k]?.toLowerCase() !== v.toLowerCase()) return false;
  }
  return true;
}

/**
 * Sigma filters (pySigma's semantics): the named detection rules' condition becomes
 * `(rule condition) and (filter condition)`. Never applied to correlation rules.
 */
export const filterKind: RuleKind<FilterRule> = {
  kind: 'filter',
  section: 'filter',
  referable: false,
  validate: (raw) => validateDoc('filter', raw),
  build(raw, { file, line, scopeOf, placeholders }) {
    const logsource = raw.logsource as Record<string, string>;
    const scope = scopeOf(logsource) ?? 'ecs';
    const f = raw.filter as Record<string, unknown>;
    const opts = klaxonOptions(raw);
    const compiled = compileDetection(f, scope, ['filter'], ['rules'], {
      every: opts.arrays === 'every',
      placeholders,
    });
    return {
      kind: 'filter',
      id: optionalString(raw.id),
      title: String(raw.title),
      file,
      line,
      logsource,
      // The Sigma schema requires a non-empty list of rule ids or names (pySigma's `any` is not in it).
      rules: stringList(f.rules),
      match: compiled.match,
    };
  },
  link(filters, { byRef, reject }) {
    for (const f of filters) {
      const targets = f.rules.map((ref) => byRef.get(ref));
      const unknown = f.rules.filter((_, k) => targets[k]?.kind !== 'detection');
      if (unknown.length > 0) {
        reject(f, `filter refers to unknown detection rule(s): ${unknown.join(', ')}`);
        continue;
      }
      for (const r of targets as DetectionRule[])
        if (logsourceCovers(f.logsource, r.logsource)) r.filters.push(f.match);
    }
  },
};
