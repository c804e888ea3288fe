import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { audit, detector, falco, rule, run } from './helpers.ts';

const execRule = (extra = '') =>
  rule('sel:\n  objectRef.subresource: exec\ncondition: sel', extra.replace(/^/, 'name: exec-rule\n'));
const exec = (at: number, user = 'dev', pod = 'web-1', auditID?: string, stage = 'ResponseComplete') =>
  audit(
    {
      verb: 'create',
      stage,
      ...(auditID ? { auditID } : {}),
      user: { username: user },
      objectRef: { resource: 'pods', subresource: 'exec', name: pod, namespace: 'shop' },
    },
    at,
  );
const mine = (alerts: Alert[]) => alerts.filter((a) => a.rule.name === 'exec-rule');

describe('suppression', () => {
  it('raises the first match at once, then folds the rest into a final revision', () => {
    const d = detector([execRule()]);
    const first = d.process(exec(0));
    expect(first).toHaveLength(1);
    expect(first[0]!.klaxon).toMatchObject({ revision: 0, count: 1 });
    const more = [exec(10), exec(20), exec(30)].flatMap((e) => d.process(e));
    expect(more).toEqual([]);
    const final = d.flush();
    expect(final).toHaveLength(1);
    expect(final[0]!.klaxon).toMatchObject({ revision: 1, count: 4, alert_id: first[0]!.klaxon.alert_id });
    expect(final[0]!.klaxon.event_ids).toHaveLength(4);
    expect(final[0]!['@timestamp']).toBe(
      new Date(Date.parse(first[0]!['@timestamp']) + 30_000).toISOString(),
    );
  });

  it('no revision when nothing was folded in', () => {
    const alerts = run(detector([execRule()]), [exec(0)]);
    expect(mine(alerts).map((a) => a.klaxon.revision)).toEqual([0]);
  });

  it('keys by cluster, user, namespace and resource name by default', () => {
    const alerts = run(detector([execRule()]), [
      exec(0, 'a'),
      exec(1, 'b'),
      exec(2, 'a', 'web-2'),
      exec(3, 'a'),
    ]);
    expect(mine(alerts).filter((a) => a.klaxon.revision === 0)).toHaveLength(3);
  });

  it('closes the window on event time (10 minutes by default)', () => {
    const d = detector([execRule()]);
    const alerts = [exec(0), exec(60), exec(700)].flatMap((e) => d.process(e));
    // The first window closes when event time passes its end plus the lateness: revision 1 (count 2), then a new alert.
    expect(alerts.map((a) => [a.klaxon.revision, a.klaxon.count])).toEqual([
      [0, 1],
      [1, 2],
      [0, 1],
    ]);
    expect(alerts[2]!.klaxon.alert_id).not.toBe(alerts[0]!.klaxon.alert_id);
  });

  it('a rule can choose its key and window, or turn suppression off', () => {
    const byUser = detector([execRule('klaxon: {suppress: {by: [user.username], window: 1m}}')]);
    const a = run(byUser, [exec(0, 'a', 'p1'), exec(1, 'a', 'p2'), exec(120, 'a', 'p3')]);
    expect(mine(a).filter((x) => x.klaxon.revision === 0)).toHaveLength(2);
    const off = detector([execRule('klaxon: {suppress: {window: 0s}}')]);
    expect(mine(run(off, [exec(0), exec(1), exec(2)])).map((x) => x.klaxon.revision)).toEqual([0, 0, 0]);
  });

  it('rejects a malformed klaxon attribute with its line', () => {
    expect(() => detector([execRule('klaxon: {suppress: {window: soon}}')])).toThrow(
      /rule0\.yml:\d+: klaxon\.suppress\.window/,
    );
  });

  it('one alert per rule per auditID across stages and retries', () => {
    const d = detector([execRule('klaxon: {suppress: {window: 0s}}')]);
    const alerts = run(d, [
      exec(0, 'dev', 'web-1', 'req-1', 'ResponseStarted'),
      exec(5, 'dev', 'web-1', 'req-1', 'ResponseComplete'),
      exec(5, 'dev', 'web-1', 'req-1', 'ResponseComplete'),
    ]);
    expect(mine(alerts)).toHaveLength(1);
  });

  it('the same auditID from two clusters is two requests', () => {
    const d = detector([execRule('klaxon: {suppress: {window: 0s}}')]);
    const fromProd = exec(0, 'dev', 'web-1', 'req-1');
    const fromStaging = {
      ...fromProd,
      orchestrator: { ...fromProd.orchestrator, cluster: { name: 'staging' } },
    };
    const alerts = mine(run(d, [fromProd, fromStaging]));
    expect(alerts.map((a) => a.orchestrator?.cluster?.name)).toEqual(['prod', 'staging']);
  });

  it('same input, same alert ids', () => {
    const events = [exec(0), exec(1)];
    const text = execRule();
    const ids = () => run(detector([text]), events).map((a) => a.klaxon.alert_id);
    expect(ids()).toEqual(ids());
  });

  it('Falco rules are keyed by the Falco rule too by default', () => {
    const r = rule('sel:\n  rule|exists: true\ncondition: sel', 'name: falco-any', '{product: falco}');
    const ev = (name: string, at: number) =>
      falco({ rule: name, output_fields: { 'k8s.pod.name': 'p', 'k8s.ns.name': 'n' } }, at);
    const alerts = run(detector([r]), [
      ev('Terminal shell', 0),
      ev('Read sensitive file', 1),
      ev('Terminal shell', 2),
    ]);
    expect(alerts.filter((a) => a.klaxon.revision === 0)).toHaveLength(2);
  });
});
