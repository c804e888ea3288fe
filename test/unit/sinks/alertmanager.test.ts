import { describe, expect, it } from 'vitest';
import { toPostable } from '../../../src/sinks/alertmanager.ts';
import { makeAlert } from './make-alert.ts';

describe('toPostable', () => {
  const now = new Date('2025-03-14T10:00:00Z');

  it('labels the alert by rule, severity, cluster, namespace and ids, and resolves it later', () => {
    const alert = makeAlert('x');
    const p = toPostable(alert, { resolveAfterMs: 3_600_000 }, now);
    expect(p.labels).toEqual({
      alertname: 'k8s-clusterrolebinding-cluster-admin',
      severity: 'high',
      cluster: 'test',
      namespace: 'kube-system',
      rule_id: alert.rule.id,
      alert_id: alert.klaxon.alert_id,
    });
    expect(p.annotations.summary).toBe(alert.message);
    expect(p.annotations.description).toBe(alert.rule.description);
    expect(p.annotations.runbook_url).toBe(alert.rule.reference?.[0]);
    expect(p.startsAt).toBe('2025-03-14T09:26:53.000Z');
    expect(p.endsAt).toBe('2025-03-14T11:00:00.000Z');
  });

  it('builds runbook links from a base URL and omits labels it does not know', () => {
    const alert = makeAlert('y');
    delete alert.orchestrator;
    const p = toPostable(
      alert,
      { resolveAfterMs: 60_000, runbookBaseUrl: 'https://runbooks.example/klaxon/' },
      now,
    );
    expect(p.annotations.runbook_url).toBe(
      'https://runbooks.example/klaxon/k8s-clusterrolebinding-cluster-admin',
    );
    expect(p.labels).not.toHaveProperty('cluster');
    expect(p.labels).not.toHaveProperty('namespace');
  });
});

describe('human-facing text', () => {
  it('shows bidi overrides, NUL and control characters from payloads as visible escapes', () => {
    const alert = makeAlert('bidi');
    alert.message = 'ev\u202eli\u0000l\u001b[2J created pods/x\nin namespace shop';
    alert.orchestrator = { cluster: { name: 'prod' }, namespace: 'shop\u202e' };
    const { labels, annotations } = toPostable(alert, { resolveAfterMs: 60_000 });
    expect(annotations.summary).toBe('ev\\u202eli\\u0000l\\u001b[2J created pods/x in namespace shop');
    expect(labels.namespace).toBe('shop\\u202e');
    const hidden = [...'\u0000\u001b\n\u202a\u202e\u2066\u2069'];
    for (const text of [...Object.values(labels), ...Object.values(annotations)]) {
      expect(hidden.filter((c) => text.includes(c))).toEqual([]);
    }
  });
});
