import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/detect/detector.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { failedAuth, writeFirstSeenRules, writeTestRules } from '../../integration/detect-fixtures.ts';

describe('Detector.firstPerRequest', () => {
  const rules = writeTestRules('first-per-request');
  const { ruleset } = loadRules([rules.dir]);
  const t = '2025-03-14T09:00:00.000Z';

  const stage = (event: ReturnType<typeof failedAuth>, name: string) => {
    const copy = structuredClone(event);
    copy.kubernetes!.audit.stage = name;
    copy.event.id = `${copy.kubernetes!.audit.auditID}/${name}`;
    return copy;
  };

  /** Whether the first match of `event` is admitted (one alert per rule per request). */
  const admitted = (detector: Detector, event: ReturnType<typeof failedAuth>) =>
    detector.firstPerRequest(event, detector.evaluate(event)).length === 1;

  it('admits a rule once per auditID, per cluster', () => {
    const detector = new Detector(ruleset);
    const request = failedAuth(t, 'a', '192.0.2.1');
    expect(admitted(detector, stage(request, 'ResponseStarted'))).toBe(true);
    expect(admitted(detector, request)).toBe(false);
    // Another cluster's API server may reuse the auditID.
    const elsewhere = structuredClone(request);
    elsewhere.orchestrator.cluster.name = 'other';
    expect(admitted(detector, elsewhere)).toBe(true);
    expect(admitted(detector, failedAuth(t, 'b', '192.0.2.1'))).toBe(true);
  });

  it('forgets the oldest requests of a cluster beyond its bound', () => {
    const detector = new Detector(ruleset, { maxKeys: 2 });
    const a = failedAuth(t, 'a', '192.0.2.1');
    expect(admitted(detector, a)).toBe(true);
    expect(admitted(detector, failedAuth(t, 'b', '192.0.2.1'))).toBe(true);
    expect(admitted(detector, failedAuth(t, 'c', '192.0.2.1'))).toBe(true);
    expect(admitted(detector, a)).toBe(true);
  });

  it('admits a rule new to a request already seen, and only that rule', () => {
    const detector = new Detector(ruleset);
    const request = failedAuth(t, 'a', '192.0.2.1');
    const matches = detector.evaluate(request);
    expect(matches.length).toBeGreaterThan(0);
    const [first, ...rest] = matches;
    expect(detector.firstPerRequest(request, [first!])).toEqual([first]);
    expect(detector.firstPerRequest(request, matches)).toEqual(rest);
    expect(detector.firstPerRequest(request, matches)).toEqual([]);
  });

  it('keeps a full, churning bound: the newest half of it remembered, the oldest forgotten', () => {
    const detector = new Detector(ruleset, { maxKeys: 1_000 });
    const requests = Array.from({ length: 5_000 }, (_, i) => failedAuth(t, `r${i}`, '192.0.2.1'));
    for (const r of requests) expect(admitted(detector, r)).toBe(true);
    for (const r of requests.slice(-500)) expect(admitted(detector, r)).toBe(false);
    expect(admitted(detector, requests[0]!)).toBe(true);
  });

  it('passes matches that only teach first-seen rules every time, without remembering the request', () => {
    const learning = writeFirstSeenRules('first-per-request');
    const detector = new Detector(loadRules([learning.dir]).ruleset);
    const request = failedAuth(t, 'system:serviceaccount:shop:cart', '10.0.0.7');
    const matches = detector.evaluate(request);
    expect(matches.map((m) => m.rule.name)).toEqual([learning.base]);
    expect(detector.firstPerRequest(request, matches)).toEqual(matches);
    expect(detector.firstPerRequest(request, matches)).toEqual(matches);
  });
});
