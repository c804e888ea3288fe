import { describe, expect, it } from 'vitest';
import { auditOutcome, normalizeAudit } from '../../../src/normalize/audit.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { splitAuditBody } from '../../../src/schema/audit.ts';

const ctx = { cluster: 'prod-eu' };

function auditEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: '1f6c1a4e-2b7d-4a53-9d8c-0c1b2a3d4e5f',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/shop/pods?limit=500',
    verb: 'list',
    user: { username: 'alice@example.com', groups: ['dev', 'system:authenticated'] },
    sourceIPs: ['10.0.4.17', '192.168.1.10'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505',
    objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-05-02T09:14:03.120511Z',
    stageTimestamp: '2024-05-02T09:14:03.131874Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...overrides,
  };
}

function normalized(raw: unknown) {
  const result = normalizeAudit(raw, ctx);
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

describe('audit normalizer', () => {
  it('maps the ECS fields', () => {
    const event = normalized(
      auditEvent({ impersonatedUser: { username: 'system:serviceaccount:shop:deployer' }, verb: 'get' }),
    );
    expect(event).toMatchObject({
      '@timestamp': '2024-05-02T09:14:03.131874Z',
      event: {
        kind: 'event',
        dataset: 'kubernetes.audit',
        action: 'get',
        outcome: 'success',
        id: '1f6c1a4e-2b7d-4a53-9d8c-0c1b2a3d4e5f/ResponseComplete',
      },
      user: { name: 'alice@example.com', roles: ['dev', 'system:authenticated'] },
      source: { ip: '10.0.4.17' },
      related: {
        ip: ['10.0.4.17', '192.168.1.10'],
        user: ['alice@example.com', 'system:serviceaccount:shop:deployer'],
      },
      user_agent: { original: 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505' },
      orchestrator: {
        type: 'kubernetes',
        cluster: { name: 'prod-eu' },
        namespace: 'shop',
        resource: { type: 'pods' },
      },
    });
    expect(event.event.ingested).toBeUndefined();
  });

  it('takes the cluster from the context, never from the payload', () => {
    const event = normalized(
      auditEvent({ orchestrator: { cluster: { name: 'spoofed' } }, cluster: 'spoofed' }),
    );
    expect(event.orchestrator.cluster.name).toBe('prod-eu');
  });

  it.each([
    [401, undefined, 'failure'],
    [403, 'forbid', 'failure'],
    [403, undefined, 'failure'],
    [404, 'allow', 'failure'],
    [500, 'allow', 'failure'],
    [200, 'forbid', 'failure'],
    [201, 'allow', 'success'],
    [101, 'allow', 'success'],
    [304, 'allow', 'success'],
    [undefined, 'allow', 'unknown'],
    [undefined, undefined, 'unknown'],
  ] as const)('code %s with decision %s is a %s', (code, decision, outcome) => {
    const annotations = decision === undefined ? {} : { 'authorization.k8s.io/decision': decision };
    const responseStatus = code === undefined ? undefined : { code };
    expect(normalized(auditEvent({ responseStatus, annotations })).event.outcome).toBe(outcome);
    expect(auditOutcome(code, decision)).toBe(outcome);
  });

  it('accepts old events: no apiVersion, no kind, no stage (= ResponseComplete)', () => {
    const raw = auditEvent();
    delete raw.apiVersion;
    delete raw.kind;
    delete raw.stage;
    expect(normalized(raw).event.id).toBe('1f6c1a4e-2b7d-4a53-9d8c-0c1b2a3d4e5f/ResponseComplete');
    expect(normalized(auditEvent({ apiVersion: 'audit.k8s.io/v1beta1' })).event.action).toBe('list');
  });

  it('falls back from stageTimestamp to requestReceivedTimestamp, creationTimestamp, then receivedAt', () => {
    const noStage = auditEvent({ stageTimestamp: undefined });
    expect(normalized(noStage)['@timestamp']).toBe('2024-05-02T09:14:03.120511Z');
    const onlyMeta = auditEvent({
      stageTimestamp: undefined,
      requestReceivedTimestamp: undefined,
      metadata: { creationTimestamp: '2018-10-25T14:09:12Z' },
    });
    expect(normalized(onlyMeta)['@timestamp']).toBe('2018-10-25T14:09:12Z');
    const none = auditEvent({ stageTimestamp: 'yesterday', requestReceivedTimestamp: undefined });
    expect(normalizeAudit(none, ctx)).toEqual({ ok: false, reason: 'missing or invalid stageTimestamp' });
    const received = normalizeAudit(none, { cluster: 'c', receivedAt: '2024-06-01T00:00:00.000Z' });
    expect(received.ok && received.event['@timestamp']).toBe('2024-06-01T00:00:00.000Z');
    expect(received.ok && received.event.event.ingested).toBe('2024-06-01T00:00:00.000Z');
  });

  it('converts offset timestamps to UTC', () => {
    expect(normalized(auditEvent({ stageTimestamp: '2024-05-02T11:14:03.5+02:00' }))['@timestamp']).toBe(
      '2024-05-02T09:14:03.500Z',
    );
  });

  it.each([
    ['garbage kind', { kind: 0 }, 'kind: expected "Event"'],
    ['no auditID', { ...auditEvent(), auditID: undefined }, 'missing auditID'],
    ['no verb', { ...auditEvent(), verb: undefined }, 'missing verb'],
    ['numeric verb', { ...auditEvent(), verb: 7 }, 'verb: expected string, received number'],
    ['unknown apiVersion', { ...auditEvent(), apiVersion: 'audit.k8s.io/v2' }, 'apiVersion: expected one of'],
    ['unknown stage', { ...auditEvent(), stage: 'Done' }, 'stage: expected one of'],
    [
      'string sourceIPs',
      { ...auditEvent(), sourceIPs: '10.0.0.1' },
      'sourceIPs: expected array, received string',
    ],
    ['an EventList', { ...auditEvent(), kind: 'EventList' }, 'kind: expected "Event"'],
    ['null', null, 'expected a JSON object'],
    ['an array', [auditEvent()], 'expected a JSON object'],
    ['a string', '{"kind":"Event"}', 'expected a JSON object'],
  ])('rejects %s with a specific reason', (_label, raw, reason) => {
    const result = normalizeAny(raw, ctx);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('names the image of a created Deployment', () => {
    const raw = auditEvent({
      verb: 'create',
      objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' },
      requestObject: {
        kind: 'Deployment',
        spec: { template: { spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:1.4.2' }] } } },
      },
    });
    const event = normalized(raw);
    expect(event.container?.image?.name).toBe('ghcr.io/acme/web:1.4.2');
    expect(event.orchestrator.resource).toEqual({ type: 'deployments', name: 'web' });
  });
});

describe('splitAuditBody', () => {
  it('splits an EventList, a JSON array and a single event', () => {
    const a = auditEvent();
    const b = auditEvent({ auditID: 'b' });
    expect(splitAuditBody({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [a, b] })).toEqual({
      items: [a, b],
    });
    expect(splitAuditBody({ kind: 'EventList', items: null })).toEqual({ items: [] });
    expect(splitAuditBody([a, 3])).toEqual({ items: [a, 3] });
    expect(splitAuditBody(a)).toEqual({ items: [a] });
  });

  it('rejects what is not a batch', () => {
    expect(splitAuditBody('x')).toHaveProperty('error');
    expect(splitAuditBody(null)).toHaveProperty('error');
    expect(splitAuditBody({ kind: 'EventList', items: 'nope' })).toEqual({
      error: 'EventList: items: expected array, received string',
    });
    expect(splitAuditBody({ kind: 'EventList', apiVersion: 'v9', items: [] })).toHaveProperty('error');
  });
});
