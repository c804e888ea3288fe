import { describe, expect, it } from 'vitest';
import { compileField, firstValue } from '../../../src/detect/fields.ts';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { DETECTIONS } from '../catalogue/replay.ts';
import {
  audit,
  falcoAlert,
  forbidden,
  type Json,
  sec,
  serviceAccount,
  T0,
  unauthorized,
  user,
} from './k8s.ts';

const { ruleset } = loadRules([DETECTIONS]);

/** Alerts (rule@cluster) for events from several clusters through one detector, as `klaxon serve` runs them. */
function detect(items: [cluster: string, raw: Json][]): string[] {
  const d = new Detector(ruleset);
  const out: string[] = [];
  const note = (a: { rule: { name: string }; orchestrator?: { cluster?: { name?: string } } }) =>
    out.push(`${a.rule.name}@${a.orchestrator?.cluster?.name}`);
  for (const [cluster, raw] of items) {
    const r = normalizeAny(raw, { cluster });
    if (!r.ok) throw new Error(r.reason);
    d.process(r.event).forEach(note);
  }
  d.flush().forEach(note);
  return out;
}

const alice = user('alice@example.com');
const exec = audit({
  at: T0,
  actor: alice,
  verb: 'create',
  ref: { resource: 'pods', namespace: 'data', name: 'postgres-0', subresource: 'exec' },
  query: 'command=sh&stdin=true&tty=true',
  code: 101,
  stage: 'ResponseStarted',
});
const shell = falcoAlert(T0 + sec(30), 'Terminal shell in container', 'Notice', 'data', 'postgres-0');
const ci = serviceAccount('ci', 'deployer', '10.0.4.17', 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350');
const get = (name: string, at: number) =>
  audit({ at, actor: ci, verb: 'get', ref: { resource: 'secrets', namespace: 'ci', name } });
const failed = (at: number) => unauthorized(at, '10.0.0.5', 'curl/8.5.0', '/api');

/** Several clusters share one Klaxon: the same pod name, account or private address in two clusters is two things. */
describe('correlations stay within a cluster', () => {
  it('an exec in prod and a shell in a same-named pod of staging are no sequence; in one cluster they are', () => {
    expect(
      detect([
        ['prod', exec],
        ['staging', shell],
      ]).filter((a) => a.startsWith('k8s-exec-followed-by-shell')),
    ).toEqual([]);
    expect(
      detect([
        ['prod', exec],
        ['prod', shell],
      ]).filter((a) => a.startsWith('k8s-exec-followed-by-shell')),
    ).toEqual(['k8s-exec-followed-by-shell@prod']);
  });

  it('three secrets read in prod and two in staging by a same-named account are no enumeration', () => {
    const items: [string, Json][] = [
      ...['a', 'b', 'c'].map((n, i) => ['prod', get(n, T0 + i * 1000)] as [string, Json]),
      ...['d', 'e'].map((n, i) => ['staging', get(n, T0 + 5000 + i * 1000)] as [string, Json]),
    ];
    expect(detect(items).filter((a) => a.startsWith('k8s-secret-enumeration'))).toEqual([]);
  });

  it('five failed logins in each of two clusters from the same private address are no burst', () => {
    const items: [string, Json][] = [];
    for (let i = 0; i < 5; i++)
      items.push(['prod', failed(T0 + i * 1000)], ['staging', failed(T0 + 500 + i * 1000)]);
    expect(detect(items).filter((a) => a.startsWith('k8s-auth-failure-burst'))).toEqual([]);
    const one: [string, Json][] = Array.from(
      { length: 10 },
      (_, i) => ['prod', failed(T0 + i * 1000)] as [string, Json],
    );
    expect(detect(one).filter((a) => a.startsWith('k8s-auth-failure-burst'))).toEqual([
      'k8s-auth-failure-burst@prod',
    ]);
  });
});

describe('alerts folded by identity stay per cluster', () => {
  it('curl reading secrets in prod and in staging with a same-named account pages once per cluster', () => {
    const curl = serviceAccount('payments', 'payments-api', '203.0.113.99', 'curl/8.5.0');
    const read = (name: string, at: number) =>
      audit({ at, actor: curl, verb: 'get', ref: { resource: 'secrets', namespace: 'payments', name } });
    const alerts = detect([
      ['prod', read('a', T0)],
      ['staging', read('b', T0 + 1000)],
      ['prod', read('c', T0 + 2000)],
    ]).filter((a) => a.startsWith('k8s-secret-read-by-unusual-agent'));
    // One alert per cluster (each may be re-issued with its final count when its window closes).
    expect(new Set(alerts)).toEqual(
      new Set(['k8s-secret-read-by-unusual-agent@prod', 'k8s-secret-read-by-unusual-agent@staging']),
    );
  });
});

/**
 * Issue 22: with a token of a low-value cluster (`stage`), nothing a sender puts in its events may change what
 * Klaxon decides for another cluster (`prod`): not its suppression windows, not its correlation clocks, not its
 * state caps.
 */
describe('one cluster cannot blind another', () => {
  const worker = serviceAccount('pay', 'worker', '10.0.9.4', 'Go-http-client/2.0');
  const forbiddenList = (at: number, extra: Json = {}) => ({
    ...forbidden({ at, actor: worker, verb: 'list', ref: { resource: 'secrets', namespace: 'kube-system' } }),
    ...extra,
  });
  /** Klaxon-owned ECS keys, written into a payload to claim them. */
  const claims: Json = {
    orchestrator: { type: 'kubernetes', cluster: { name: 'prod' }, namespace: 'kube-system' },
    event: { dataset: 'falco', id: 'forged', kind: 'event' },
    klaxon: { redacted: [] },
    '@timestamp': '2099-01-01T00:00:00Z',
  };

  it('a stage event that names prod in its payload does not open prod suppression windows (audit and Falco)', () => {
    const stage = forbiddenList(T0, { ...claims, stageTimestamp: '2099-01-01T00:00:00.000000Z' });
    const prod = forbiddenList(T0 + sec(5));
    expect(
      detect([
        ['stage', stage],
        ['prod', prod],
      ]).filter((a) => a.startsWith('k8s-forbidden-service-account')),
    ).toEqual(['k8s-forbidden-service-account@stage', 'k8s-forbidden-service-account@prod']);

    const shellIn = (pod: string, at: number, extra: Json = {}) => ({
      ...falcoAlert(at, 'Terminal shell in container', 'Notice', 'data', pod),
      ...extra,
    });
    const falco = detect([
      ['stage', shellIn('postgres-0', T0, claims)],
      ['prod', shellIn('postgres-0', T0 + sec(1))],
    ]).filter((a) => a.startsWith('falco-runtime-alert'));
    expect(falco).toContain('falco-runtime-alert@prod');
  });

  it('field paths that name Klaxon-owned fields never read the payload', () => {
    const raw = forbiddenList(T0, claims);
    const r = normalizeAny(raw, { cluster: 'stage' });
    if (!r.ok) throw new Error(r.reason);
    for (const [name, expected] of [
      ['orchestrator.cluster.name', 'stage'],
      ['event.dataset', 'kubernetes.audit'],
      ['event.id', r.event.event.id],
      ['@timestamp', r.event['@timestamp']],
    ] as const) {
      for (const scope of ['kubernetes.audit', 'falco', 'ecs'] as const) {
        expect(firstValue(compileField(name, scope), r.event), `${name} in ${scope}`).toBe(expected);
      }
    }
    expect(firstValue(compileField('klaxon.redacted', 'kubernetes.audit'), r.event)).toBeUndefined();
  });

  const enumeration = (cluster: string, from: number): [string, Json][] =>
    ['a', 'b', 'c', 'd', 'e'].map((n, i) => [
      cluster,
      audit({
        at: from + i * 1000,
        actor: worker,
        verb: 'get',
        ref: { resource: 'secrets', namespace: 'pay', name: n },
      }),
    ]);
  const burst = (cluster: string, from: number): [string, Json][] =>
    Array.from({ length: 10 }, (_, i) => [cluster, failed(from + i * 1000)]);
  const correlated = (alerts: string[]) =>
    alerts.filter((a) => a.startsWith('k8s-secret-enumeration') || a.startsWith('k8s-auth-failure-burst'));

  it("an event of stage dated 2099 moves no clock of prod's: prod's enumeration and 401 burst still fire", () => {
    const future = Date.UTC(2099, 0, 1);
    const items: [string, Json][] = [
      ['stage', failed(future)],
      ['stage', get('x', future)],
      ...enumeration('prod', T0),
      ...burst('prod', T0 + sec(10)),
    ];
    expect(new Set(correlated(detect(items)))).toEqual(
      new Set(['k8s-secret-enumeration@prod', 'k8s-auth-failure-burst@prod']),
    );
  });

  it('ingest files an event dated far ahead of its receive time under the receive time, keeping its claim', () => {
    const receivedAt = new Date(T0).toISOString();
    const r = normalizeAny(forbiddenList(T0, { stageTimestamp: '2099-01-01T00:00:00.000000Z' }), {
      cluster: 'stage',
      receivedAt,
    });
    if (!r.ok) throw new Error(r.reason);
    expect(r.event['@timestamp']).toBe(receivedAt);
    expect(r.event.klaxon?.claimed_timestamp).toBe('2099-01-01T00:00:00.000000Z');
    const near = normalizeAny(forbiddenList(T0, { stageTimestamp: new Date(T0 + sec(30)).toISOString() }), {
      cluster: 'stage',
      receivedAt,
    });
    if (!near.ok) throw new Error(near.reason);
    expect(near.event['@timestamp']).toBe(new Date(T0 + sec(30)).toISOString());
    expect(near.event.klaxon?.claimed_timestamp).toBeUndefined();
  });

  it('a flood of stage correlation groups evicts none of prod', () => {
    const d = new Detector(ruleset, { maxKeys: 20 });
    const fired: string[] = [];
    const run = (cluster: string, raw: Json) => {
      const r = normalizeAny(raw, { cluster });
      if (!r.ok) throw new Error(r.reason);
      for (const a of d.process(r.event)) fired.push(`${a.rule.name}@${a.orchestrator?.cluster?.name}`);
    };
    const [first, ...rest] = burst('prod', T0);
    run(...first!);
    for (let i = 0; i < 200; i++)
      run('stage', unauthorized(T0 + 100 + i, `10.9.${i >> 8}.${i & 255}`, 'curl/8.5.0', '/api'));
    for (const item of rest) run(...item);
    expect(correlated(fired)).toEqual(['k8s-auth-failure-burst@prod']);
  });
});
