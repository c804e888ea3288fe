import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/detect/index.ts';
import { registry } from '../../../src/metrics.ts';
import { Alert } from '../../../src/schema/alert.ts';
import { Signal } from '../../../src/schema/signal.ts';
import { audit, BASE, detector, falco, rulesFrom, run } from './helpers.ts';

const failed = `title: Failed request
name: failed-request
id: 11111111-1111-4111-8111-111111111111
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    responseStatus.code: [401, 403]
  condition: sel
level: low
`;
const burst = (extra = '', condition = 'gte: 10') => `title: Auth failure burst
name: auth-failure-burst
id: 22222222-2222-4222-8222-222222222222
correlation:
  type: event_count
  rules: [failed-request]
  group-by: [user.username, sourceIPs]
  timespan: 5m
  condition: {${condition}}
level: high
${extra}
`;
const fail = (at: number, user = 'mallory', ip = '203.0.113.9') =>
  audit(
    {
      verb: 'get',
      user: { username: user },
      sourceIPs: [ip],
      objectRef: { resource: 'secrets' },
      responseStatus: { code: 403 },
    },
    at,
  );

const of = (alerts: Alert[], name: string) => alerts.filter((a) => a.rule.name === name);

describe('event_count', () => {
  it('fires when the count is reached within the timespan, once, then a final revision', () => {
    const d = detector([failed, burst()]);
    const events = Array.from({ length: 12 }, (_, i) => fail(i * 20));
    const alerts = run(d, events);
    const mine = of(alerts, 'auth-failure-burst');
    expect(mine.map((a) => a.klaxon.revision)).toEqual([0, 1]);
    expect(mine[0]!.klaxon.count).toBe(10);
    expect(mine[1]!.klaxon.count).toBe(12);
    expect(mine[1]!.klaxon.alert_id).toBe(mine[0]!.klaxon.alert_id);
    expect(mine[0]!.klaxon.correlation).toEqual({
      type: 'event_count',
      group: { 'user.username': 'mallory', sourceIPs: '203.0.113.9' },
    });
    expect(mine[0]!['@timestamp']).toBe(events[9]!['@timestamp']);
    expect(mine[0]!.message).toContain('10 events of failed-request for user.username=mallory');
    for (const a of mine) expect(Alert.safeParse(a).success).toBe(true);
    // The base rule is referred to by the correlation only: no alerts of its own.
    expect(of(alerts, 'failed-request')).toEqual([]);
  });

  it('does not fire below the threshold or when spread wider than the timespan', () => {
    expect(
      of(
        run(
          detector([failed, burst()]),
          Array.from({ length: 9 }, (_, i) => fail(i)),
        ),
        'auth-failure-burst',
      ),
    ).toEqual([]);
    // 10 events 34 s apart span 306 s > 5 min: no window of 5 minutes holds 10.
    const spread = Array.from({ length: 10 }, (_, i) => fail(i * 34));
    expect(of(run(detector([failed, burst()]), spread), 'auth-failure-burst')).toEqual([]);
    // 10 events 33 s apart span 297 s: they fit.
    const tight = Array.from({ length: 10 }, (_, i) => fail(i * 33));
    expect(of(run(detector([failed, burst()]), tight), 'auth-failure-burst')).toHaveLength(1);
  });

  it('the window boundary is inclusive: first and last exactly one timespan apart count', () => {
    const edge = [...Array.from({ length: 9 }, (_, i) => fail(i)), fail(300)];
    expect(of(run(detector([failed, burst()]), edge), 'auth-failure-burst')).toHaveLength(1);
    const past = [...Array.from({ length: 9 }, (_, i) => fail(i)), fail(301)];
    expect(of(run(detector([failed, burst()]), past), 'auth-failure-burst')).toEqual([]);
  });

  it('groups by the group-by values', () => {
    const events = Array.from({ length: 10 }, (_, i) => fail(i, i % 2 === 0 ? 'a' : 'b'));
    expect(of(run(detector([failed, burst()]), events), 'auth-failure-burst')).toEqual([]);
  });

  it('an event without a group-by field joins no group', () => {
    const noIp = Array.from({ length: 10 }, (_, i) =>
      audit(
        {
          verb: 'get',
          user: { username: 'm' },
          objectRef: { resource: 'secrets' },
          responseStatus: { code: 401 },
        },
        i,
      ),
    );
    expect(of(run(detector([failed, burst()]), noIp), 'auth-failure-burst')).toEqual([]);
  });

  it('counts events that arrive out of order within the allowed lateness, drops later ones', () => {
    const events = [fail(100), ...Array.from({ length: 8 }, (_, i) => fail(101 + i)), fail(90)];
    expect(of(run(detector([failed, burst()]), events), 'auth-failure-burst')).toHaveLength(1);
    // A lower-bound condition keeps its entries a timespan (5 min) past the 30 s lateness, so
    // a partition lagging 48 s behind the others still completes the window.
    const laggingPartition = [fail(400), ...Array.from({ length: 8 }, (_, i) => fail(401 + i)), fail(360)];
    expect(of(run(detector([failed, burst()]), laggingPartition), 'auth-failure-burst')).toHaveLength(1);
    // Later than lateness + timespan behind the stream (bob's event at 420): dropped.
    const nine = Array.from({ length: 9 }, (_, i) => fail(100 + i));
    const tooLate = [...nine, fail(420, 'bob'), fail(60)];
    expect(of(run(detector([failed, burst()]), tooLate), 'auth-failure-burst')).toEqual([]);
    const lenient = detector([failed, burst()], { latenessMs: 400_000 });
    expect(of(run(lenient, tooLate), 'auth-failure-burst')).toHaveLength(1);
  });

  it('same input, same alert ids', () => {
    const events = Array.from({ length: 10 }, (_, i) => fail(i));
    const ids = (alerts: Alert[]) => alerts.map((a) => a.klaxon.alert_id);
    const { ruleset } = rulesFrom(failed, burst());
    expect(ids(run(new Detector(ruleset), events))).toEqual(ids(run(new Detector(ruleset), events)));
  });

  it('generate: true keeps the base rule alerting too', () => {
    const alerts = run(
      detector([failed, burst('generate: true')]),
      Array.from({ length: 10 }, (_, i) => fail(i)),
    );
    expect(of(alerts, 'failed-request').length).toBeGreaterThan(0);
    expect(of(alerts, 'auth-failure-burst')).toHaveLength(1);
  });

  it('an upper-bound condition is judged when the window closes', () => {
    const rules = [failed, burst('', 'gte: 2, lt: 4')];
    const three = [fail(0), fail(10), fail(20), fail(1000)];
    const alerts = of(run(detector(rules), three), 'auth-failure-burst');
    expect(alerts.map((a) => a.klaxon.count)).toEqual([3]);
    const five = [0, 10, 20, 30, 40].map((t) => fail(t));
    expect(of(run(detector(rules), five), 'auth-failure-burst')).toEqual([]);
  });

  it('caps live groups, evicting the oldest', async () => {
    const before = (await registry.getSingleMetric('klaxon_correlation_evicted_total')!.get()).values.find(
      (v) => v.labels.reason === 'cap',
    )?.value;
    const d = detector([failed, burst()], { maxKeys: 2 });
    run(d, [fail(0, 'a'), fail(1, 'b'), fail(2, 'c')]);
    const after = (await registry.getSingleMetric('klaxon_correlation_evicted_total')!.get()).values.find(
      (v) => v.labels.reason === 'cap',
    )?.value;
    expect((after ?? 0) - (before ?? 0)).toBe(1);
  });
});

const secretRead = `title: Secret read
name: secret-read
id: 33333333-3333-4333-8333-333333333333
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    verb: get
    objectRef.resource: secrets
  condition: sel
level: informational
`;
const enumeration = `title: Secret enumeration
name: secret-enumeration
id: 44444444-4444-4444-8444-444444444444
correlation:
  type: value_count
  rules: [secret-read]
  group-by: [user.username]
  timespan: 10m
  condition: {field: objectRef.name, gte: 5}
level: high
`;
const read = (at: number, name: string, user = 'eve') =>
  audit(
    { verb: 'get', user: { username: user }, objectRef: { resource: 'secrets', namespace: 'a', name } },
    at,
  );

describe('value_count', () => {
  it('fires on 5 distinct values within the timespan', () => {
    const alerts = of(
      run(
        detector([secretRead, enumeration]),
        ['a', 'b', 'c', 'd', 'e'].map((n, i) => read(i * 60, n)),
      ),
      'secret-enumeration',
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toContain('5 distinct objectRef.name');
  });
  it('does not count the same value twice', () => {
    const same = ['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd'].map((n, i) => read(i, n));
    expect(of(run(detector([secretRead, enumeration]), same), 'secret-enumeration')).toEqual([]);
  });
  it('does not count values outside the timespan', () => {
    const slow = ['a', 'b', 'c', 'd', 'e'].map((n, i) => read(i * 151, n));
    expect(of(run(detector([secretRead, enumeration]), slow), 'secret-enumeration')).toEqual([]);
  });
  it('events without the counted field join nothing', () => {
    const noName = Array.from({ length: 6 }, (_, i) =>
      audit({ verb: 'get', user: { username: 'eve' }, objectRef: { resource: 'secrets' } }, i),
    );
    expect(of(run(detector([secretRead, enumeration]), noName), 'secret-enumeration')).toEqual([]);
  });
});

const exec = `title: Exec into pod
name: exec-into-pod
id: 55555555-5555-4555-8555-555555555555
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    objectRef.resource: pods
    objectRef.subresource: [exec, attach]
  condition: sel
level: medium
`;
const shell = `title: Falco alert
name: falco-alert
id: 66666666-6666-4666-8666-666666666666
logsource: {product: falco}
detection:
  sel:
    rule|exists: true
  condition: sel
level: medium
`;
const sequence = (type: string, order = '[exec-into-pod, falco-alert]') => `title: Exec then shell
name: exec-then-shell
id: 77777777-7777-4777-8777-777777777777
correlation:
  type: ${type}
  rules: ${order}
  group-by: [pod, namespace]
  timespan: 2m
  aliases:
    pod:
      exec-into-pod: objectRef.name
      falco-alert: output_fields.k8s.pod.name
    namespace:
      exec-into-pod: objectRef.namespace
      falco-alert: output_fields.k8s.ns.name
level: critical
generate: true
`;
const execEv = (at: number, pod = 'web-1', ns = 'shop') =>
  audit(
    {
      verb: 'create',
      stage: 'ResponseStarted',
      user: { username: 'dev' },
      objectRef: { resource: 'pods', subresource: 'exec', name: pod, namespace: ns },
    },
    at,
  );
const shellEv = (at: number, pod = 'web-1', ns = 'shop') =>
  falco(
    {
      rule: 'Terminal shell in container',
      priority: 'Notice',
      output: 'A shell was spawned',
      output_fields: { 'k8s.pod.name': pod, 'k8s.ns.name': ns, 'container.image.repository': 'nginx' },
    },
    at,
  );

describe('temporal and temporal_ordered with aliases', () => {
  it('joins an audit exec and a Falco alert on the same pod and namespace', () => {
    const alerts = of(
      run(detector([exec, shell, sequence('temporal')]), [execEv(0), shellEv(30)]),
      'exec-then-shell',
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.klaxon.correlation?.group).toEqual({ pod: 'web-1', namespace: 'shop' });
    expect(alerts[0]!.klaxon.severity).toBe('critical');
    expect(alerts[0]!.klaxon.event_ids).toHaveLength(2);
  });
  it('generate: true keeps the base rules alerting', () => {
    const alerts = run(detector([exec, shell, sequence('temporal')]), [execEv(0), shellEv(30)]);
    expect(of(alerts, 'exec-into-pod')).toHaveLength(1);
    expect(of(alerts, 'falco-alert')).toHaveLength(1);
  });
  it('needs the same pod, and both within the timespan (inclusive)', () => {
    const rules = [exec, shell, sequence('temporal')];
    expect(of(run(detector(rules), [execEv(0), shellEv(30, 'web-2')]), 'exec-then-shell')).toEqual([]);
    expect(of(run(detector(rules), [execEv(0), shellEv(121)]), 'exec-then-shell')).toEqual([]);
    expect(of(run(detector(rules), [execEv(0), shellEv(120)]), 'exec-then-shell')).toHaveLength(1);
  });
  it('temporal accepts either order; temporal_ordered only the written one', () => {
    expect(
      of(run(detector([exec, shell, sequence('temporal')]), [shellEv(0), execEv(10)]), 'exec-then-shell'),
    ).toHaveLength(1);
    expect(
      of(
        run(detector([exec, shell, sequence('temporal_ordered')]), [shellEv(0), execEv(10)]),
        'exec-then-shell',
      ),
    ).toEqual([]);
    expect(
      of(
        run(detector([exec, shell, sequence('temporal_ordered')]), [execEv(0), shellEv(10)]),
        'exec-then-shell',
      ),
    ).toHaveLength(1);
  });
  it('temporal_ordered still sees the order of events that arrive out of order', () => {
    const alerts = of(
      run(detector([exec, shell, sequence('temporal_ordered')]), [shellEv(10), execEv(5)]),
      'exec-then-shell',
    );
    expect(alerts).toHaveLength(1);
  });
  it('a falco event missing the aliased pod field joins no group', () => {
    const noPod = falco(
      { rule: 'Terminal shell in container', output_fields: { 'k8s.ns.name': 'shop' } },
      10,
    );
    expect(
      of(run(detector([exec, shell, sequence('temporal')]), [execEv(0), noPod]), 'exec-then-shell'),
    ).toEqual([]);
  });
});

describe('signals', () => {
  it('are serializable and correlation output depends only on them', () => {
    const { ruleset } = rulesFrom(failed, burst());
    const live = new Detector(ruleset, { now: () => new Date(BASE) });
    const events = Array.from({ length: 10 }, (_, i) => fail(i));
    const signals: unknown[] = [];
    for (const e of events) {
      for (const m of live.evaluate(e))
        for (const s of live.signalsFor(m)) signals.push(JSON.parse(JSON.stringify(s)));
    }
    expect(signals).toHaveLength(10);
    const rebuilt = new Detector(ruleset, { now: () => new Date(BASE) });
    const fromSignals = signals.flatMap((s) => rebuilt.correlate(Signal.parse(s)));
    const direct = of(
      run(new Detector(ruleset, { now: () => new Date(BASE) }), events),
      'auth-failure-burst',
    );
    expect(fromSignals.map((a) => a.klaxon.alert_id)).toEqual(
      direct.filter((a) => a.klaxon.revision === 0).map((a) => a.klaxon.alert_id),
    );
    expect(fromSignals[0]).toEqual(direct[0]);
  });
});

describe('chained correlations', () => {
  it('a correlation can refer to another correlation', () => {
    const success = `title: Success
name: success
id: 88888888-8888-4888-8888-888888888888
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    responseStatus.code: 200
  condition: sel
level: low
`;
    const chain = `title: Burst then success
name: burst-then-success
id: 99999999-9999-4999-8999-999999999999
correlation:
  type: temporal_ordered
  rules: [auth-failure-burst, success]
  group-by: [user.username]
  timespan: 10m
level: critical
`;
    const burstNamed = burst().replace('name: auth-failure-burst', 'name: auth-failure-burst');
    const events = [
      ...Array.from({ length: 10 }, (_, i) => fail(i)),
      audit(
        {
          verb: 'get',
          user: { username: 'mallory' },
          sourceIPs: ['203.0.113.9'],
          objectRef: { resource: 'secrets' },
        },
        60,
      ),
    ];
    const alerts = run(detector([failed, burstNamed, success, chain]), events);
    expect(of(alerts, 'burst-then-success')).toHaveLength(1);
    // The inner correlation is referred to by the outer one: it does not alert on its own.
    expect(of(alerts, 'auth-failure-burst')).toEqual([]);
  });
});
