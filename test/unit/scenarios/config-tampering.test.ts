import { describe, expect, it } from 'vitest';
import type { Level } from '../../../src/schema/alert.ts';
import { atLeast, levelsByRule, replay } from '../catalogue/replay.ts';
import { aksUser, eksEngineer, gkeUser, kubeadmAdmin, SWEEP } from './attacks-wave3.ts';
import {
  type Actor,
  audit,
  container,
  controller,
  type Json,
  min,
  podSpec,
  sec,
  serviceAccount,
  T0,
  writeJsonl,
} from './k8s.ts';

const stolen = serviceAccount(
  'payments',
  'payments-api',
  '203.0.113.99',
  'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
);
const eksAddons: Actor = {
  username: 'eks:addon-manager',
  groups: ['system:authenticated'],
  sourceIPs: ['10.0.113.12'],
  userAgent: 'eks-addon-manager/v0.0.0 (linux/amd64) kubernetes/$Format',
};
const argocd = serviceAccount(
  'argocd',
  'argocd-application-controller',
  '10.0.21.88',
  'argocd-application-controller/v2.11.3 (linux/amd64) kubernetes/$Format',
);
const ksm = serviceAccount(
  'monitoring',
  'kube-state-metrics',
  '10.0.22.17',
  'v2.12.0 (linux/amd64) kubernetes/$Format',
);

function corefile(extra: string): Json {
  return {
    data: {
      Corefile: `.:53 {\n    errors\n    health\n${extra}    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }\n    forward . /etc/resolv.conf\n    cache 30\n}\n`,
    },
  };
}

/** A stolen workload token sizes itself up, then the attacker (with an admin's credentials) plants access. */
function tampering(): Json[] {
  const t = (m: number, s = 0) => T0 + min(m) + sec(s);
  return [
    audit({
      at: t(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'selfsubjectreviews', apiGroup: 'authentication.k8s.io' },
    }),
    audit({
      at: t(0, 5),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'selfsubjectrulesreviews' },
      requestObject: {
        kind: 'SelfSubjectRulesReview',
        apiVersion: 'authorization.k8s.io/v1',
        spec: { namespace: 'payments' },
      },
    }),
    ...SWEEP.map((resource, i) =>
      audit({ at: t(1, i * 3), actor: stolen, verb: 'list', ref: { resource }, query: 'limit=500' }),
    ),
    audit({
      at: t(3),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'clusterrolebindings', name: 'payments-support' },
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'payments-support' },
        subjects: [{ kind: 'ServiceAccount', name: 'payments-api', namespace: 'payments' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      },
    }),
    audit({
      at: t(5),
      actor: eksEngineer,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' },
      query: 'fieldManager=kubectl-edit&fieldValidation=Strict',
      requestObject: {
        data: {
          mapUsers:
            '- userarn: arn:aws:iam::444455556666:user/svc-backup\n  username: svc-backup\n  groups:\n  - system:masters\n',
        },
      },
    }),
    audit({
      at: t(6),
      actor: eksEngineer,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns' },
      query: 'fieldManager=kubectl-edit&fieldValidation=Strict',
      requestObject: corefile('    rewrite name exact registry.example.com registry.203-0-113-66.nip.io\n'),
    }),
    audit({
      at: t(7),
      actor: gkeUser,
      verb: 'patch',
      ref: { resource: 'serviceaccounts', namespace: 'web', name: 'default' },
      query: 'fieldManager=kubectl-annotate',
      requestObject: {
        metadata: {
          annotations: {
            'iam.gke.io/gcp-service-account': 'project-owner@acme-prod.iam.gserviceaccount.com',
          },
        },
      },
    }),
    audit({
      at: t(8),
      actor: aksUser,
      verb: 'create',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns-custom' },
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'coredns-custom', namespace: 'kube-system' },
        data: { 'corp.server': 'corp.contoso.com:53 {\n    forward . 203.0.113.53\n}\n' },
      },
    }),
    audit({
      at: t(9),
      actor: aksUser,
      verb: 'create',
      ref: { resource: 'rolebindings', namespace: 'orders', name: 'orders-worker-admin' },
      requestObject: {
        kind: 'RoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'orders-worker-admin', namespace: 'orders' },
        subjects: [{ kind: 'ServiceAccount', name: 'orders-worker', namespace: 'orders' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      },
    }),
    audit({
      at: t(10),
      actor: kubeadmAdmin,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'kube-system', name: 'gc-helper' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { name: 'gc-helper', namespace: 'kube-system' },
        spec: podSpec(
          [container('helper', 'bitnami/kubectl:1.31', undefined, { command: ['sleep', 'infinity'] })],
          {
            serviceAccountName: 'generic-garbage-collector',
          },
        ),
      },
    }),
  ];
}

/** The platform doing the same kinds of things, as it does every day. */
function platformDay(): Json[] {
  const t = (m: number, s = 0) => T0 + min(m) + sec(s);
  return [
    audit({
      at: t(0),
      actor: eksAddons,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns' },
      query: 'fieldManager=eks',
      requestObject: corefile('    ready\n'),
    }),
    audit({
      at: t(1),
      actor: argocd,
      verb: 'create',
      ref: { resource: 'serviceaccounts', namespace: 'payments', name: 'payments-api' },
      requestObject: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {
          name: 'payments-api',
          namespace: 'payments',
          annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/payments-api' },
        },
      },
    }),
    audit({
      at: t(1, 2),
      actor: argocd,
      verb: 'create',
      ref: { resource: 'rolebindings', namespace: 'payments', name: 'payments-api-leases' },
      requestObject: {
        kind: 'RoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'payments-api-leases', namespace: 'payments' },
        subjects: [{ kind: 'ServiceAccount', name: 'payments-api', namespace: 'payments' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election' },
      },
    }),
    ...[...SWEEP, 'persistentvolumes', 'persistentvolumeclaims', 'jobs', 'cronjobs'].map((resource) =>
      audit({ at: t(2), actor: ksm, verb: 'list', ref: { resource }, query: 'limit=500&resourceVersion=0' }),
    ),
    audit({
      at: t(3),
      actor: controller('clusterrole-aggregation-controller'),
      verb: 'update',
      ref: { resource: 'clusterroles', name: 'admin' },
    }),
    audit({
      at: t(4),
      actor: {
        username: 'eks:authenticator',
        groups: ['system:authenticated'],
        sourceIPs: ['172.16.54.199'],
        userAgent: 'aws-iam-authenticator/v0.6.20 (linux/amd64) kubernetes/$Format',
      },
      verb: 'get',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' },
    }),
    audit({
      at: t(5),
      actor: eksEngineer,
      verb: 'create',
      ref: { resource: 'selfsubjectaccessreviews' },
      requestObject: {
        kind: 'SelfSubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        spec: {
          resourceAttributes: {
            namespace: 'payments',
            verb: 'create',
            group: 'apps',
            resource: 'deployments',
          },
        },
      },
    }),
  ];
}

describe('configuration tampering', { timeout: 60_000 }, () => {
  it('raises every tampering rule on EKS, GKE, AKS and a kubeadm cluster', async () => {
    const { code, alerts } = await replay([writeJsonl('tampering.jsonl', tampering())]);
    expect(code).toBe(0);
    const levels = levelsByRule(alerts);
    const expected: [string, Level][] = [
      ['k8s-self-review-by-workload-identity', 'medium'],
      ['k8s-resource-type-discovery', 'medium'],
      ['k8s-serviceaccount-grants-rbac', 'medium'],
      ['k8s-serviceaccount-writes-rbac', 'low'],
      ['k8s-cloud-identity-mapping-changed', 'high'],
      ['k8s-coredns-config-changed', 'medium'],
      ['k8s-serviceaccount-cloud-identity-annotation', 'medium'],
      ['k8s-serviceaccount-bound-by-user', 'medium'],
      ['k8s-pod-with-controller-serviceaccount', 'high'],
    ];
    for (const [rule, level] of expected) {
      expect(levels.get(rule), rule).toBeDefined();
      expect(atLeast(levels.get(rule)!, level), `${rule} at ${levels.get(rule)}`).toBe(true);
    }
    const dns = alerts.filter((a) => a.rule.name === 'k8s-coredns-config-changed');
    expect(dns.map((a) => a.orchestrator?.resource?.name).sort()).toEqual(['coredns', 'coredns-custom']);
    const discovery = alerts.find((a) => a.rule.name === 'k8s-resource-type-discovery');
    expect(discovery?.user?.name).toBe('system:serviceaccount:payments:payments-api');
  });

  it('the platform doing the same things every day stays at low or below', async () => {
    const { code, alerts } = await replay([writeJsonl('platform.jsonl', platformDay())]);
    expect(code).toBe(0);
    const loud = alerts.filter((a) => atLeast(a.klaxon.severity, 'medium'));
    expect(loud.map((a) => `${a.rule.name}: ${a.message}`)).toEqual([]);
  });
});
