import { describe, expect, it } from 'vitest';
import { kindOf, RULE_KINDS } from '../../../src/detect/kinds/index.ts';
import { registry } from '../../../src/metrics.ts';
import { rulesFrom } from './helpers.ts';

const loaded = async (type: string) =>
  (await registry.getSingleMetric('klaxon_rules_loaded')!.get()).values.find((v) => v.labels.type === type)
    ?.value;

const secretRead = `title: Secret read
name: secret-read
id: 0d000000-0000-4000-8000-000000000001
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get, objectRef.resource: secrets}
  condition: sel
level: low
`;
const correlation = (
  name: string,
  n: number,
  rules: string,
  type = 'event_count',
  timespan = '5m',
) => `title: Correlation ${name}
name: ${name}
id: 0d000000-0000-4000-8000-0000000001${String(n).padStart(2, '0')}
correlation:
  type: ${type}
  rules: ${rules}
  group-by: [user.username]
  timespan: ${timespan}
  condition: {gte: 2}
level: high
`;

describe('rule kinds', () => {
  it('a document is of the kind whose section it has; one with none is a detection rule', () => {
    expect(kindOf({ correlation: {} })).toBe(RULE_KINDS.correlation);
    expect(kindOf({ filter: {}, logsource: {} })).toBe(RULE_KINDS.filter);
    expect(kindOf({ first_seen: {} })).toBe(RULE_KINDS.first_seen);
    expect(kindOf({ detection: {}, logsource: {} })).toBe(RULE_KINDS.detection);
    expect(kindOf({ title: 'nothing' })).toBe(RULE_KINDS.detection);
    expect(Object.entries(RULE_KINDS).map(([k, v]) => [k, v.kind])).toEqual([
      ['detection', 'detection'],
      ['correlation', 'correlation'],
      ['first_seen', 'first_seen'],
      ['filter', 'filter'],
    ]);
  });

  it('loads each kind into its list, counted by kind', async () => {
    const filter = `title: F\nlogsource: {product: kubernetes, service: audit}\nfilter:\n  rules: [secret-read]\n  selection: {user.username: eve}\n  condition: not selection\n`;
    const { ruleset, errors } = rulesFrom(secretRead, correlation('burst', 1, '[secret-read]'), filter);
    expect(errors).toEqual([]);
    expect(ruleset.docs.map((d) => d.type)).toEqual(['detection', 'correlation', 'filter']);
    expect([ruleset.rules.length, ruleset.correlations.length, ruleset.filters.length]).toEqual([1, 1, 1]);
    expect([await loaded('detection'), await loaded('correlation'), await loaded('filter')]).toEqual([
      1, 1, 1,
    ]);
  });
});
