import { describe, expect, it } from 'vitest';
import { catalogue, detect, fromCloud, selfManaged, summary } from './detect.ts';
import { fixtureJson, fixtureLines } from './fixtures.ts';

/**
 * The same actions (a privileged pod, an exec, an RBAC refusal of a service account, a cluster-admin binding,
 * a secret read with curl, a burst of 401s) as a self-managed API server logs them and as EKS, GKE and AKS
 * deliver them: the catalogue must raise the same alerts at the same severities, under each cloud's cluster name.
 */
describe('the catalogue on managed-cluster deliveries fires as on a self-managed cluster', () => {
  const ruleset = catalogue();
  const reference = detect(ruleset, selfManaged('cloud-parity/self-managed.audit.jsonl', 'onprem'));

  it('the self-managed reference raises the alerts the actions call for', () => {
    expect(summary(reference)).toEqual(
      expect.arrayContaining([
        'k8s-privileged-container: high × 1',
        'k8s-exec-into-pod: medium × 1',
        'k8s-forbidden-service-account: medium × 1',
        'k8s-cluster-admin-binding: high × 1',
        'k8s-secret-read-by-unusual-agent: high × 1',
      ]),
    );
    expect(summary(reference).some((s) => s.startsWith('k8s-auth-failure-burst: high'))).toBe(true);
  });

  it.each([
    [
      'EKS, CloudWatch Logs subscription payload',
      () => [fixtureJson('eks/subscription-audit.json')],
      'prod-eu',
    ],
    ['EKS, Firehose HTTP endpoint request', () => [fixtureJson('eks/firehose-request.json')], 'prod-eu'],
    [
      'GKE, gcloud logging read --format=json',
      () => fixtureJson('gke/gcloud-logging-read.json') as unknown[],
      'prod-gke',
    ],
    ['AKS, Event Hubs diagnostic-logs message', () => [fixtureJson('aks/eventhub-message.json')], 'prod-weu'],
  ])('%s', (_title, records, cluster) => {
    const { events } = fromCloud(records());
    const alerts = detect(ruleset, events);
    expect(summary(alerts)).toEqual(summary(reference));
    expect(new Set(alerts.map((a) => a.orchestrator?.cluster?.name))).toEqual(new Set([cluster]));
  });

  it('each cloud own control plane and add-ons, delivered the same ways, raise nothing', () => {
    const deliveries = [
      fixtureJson('eks/subscription-control-plane.json'),
      ...fixtureLines('gke/control-plane.jsonl'),
      ...fixtureLines('aks/PT1H.json'),
    ];
    const { events, rejected } = fromCloud(deliveries);
    expect(rejected).toEqual([]);
    expect(events.length).toBe(20);
    expect(summary(detect(ruleset, events))).toEqual([]);
  });
});
