import { describe, expect, it } from 'vitest';
import { fillTestEvent, runRuleTests } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { rulesFrom } from './helpers.ts';

const RULE = `title: Cluster-admin binding
name: k8s-cluster-admin-binding
id: 0f000000-0000-4000-8000-000000000001
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    verb: [create, update, patch]
    objectRef.resource: clusterrolebindings
    requestObject.roleRef.name: cluster-admin
  condition: sel
level: high
tests:
  - name: fires when a ClusterRoleBinding grants cluster-admin
    expect: fire
    count: 1
    events:
      - verb: create
        objectRef: {resource: clusterrolebindings, apiGroup: rbac.authorization.k8s.io, name: x}
        user: {username: alice}
        requestObject: {roleRef: {kind: ClusterRole, name: cluster-admin}}
  - name: quiet for view
    expect: quiet
    events:
      - verb: create
        objectRef: {resource: clusterrolebindings, name: x}
        user: {username: alice}
        requestObject: {roleRef: {kind: ClusterRole, name: view}}
  - name: wrong on purpose
    expect: quiet
    events:
      - verb: patch
        objectRef: {resource: clusterrolebindings, name: y}
        user: {username: bob}
        requestObject: {roleRef: {kind: ClusterRole, name: cluster-admin}}
`;
const FILTER = `title: Allow bob
id: 0f000000-0000-4000-8000-0000000000f1
logsource: {product: kubernetes, service: audit}
filter:
  rules: [k8s-cluster-admin-binding]
  selection:
    user.username: bob
  condition: not selection
`;

const normalize = (raw: unknown) => normalizeAny(raw, { cluster: 'test' });

describe('rule test cases', () => {
  it('fill what a test event omits, keeping what it gives', () => {
    const ev = fillTestEvent({ verb: 'create', at: 30, annotations: {} }, 'a test', 2);
    expect(ev).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      stage: 'ResponseComplete',
      stageTimestamp: '2024-01-01T00:00:30.000000Z',
      responseStatus: { code: 201 },
      annotations: {},
    });
    expect(ev.auditID).toBe(fillTestEvent({ verb: 'get' }, 'a test', 2).auditID);
    expect(fillTestEvent({ verb: 'get' }, 'a test', 0).annotations).toEqual({
      'authorization.k8s.io/decision': 'allow',
    });
    expect(fillTestEvent({ rule: 'x', output_fields: {} }, 't', 0)).toMatchObject({
      rule: 'x',
      priority: 'Warning',
      source: 'syscall',
      time: '2024-01-01T00:00:00.000Z',
    });
  });

  it('run against the whole rule set and report pass and fail', () => {
    const { ruleset } = rulesFrom(RULE);
    const outcomes = runRuleTests(ruleset, normalize);
    expect(outcomes.map((o) => [o.test, o.ok])).toEqual([
      ['fires when a ClusterRoleBinding grants cluster-admin', true],
      ['quiet for view', true],
      ['wrong on purpose', false],
    ]);
    expect(outcomes[2]!.detail).toBe('expected quiet, got 1 alert(s)');
    expect(outcomes[2]!.where).toMatch(/rule0\.yml:1$/);
  });

  it('include filters, so allow-lists are tested', () => {
    const { ruleset } = rulesFrom(RULE, FILTER);
    expect(runRuleTests(ruleset, normalize).every((o) => o.ok)).toBe(true);
  });
});
