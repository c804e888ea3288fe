import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { atLeast, levelsByRule, replay } from '../catalogue/replay.ts';
import { audit, forbidden, type Json, serviceAccount, T0, unauthorized, user, writeJsonl } from './k8s.ts';

async function run(events: Json[]) {
  const { code, alerts } = await replay([writeJsonl('trace.jsonl', events)]);
  expect(code).toBe(0);
  return alerts;
}
const of = (alerts: Alert[], rule: string) => alerts.filter((a) => a.rule.name === rule);

const AGENTS = ['', 'curl/8.5.0', 'python-requests/2.31.0', 'Go-http-client/1.1'];

/** Scenario b: bursts of refused requests. */
describe('bursts', { timeout: 30_000 }, () => {
  it('30 failed logins (401 at ResponseStarted, empty user) from one address in 2 minutes: one high alert counting all 30', async () => {
    const events = Array.from({ length: 30 }, (_, i) =>
      unauthorized(
        T0 + i * 4000,
        '203.0.113.7',
        AGENTS[i % 4]!,
        i % 3 ? '/apis/apps/v1/deployments' : '/api/v1/namespaces/default/pods?limit=500',
      ),
    );
    const bursts = of(await run(events), 'k8s-auth-failure-burst');
    expect(bursts).toHaveLength(1);
    expect(bursts[0]!.klaxon.severity).toBe('high');
    expect(bursts[0]!.klaxon.count).toBe(30);
    expect(bursts[0]!.source?.ip).toBe('203.0.113.7');
  });

  it('nine failed logins in 5 minutes, or health probes refused, stay below the burst', async () => {
    const nine = Array.from({ length: 9 }, (_, i) =>
      unauthorized(T0 + i * 30_000, '203.0.113.7', 'curl/8.5.0', '/api'),
    );
    const probes = Array.from({ length: 20 }, (_, i) =>
      unauthorized(T0 + i * 5000, '10.0.0.245', 'kube-probe/1.30', '/livez'),
    );
    expect(of(await run([...nine, ...probes]), 'k8s-auth-failure-burst')).toHaveLength(0);
  });

  it('12 authorization refusals across 6 resources by one service account: burst, enumeration, forbidden service account', async () => {
    const sa = serviceAccount(
      'payments',
      'payments-api',
      '10.0.7.12',
      'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
      'payments-api-6c8f-xk2',
    );
    const resources = ['secrets', 'configmaps', 'pods', 'deployments', 'roles', 'nodes'];
    const events = Array.from({ length: 12 }, (_, i) => {
      const resource = resources[i % 6]!;
      return forbidden({
        at: T0 + i * 15_000,
        actor: sa,
        verb: i < 6 ? 'list' : 'get',
        ref:
          resource === 'nodes'
            ? { resource }
            : { resource, namespace: i % 2 ? 'payments' : 'kube-system', name: i < 6 ? undefined : 'x' },
      });
    });
    const alerts = await run(events);
    const levels = levelsByRule(alerts);
    expect(atLeast(levels.get('k8s-auth-failure-burst')!, 'high')).toBe(true);
    expect(atLeast(levels.get('k8s-permission-enumeration')!, 'medium')).toBe(true);
    expect(atLeast(levels.get('k8s-forbidden-service-account')!, 'medium')).toBe(true);
    // One page for the service account, with the count, rather than one per object it was refused.
    const forbiddenSa = of(alerts, 'k8s-forbidden-service-account');
    expect(forbiddenSa).toHaveLength(1);
    expect(forbiddenSa[0]!.klaxon.count).toBe(12);
  });
});

/** Scenario c: secret harvesting with a stolen token. */
describe('secret harvesting', { timeout: 30_000 }, () => {
  const stolen = serviceAccount('payments', 'payments-api', '203.0.113.99', 'curl/8.5.0');
  const SECRETS = [
    ['payments', 'db'],
    ['payments', 'stripe'],
    ['payments', 'smtp'],
    ['shop', 'cart-db'],
    ['shop', 'jwt'],
    ['shop', 'oauth'],
    ['ops', 'grafana-admin'],
    ['ops', 'pagerduty'],
  ] as const;

  it('curl reads 8 secrets in 3 namespaces within 5 minutes: enumeration and unusual agent, high, one page each', async () => {
    const events = SECRETS.map(([ns, name], i) =>
      audit({
        at: T0 + i * 35_000,
        actor: stolen,
        verb: 'get',
        ref: { resource: 'secrets', namespace: ns, name },
      }),
    );
    const alerts = await run(events);
    const enumeration = of(alerts, 'k8s-secret-enumeration');
    expect(enumeration).toHaveLength(1);
    expect(enumeration[0]!.klaxon.severity).toBe('high');
    expect(enumeration[0]!.klaxon.count).toBe(8);
    const agent = of(alerts, 'k8s-secret-read-by-unusual-agent');
    expect(agent).toHaveLength(1);
    expect(agent[0]!.klaxon.severity).toBe('high');
    expect(agent[0]!.klaxon.count).toBe(8);
  });

  it('the same secret name read in five namespaces is five secrets', async () => {
    const eve = user('eve@example.com', '198.51.100.66');
    const events = ['payments', 'shop', 'ops', 'data', 'search'].map((ns, i) =>
      audit({
        at: T0 + i * 35_000,
        actor: eve,
        verb: 'get',
        ref: { resource: 'secrets', namespace: ns, name: 'registry-credentials' },
      }),
    );
    expect(of(await run(events), 'k8s-secret-enumeration')).toHaveLength(1);
  });

  it('secrets listed across all namespaces, by curl and by kubectl', async () => {
    const kubectl = { ...stolen, userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350' };
    const alerts = await run([
      audit({ at: T0, actor: stolen, verb: 'list', ref: { resource: 'secrets' }, query: 'limit=500' }),
      audit({
        at: T0 + 60_000,
        actor: kubectl,
        verb: 'list',
        ref: { resource: 'secrets' },
        query: 'limit=500',
      }),
    ]);
    const levels = levelsByRule(alerts);
    expect(levels.get('k8s-secret-list-cluster-wide')).toBe('high');
    expect(levels.get('k8s-secret-read-by-unusual-agent')).toBe('high');
  });

  it('a developer reading four of their own secrets, and the same secret again and again, is no enumeration', async () => {
    const alice = user('alice@example.com');
    const events = [
      ...['a', 'b', 'c', 'd'].map((n, i) =>
        audit({
          at: T0 + i * 1000,
          actor: alice,
          verb: 'get',
          ref: { resource: 'secrets', namespace: 'shop', name: n },
        }),
      ),
      ...Array.from({ length: 6 }, (_, i) =>
        audit({
          at: T0 + i * 1000,
          actor: alice,
          verb: 'get',
          ref: { resource: 'secrets', namespace: 'shop', name: 'a' },
        }),
      ),
    ];
    expect(of(await run(events), 'k8s-secret-enumeration')).toHaveLength(0);
  });
});
