import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/detect/detector.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { failedAuth, writeTestRules } from '../../integration/detect-fixtures.ts';

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

  it('admits a rule once per auditID, per cluster', () => {
    const detector = new Detector(ruleset);
    const request = failedAuth(t, 'a', '192.0.2.1');
    const [match] = detector.evaluate(stage(request, 'ResponseStarted'));
    const [again] = detector.evaluate(request);
    expect(detector.firstPerRequest(match!)).toBe(true);
    expect(detector.firstPerRequest(again!)).toBe(false);
    // Another cluster's API server may reuse the auditID.
    const elsewhere = structuredClone(request);
    elsewhere.orchestrator.cluster.name = 'other';
    expect(detector.firstPerRequest(detector.evaluate(elsewhere)[0]!)).toBe(true);
    expect(detector.firstPerRequest(detector.evaluate(failedAuth(t, 'b', '192.0.2.1'))[0]!)).toBe(true);
  });

  it('forgets the oldest requests of a cluster beyond its bound', () => {
    const detector = new Detector(ruleset, { maxKeys: 1 });
    const a = detector.evaluate(failedAuth(t, 'a', '192.0.2.1'))[0]!;
    const b = detector.evaluate(failedAuth(t, 'b', '192.0.2.1'))[0]!;
    expect(detector.firstPerRequest(a)).toBe(true);
    expect(detector.firstPerRequest(b)).toBe(true);
    expect(detector.firstPerRequest(a)).toBe(true);
  });
});
