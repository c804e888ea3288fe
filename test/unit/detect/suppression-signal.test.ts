import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextOf } from '../../../src/detect/alert.ts';
import type { Detector } from '../../../src/detect/detector.ts';
import type { DetectionRule } from '../../../src/detect/ruleset.ts';
import {
  suppressesInWindow,
  suppressionKey,
  suppressionSignal,
} from '../../../src/detect/suppression-signal.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { Signal } from '../../../src/schema/signal.ts';
import { audit, detector, falco, rule } from './helpers.ts';

const RULES = [
  rule('sel:\n  objectRef.subresource: exec\ncondition: sel', 'name: exec-rule'),
  rule(
    'sel:\n  rule|contains: shell\ncondition: sel',
    'name: falco-shell\nklaxon: {severity: falco-priority, suppress: {window: 2m}}',
    '{product: falco}',
  ),
  rule('sel:\n  verb: delete\ncondition: sel', 'name: every-delete\nklaxon: {suppress: {window: 0s}}'),
];

const exec = (at: number, user: string, pod: string) =>
  audit(
    {
      verb: 'create',
      user: { username: user },
      objectRef: { resource: 'pods', subresource: 'exec', name: pod, namespace: 'shop' },
    },
    at,
  );
const shell = (at: number, pod: string, priority: string) =>
  falco({ rule: 'Terminal shell in container', priority, output_fields: { 'k8s.pod.name': pod } }, at);

/** What a sink keeps of an alert (its detection time aside). */
function kept(a: Alert) {
  return {
    id: a.klaxon.alert_id,
    rule: a.rule.name,
    revision: a.klaxon.revision,
    count: a.klaxon.count,
    events: a.klaxon.event_ids,
    time: a['@timestamp'],
    level: a.klaxon.severity,
    message: a.message,
    user: a.user?.name,
  };
}

/** The rule-by-rule matches of the events, as the detect stage sees them. */
function matchesOf(d: Detector, events: NormalizedEvent[]) {
  return events.flatMap((event) => d.evaluate(event));
}

/** In one process (replay, serve): `Detector.process`, then the end of input. */
function inProcess(events: NormalizedEvent[]): Alert[] {
  const d = detector(RULES);
  return [...events.flatMap((e) => d.process(e)), ...d.flush()];
}

/** Distributed: each match of a suppressing rule as a signal (through JSON, as on Kafka), fed to another engine. */
function throughSignals(events: NormalizedEvent[]): Alert[] {
  const stage1 = detector(RULES);
  const stage2 = detector(RULES);
  const out: Alert[] = [];
  for (const { rule: r, event } of matchesOf(stage1, events)) {
    if (!suppressesInWindow(r)) {
      out.push(...stage1.alertsFor({ rule: r, event }));
      continue;
    }
    const wire = Signal.parse(JSON.parse(JSON.stringify(suppressionSignal(r, event, contextOf(event)))));
    out.push(...stage2.suppress(wire));
  }
  return [...out, ...stage2.flush()];
}

describe('suppression signals', () => {
  it('are keyed by the rule and its suppress.by values, as the window in one process is', () => {
    const d = detector(RULES);
    const event = exec(0, 'dev', 'web-1');
    const [match] = d.evaluate(event);
    const signal = suppressionSignal(match!.rule, event, contextOf(event));
    expect(signal).toMatchObject({
      kind: 'suppression',
      correlation: match!.rule.id,
      rule: match!.rule.id,
      key: suppressionKey(match!.rule, event),
      event_id: event.event.id,
      time: Date.parse(event['@timestamp']),
      group: {
        'orchestrator.cluster.name': 'prod',
        'user.name': 'dev',
        'orchestrator.namespace': 'shop',
        'orchestrator.resource.name': 'web-1',
      },
    });
    expect(signal.key.startsWith(match!.rule.id)).toBe(true);
  });

  it('leave rules without a window (suppress: 0s) to the detect stage', () => {
    const d = detector(RULES);
    const byName = new Map<string, DetectionRule>(d.ruleset.rules.map((r) => [r.name, r]));
    expect(suppressesInWindow(byName.get('exec-rule')!)).toBe(true);
    expect(suppressesInWindow(byName.get('every-delete')!)).toBe(false);
  });

  it('raise the same alerts, ids, revisions and counts as the window kept in one process', () => {
    const events = [
      exec(0, 'dev', 'web-1'),
      exec(30, 'dev', 'web-1'),
      exec(40, 'ops', 'web-1'),
      shell(50, 'web-1', 'Critical'),
      shell(60, 'web-1', 'Notice'),
      exec(90, 'dev', 'web-1'),
      audit({ verb: 'delete', user: { username: 'dev' }, objectRef: { resource: 'pods', name: 'x' } }, 95),
      shell(400, 'web-1', 'Warning'),
      exec(700, 'dev', 'web-1'),
    ];
    const expected = inProcess(events).map(kept);
    expect(expected.map((a) => [a.rule, a.revision, a.count, a.level])).toEqual([
      ['exec-rule', 0, 1, 'high'],
      ['exec-rule', 0, 1, 'high'],
      ['falco-shell', 0, 1, 'critical'],
      ['every-delete', 0, 1, 'high'],
      ['falco-shell', 1, 2, 'low'],
      ['falco-shell', 0, 1, 'medium'],
      ['exec-rule', 1, 3, 'high'],
      ['exec-rule', 0, 1, 'high'],
    ]);
    expect(throughSignals(events).map(kept)).toEqual(expected);
  });

  it('agree with the window in one process on any stream of matches', () => {
    const event = fc.oneof(
      fc.record({
        kind: fc.constant('exec' as const),
        user: fc.constantFrom('a', 'b'),
        pod: fc.constantFrom('p1', 'p2'),
      }),
      fc.record({
        kind: fc.constant('shell' as const),
        pod: fc.constantFrom('p1', 'p2'),
        priority: fc.constantFrom('Notice', 'Critical'),
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), event), { maxLength: 40 }), (steps) => {
        let at = 0;
        const events = steps.map(([gap, e]) => {
          at += gap;
          return e.kind === 'exec' ? exec(at, e.user, e.pod) : shell(at, e.pod, e.priority);
        });
        expect(throughSignals(events).map(kept)).toEqual(inProcess(events).map(kept));
      }),
      { numRuns: 200 },
    );
  });
});
