import { createHash } from 'node:crypto';
import { type Alert, type Level, SEVERITY_SCORE } from '../../../src/schema/alert.ts';

/** A valid alert for sink tests; `seed` makes the id unique, `over` changes any part. */
export function makeAlert(seed: string, over: { level?: Level; revision?: number; at?: string } = {}): Alert {
  const level = over.level ?? 'high';
  const alert: Alert = {
    '@timestamp': over.at ?? '2025-03-14T09:26:53.000Z',
    event: {
      kind: 'alert',
      created: '2025-03-14T09:26:54.000Z',
      severity: SEVERITY_SCORE[level],
      dataset: 'kubernetes.audit',
    },
    message: `alice created ClusterRoleBinding ${seed} granting cluster-admin in cluster test`,
    rule: {
      name: 'k8s-clusterrolebinding-cluster-admin',
      id: '8c1b3a4e-6a57-4c1e-9c8d-2f8f0a9b1c01',
      description: 'A ClusterRoleBinding grants cluster-admin.',
      reference: ['https://kubernetes.io/docs/reference/access-authn-authz/rbac/'],
      ruleset: 'klaxon',
    },
    threat: {
      framework: 'MITRE ATT&CK',
      technique: { id: ['T1098'] },
      tactic: { name: ['Privilege Escalation'] },
    },
    klaxon: {
      severity: level,
      alert_id: createHash('sha256').update(seed).digest('hex').slice(0, 32),
      event_ids: [`${seed}/ResponseComplete`],
      count: 1,
      revision: over.revision ?? 0,
    },
    user: { name: 'alice' },
    source: { ip: '10.0.0.7' },
    user_agent: { original: 'kubectl/v1.31.0 (linux/amd64) kubernetes/abcdef' },
    orchestrator: {
      cluster: { name: 'test' },
      namespace: 'kube-system',
      resource: { type: 'clusterrolebindings', name: seed },
    },
    kubernetes: {
      audit: {
        verb: 'create',
        objectRef: { resource: 'clusterrolebindings', name: seed },
        requestObject: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
      },
    },
  };
  return alert;
}
