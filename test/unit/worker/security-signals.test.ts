import { describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { classifySecuritySignals } from '../../../src/worker/security-signals.ts';
import { auditEvent } from '../../integration/detect-fixtures.ts';

const at = '2025-03-14T09:00:00Z';
const audit = (raw: Record<string, unknown>) =>
  auditEvent(raw, at, { user: 'alice', ip: '10.0.0.1', cluster: 'prod' });
const metrics = (e: NormalizedEvent) => classifySecuritySignals(e).map((s) => [s.metric, s.labels]);

describe('classifySecuritySignals', () => {
  it('counts a failed authentication at ResponseStarted, the only stage the API server logs it at', () => {
    expect(
      metrics(
        audit({
          verb: 'list',
          stage: 'ResponseStarted',
          objectRef: { resource: 'pods' },
          responseStatus: { code: 401 },
        }),
      ),
    ).toEqual([['k8sAuthFailures', { cluster: 'prod', code: '401' }]]);
  });

  it('counts failed authentication and authorization by code', () => {
    expect(
      metrics(audit({ verb: 'list', objectRef: { resource: 'pods' }, responseStatus: { code: 401 } })),
    ).toEqual([['k8sAuthFailures', { cluster: 'prod', code: '401' }]]);
    expect(
      metrics(audit({ verb: 'get', objectRef: { resource: 'secrets' }, responseStatus: { code: 403 } })),
    ).toEqual([['k8sAuthFailures', { cluster: 'prod', code: '403' }]]);
  });

  it('counts quota refusals, and nothing else of a refused request', () => {
    const e = audit({
      verb: 'create',
      objectRef: { resource: 'pods', namespace: 'team' },
      requestObject: { spec: { containers: [{ securityContext: { privileged: true } }] } },
      responseStatus: {
        code: 403,
        message: 'pods "x" is forbidden: exceeded quota: compute, requested: cpu=2',
      },
    });
    expect(metrics(e)).toEqual([
      ['k8sAuthFailures', { cluster: 'prod', code: '403' }],
      ['k8sQuotaExceeded', { cluster: 'prod' }],
    ]);
  });

  it('counts RBAC and NetworkPolicy changes by verb, not reads', () => {
    expect(metrics(audit({ verb: 'patch', objectRef: { resource: 'clusterrolebindings' } }))).toEqual([
      ['k8sRbacChanges', { cluster: 'prod', verb: 'patch' }],
    ]);
    expect(metrics(audit({ verb: 'delete', objectRef: { resource: 'networkpolicies' } }))).toEqual([
      ['k8sNetworkPolicyChanges', { cluster: 'prod', verb: 'delete' }],
    ]);
    expect(metrics(audit({ verb: 'list', objectRef: { resource: 'roles' } }))).toEqual([]);
  });

  it('finds privileged containers in pods and in workload templates', () => {
    const privileged = {
      containers: [{ name: 'a' }],
      initContainers: [{ securityContext: { privileged: true } }],
    };
    expect(
      metrics(
        audit({ verb: 'create', objectRef: { resource: 'pods' }, requestObject: { spec: privileged } }),
      ),
    ).toEqual([['k8sPrivilegedPods', { cluster: 'prod', kind: 'pods' }]]);
    const cron = { spec: { jobTemplate: { spec: { template: { spec: privileged } } } } };
    expect(
      metrics(audit({ verb: 'update', objectRef: { resource: 'cronjobs' }, requestObject: cron })),
    ).toEqual([['k8sPrivilegedPods', { cluster: 'prod', kind: 'cronjobs' }]]);
    const plain = {
      spec: { template: { spec: { containers: [{ securityContext: { privileged: false } }] } } },
    };
    expect(
      metrics(audit({ verb: 'create', objectRef: { resource: 'deployments' }, requestObject: plain })),
    ).toEqual([]);
  });

  it('counts secret reads at the final stage, and exec/attach/port-forward once, when the session starts', () => {
    expect(metrics(audit({ verb: 'get', objectRef: { resource: 'secrets', name: 's' } }))).toEqual([
      ['k8sSecretReads', { cluster: 'prod', verb: 'get' }],
    ]);
    const exec = (stage: string) =>
      metrics(audit({ verb: 'create', stage, objectRef: { resource: 'pods', subresource: 'exec' } }));
    expect(exec('ResponseStarted')).toEqual([['k8sPodExec', { cluster: 'prod', subresource: 'exec' }]]);
    expect(exec('ResponseComplete')).toEqual([]);
    expect(
      metrics(
        audit({
          verb: 'create',
          stage: 'RequestReceived',
          objectRef: { resource: 'pods', subresource: 'exec' },
        }),
      ),
    ).toEqual([]);
  });

  it('sees image pull failures in core Events and pod status updates', () => {
    expect(
      metrics(
        audit({
          verb: 'create',
          objectRef: { resource: 'events' },
          requestObject: { reason: 'ErrImagePull' },
        }),
      ),
    ).toEqual([['k8sImagePullFailures', { cluster: 'prod' }]]);
    const status = {
      status: { containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] },
    };
    expect(
      metrics(
        audit({
          verb: 'patch',
          objectRef: { resource: 'pods', subresource: 'status' },
          requestObject: status,
        }),
      ),
    ).toEqual([['k8sImagePullFailures', { cluster: 'prod' }]]);
  });

  it('counts Falco alerts by a bounded priority label', () => {
    const falco = (priority: string): NormalizedEvent => ({
      '@timestamp': at,
      event: {
        kind: 'event',
        dataset: 'falco',
        action: 'Terminal shell in container',
        outcome: 'unknown',
        id: priority,
      },
      orchestrator: { type: 'kubernetes', cluster: { name: 'prod' } },
      falco: { priority, rule: 'Terminal shell in container' },
    });
    expect(metrics(falco('Warning'))).toEqual([['falcoAlerts', { cluster: 'prod', priority: 'warning' }]]);
    expect(metrics(falco('Info'))).toEqual([['falcoAlerts', { cluster: 'prod', priority: 'informational' }]]);
    expect(metrics(falco('<script>'))).toEqual([['falcoAlerts', { cluster: 'prod', priority: 'other' }]]);
  });
});
