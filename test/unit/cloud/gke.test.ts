import { describe, expect, it } from 'vitest';
import { gkeEntryToAudit } from '../../../src/normalize/gke.ts';
import {
  gkeAuditFromJson,
  gkeAuditFromMessageData,
  unwrapPubSubPush,
} from '../../../src/normalize/gke-readers.ts';
import { normalizeAudit } from '../../../src/normalize/index.ts';
import { fixtureJson, fixtureLines, variant } from './fixtures.ts';

type Json = Record<string, unknown>;
const entries = fixtureJson('gke/gcloud-logging-read.json') as Json[];
const byMethod = (method: string) =>
  entries.find((e) => (e.protoPayload as Json).methodName === method) as Json;
const payloadOf = (e: Json) => e.protoPayload as Json;

function converted(entry: unknown): Json {
  const result = gkeEntryToAudit(entry);
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

/** An entry for a method and resource name, on the shape of the fixture's exec entry. */
function entryFor(methodName: string, resourceName: string, change: (p: Json) => void = () => {}): Json {
  return variant(byMethod('io.k8s.core.v1.pods.exec.create'), (e) => {
    const p = payloadOf(e);
    p.methodName = methodName;
    p.resourceName = resourceName;
    change(p);
  });
}

describe('GKE LogEntry → audit.k8s.io/v1 Event', () => {
  it('rebuilds a pod create: verb, objectRef with core as the legacy group, collection URI, bodies without @type, 201', () => {
    const event = converted(byMethod('io.k8s.core.v1.pods.create'));
    expect(event).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: 'e8bc163c-82ee-4187-a328-8c7d4ac636db',
      stage: 'ResponseComplete',
      verb: 'create',
      requestURI: '/api/v1/namespaces/shop/pods',
      user: { username: 'alice@example.com' },
      sourceIPs: ['198.51.100.23'],
      userAgent: 'kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46',
      objectRef: { resource: 'pods', namespace: 'shop', name: 'debug-tools', apiVersion: 'v1' },
      responseStatus: { code: 201 },
      stageTimestamp: '2025-03-11T14:02:05.131874Z',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason': 'access granted by IAM permissions.',
        'pod-security.kubernetes.io/enforce-policy': 'privileged:latest',
      },
    });
    expect((event.objectRef as Json).apiGroup).toBeUndefined();
    expect(event.requestObject).toMatchObject({
      kind: 'Pod',
      spec: { containers: [{ securityContext: { privileged: true } }] },
    });
    expect(event.requestObject).not.toHaveProperty('@type');
    expect(event.responseObject).not.toHaveProperty('@type');
    expect(event.user).not.toHaveProperty('groups');
  });

  it('returns the cluster the entry names, separately from the event', () => {
    const result = gkeEntryToAudit(entries[0]);
    expect(result).toMatchObject({
      ok: true,
      cluster: { projectId: 'acme-prod', location: 'europe-west1', name: 'prod-gke' },
    });
  });

  it('reads exec as the pods/exec subresource that answered 101', () => {
    const event = converted(byMethod('io.k8s.core.v1.pods.exec.create'));
    expect(event).toMatchObject({
      verb: 'create',
      requestURI: '/api/v1/namespaces/shop/pods/web-7d4b9c6f5-x2x9k/exec',
      objectRef: { resource: 'pods', namespace: 'shop', name: 'web-7d4b9c6f5-x2x9k', subresource: 'exec' },
      responseStatus: { code: 101 },
      level: 'Metadata',
    });
  });

  it('keeps an authorizer refusal: 403 with the API server message and the forbid decision', () => {
    const event = converted(entries[2]);
    expect(event).toMatchObject({
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      responseStatus: {
        code: 403,
        status: 'Failure',
        message: expect.stringContaining(' cannot list resource "secrets"'),
      },
      annotations: { 'authorization.k8s.io/decision': 'forbid' },
    });
  });

  it('names the RBAC group in full: rbac.authorization.k8s.io, under /apis', () => {
    const event = converted(byMethod('io.k8s.authorization.rbac.v1.clusterrolebindings.create'));
    expect(event).toMatchObject({
      requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      objectRef: {
        resource: 'clusterrolebindings',
        name: 'alice-admin',
        apiGroup: 'rbac.authorization.k8s.io',
      },
      requestObject: { roleRef: { name: 'cluster-admin' } },
      responseStatus: { code: 201 },
    });
  });

  it('maps UNAUTHENTICATED to a 401 with no user, as the API server logs a failed authentication', () => {
    const event = converted(entries.at(-1));
    expect(event).toMatchObject({
      user: {},
      responseStatus: { code: 401, message: 'Unauthorized' },
      sourceIPs: ['203.0.113.77'],
    });
    expect(event.annotations).toBeUndefined();
  });

  it('takes the response status from the API server Status the entry carries (admission refusals)', () => {
    const entry = variant(byMethod('io.k8s.core.v1.pods.create'), (e) => {
      const p = payloadOf(e);
      p.status = {
        code: 3,
        message: 'admission webhook "imagepolicywebhook.image-policy.k8s.io" denied the request',
      };
      p.response = {
        '@type': 'core.k8s.io/v1.Status',
        apiVersion: 'v1',
        kind: 'Status',
        code: 400,
        reason: 'VIOLATES_POLICY',
        status: 'Failure',
        message: 'admission webhook "imagepolicywebhook.image-policy.k8s.io" denied the request',
      };
    });
    expect(converted(entry).responseStatus).toEqual({
      code: 400,
      status: 'Failure',
      reason: 'VIOLATES_POLICY',
      message: 'admission webhook "imagepolicywebhook.image-policy.k8s.io" denied the request',
    });
  });

  it.each([
    [5, 404],
    [6, 409],
    [7, 403],
    [8, 429],
    [9, 400],
    [10, 409],
    [13, 500],
    [14, 503],
    [16, 401],
  ])('maps google.rpc code %i to HTTP %i when no Status is logged', (rpc, http) => {
    const entry = variant(byMethod('io.k8s.core.v1.secrets.get'), (e) => {
      payloadOf(e).status = { code: rpc };
    });
    expect(converted(entry).responseStatus).toMatchObject({ code: http, status: 'Failure' });
  });

  it('leaves the response status out when the entry has no status at all: the outcome is not known', () => {
    const entry = variant(byMethod('io.k8s.core.v1.secrets.get'), (e) => {
      delete payloadOf(e).status;
    });
    const event = converted(entry);
    expect(event).not.toHaveProperty('responseStatus');
    const normalized = normalizeAudit(event, { cluster: 'prod-gke' });
    expect(normalized.ok && normalized.event.event.outcome).toBe('unknown');
    const empty = variant(byMethod('io.k8s.core.v1.secrets.get'), (e) => {
      payloadOf(e).status = {};
    });
    expect(converted(empty).responseStatus).toEqual({ code: 200 });
  });

  it('answers 200 for a successful non-create and 101 for a port-forward', () => {
    expect(converted(byMethod('io.k8s.core.v1.secrets.get')).responseStatus).toEqual({ code: 200 });
    const pf = entryFor(
      'io.k8s.core.v1.pods.portforward.create',
      'core/v1/namespaces/shop/pods/db-0/portforward',
    );
    expect(converted(pf).responseStatus).toEqual({ code: 101 });
  });

  it('tells a Namespace itself from a namespaced path by the method', () => {
    const ns = converted(entryFor('io.k8s.core.v1.namespaces.delete', 'core/v1/namespaces/shop'));
    expect(ns).toMatchObject({
      objectRef: { resource: 'namespaces', name: 'shop' },
      requestURI: '/api/v1/namespaces/shop',
    });
    expect((ns.objectRef as Json).namespace).toBeUndefined();
    const finalize = converted(
      entryFor('io.k8s.core.v1.namespaces.finalize.update', 'core/v1/namespaces/shop/finalize'),
    );
    expect(finalize).toMatchObject({
      objectRef: { resource: 'namespaces', name: 'shop', subresource: 'finalize' },
      requestURI: '/api/v1/namespaces/shop/finalize',
    });
    const list = converted(entryFor('io.k8s.core.v1.pods.list', 'core/v1/namespaces/shop/pods'));
    expect(list).toMatchObject({
      objectRef: { resource: 'pods', namespace: 'shop' },
      requestURI: '/api/v1/namespaces/shop/pods',
    });
  });

  it('keeps the proxied path of nodes/proxy, cluster-wide lists and other API groups', () => {
    const proxy = converted(
      entryFor('io.k8s.core.v1.nodes.proxy.get', 'core/v1/nodes/gke-prod-pool-1-abcd/proxy/metrics'),
    );
    expect(proxy).toMatchObject({
      objectRef: { resource: 'nodes', name: 'gke-prod-pool-1-abcd', subresource: 'proxy' },
      requestURI: '/api/v1/nodes/gke-prod-pool-1-abcd/proxy/metrics',
    });
    const all = converted(entryFor('io.k8s.core.v1.secrets.list', 'core/v1/secrets'));
    expect(all.objectRef).toEqual({ resource: 'secrets', apiVersion: 'v1' });
    const cm = converted(
      entryFor(
        'io.k8s.io.cert-manager.v1.certificates.get',
        'cert-manager.io/v1/namespaces/shop/certificates/web-tls',
      ),
    );
    expect(cm).toMatchObject({
      objectRef: {
        resource: 'certificates',
        namespace: 'shop',
        name: 'web-tls',
        apiGroup: 'cert-manager.io',
        apiVersion: 'v1',
      },
      requestURI: '/apis/cert-manager.io/v1/namespaces/shop/certificates/web-tls',
    });
  });

  it('reads a non-resource request (io.k8s.<verb>) as its path, without objectRef', () => {
    const event = converted(
      entryFor('io.k8s.get', 'readyz', (p) => {
        p.authenticationInfo = { principalEmail: 'system:anonymous' };
      }),
    );
    expect(event).toMatchObject({
      verb: 'get',
      requestURI: '/readyz',
      user: { username: 'system:anonymous' },
    });
    expect(event.objectRef).toBeUndefined();
  });

  it('derives the decision from authorizationInfo only when no label gives it', () => {
    const noLabels = (granted: unknown) =>
      variant(byMethod('io.k8s.core.v1.secrets.get'), (e) => {
        delete e.labels;
        const authz = (payloadOf(e).authorizationInfo as Json[])[0]!;
        if (granted === undefined) delete authz.granted;
        else authz.granted = granted;
      });
    expect(converted(noLabels(true)).annotations).toEqual({ 'authorization.k8s.io/decision': 'allow' });
    expect(converted(noLabels(false)).annotations).toEqual({ 'authorization.k8s.io/decision': 'forbid' });
    expect(converted(noLabels(undefined)).annotations).toBeUndefined();
    // A label wins over granted.
    const labelled = variant(byMethod('io.k8s.core.v1.secrets.list'), (e) => {
      (payloadOf(e).authorizationInfo as Json[])[0]!.granted = true;
    });
    expect(converted(labelled).annotations).toMatchObject({ 'authorization.k8s.io/decision': 'forbid' });
  });

  it('accepts callerIP and leaves out a caller address that is not an IP ("private", "gce-internal-ip")', () => {
    const spelled = entryFor('io.k8s.core.v1.pods.get', 'core/v1/namespaces/shop/pods/a', (p) => {
      p.requestMetadata = { callerIP: '2001:db8::7' };
    });
    expect(converted(spelled).sourceIPs).toEqual(['2001:db8::7']);
    for (const callerIp of ['private', 'gce-internal-ip']) {
      const hidden = entryFor('io.k8s.core.v1.pods.get', 'core/v1/namespaces/shop/pods/a', (p) => {
        p.requestMetadata = { callerIp };
      });
      expect(converted(hidden).sourceIPs).toBeUndefined();
    }
  });

  it('falls back to receiveTimestamp and to operation.id', () => {
    const entry = variant(entries[0]!, (e) => {
      delete e.timestamp;
      delete e.insertId;
    });
    expect(converted(entry)).toMatchObject({
      stageTimestamp: '2025-03-11T14:02:14.412903871Z',
      auditID: 'e8bc163c-82ee-4187-a328-8c7d4ac636db',
    });
  });

  it.each([
    ['a GKE cluster operation', fixtureJson('gke/cluster-operation.json'), /resource.type is "gke_cluster"/],
    [
      'another proto payload',
      variant(entries[0]!, (e) => (payloadOf(e)['@type'] = 'type.googleapis.com/google.cloud.audit.Other')),
      /@type/,
    ],
    [
      'another service',
      variant(entries[0]!, (e) => (payloadOf(e).serviceName = 'container.googleapis.com')),
      /serviceName/,
    ],
    [
      'a method that is not Kubernetes',
      variant(entries[0]!, (e) => (payloadOf(e).methodName = 'google.container.v1.X')),
      /methodName/,
    ],
    [
      'a resource name that is not a path',
      variant(entries[0]!, (e) => (payloadOf(e).resourceName = 'core')),
      /resourceName/,
    ],
    [
      'no insertId',
      variant(entries[0]!, (e) => {
        delete e.insertId;
        delete e.operation;
      }),
      /insertId/,
    ],
    [
      'a resource name with an empty part',
      variant(entries[0]!, (e) => (payloadOf(e).resourceName = 'core/v1/namespaces//pods/debug-tools')),
      /resourceName/,
    ],
    ['a string', 'hello', /JSON object/],
    ['no protoPayload', { resource: { type: 'k8s_cluster' } }, /protoPayload/],
  ])('rejects %s with a reason, without throwing', (_what, raw, reason) => {
    const result = gkeEntryToAudit(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('gives events the audit normalizer accepts, with the user where analysts search', () => {
    for (const entry of [...entries, ...fixtureLines('gke/control-plane.jsonl')]) {
      const result = normalizeAudit(converted(entry), { cluster: 'prod-gke' });
      expect(result.ok, JSON.stringify(result)).toBe(true);
    }
    const pod = normalizeAudit(converted(entries[0]), { cluster: 'prod-gke' });
    expect(pod.ok && pod.event).toMatchObject({
      user: { name: 'alice@example.com' },
      related: { user: ['alice@example.com'] },
    });
  });
});

describe('GKE readers', () => {
  it('reads gcloud logging read --format=json (a JSON array) entry by entry', () => {
    const batch = gkeAuditFromJson(entries);
    expect(batch.items).toHaveLength(entries.length);
    expect(batch.items.every((i) => i.ok)).toBe(true);
    expect(batch.items[3]!.where).toBe('[3]');
  });

  it('reads JSON lines one parsed line at a time', () => {
    const lines = fixtureLines('gke/control-plane.jsonl');
    const batches = lines.map((l) => gkeAuditFromJson(l));
    expect(batches.map((b) => b.items.length)).toEqual(lines.map(() => 1));
    expect(batches.every((b) => b.items[0]!.ok)).toBe(true);
  });

  it('unwraps a Pub/Sub push envelope: base64 data → the LogEntry, with the message id', () => {
    const push = fixtureJson('gke/pubsub-push.json');
    const message = unwrapPubSubPush(push);
    expect(message).toMatchObject({
      ok: true,
      messageId: '13702849561128854',
      publishTime: '2025-03-11T14:02:41.512Z',
      subscription: 'projects/acme-prod/subscriptions/klaxon-gke-audit',
      attributes: { 'logging.googleapis.com/timestamp': '2025-03-11T14:02:31.131874Z' },
    });
    const batch = gkeAuditFromJson(push);
    expect(batch.items).toHaveLength(1);
    expect(batch.items[0]).toMatchObject({
      ok: true,
      where: 'message.data[0]',
      origin: { messageId: '13702849561128854', cluster: { name: 'prod-gke' } },
      event: { objectRef: { subresource: 'exec' } },
    });
  });

  it('rejects a push whose data is not base64 JSON, as one item with its reason', () => {
    const push = fixtureJson('gke/pubsub-push.json') as Json;
    for (const data of ['not base64!', Buffer.from('{"insertId":').toString('base64'), '']) {
      const bad = variant(push, (p) => ((p.message as Json).data = data));
      const batch = gkeAuditFromJson(bad);
      expect(batch.items).toEqual([
        { ok: false, reason: expect.stringMatching(/data|base64|JSON/), where: 'message.data' },
      ]);
    }
  });

  it('reads a pulled message data buffer (no base64 layer)', () => {
    const data = Buffer.from(JSON.stringify(entries[1]));
    const batch = gkeAuditFromMessageData(data, '42');
    expect(batch.items[0]).toMatchObject({ ok: true, origin: { messageId: '42' } });
  });
});
