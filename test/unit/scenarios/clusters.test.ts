import { describe, expect, it } from 'vitest';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { DETECTIONS } from '../catalogue/replay.ts';
import { audit, falcoAlert, type Json, sec, serviceAccount, T0, unauthorized, user } from './k8s.ts';

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
