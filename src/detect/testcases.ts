import { recognize } from '../datasets/index.ts';
import type { NormalizeResult } from '../normalize/index.ts';
import type { Alert } from '../schema/alert.ts';
import { Duration, durationMs, type RuleTestCase } from '../schema/rule.ts';
import { Detector } from './detector.ts';
import type { LoadedDoc, RuleSet } from './ruleset.ts';

/** Base time of every test case: events are at base + `at` (seconds, or a duration: `7d`; default: their index). */
export const TEST_BASE_TIME = Date.parse('2024-01-01T00:00:00Z');
/** Cluster name the runner normalizes test events with. */
export const TEST_CLUSTER = 'test';

export interface TestOutcome {
  rule: string;
  where: string;
  test: string;
  ok: boolean;
  /** Why it failed, or what it saw. */
  detail: string;
}

/**
 * Completes a test event the way its sender would have written it (its dataset's `testEvent`, recognised by
 * shape): audit events get kind, apiVersion, level, auditID, stage, timestamps, a response code (201 for
 * create) and an allow decision (unless the test gives `annotations`, even empty); Falco alerts get time,
 * priority, output and source; flows their time. What the test gives is kept.
 */
export function fillTestEvent(
  raw: Record<string, unknown>,
  testName: string,
  index: number,
): Record<string, unknown> {
  const { at, ...ev } = raw;
  const offset = Duration.safeParse(at);
  const ms =
    TEST_BASE_TIME +
    (offset.success ? durationMs(offset.data) : (typeof at === 'number' ? at : index) * 1000);
  return recognize(ev).testEvent(ev, ms, `${testName}#${index}`);
}

function ruleName(doc: LoadedDoc): string | undefined {
  return doc.rule && doc.rule.kind !== 'filter' ? doc.rule.name : undefined;
}

function runOne(
  ruleset: RuleSet,
  name: string,
  test: RuleTestCase,
  normalize: (raw: unknown) => NormalizeResult,
): { ok: boolean; detail: string } {
  const detector = new Detector(ruleset, { now: () => new Date(TEST_BASE_TIME) });
  const alerts: Alert[] = [];
  const saved = new Map<string, readonly string[]>();
  for (const [name, values] of Object.entries(test.placeholders ?? {})) {
    const known = ruleset.placeholders.get(name);
    if (!known) return { ok: false, detail: `placeholder %${name}% is not defined` };
    saved.set(name, known.snapshot.values);
    known.set(values);
  }
  try {
    for (let i = 0; i < test.events.length; i++) {
      const filled = fillTestEvent(test.events[i]!, test.name, i);
      const result = normalize(filled);
      if (!result.ok) return { ok: false, detail: `event ${i}: the normalizer refused it: ${result.reason}` };
      alerts.push(...detector.process(result.event));
    }
    alerts.push(...detector.flush());
  } finally {
    for (const [name, values] of saved) ruleset.placeholders.set(name, values);
  }
  const mine = new Set(alerts.filter((a) => a.rule.name === name).map((a) => a.klaxon.alert_id));
  const n = mine.size;
  const others = [...new Set(alerts.filter((a) => a.rule.name !== name).map((a) => a.rule.name))];
  const seen = `${n} alert(s)${others.length > 0 ? `; other rules fired: ${others.join(', ')}` : ''}`;
  if (test.expect === 'quiet')
    return { ok: n === 0, detail: n === 0 ? 'quiet' : `expected quiet, got ${seen}` };
  if (n === 0) return { ok: false, detail: `expected to fire, got ${seen}` };
  if (test.count !== undefined && n !== test.count)
    return { ok: false, detail: `expected ${test.count} alert(s), got ${seen}` };
  return { ok: true, detail: `fired (${n})` };
}

/**
 * Runs every document's `tests` against the whole rule set (filters included),
 * checking only the alerts of the document's own rule.
 */
export function runRuleTests(ruleset: RuleSet, normalize: (raw: unknown) => NormalizeResult): TestOutcome[] {
  const out: TestOutcome[] = [];
  for (const doc of ruleset.docs) {
    if (!doc.tests || doc.tests.length === 0) continue;
    const where = `${doc.file}:${doc.line}`;
    const name = ruleName(doc);
    for (const test of doc.tests) {
      if (!name) {
        out.push({
          rule: String(doc.raw.title ?? '?'),
          where,
          test: test.name,
          ok: false,
          detail:
            doc.type === 'filter' ? 'tests belong in the rules a filter applies to' : 'the rule did not load',
        });
        continue;
      }
      out.push({ rule: name, where, test: test.name, ...runOne(ruleset, name, test, normalize) });
    }
  }
  return out;
}
