import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { DETECTIONS } from '../catalogue/replay.ts';
import { audit, container, firedRules, type Json, meta, podSpec, T0, user } from './k8s.ts';

const { ruleset } = loadRules([DETECTIONS]);
const mallory = user('mallory@example.com', '203.0.113.45');

const privileged = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: meta('pwn', 'payments'),
  spec: podSpec([container('pwn', 'docker.io/library/alpine:3.19', { privileged: true })], { hostPID: true }),
};
const create = (extra: Partial<Parameters<typeof audit>[0]>) =>
  audit({
    at: T0,
    actor: mallory,
    verb: 'create',
    ref: { resource: 'pods', namespace: 'payments', name: 'pwn' },
    requestObject: privileged,
    ...extra,
  });
const without = (ev: Json, key: string): Json => {
  const { [key]: _, ...rest } = ev;
  return rest;
};

/** Issue 17, item 1: a refused request ran nothing; the attempt stays visible at a lower level. */
describe('refused requests', () => {
  it('a privileged pod the API server admitted is k8s-privileged-container, not a blocked attempt', () => {
    const fired = firedRules(ruleset, [create({})]);
    expect(fired).toContain('k8s-privileged-container');
    expect(fired).toContain('k8s-host-namespace');
    expect(fired).not.toContain('k8s-privileged-workload-blocked');
  });

  it.each([
    [403, 'pods "pwn" is forbidden: violates PodSecurity "baseline:latest": privileged'],
    [400, 'admission webhook "validate.kyverno.svc-fail" denied the request: disallow-privileged-containers'],
    [
      422,
      'Pod "pwn" is invalid: spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy',
    ],
    [
      500,
      'Internal error occurred: failed calling webhook "validation.gatekeeper.sh": context deadline exceeded',
    ],
  ])('refused with %i: only the blocked-attempt family fires', (code, message) => {
    const fired = firedRules(ruleset, [create({ code, message, reason: 'Forbidden' })]);
    for (const rule of [
      'k8s-privileged-container',
      'k8s-host-namespace',
      'k8s-sensitive-hostpath',
      'k8s-dangerous-capabilities',
      'k8s-resource-activity',
    ])
      expect(fired, rule).not.toContain(rule);
    expect(fired).toContain('k8s-privileged-workload-blocked');
  });

  it('an event without a responseStatus (stage-less or trimmed by a log pipeline) still counts as admitted', () => {
    const trimmed = without(without(create({}), 'responseStatus'), 'stage');
    const fired = firedRules(ruleset, [trimmed]);
    expect(fired).toContain('k8s-privileged-container');
    expect(fired).not.toContain('k8s-privileged-workload-blocked');
  });

  it('a RequestReceived stage (no response yet) raises nothing; its ResponseComplete does', () => {
    const received = without(create({ stage: 'RequestReceived', auditID: 'a1' }), 'responseStatus');
    expect([...firedRules(ruleset, [received])]).toEqual([]);
    expect(firedRules(ruleset, [received, create({ auditID: 'a1' })])).toContain('k8s-privileged-container');
  });

  it('an RBAC grant refused by the escalation check is a blocked attempt, not an RBAC change', () => {
    const fired = firedRules(ruleset, [
      audit({
        at: T0,
        actor: mallory,
        verb: 'create',
        ref: { resource: 'clusterrolebindings', name: 'backdoor' },
        requestObject: {
          kind: 'ClusterRoleBinding',
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'User', name: 'mallory@example.com' }],
        },
        code: 403,
        reason: 'Forbidden',
        message:
          'clusterrolebindings.rbac.authorization.k8s.io "backdoor" is forbidden: user "mallory@example.com" (groups=["developers" "system:authenticated"]) is attempting to grant RBAC permissions not currently held',
      }),
    ]);
    expect(fired).toContain('k8s-rbac-grant-blocked');
    for (const rule of ['k8s-cluster-admin-binding', 'k8s-rbac-change', 'k8s-privileged-role-binding'])
      expect(fired, rule).not.toContain(rule);
  });
});
