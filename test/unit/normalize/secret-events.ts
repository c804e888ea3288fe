/** Builders of audit events that carry Secret values, shared by the redaction tests. */

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Every way a secret value could show up in a JSON string: plain, base64, and their JSON-escaped forms. */
export function secretForms(value: string): string[] {
  const forms = [value, b64(value), Buffer.from(value, 'utf8').toString('base64url')];
  return [...new Set([...forms, ...forms.map((f) => JSON.stringify(f).slice(1, -1))])];
}

function base(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: '8e6e2a41-1c52-4f0b-b8a7-3f0e62f0d0aa',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/payments/secrets',
    verb: 'create',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.7'],
    userAgent: 'kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9',
    objectRef: { resource: 'secrets', namespace: 'payments', name: 'db-creds', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: '2024-05-02T09:14:03.120511Z',
    stageTimestamp: '2024-05-02T09:14:03.131874Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...overrides,
  };
}

function secretObject(key: string, value: string, withStringData: boolean): Record<string, unknown> {
  const manifest: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db-creds', namespace: 'payments' },
    type: 'Opaque',
    data: { [key]: b64(value) },
    ...(withStringData ? { stringData: { [`${key}-plain`]: value } } : {}),
  };
  return {
    ...manifest,
    metadata: {
      name: 'db-creds',
      namespace: 'payments',
      uid: '0b7e2c1a-4c1e-4a77-9d35-57e2d1f3a9b1',
      annotations: { [LAST_APPLIED]: `${JSON.stringify(manifest)}\n`, team: 'payments' },
      managedFields: [{ manager: 'kubectl-client-side-apply', fieldsV1: { 'f:data': { [`f:${key}`]: {} } } }],
    },
  };
}

/** `kubectl apply` of a new Secret, logged at RequestResponse level. */
export function secretCreate(key: string, value: string): Record<string, unknown> {
  const request = secretObject(key, value, true);
  const response = secretObject(key, value, false);
  (response.data as Record<string, string>)[`${key}-plain`] = b64(value);
  return base({ requestObject: request, responseObject: response });
}

/** `kubectl patch secret --type=json -p '[{"op":"replace","path":"/data/<key>","value":"..."}]'`. */
export function secretJsonPatch(key: string, value: string): Record<string, unknown> {
  return base({
    verb: 'patch',
    requestURI: '/api/v1/namespaces/payments/secrets/db-creds',
    responseStatus: { metadata: {}, code: 200 },
    requestObject: [
      { op: 'test', path: `/data/${key}`, value: b64(`${value}-old`) },
      { op: 'replace', path: `/data/${key}`, value: b64(value) },
      { op: 'add', path: '/stringData', value: { [key]: value } },
      { op: 'add', path: `/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`, value: value },
      { op: 'add', path: '/metadata/labels/rotated', value: 'true' },
    ],
    responseObject: secretObject(key, value, false),
  });
}

/** A merge (or strategic-merge) patch: no `kind`, only the objectRef says it is a Secret. */
export function secretMergePatch(key: string, value: string): Record<string, unknown> {
  return base({
    verb: 'patch',
    requestURI: '/api/v1/namespaces/payments/secrets/db-creds',
    responseStatus: { metadata: {}, code: 200 },
    requestObject: {
      data: { [key]: b64(value) },
      stringData: { other: value },
      metadata: { annotations: { [LAST_APPLIED]: JSON.stringify({ data: { [key]: b64(value) } }) } },
    },
    responseObject: secretObject(key, value, false),
  });
}

/** `kubectl get secrets -o json`: a SecretList whose items have no `kind`. */
export function secretList(key: string, value: string): Record<string, unknown> {
  const item = (n: number) => {
    const { kind: _kind, apiVersion: _apiVersion, ...rest } = secretObject(key, `${value}${n}`, false);
    return rest;
  };
  return base({
    verb: 'list',
    objectRef: { resource: 'secrets', namespace: 'payments', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    responseObject: { kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [item(0), item(1)] },
  });
}

/** `kubectl get secrets` asks for a Table; with includeObject=Object rows carry the whole Secret. */
export function secretTable(key: string, value: string): Record<string, unknown> {
  return base({
    verb: 'list',
    objectRef: { resource: 'secrets', namespace: 'payments', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    responseObject: {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      columnDefinitions: [{ name: 'Name', type: 'string' }],
      rows: [
        { cells: ['db-creds', 'Opaque', 1], object: { ...secretObject(key, value, false), kind: undefined } },
      ],
    },
  });
}

/** A Secret inside something that is not the `secrets` resource (a generic `List`). */
export function secretInsideList(key: string, value: string): Record<string, unknown> {
  return base({
    verb: 'create',
    objectRef: { resource: 'configmaps', namespace: 'payments', name: 'bundle', apiVersion: 'v1' },
    requestObject: { kind: 'List', apiVersion: 'v1', items: [secretObject(key, value, true)] },
  });
}
