import { describe, expect, it } from 'vitest';
import { registry } from '../../../src/metrics.ts';
import { audit, detector, rule, rulesFrom, run } from './helpers.ts';

const rejected = async () =>
  (await registry.getSingleMetric('klaxon_rules_rejected_total')!.get()).values[0]?.value ?? 0;

describe('loadRules', () => {
  it('reports YAML errors with file:line and keeps loading the other files', () => {
    const { ruleset, errors } = rulesFrom(
      'title: x\ndetection: [unclosed\n',
      rule('sel: {verb: get}\ncondition: sel'),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]!.where).toMatch(/rule0\.yml:\d+$/);
    expect(errors[0]!.reason).toMatch(/^YAML:/);
    expect(ruleset.rules).toHaveLength(1);
  });

  it('validates against the Sigma schema, pointing at the offending line', async () => {
    const before = await rejected();
    const bad = `title: Bad
id: not-a-uuid
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get}
  condition: sel
level: severe
`;
    const { ruleset, errors } = rulesFrom(bad);
    expect(errors.map((e) => e.where.replace(/.*\//, ''))).toEqual(['rule0.yml:2', 'rule0.yml:7']);
    expect(errors[0]!.reason).toContain('id must match format "uuid"');
    expect(errors[1]!.reason).toContain('level');
    expect(ruleset.rules).toEqual([]);
    expect((await rejected()) - before).toBe(2);
  });

  it('one bad document of a file does not stop the others', () => {
    const text = `${rule('sel: {verb: get}\ncondition: sel')}---\ntitle: No detection\nlogsource: {product: kubernetes}\n---\n${rule('sel: {verb: list}\ncondition: sel and nope')}---\n${rule('sel: {verb: list}\ncondition: sel')}`;
    const { ruleset, errors } = rulesFrom(text);
    expect(ruleset.rules).toHaveLength(2);
    expect(errors.map((e) => e.reason)).toEqual([
      "detection rule: document must have required property 'detection'",
      'condition: unknown search identifier "nope"',
    ]);
    expect(errors[0]!.where).toMatch(/rule0\.yml:1[0-9]$/);
  });

  it('refuses logsources Klaxon does not read, and unknown correlation references', () => {
    const win = rule('sel: {EventID: 1}\ncondition: sel', '', '{product: windows}');
    const corr = `title: C\nid: 0b000000-0000-4000-8000-000000000001\ncorrelation:\n  type: event_count\n  rules: [nothing-here]\n  group-by: [user.username]\n  timespan: 5m\n  condition: {gte: 2}\n`;
    const { errors } = rulesFrom(win, corr);
    expect(errors.map((e) => e.reason)).toEqual([
      expect.stringContaining('is not one Klaxon reads'),
      'correlation refers to unknown rule(s): nothing-here',
    ]);
  });

  it('refuses duplicate names and ids', () => {
    const a = rule('sel: {verb: get}\ncondition: sel');
    const { ruleset, errors } = rulesFrom(a, a);
    expect(ruleset.rules).toHaveLength(1);
    expect(errors[0]!.reason).toMatch(/duplicate rule name/);
  });

  it('derives a kebab-case name from the title when there is none', () => {
    const text = `title: Some Rule (v2) Name\nid: 0c000000-0000-4000-8000-000000000001\nlogsource: {product: kubernetes, service: audit}\ndetection:\n  sel: {verb: get}\n  condition: sel\n`;
    expect(rulesFrom(text).ruleset.rules[0]!.name).toBe('some-rule-v2-name');
  });

  it('validates the tests attribute', () => {
    const { errors } = rulesFrom(
      rule(
        'sel: {verb: get}\ncondition: sel',
        'tests:\n  - name: t\n    expect: maybe\n    events: [{verb: get}]',
      ),
    );
    expect(errors[0]!.reason).toMatch(/^tests\.0\.expect/);
  });
});

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
const read = (at: number) =>
  audit({ verb: 'get', user: { username: 'eve' }, objectRef: { resource: 'secrets', name: 's' } }, at);

describe('correlations over refused rules', () => {
  it('a correlation over a refused correlation is refused, naming it (it could never fire)', async () => {
    const before = await rejected();
    const inner = correlation('inner', 1, '[nothing-here]');
    const outer = correlation('outer', 2, '[inner, secret-read]', 'temporal');
    const { ruleset, errors } = rulesFrom(secretRead, inner, outer);
    expect(errors.map((e) => [e.where.replace(/.*\//, ''), e.reason])).toEqual([
      ['rule1.yml:1', 'correlation refers to unknown rule(s): nothing-here'],
      ['rule2.yml:1', 'correlation refers to rejected rule(s): inner'],
    ]);
    expect((await rejected()) - before).toBe(2);
    expect(ruleset.correlations).toEqual([]);
    expect(ruleset.docs.map((d) => d.rule?.kind)).toEqual(['detection', undefined, undefined]);
    // The base rule is referred to by no correlation that loaded: it raises its own alerts.
    expect(ruleset.rules[0]!.generates).toBe(true);
    expect(ruleset.rules[0]!.correlations).toEqual([]);
  });

  it('refusal runs down a chain of correlations', () => {
    const { ruleset, errors } = rulesFrom(
      secretRead,
      correlation('c1', 1, '[gone]'),
      correlation('c2', 2, '[c1]'),
      correlation('c3', 3, '[c2]'),
      correlation('ok', 4, '[secret-read]'),
    );
    expect(errors.map((e) => e.reason)).toEqual([
      'correlation refers to unknown rule(s): gone',
      'correlation refers to rejected rule(s): c1',
      'correlation refers to rejected rule(s): c2',
    ]);
    expect(ruleset.correlations.map((c) => c.name)).toEqual(['ok']);
  });

  it('a reference to a rule refused at build says it was refused', () => {
    const bad = rule('sel: {verb: get}\ncondition: sel and nope', 'name: broken');
    const { errors } = rulesFrom(bad, correlation('over-broken', 1, '[broken, elsewhere]'));
    expect(errors.map((e) => e.reason)).toEqual([
      'condition: unknown search identifier "nope"',
      'correlation refers to unknown rule(s): elsewhere, and to rejected rule(s): broken',
    ]);
  });

  it('correlations that refer back to themselves are refused', () => {
    const { ruleset, errors } = rulesFrom(
      secretRead,
      correlation('ca', 1, '[cb, secret-read]'),
      correlation('cb', 2, '[ca]'),
      correlation('self', 3, '[self]'),
      correlation('over-ca', 4, '[ca]'),
    );
    expect(errors.map((e) => e.reason)).toEqual([
      'correlation refers back to itself through: cb',
      'correlation refers back to itself through: ca',
      'correlation refers back to itself through: self',
      'correlation refers to rejected rule(s): ca',
    ]);
    expect(ruleset.correlations).toEqual([]);
  });

  it('a correlation over a loaded correlation still works', () => {
    const alerts = run(
      detector([
        secretRead,
        correlation('pair', 1, '[secret-read]', 'event_count', '1m'),
        correlation('pairs', 2, '[pair]'),
      ]),
      [0, 1, 100, 101].map(read),
    );
    expect(alerts.map((a) => a.rule.name)).toEqual(['pairs']);
  });

  it('Sigma correlation types without a strategy are refused with the reason', () => {
    const sum = correlation('sum', 1, '[secret-read]', 'value_sum').replace(
      'condition: {gte: 2}',
      'condition: {field: bytes, gte: 2}',
    );
    const { errors } = rulesFrom(secretRead, sum);
    expect(errors.map((e) => [e.where.replace(/.*\//, ''), e.reason])).toEqual([
      [
        'rule1.yml:5',
        'no strategy for type value_sum (Klaxon runs event_count, value_count, temporal, temporal_ordered)',
      ],
    ]);
  });
});

describe('filters over unknown rules', () => {
  it('are refused through the rejection path: reported, counted, and not applied', async () => {
    const before = await rejected();
    const filter = `title: Allow eve
id: 0d000000-0000-4000-8000-0000000002ff
logsource: {product: kubernetes, service: audit}
filter:
  rules: [secret-read, no-such-rule]
  selection: {user.username: eve}
  condition: not selection
`;
    const { ruleset, errors } = rulesFrom(secretRead, filter);
    expect(errors.map((e) => [e.where.replace(/.*\//, ''), e.reason])).toEqual([
      ['rule1.yml:1', 'filter refers to unknown detection rule(s): no-such-rule'],
    ]);
    expect((await rejected()) - before).toBe(1);
    expect(ruleset.filters).toEqual([]);
    expect(ruleset.docs[1]!.rule).toBeUndefined();
    expect(run(detector([secretRead]), [read(0)]).map((a) => a.rule.name)).toEqual(['secret-read']);
    expect(ruleset.rules[0]!.filters).toEqual([]);
  });
});
