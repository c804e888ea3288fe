import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { atLeast, replay } from '../catalogue/replay.ts';
import { writeJsonl } from './k8s.ts';
import { quietHour } from './quiet-cluster.ts';

/** Scenario g: an hour of a normal busy cluster (quiet-cluster.ts) must give nothing above low. */
describe('a normal busy cluster for an hour', { timeout: 120_000 }, () => {
  const events = quietHour();

  it('is busy: thousands of events from the control plane, add-ons, GitOps, CI, developers and managed components', () => {
    expect(events.length).toBeGreaterThan(5000);
    const users = new Set(events.map((e) => String((e.user as { username?: string } | undefined)?.username)));
    for (const who of [
      'system:kube-controller-manager',
      'system:serviceaccount:kube-system:replicaset-controller',
      'system:serviceaccount:cert-manager:cert-manager',
      'system:serviceaccount:argocd:argocd-application-controller',
      'system:serviceaccount:flux-system:kustomize-controller',
      'system:serviceaccount:ci:gitlab-deployer',
      'system:serviceaccount:monitoring:prometheus',
      'system:anonymous',
      'eks:addon-manager',
      'system:addon-manager',
      'aksService',
      'alice@example.com',
    ])
      expect(users, who).toContain(who);
  });

  it('raises nothing above low through klaxon replay', async () => {
    const { code, alerts, stderr } = await replay([writeJsonl('quiet-hour.jsonl', events)]);
    expect(code).toBe(0);
    expect(stderr).toContain(`${events.length} event(s), 0 bad`);
    const loud = alerts.filter((a: Alert) => atLeast(a.klaxon.severity, 'medium'));
    expect(loud.map((a) => `${a.klaxon.severity} ${a.rule.name}: ${a.message}`)).toEqual([]);
  });

  it('is the same hour on every run', () => {
    expect(JSON.stringify(quietHour())).toBe(JSON.stringify(events));
  });
});
