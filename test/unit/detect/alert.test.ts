import { describe, expect, it } from 'vitest';
import { threatOf } from '../../../src/detect/index.ts';
import { Alert } from '../../../src/schema/alert.ts';
import { audit, detector, falco, run } from './helpers.ts';

const binding = `title: Cluster-admin binding
name: k8s-cluster-admin-binding
id: 0d000000-0000-4000-8000-000000000001
description: A binding to cluster-admin.
references: [https://kubernetes.io/docs/reference/access-authn-authz/rbac/]
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    verb: [create, update, patch]
    objectRef.resource: [clusterrolebindings, rolebindings]
    requestObject.roleRef.name: cluster-admin
  condition: sel
level: high
tags: [attack.privilege-escalation, attack.t1078.001, attack.persistence]
`;
const bindingEvent = audit({
  verb: 'create',
  user: { username: 'alice', groups: ['system:masters'] },
  sourceIPs: ['203.0.113.7'],
  userAgent: 'kubectl/v1.30.0',
  requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  objectRef: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', name: 'evil-admin' },
  responseStatus: { code: 201, status: 'Success' },
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  requestObject: {
    roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'User', name: 'x' }],
  },
  responseObject: { metadata: { uid: 'u' } },
});

describe('alerts', () => {
  const [alert] = run(detector([binding]), [bindingEvent]);

  it('are valid ECS alert documents', () => {
    expect(Alert.parse(alert)).toEqual(alert);
    expect(alert!.event).toMatchObject({ kind: 'alert', severity: 73, dataset: 'kubernetes.audit' });
    expect(alert!['@timestamp']).toBe(bindingEvent['@timestamp']);
    expect(alert!.rule).toEqual({
      name: 'k8s-cluster-admin-binding',
      id: '0d000000-0000-4000-8000-000000000001',
      description: 'A binding to cluster-admin.',
      reference: ['https://kubernetes.io/docs/reference/access-authn-authz/rbac/'],
      ruleset: 'klaxon',
    });
    expect(alert!.klaxon).toMatchObject({
      severity: 'high',
      count: 1,
      revision: 0,
      event_ids: [bindingEvent.event.id],
    });
    expect(alert!.klaxon.alert_id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('say who did what to what, where', () => {
    expect(alert!.message).toBe(
      'alice created clusterrolebindings/evil-admin in cluster prod (cluster-wide) — Cluster-admin binding',
    );
  });

  it('show hidden characters of payload values as visible escapes in the message, and keep the raw values', () => {
    const spoofed = audit({
      ...(bindingEvent.kubernetes!.audit as Record<string, unknown>),
      auditID: 'spoofed',
      user: { username: 'eve\u202enimda\u0000\n' },
    });
    const [a] = run(detector([binding]), [spoofed]);
    expect(a!.message).toBe(
      'eve\\u202enimda\\u0000  created clusterrolebindings/evil-admin in cluster prod (cluster-wide) — Cluster-admin binding',
    );
    expect(a!.user?.name).toBe('eve\u202enimda\u0000\n');
  });

  it('carry MITRE ATT&CK from the tags', () => {
    expect(alert!.threat).toEqual({
      framework: 'MITRE ATT&CK',
      technique: { id: ['T1078.001'] },
      tactic: { name: ['Privilege Escalation', 'Persistence'] },
    });
    expect(threatOf(['attack.command-and-control', 'cve.2024-1'], ['T1059', 'mitre_execution'])).toEqual({
      framework: 'MITRE ATT&CK',
      technique: { id: ['T1059'] },
      tactic: { name: ['Command and Control', 'Execution'] },
    });
    expect(threatOf(['cve.2024-1'])).toBeUndefined();
  });

  it('carry the context and a key slice of the audit event, not its objects', () => {
    expect(alert!.user).toEqual({ name: 'alice' });
    expect(alert!.source).toEqual({ ip: '203.0.113.7' });
    expect(alert!.orchestrator?.cluster?.name).toBe('prod');
    const slice = alert!.kubernetes!.audit;
    expect(slice).toMatchObject({
      verb: 'create',
      requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      sourceIPs: ['203.0.113.7'],
      userAgent: 'kubectl/v1.30.0',
      responseStatus: { code: 201 },
      annotations: { 'authorization.k8s.io/decision': 'allow' },
    });
    expect(slice).not.toHaveProperty('requestObject');
    expect(slice).not.toHaveProperty('responseObject');
  });

  it('name namespaced targets and refusals', () => {
    const r = binding
      .replace('    requestObject.roleRef.name: cluster-admin\n', '')
      .replace('verb: [create, update, patch]', 'verb: [create, get]');
    const ev = audit({
      verb: 'get',
      user: { username: 'bob' },
      objectRef: { resource: 'rolebindings', namespace: 'shop', name: 'rb' },
      responseStatus: { code: 403 },
    });
    expect(run(detector([r]), [ev])[0]!.message).toBe(
      'bob was refused (403) to get rolebindings/rb in namespace shop of cluster prod — Cluster-admin binding',
    );
  });

  it('take their level from the Falco priority when the rule says so', () => {
    const r = `title: Falco runtime alert
name: falco-runtime
id: 0d000000-0000-4000-8000-000000000002
logsource: {product: falco}
detection:
  sel:
    rule: '*'
  condition: sel
level: medium
klaxon: {severity: falco-priority}
`;
    const levels = ['Emergency', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'].map(
      (priority, i) => {
        const ev = falco(
          {
            rule: `r${i}`,
            priority,
            output: `${priority} thing`,
            tags: ['T1611', 'mitre_privilege_escalation'],
          },
          i,
        );
        return run(detector([r]), [ev])[0]!;
      },
    );
    expect(levels.map((a) => a.klaxon.severity)).toEqual([
      'critical',
      'critical',
      'high',
      'medium',
      'low',
      'informational',
      'informational',
    ]);
    expect(levels[0]!.threat?.technique.id).toEqual(['T1611']);
    expect(levels[0]!.falco).toMatchObject({ rule: 'r0', priority: 'Emergency' });
    expect(levels[0]!.message).toBe(
      'Falco Emergency: Emergency thing in cluster prod (cluster-wide) — Falco runtime alert',
    );
  });
});
