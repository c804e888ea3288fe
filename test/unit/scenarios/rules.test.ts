import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { atLeast, DETECTIONS, levelsByRule, replay } from '../catalogue/replay.ts';
import { ruleCases } from './attacks.ts';
import { writeJsonl } from './k8s.ts';

/** Scenario a: every alerting rule of the catalogue fires on a realistic trace of what it is about, at least at its level. */
describe('each catalogue rule on a realistic trace', { timeout: 60_000 }, () => {
  const cases = ruleCases();

  it('covers every rule that raises alerts of its own', () => {
    const { ruleset } = loadRules([DETECTIONS]);
    const alerting = [...ruleset.rules, ...ruleset.correlations]
      .filter((r) => r.generates)
      .map((r) => r.name);
    expect(alerting.length).toBeGreaterThanOrEqual(75);
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(alerting));
  });

  it.each(cases.map((c) => [c.rule, c.title, c] as const))('%s: %s', async (_rule, _title, c) => {
    const { code, alerts } = await replay([writeJsonl(`${c.rule}.jsonl`, c.events)], c.placeholders);
    expect(code).toBe(0);
    const level = levelsByRule(alerts).get(c.rule);
    expect(level, `${c.rule} did not fire`).toBeDefined();
    expect(atLeast(level!, c.level), `${c.rule} at ${level}, want at least ${c.level}`).toBe(true);
  });
});
