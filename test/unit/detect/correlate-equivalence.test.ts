import { describe, expect, it } from 'vitest';
import { Correlator, type CorrelatorOptions } from '../../../src/detect/correlate.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { AlertContext, Signal } from '../../../src/schema/signal.ts';
import { BASE, rulesFrom } from './helpers.ts';
import { ReferenceCorrelator } from './reference-correlator.ts';

/**
 * The correlation engine tallies windows incrementally and settles groups from a queue; the reference
 * (reference-correlator.ts) is the engine before that, which rescanned. Both are fed the same signals
 * (busy random streams, out-of-order and late ones, single-identity floods, a tight cap on groups) and must
 * give the same alerts at every step.
 */

const base = (name: string, n: number) => `title: ${name}
name: ${name}
id: aaaaaaaa-0000-4000-8000-00000000000${n}
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    verb: get
  condition: sel
level: low
`;

const correlation = (name: string, n: number, body: string) => `title: ${name}
name: ${name}
id: bbbbbbbb-0000-4000-8000-00000000000${n}
correlation:
${body
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
level: high
`;

const RULES = [
  base('r-a', 1),
  base('r-b', 2),
  base('r-c', 3),
  correlation(
    'burst',
    1,
    `type: event_count
rules: [r-a]
group-by: [user.username]
timespan: 1m
condition: {gte: 5}`,
  ),
  correlation(
    'quiet',
    2,
    `type: event_count
rules: [r-b]
group-by: [user.username]
timespan: 30s
condition: {lt: 3}`,
  ),
  correlation(
    'distinct',
    3,
    `type: value_count
rules: [r-a, r-b]
group-by: [user.username]
timespan: 2m
condition: {field: objectRef.name, gte: 4}`,
  ),
  correlation(
    'together',
    4,
    `type: temporal
rules: [r-a, r-b, r-c]
group-by: [user.username]
timespan: 1m`,
  ),
  correlation(
    'in-order',
    5,
    `type: temporal_ordered
rules: [r-a, r-b, r-c]
group-by: [user.username]
timespan: 1m`,
  ),
  correlation(
    'inner-burst',
    6,
    `type: event_count
rules: [r-c]
group-by: [user.username]
timespan: 30s
condition: {gte: 3}`,
  ),
  correlation(
    'burst-then-a',
    7,
    `type: temporal_ordered
rules: [inner-burst, r-a]
group-by: [user.username]
timespan: 5m`,
  ),
  correlation(
    'exactly-two',
    8,
    `type: value_count
rules: [r-c]
group-by: [user.username]
timespan: 20s
condition: {field: objectRef.name, eq: 2}`,
  ),
];

const { ruleset, errors } = rulesFrom(...RULES);
const ruleId = (name: string) => ruleset.rules.find((r) => r.name === name)!.id;

/** Mulberry32: a seeded, reproducible stream of numbers in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let serial = 0;

/** The signals one match of base rule `rule` by `user` at `time` sends (as signalsFor builds them). */
function signalsOf(rule: string, user: string, time: number, name: string, falco = false): Signal[] {
  const id = ruleId(rule);
  const event_id = `ev-${++serial}`;
  const context: AlertContext = {
    '@timestamp': new Date(time).toISOString(),
    dataset: falco ? 'falco' : 'kubernetes.audit',
    orchestrator: { cluster: { name: 'prod' } },
    ...(falco ? { falco: { rule: 'Terminal shell in container' } } : { user: { name: user } }),
  };
  return ruleset.correlations
    .filter((c) => c.rules.some((r) => r.id === id))
    .map((c) => {
      const s: Signal = {
        correlation: c.id,
        rule: id,
        key: JSON.stringify([c.id, 'prod', user]),
        group: { 'user.username': user },
        time,
        event_id,
        context,
      };
      if (c.strategy.needsValue) s.value = name;
      return s;
    });
}

type Step = { signal: Signal } | { advance: number };

/** Alerts of one step, in an order that does not depend on the order windows were settled in. */
function canonical(alerts: Alert[]): string[] {
  return alerts.map((a) => JSON.stringify(a)).sort();
}

function compare(steps: Step[], opts: Partial<CorrelatorOptions> = {}): { alerts: number } {
  const options: CorrelatorOptions = {
    latenessMs: 30_000,
    maxKeys: 100_000,
    now: () => new Date(BASE),
    ...opts,
  };
  const engine = new Correlator(ruleset.correlations, options);
  const reference = new ReferenceCorrelator(ruleset.correlations, options);
  let alerts = 0;
  steps.forEach((step, i) => {
    const [got, want] =
      'signal' in step
        ? [engine.correlate(step.signal), reference.correlate(step.signal)]
        : [engine.advance(step.advance), reference.advance(step.advance)];
    if (canonical(got).join('\n') !== canonical(want).join('\n'))
      expect({ step: i, alerts: canonical(got) }).toEqual({ step: i, alerts: canonical(want) });
    alerts += got.length;
    expect(engine.size).toBe(reference.size);
  });
  expect(canonical(engine.flush())).toEqual(canonical(reference.flush()));
  return { alerts };
}

const RULE_NAMES = ['r-a', 'r-b', 'r-c'];

/** A busy stream: several users, mostly in event-time order, some out of order, some too late. */
function randomStream(seed: number, n: number, users: number): Step[] {
  const rand = prng(seed);
  const steps: Step[] = [];
  let now = BASE;
  // Odd seeds: any millisecond; even seeds: whole seconds, so entries often sit exactly one timespan apart.
  const unit = seed % 2 === 1 ? 1 : 1000;
  for (let i = 0; i < n; i++) {
    now += unit * Math.floor((rand() * 3000) / unit);
    const r = rand();
    // 80 % in order (some at the same millisecond), 15 % a little back, 5 % far back (late).
    const back = unit * Math.floor((rand() * 20_000) / unit);
    const time = r < 0.8 ? now : r < 0.95 ? now - back : now - 200_000;
    const rule = RULE_NAMES[Math.floor(rand() * 3)]!;
    const user = `u${Math.floor(rand() * users)}`;
    const name = `obj-${Math.floor(rand() * 6)}`;
    for (const signal of signalsOf(rule, user, time, name, rule === 'r-c' && rand() < 0.3))
      steps.push({ signal });
    if (rand() < 0.05) steps.push({ advance: now });
  }
  return steps;
}

/**
 * Keys churning through a cap: a few busy users (whose groups stay live only while they are used more recently
 * than the others) among a stream of users seen once or twice, a few hundred milliseconds apart.
 */
function churnStream(seed: number, n: number): Step[] {
  const rand = prng(seed);
  const steps: Step[] = [];
  let now = BASE;
  for (let i = 0; i < n; i++) {
    now += Math.floor(rand() * 400);
    const time = rand() < 0.9 ? now : now - Math.floor(rand() * 10_000);
    const rule = RULE_NAMES[Math.floor(rand() * 3)]!;
    const user = rand() < 0.6 ? `busy${Math.floor(rand() * 2)}` : `once${Math.floor(rand() * 2000)}`;
    for (const signal of signalsOf(rule, user, time, `obj-${Math.floor(rand() * 6)}`)) steps.push({ signal });
    if (rand() < 0.05) steps.push({ advance: now });
  }
  return steps;
}

describe('the correlation engine gives the reference engine’s alerts', () => {
  it('loads the test rules', () => {
    expect(errors).toEqual([]);
    expect(ruleset.correlations).toHaveLength(8);
  });

  it.each([1, 2, 3, 4, 5, 6])('on a busy random stream (seed %i)', (seed) => {
    const { alerts } = compare(randomStream(seed, 3000, 4));
    expect(alerts).toBeGreaterThan(20);
  });

  it('with many users and a tight cap on live groups', () => {
    const { alerts } = compare(randomStream(11, 3000, 40), { maxKeys: 25 });
    expect(alerts).toBeGreaterThan(0);
  });

  it.each([4, 5, 6, 8, 40])('with keys churning past a cap of %i live groups', (maxKeys) => {
    const { alerts } = compare(churnStream(20 + maxKeys, 6000), { maxKeys });
    expect(alerts).toBeGreaterThan(0);
  });

  it('on one identity flooding every rule, in order and at the same milliseconds', () => {
    const rand = prng(7);
    const steps: Step[] = [];
    for (let i = 0; i < 6000; i++) {
      const time = BASE + Math.floor(i / 3) * 10;
      // The same object name: value_count never reaches its threshold and keeps every entry.
      const rule = rand() < 0.9 ? 'r-a' : RULE_NAMES[Math.floor(rand() * 3)]!;
      for (const signal of signalsOf(rule, 'flood', time, rand() < 0.999 ? 'same' : `x-${i}`))
        steps.push({ signal });
    }
    const { alerts } = compare(steps);
    expect(alerts).toBeGreaterThan(3);
  });

  it('on one identity flooding the first rule of an ordered sequence, then completing it', () => {
    const steps: Step[] = [];
    // The reference tries every window starting at an entry of the first rule, O(n²) a signal: keep n small.
    for (let i = 0; i < 500; i++)
      for (const signal of signalsOf('r-a', 'flood', BASE + i * 100, 'same')) steps.push({ signal });
    for (const [k, rule] of ['r-b', 'r-c'].entries())
      for (const signal of signalsOf(rule, 'flood', BASE + 500 * 100 + k, 'same')) steps.push({ signal });
    const { alerts } = compare(steps);
    expect(alerts).toBeGreaterThan(0);
  });

  it('on one identity whose signals arrive out of order', () => {
    const rand = prng(3);
    const steps: Step[] = [];
    for (let i = 0; i < 2000; i++) {
      // Up to 70 s back: beyond some windows' start (a condition judged at once accepts a timespan more).
      const time = BASE + i * 100 - Math.floor(rand() * (rand() < 0.5 ? 5_000 : 70_000));
      const rule = RULE_NAMES[Math.floor(rand() * 3)]!;
      for (const signal of signalsOf(rule, 'skewed', time, `n-${Math.floor(rand() * 5)}`))
        steps.push({ signal });
    }
    const { alerts } = compare(steps);
    expect(alerts).toBeGreaterThan(0);
  });
});
