import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/detect/detector.ts';
import { addressNetwork, userAgentFamily } from '../../../src/detect/first-seen/derive.ts';
import { FirstSeenState, mergeRecords } from '../../../src/detect/first-seen/state.ts';
import type { FirstSeenRule } from '../../../src/detect/ruleset.ts';
import { registry } from '../../../src/metrics.ts';
import type { Signal } from '../../../src/schema/signal.ts';
import { audit, BASE, rulesFrom, SA_REQUEST_RULE } from './helpers.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const secretRead = `title: Secret read
name: secret-read
id: 0e000000-0000-4000-8000-000000000002
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get, objectRef.resource: secrets}
  condition: sel
level: low
`;

function firstSeen(section: string, extra = ''): string {
  return `title: New client
name: new-client
id: 0e000000-0000-4000-8000-000000000010
level: medium
${extra}first_seen:
${section
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

const CLIENT = `rules: [sa-request]
group-by: [user.username]
field: userAgent|family
timespan: 30d
learning: 3d`;

function load(section = CLIENT, ...more: string[]) {
  const { ruleset, errors } = rulesFrom(SA_REQUEST_RULE, secretRead, firstSeen(section), ...more);
  expect(errors).toEqual([]);
  return ruleset;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name)!;
  const found = (await m.get()).values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return found?.value ?? 0;
}

/** A signal of a first-seen rule for `user` with `value`, `days` after BASE. */
function signal(
  rule: FirstSeenRule,
  user: string,
  value: string,
  at: number,
  extra: Partial<Signal> = {},
): Signal {
  return {
    correlation: rule.id,
    rule: rule.rules[0]!.id,
    key: JSON.stringify([rule.id, 'prod', user]),
    group: { 'user.username': user },
    time: BASE + at,
    event_id: `e-${user}-${value}-${at}`,
    value,
    context: {
      '@timestamp': new Date(BASE + at).toISOString(),
      dataset: 'kubernetes.audit',
      user: { name: user },
      orchestrator: { cluster: { name: 'prod' } },
    },
    ...extra,
  };
}

const sa = (name: string) => `system:serviceaccount:shop:${name}`;
const now = () => new Date(BASE);

describe('first-seen derivations', () => {
  it('a user agent family keeps the program and platform, not the versions', () => {
    expect(userAgentFamily('kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350')).toBe(
      'kubectl (darwin/arm64)',
    );
    expect(userAgentFamily('kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5')).toBe(
      'kubectl (darwin/arm64)',
    );
    expect(userAgentFamily('kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5')).toBe('kubectl (linux/amd64)');
    expect(
      userAgentFamily(
        'kube-controller-manager/v1.30.1 (linux/amd64) kubernetes/6911225/system:serviceaccount:kube-system:job-controller',
      ),
    ).toBe('kube-controller-manager (linux/amd64)');
    expect(userAgentFamily('python-requests/2.31.0')).toBe('python-requests');
    expect(userAgentFamily('Go-http-client/2.0')).toBe('go-http-client');
    expect(userAgentFamily('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36')).toBe(
      'mozilla (windows nt)',
    );
    expect(userAgentFamily('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)')).toBe('mozilla (macintosh)');
    expect(userAgentFamily('  ')).toBeUndefined();
    expect(userAgentFamily('x'.repeat(10_000))!.length).toBeLessThanOrEqual(128);
  });

  it('a network is the /24 or /64 of the address', () => {
    expect(addressNetwork('203.0.113.77')).toBe('203.0.113.0/24');
    expect(addressNetwork('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(addressNetwork('2001:db8:4a1:17:8000::9')).toBe('2001:db8:4a1:17::/64');
    expect(addressNetwork('not-an-address')).toBeUndefined();
  });
});

describe('first_seen documents', () => {
  it('load as their own kind, and their base rules stop alerting on their own (alert-on rules do not)', () => {
    const ruleset = load(`${CLIENT}\nalert-on: [secret-read]`);
    expect(ruleset.firstSeen.map((r) => r.name)).toEqual(['new-client']);
    const [fs] = ruleset.firstSeen;
    expect(fs!.rules.map((r) => r.name)).toEqual(['sa-request']);
    expect(fs!.alertOn.map((r) => r.name)).toEqual(['secret-read']);
    expect(fs!.timespanMs).toBe(30 * DAY);
    expect([fs!.learningMs, fs!.keyLearningMs]).toEqual([3 * DAY, 3 * DAY]);
    const byName = new Map(ruleset.rules.map((r) => [r.name, r]));
    expect(byName.get('sa-request')!.generates).toBe(false);
    expect(byName.get('secret-read')!.generates).toBe(true);
  });

  it.each([
    [`${CLIENT}\nfields: [verb]`, 'first_seen.field: give either field or fields'],
    [CLIENT.replace('userAgent|family', 'userAgent|asn'), 'unknown derivation'],
    [CLIENT.replace('30d', '30 days'), 'first_seen.timespan: a duration'],
    [`${CLIENT}\nwindow: 5m`, 'Unrecognized key'],
    [CLIENT.replace('30d', '10s'), 'timespan must be at least 1m'],
    [CLIENT.replace('[sa-request]', '[no-such-rule]'), 'unknown detection rule(s): no-such-rule'],
    [`${CLIENT}\nalert-on: [new-client]`, 'unknown detection rule(s): new-client'],
  ])('refuses %j with the reason and its line', (section, reason) => {
    const { ruleset, errors } = rulesFrom(SA_REQUEST_RULE, secretRead, firstSeen(section));
    expect(ruleset.firstSeen).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toContain(reason);
    expect(errors[0]!.where).toMatch(/rule2\.yml:[0-9]+$/);
  });

  it('keeps names unique with the other kinds', () => {
    const { errors } = rulesFrom(
      SA_REQUEST_RULE,
      firstSeen(CLIENT).replace('name: new-client', 'name: sa-request'),
    );
    expect(errors.map((e) => e.reason)).toEqual([
      expect.stringContaining('duplicate rule name "sa-request"'),
    ]);
  });
});

describe('first-seen state', () => {
  it('learns for the rule learning period, then for each new key its own, then alerts on a new value', () => {
    const [rule] = load().firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    expect(st.observe(signal(rule!, sa('cart'), 'cart (linux/amd64)', 0))).toEqual([]);
    // The rule has watched the cluster for a day only.
    expect(st.observe(signal(rule!, sa('cart'), 'curl', DAY))).toEqual([]);
    expect(st.observe(signal(rule!, sa('web'), 'web (linux/amd64)', 4 * DAY))).toEqual([]);
    // web is known for a day only; cart for five.
    expect(st.observe(signal(rule!, sa('web'), 'python-requests', 5 * DAY))).toEqual([]);
    const alerts = st.observe(signal(rule!, sa('cart'), 'kubectl (darwin/arm64)', 5 * DAY));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.rule.name).toBe('new-client');
    expect(alerts[0]!.klaxon.correlation).toEqual({
      type: 'first_seen',
      group: { 'user.username': sa('cart') },
    });
    expect(alerts[0]!.message).toContain('"kubectl (darwin/arm64)"');
    expect(alerts[0]!.message).toContain('known: "curl", "cart (linux/amd64)"');
    // Known now; and a known value never alerts.
    expect(st.observe(signal(rule!, sa('cart'), 'kubectl (darwin/arm64)', 5 * DAY + HOUR))).toEqual([]);
    expect(st.observe(signal(rule!, sa('cart'), 'curl', 6 * DAY))).toEqual([]);
    expect(st.observe(signal(rule!, sa('web'), 'kubectl (linux/amd64)', 8 * DAY))).toHaveLength(1);
  });

  it('does not alert on a signal that may only teach (alert-on not matched)', () => {
    const [rule] = load().firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    st.observe(signal(rule!, sa('cart'), 'cart', 0));
    expect(st.observe(signal(rule!, sa('cart'), 'curl', 5 * DAY, { learn_only: true }))).toEqual([]);
    expect(st.observe(signal(rule!, sa('cart'), 'curl', 5 * DAY + 1))).toEqual([]);
  });

  it('forgets a value after its timespan, and a key after its last value (counted)', async () => {
    const [rule] = load().firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    const expired = await metric('klaxon_first_seen_evicted_total', { reason: 'expired' });
    st.observe(signal(rule!, sa('cart'), 'cart', 0));
    st.observe(signal(rule!, sa('cart'), 'helm', DAY));
    st.observe(signal(rule!, sa('old'), 'old', DAY));
    st.observe(signal(rule!, sa('cart'), 'cart', 25 * DAY));
    expect(st.size).toBe(2);
    // helm last seen 31 days ago: new again. old's only value too, so old is gone.
    expect(st.observe(signal(rule!, sa('cart'), 'helm', 32 * DAY))).toHaveLength(1);
    expect(st.size).toBe(1);
    expect(await metric('klaxon_first_seen_evicted_total', { reason: 'expired' })).toBe(expired + 1);
    // Within the timespan: still known.
    expect(st.observe(signal(rule!, sa('cart'), 'cart', 54 * DAY))).toEqual([]);
    // A key seen again after its timespan is a new key, learning again.
    expect(st.observe(signal(rule!, sa('old'), 'curl', 40 * DAY))).toEqual([]);
  });

  it('caps keys (least recently seen evicted) and values (the key saturates: it learns, never alerts)', async () => {
    const [rule] = load(`${CLIENT}\nmax-keys: 2\nmax-values: 3`).firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    const capped = await metric('klaxon_first_seen_evicted_total', { reason: 'cap' });
    const valueCapped = await metric('klaxon_first_seen_evicted_total', { reason: 'value-cap' });
    st.observe(signal(rule!, sa('a'), 'a', 0));
    st.observe(signal(rule!, sa('b'), 'b', 1));
    st.observe(signal(rule!, sa('a'), 'a', 2));
    st.observe(signal(rule!, sa('c'), 'c', 3));
    expect(st.size).toBe(2);
    expect(await metric('klaxon_first_seen_evicted_total', { reason: 'cap' })).toBe(capped + 1);
    // b was evicted: seen again it is a new key (learning), a is still known.
    expect(st.observe(signal(rule!, sa('b'), 'x', 5 * DAY))).toEqual([]);
    expect(st.observe(signal(rule!, sa('b'), 'y', 5 * DAY + 1))).toEqual([]);
    expect(st.observe(signal(rule!, sa('b'), 'z', 9 * DAY))).toHaveLength(1);
    expect(st.observe(signal(rule!, sa('b'), 'w', 9 * DAY + 1))).toHaveLength(1);
    expect(await metric('klaxon_first_seen_evicted_total', { reason: 'value-cap' })).toBe(valueCapped + 1);
    expect(st.observe(signal(rule!, sa('b'), 'v', 9 * DAY + 2))).toEqual([]);
    expect(st.observe(signal(rule!, sa('b'), 'x', 9 * DAY + 3))).toEqual([]);
  });

  it('hands its changes to the store and takes them back after a restart', () => {
    const [rule] = load().firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    st.observe(signal(rule!, sa('cart'), 'cart', 0));
    st.observe(signal(rule!, sa('cart'), 'helm', DAY));
    const saved = st.changes();
    expect(saved).toEqual([
      {
        key: JSON.stringify([rule!.id, 'prod', sa('cart')]),
        record: {
          rule: rule!.id,
          cluster: 'prod',
          group: { 'user.username': sa('cart') },
          first: BASE,
          since: BASE,
          values: [
            ['cart', BASE],
            ['helm', BASE + DAY],
          ],
        },
      },
    ]);
    expect(st.changes()).toEqual([]);
    // Seen again an hour later: not worth a write (last-seen times are kept to a fraction of the timespan).
    st.observe(signal(rule!, sa('cart'), 'cart', DAY + HOUR));
    expect(st.changes()).toEqual([]);

    const restarted = new FirstSeenState([rule!], { cluster: 'prod', now });
    restarted.restore(saved);
    expect(restarted.size).toBe(1);
    expect(restarted.changes()).toEqual([]);
    expect(restarted.observe(signal(rule!, sa('cart'), 'helm', 5 * DAY))).toEqual([]);
    expect(restarted.observe(signal(rule!, sa('cart'), 'curl', 5 * DAY))).toHaveLength(1);
  });

  it('writes a tombstone for a key it forgot', () => {
    const [rule] = load().firstSeen;
    const st = new FirstSeenState([rule!], { cluster: 'prod', now });
    st.observe(signal(rule!, sa('old'), 'old', 0));
    st.observe(signal(rule!, sa('cart'), 'cart', 0));
    st.changes();
    st.observe(signal(rule!, sa('cart'), 'cart', 31 * DAY));
    expect(st.changes()).toEqual([
      { key: JSON.stringify([rule!.id, 'prod', sa('old')]), record: null },
      expect.objectContaining({ key: JSON.stringify([rule!.id, 'prod', sa('cart')]) }),
    ]);
  });

  it('warms from history without alerting; the warmed state alerts at once on what history never saw', () => {
    const [rule] = load().firstSeen;
    const warm = new FirstSeenState([rule!], { cluster: 'prod', now, learnOnly: true });
    for (let d = 0; d < 10; d++) {
      expect(warm.observe(signal(rule!, sa('cart'), 'cart', d * DAY))).toEqual([]);
      expect(warm.observe(signal(rule!, sa('cart'), d === 9 ? 'curl' : 'cart', d * DAY + 1))).toEqual([]);
    }
    const live = new FirstSeenState([rule!], { cluster: 'prod', now });
    live.restore(warm.snapshot());
    expect(live.observe(signal(rule!, sa('cart'), 'curl', 10 * DAY))).toEqual([]);
    expect(live.observe(signal(rule!, sa('cart'), 'kubectl (darwin/arm64)', 10 * DAY))).toHaveLength(1);
  });

  it('merges two records of a key: every value at its latest, the earliest first sighting', () => {
    const a = {
      rule: 'r',
      cluster: 'prod',
      group: {},
      first: 5,
      since: 5,
      values: [['x', 10] as [string, number]],
    };
    const b = {
      ...a,
      first: 1,
      since: 2,
      values: [['y', 3] as [string, number], ['x', 7] as [string, number]],
    };
    expect(mergeRecords(a, b)).toEqual({
      ...a,
      first: 1,
      since: 2,
      values: [
        ['y', 3],
        ['x', 10],
      ],
    });
  });
});

describe('first-seen through the detector', () => {
  const saEvent = (name: string, ua: string, atSeconds: number, raw: Record<string, unknown> = {}) =>
    audit(
      {
        verb: 'get',
        user: { username: sa(name) },
        userAgent: ua,
        sourceIPs: ['10.0.12.87'],
        objectRef: { resource: 'configmaps', namespace: 'shop', name: 'x' },
        ...raw,
      },
      atSeconds,
    );

  it('sends a key its value at most once an hour (of event time)', () => {
    const ruleset = load();
    const detector = new Detector(ruleset);
    const signalsAt = (s: number) =>
      detector.evaluate(saEvent('cart', 'cart/v1 (linux/amd64)', s)).flatMap((m) => detector.signalsFor(m));
    expect(signalsAt(0)).toHaveLength(1);
    for (let s = 1; s < 3600; s += 60) expect(signalsAt(s)).toEqual([]);
    expect(signalsAt(3600)).toHaveLength(1);
    expect(
      detector.evaluate(saEvent('cart', 'curl/8.5.0', 3601)).flatMap((m) => detector.signalsFor(m)),
    ).toEqual([expect.objectContaining({ value: 'curl', group: { 'user.username': sa('cart') } })]);
  });

  it('remembers what it sent within its bound: a key that churned out is sent again, a recent one is not', () => {
    const detector = new Detector(load(), { maxKeys: 8 });
    const signals = (name: string, s: number) =>
      detector.evaluate(saEvent(name, 'cart/v1 (linux/amd64)', s)).flatMap((m) => detector.signalsFor(m));
    expect(signals('first', 0)).toHaveLength(1);
    for (let i = 0; i < 20; i++) expect(signals(`sa-${i}`, 1)).toHaveLength(1);
    expect(signals('sa-19', 2)).toEqual([]);
    expect(signals('first', 2)).toHaveLength(1);
  });

  it('alerts through process() on the first use of a new client after the learning period', () => {
    const ruleset = load();
    const detector = new Detector(ruleset);
    const all = [
      ...detector.process(saEvent('cart', 'cart/v2.4.1 (linux/amd64) kubernetes/$Format', 0)),
      ...detector.process(saEvent('cart', 'cart/v2.4.2 (linux/amd64) kubernetes/$Format', 4 * 86_400)),
      ...detector.process(saEvent('cart', 'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350', 5 * 86_400)),
      ...detector.process(
        saEvent('cart', 'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350', 5 * 86_400 + 1),
      ),
    ];
    expect(all.map((a) => a.rule.name)).toEqual(['new-client']);
    expect(all[0]!.message).toContain('first userAgent|family "kubectl (darwin/arm64)" in 30d');
    expect(detector.firstSeenKeys).toBe(1);
  });

  it('learns from every match but alerts only on alert-on events', () => {
    const ruleset = load(`${CLIENT}\nalert-on: [secret-read]`);
    const detector = new Detector(ruleset);
    const out = [
      ...detector.process(saEvent('cart', 'cart/v1 (linux/amd64)', 0)),
      ...detector.process(saEvent('cart', 'k9s/v0.32.4 (darwin/arm64)', 4 * 86_400)),
      ...detector.process(
        saEvent('cart', 'k9s/v0.32.4 (darwin/arm64)', 4 * 86_400 + 1, {
          objectRef: { resource: 'secrets', namespace: 'shop', name: 'db' },
        }),
      ),
      ...detector.process(
        saEvent('cart', 'curl/8.5.0', 4 * 86_400 + 2, {
          objectRef: { resource: 'secrets', namespace: 'shop', name: 'db' },
        }),
      ),
    ];
    const mine = out.filter((a) => a.rule.name === 'new-client');
    expect(mine.map((a) => a.message.match(/"[^"]+"/)?.[0])).toEqual(['"curl"']);
  });

  it('gives rules that read alike, from different base rules, the values of their own event', () => {
    const anyRequest = `title: Any request
name: any-request
id: 0e000000-0000-4000-8000-000000000003
logsource: {product: kubernetes, service: audit}
detection:
  sel: {user.username|exists: true}
  condition: sel
level: informational
`;
    const other = `title: New client of anyone
name: new-client-anyone
id: 0e000000-0000-4000-8000-000000000011
level: medium
first_seen:
  rules: [any-request]
  group-by: [user.username]
  field: userAgent|family
  timespan: 30d
`;
    const detector = new Detector(load(CLIENT, anyRequest, other));
    const signals = (event: ReturnType<typeof saEvent>) =>
      detector
        .evaluate(event)
        .flatMap((m) => detector.signalsFor(m))
        .map((s) => [s.correlation, s.value])
        .sort();
    const ids = ['0e000000-0000-4000-8000-000000000010', '0e000000-0000-4000-8000-000000000011'];
    expect(signals(saEvent('cart', 'cart/v1 (linux/amd64)', 0))).toEqual(
      ids.map((id) => [id, 'cart (linux/amd64)']),
    );
    expect(signals(saEvent('cart', 'curl/8.5.0', 1))).toEqual(ids.map((id) => [id, 'curl']));
    // Two events evaluated before either's signals are asked for: each gets its own values.
    const [first, second] = [saEvent('web', 'web/v1 (linux/amd64)', 3), saEvent('web', 'wget/1.21', 4)];
    const [m1, m2] = [detector.evaluate(first), detector.evaluate(second)];
    expect(m2.flatMap((m) => detector.signalsFor(m)).map((s) => s.value)).toEqual(['wget', 'wget']);
    expect(m1.flatMap((m) => detector.signalsFor(m)).map((s) => s.value)).toEqual([
      'web (linux/amd64)',
      'web (linux/amd64)',
    ]);
    // The same object changed and evaluated again is read again.
    const reused = saEvent('cart', 'k9s/v0.32.4 (darwin/arm64)', 2);
    expect(signals(reused)).toEqual(ids.map((id) => [id, 'k9s (darwin/arm64)']));
    (reused.kubernetes!.audit as { userAgent: string }).userAgent = 'python-requests/2.31.0';
    expect(signals(reused)).toEqual(ids.map((id) => [id, 'python-requests']));
  });

  it('keeps each cluster its own keys', () => {
    const ruleset = load();
    const detector = new Detector(ruleset);
    const ev = (cluster: string, ua: string, at: number) =>
      audit(
        { verb: 'get', user: { username: sa('cart') }, userAgent: ua, objectRef: { resource: 'pods' } },
        at,
        cluster,
      );
    detector.process(ev('prod', 'cart/v1 (linux/amd64)', 0));
    detector.process(ev('staging', 'curl/8.5.0', 0));
    expect(
      detector.process(ev('prod', 'curl/8.5.0', 5 * 86_400)).map((a) => a.orchestrator?.cluster?.name),
    ).toEqual(['prod']);
    expect(detector.firstSeenKeys).toBe(2);
  });
});
