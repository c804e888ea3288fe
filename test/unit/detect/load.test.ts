import { describe, expect, it } from 'vitest';
import { registry } from '../../../src/metrics.ts';
import { rule, rulesFrom } from './helpers.ts';

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
