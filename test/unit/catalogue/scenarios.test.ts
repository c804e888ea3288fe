import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Level } from '../../../src/schema/alert.ts';
import { atLeast, CATALOGUE_FIXTURES, levelsByRule, replay } from './replay.ts';

const fx = (f: string) => join(CATALOGUE_FIXTURES, f);

/** Realistic attack traces (test/fixtures/catalogue/README.md) and the rules each must raise, at least at that level. */
const SCENARIOS: [string, string[], Record<string, Level>][] = [
  [
    'a burst of 401s from one address, then an anonymous read',
    ['attack-auth-burst.jsonl'],
    { 'k8s-auth-failure-burst': 'high', 'k8s-anonymous-request-allowed': 'high' },
  ],
  [
    'a stolen service-account token enumerating permissions and harvesting secrets with curl',
    ['attack-secret-harvest.jsonl'],
    {
      'k8s-permission-enumeration': 'medium',
      'k8s-forbidden-service-account': 'medium',
      'k8s-secret-list-cluster-wide': 'high',
      'k8s-secret-read-by-unusual-agent': 'high',
      'k8s-secret-enumeration': 'high',
    },
  ],
  [
    'escalation: cluster-admin binding, a privileged host DaemonSet in kube-system, a CronJob template, tokens, webhooks',
    ['attack-escalation.jsonl'],
    {
      'k8s-cluster-admin-binding': 'high',
      'k8s-rbac-change-then-workload': 'high',
      'k8s-privileged-container': 'high',
      'k8s-host-namespace': 'high',
      'k8s-sensitive-hostpath': 'high',
      'k8s-pod-in-system-namespace': 'medium',
      'k8s-dangerous-capabilities': 'medium',
      'k8s-impersonation-privileged': 'high',
      'k8s-serviceaccount-token-request': 'medium',
      'k8s-admission-webhook-changed': 'high',
      'k8s-network-policy-deleted': 'medium',
      'k8s-events-deleted': 'low',
      'k8s-service-exposed': 'medium',
    },
  ],
  [
    'exec into a pod, then Falco sees a shell and a sensitive read there (two files merged by time)',
    ['attack-exec-audit.jsonl', 'attack-exec-falco.jsonl'],
    {
      'k8s-exec-into-pod': 'medium',
      'falco-runtime-alert': 'medium',
      'k8s-exec-followed-by-shell': 'critical',
    },
  ],
];

describe('catalogue on realistic traces', { timeout: 30_000 }, () => {
  it.each(SCENARIOS)('%s', async (_title, files, expected) => {
    const { code, alerts } = await replay(files.map(fx));
    expect(code).toBe(0);
    const levels = levelsByRule(alerts);
    for (const [rule, min] of Object.entries(expected)) {
      expect(levels.get(rule), rule).toBeDefined();
      expect(atLeast(levels.get(rule)!, min), `${rule} at ${levels.get(rule)}`).toBe(true);
    }
  });

  it('exec followed by shell is one critical alert for the session, not one per Falco alert', async () => {
    const { alerts } = await replay([fx('attack-exec-audit.jsonl'), fx('attack-exec-falco.jsonl')]);
    const exec = alerts.filter((a) => a.rule.name === 'k8s-exec-into-pod');
    const seq = alerts.filter((a) => a.rule.name === 'k8s-exec-followed-by-shell');
    expect(exec).toHaveLength(1);
    expect(seq).toHaveLength(1);
    expect(seq[0]?.klaxon.severity).toBe('critical');
  });

  it('a broken batch still yields the alerts of its valid events, with the bad lines on stderr', async () => {
    const { code, alerts, stderr } = await replay([fx('broken-batch.jsonl')]);
    expect(code).toBe(0);
    expect(alerts.map((a) => a.rule.name)).toEqual(
      expect.arrayContaining(['k8s-privileged-container', 'k8s-exec-into-pod']),
    );
    expect(stderr).toMatch(/broken-batch\.jsonl:2: /);
    expect(stderr).toMatch(/broken-batch\.jsonl:3: /);
    expect(stderr).toMatch(/broken-batch\.jsonl:4#0: /);
  });

  it('a normal busy cluster stays quiet: nothing above low', async () => {
    const { code, alerts, stderr } = await replay([fx('quiet-cluster.jsonl.gz')]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/2775 event\(s\), 0 bad/);
    const loud = alerts.filter((a) => atLeast(a.klaxon.severity, 'medium'));
    expect(loud.map((a) => `${a.rule.name}: ${a.message}`)).toEqual([]);
  });
});
