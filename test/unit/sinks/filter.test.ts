import { describe, expect, it } from 'vitest';
import { AlertmanagerSinkSettings } from '../../../src/sinks/alertmanager-settings.ts';
import { compileFilter, meetsLevel, type SinkFilter } from '../../../src/sinks/filter.ts';
import { makeAlert } from './make-alert.ts';

const none: SinkFilter = { minLevel: 'informational', rules: [], excludeRules: [], tags: [] };

function tagged(seed: string, rule: string, tags: string[], level: 'low' | 'high' = 'high') {
  const alert = makeAlert(seed, { level });
  alert.rule.name = rule;
  alert.tags = tags;
  return alert;
}

describe('meetsLevel', () => {
  it('compares Sigma levels by urgency', () => {
    expect(meetsLevel(makeAlert('a', { level: 'low' }), 'medium')).toBe(false);
    expect(meetsLevel(makeAlert('a', { level: 'medium' }), 'medium')).toBe(true);
    expect(meetsLevel(makeAlert('a', { level: 'critical' }), 'high')).toBe(true);
    expect(meetsLevel(makeAlert('a', { level: 'informational' }), 'informational')).toBe(true);
  });
});

describe('compileFilter', () => {
  const shell = tagged('1', 'falco-terminal-shell-in-container', ['attack.execution', 'attack.t1059']);
  const binding = tagged('2', 'k8s-clusterrolebinding-cluster-admin', [
    'attack.privilege-escalation',
    'attack.t1098',
  ]);
  const quiet = tagged('3', 'k8s-exec-into-pod', ['attack.execution'], 'low');

  it('takes everything at informational with no patterns', () => {
    const accepts = compileFilter(none);
    expect([shell, binding, quiet].filter(accepts)).toHaveLength(3);
  });

  it('drops alerts below the minimum level', () => {
    const accepts = compileFilter({ ...none, minLevel: 'medium' });
    expect([shell, binding, quiet].filter(accepts)).toEqual([shell, binding]);
  });

  it('keeps only the named rules, with * wildcards', () => {
    expect([shell, binding, quiet].filter(compileFilter({ ...none, rules: ['falco-*'] }))).toEqual([shell]);
    expect([shell, binding, quiet].filter(compileFilter({ ...none, rules: ['k8s-exec-into-pod'] }))).toEqual([
      quiet,
    ]);
  });

  it('anchors patterns: a rule name is matched whole, and "." is literal', () => {
    expect([shell, binding].filter(compileFilter({ ...none, rules: ['falco'] }))).toEqual([]);
    expect([shell].filter(compileFilter({ ...none, tags: ['attack.t1059'] }))).toEqual([shell]);
    expect([shell].filter(compileFilter({ ...none, tags: ['attackxt1059'] }))).toEqual([]);
  });

  it('keeps alerts with any of the tags, case-insensitively', () => {
    const accepts = compileFilter({ ...none, tags: ['ATTACK.T1098', 'attack.t1611'] });
    expect([shell, binding, quiet].filter(accepts)).toEqual([binding]);
  });

  it('excludes rules even when rules and tags match', () => {
    const accepts = compileFilter({ ...none, tags: ['attack.execution'], excludeRules: ['k8s-exec-*'] });
    expect([shell, binding, quiet].filter(accepts)).toEqual([shell]);
  });

  it('needs both a rule match and a tag match when both are given', () => {
    const accepts = compileFilter({ ...none, rules: ['k8s-*'], tags: ['attack.execution'] });
    expect([shell, binding, quiet].filter(accepts)).toEqual([quiet]);
  });

  it('takes no alert without tags when tags are asked for', () => {
    const untagged = makeAlert('4');
    delete untagged.tags;
    expect(compileFilter({ ...none, tags: ['attack.*'] })(untagged)).toBe(false);
  });

  it('refuses patterns with regex syntax in the settings', () => {
    const parsed = AlertmanagerSinkSettings.safeParse({
      type: 'alertmanager',
      url: 'http://am:9093',
      rules: ['(a+)+$'],
    });
    expect(parsed.success).toBe(false);
  });
});
