import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { audit } from './helpers.ts';

const DIR = join(import.meta.dirname, '../../fixtures/rules/sigmahq');

const pod = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  audit({
    verb: 'create',
    user: { username: 'mallory' },
    objectRef: { resource: 'pods', namespace: 'default', name: 'p', apiVersion: 'v1' },
    requestObject: { kind: 'Pod', metadata: { name: 'p' }, spec },
    ...extra,
  });
const write = (resource: string, apiGroup: string, verb: string) =>
  audit({
    verb,
    user: { username: 'mallory' },
    objectRef: { resource, apiGroup, name: 'x', namespace: 'default' },
  });

/** One event per SigmaHQ rule that should fire it, by the rule's title slug. */
const FIRING: Record<string, NormalizedEvent> = {
  'kubernetes-admission-controller-modification': write(
    'mutatingwebhookconfigurations',
    'admissionregistration.k8s.io',
    'create',
  ),
  'kubernetes-cronjob-job-modification': write('cronjobs', 'batch', 'patch'),
  'deployment-deleted-from-kubernetes-cluster': write('deployments', 'apps', 'delete'),
  'kubernetes-events-deleted': write('events', '', 'delete'),
  'potential-sidecar-injection-into-running-deployment': write('deployments', 'apps', 'patch'),
  'kubernetes-secrets-modified-or-deleted': write('secrets', '', 'update'),
  'new-kubernetes-service-account-created': write('serviceaccounts', '', 'create'),
  'kubernetes-rolebinding-modification': write('rolebindings', 'rbac.authorization.k8s.io', 'create'),
  'kubernetes-secrets-enumeration': audit({ verb: 'list', objectRef: { resource: 'secrets' } }),
  'rbac-permission-enumeration-attempt': write('selfsubjectrulesreviews', 'authorization.k8s.io', 'create'),
  'creation-of-pod-in-system-namespace': audit({
    verb: 'create',
    objectRef: { resource: 'pods', namespace: 'kube-system', name: 'p' },
  }),
  'container-with-a-hostpath-mount-created': pod({
    containers: [{ name: 'c', image: 'alpine' }],
    volumes: [{ name: 'root', hostPath: { path: '/', type: '' } }],
  }),
  'privileged-container-deployed': pod({
    containers: [{ name: 'c', image: 'alpine', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }],
  }),
  'potential-remote-command-execution-in-pod-container': audit({
    verb: 'create',
    stage: 'ResponseStarted',
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'default', name: 'p' },
  }),
  'kubernetes-unauthorized-or-unauthenticated-access': audit({
    verb: 'get',
    objectRef: { resource: 'secrets', namespace: 'default' },
    responseStatus: { code: 403 },
  }),
  // As written, the rule compares responseStatus.code with the string 'ALLOW': only such an event fires it.
  'kubernetes-potential-enumeration-activity': audit({
    verb: 'create',
    requestURI: '/api/v1/namespaces/default/pods/p/exec?command=%2Fbin%2Fsh&command=-c',
    objectRef: { resource: 'pods', subresource: 'exec' },
    responseStatus: { code: 'ALLOW' },
  }),
};

describe('SigmaHQ Kubernetes audit rules, unchanged', () => {
  const { ruleset, errors } = loadRules([DIR]);
  const detector = new Detector(ruleset);

  it('all 16 load without errors', () => {
    expect(errors).toEqual([]);
    expect(readdirSync(DIR).filter((f) => f.endsWith('.yml'))).toHaveLength(16);
    expect(ruleset.rules).toHaveLength(16);
  });

  it('every rule has a firing event here', () => {
    expect(Object.keys(FIRING).sort()).toEqual(ruleset.rules.map((r) => r.name).sort());
  });

  for (const [name, event] of Object.entries(FIRING)) {
    it(`fires ${name}`, () => {
      const names = detector.evaluate(event).map((m) => m.rule.name);
      expect(names).toContain(name);
    });
  }

  it('hostPath and capabilities pseudo-fields need the object to have them', () => {
    const plain = pod({
      containers: [{ name: 'c', image: 'alpine' }],
      volumes: [{ name: 'v', emptyDir: {} }],
    });
    const names = detector.evaluate(plain).map((m) => m.rule.name);
    expect(names).not.toContain('container-with-a-hostpath-mount-created');
    expect(names).not.toContain('privileged-container-deployed');
  });

  it('the enumeration rule never fires on a numeric response code', () => {
    const e = audit({
      verb: 'create',
      requestURI: '/api/v1/namespaces/default/pods/p/exec?command=%2Fbin%2Fsh',
      objectRef: { resource: 'pods', subresource: 'exec' },
      responseStatus: { code: 200 },
    });
    expect(detector.evaluate(e).map((m) => m.rule.name)).not.toContain(
      'kubernetes-potential-enumeration-activity',
    );
  });
});
