import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { REDACTED } from '../../../src/normalize/redact.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';
import {
  b64,
  secretForms as forms,
  LAST_APPLIED,
  secretCreate,
  secretForms,
  secretInsideList,
  secretJsonPatch,
  secretList,
  secretMergePatch,
  secretTable,
} from './secret-events.ts';

const ctx = { cluster: 'prod' };
const SECRET = 'hunter2-Pa55w0rd!-s3cr3t';

function output(raw: unknown): { text: string; event: NormalizedEvent } {
  const result = normalizeAny(raw, ctx);
  if (!result.ok) throw new Error(result.reason);
  return { text: JSON.stringify(result.event), event: result.event };
}

function expectNoSecret(text: string, value: string): void {
  for (const form of secretForms(value)) expect(text).not.toContain(form);
}

type Audit = { requestObject?: unknown; responseObject?: unknown };
const audit = (event: NormalizedEvent) => event.kubernetes?.audit as Audit;

describe('redaction', () => {
  it('a Secret created at RequestResponse level: data, stringData, last-applied annotation', () => {
    const raw = secretCreate('password', SECRET);
    const before = JSON.stringify(raw);
    expect(before).toContain(b64(SECRET));
    const { text, event } = output(raw);
    expectNoSecret(text, SECRET);
    const request = audit(event).requestObject as Record<string, Record<string, unknown>>;
    expect(request.data).toEqual({ password: REDACTED });
    expect(request.stringData).toEqual({ 'password-plain': REDACTED });
    expect(request.metadata?.annotations).toEqual({ team: 'payments' });
    expect(event.klaxon?.redacted).toEqual(
      expect.arrayContaining([
        '/requestObject/data/password',
        '/requestObject/stringData/password-plain',
        `/requestObject/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`,
        '/responseObject/data/password',
      ]),
    );
    // the caller's object is untouched
    expect(JSON.stringify(raw)).toBe(before);
  });

  it('a JSON patch that writes /data/password', () => {
    const raw = secretJsonPatch('password', SECRET);
    const { text, event } = output(raw);
    expectNoSecret(text, SECRET);
    expectNoSecret(text, `${SECRET}-old`);
    const ops = audit(event).requestObject as { op: string; path: string; value: unknown }[];
    expect(ops.map((op) => op.value)).toEqual([REDACTED, REDACTED, { password: REDACTED }, REDACTED, 'true']);
    expect(ops[1]).toEqual({ op: 'replace', path: '/data/password', value: REDACTED });
    expect(event.klaxon?.redacted).toContain('/requestObject/1/value');
  });

  it('a merge patch of a Secret (no kind in the body)', () => {
    const { text, event } = output(secretMergePatch('password', SECRET));
    expectNoSecret(text, SECRET);
    expect((audit(event).requestObject as Record<string, unknown>).data).toEqual({ password: REDACTED });
  });

  it('a secrets list response', () => {
    const { text, event } = output(secretList('token', SECRET));
    expectNoSecret(text, `${SECRET}0`);
    expectNoSecret(text, `${SECRET}1`);
    const items = (audit(event).responseObject as { items: { data: unknown; metadata: { name: string } }[] })
      .items;
    expect(items.map((item) => item.data)).toEqual([{ token: REDACTED }, { token: REDACTED }]);
    expect(items[0]?.metadata.name).toBe('db-creds');
  });

  it('a Table response with the Secrets included', () => {
    const { text } = output(secretTable('password', SECRET));
    expectNoSecret(text, SECRET);
    expect(text).toContain('db-creds');
  });

  it('a Secret nested in a generic List, found by its kind', () => {
    const { text } = output(secretInsideList('password', SECRET));
    expectNoSecret(text, SECRET);
  });

  it('the last-applied annotation of any kind', () => {
    const raw = secretCreate('password', SECRET);
    raw.objectRef = { resource: 'configmaps', namespace: 'payments', name: 'cfg' };
    raw.requestObject = {
      kind: 'ConfigMap',
      metadata: { annotations: { [LAST_APPLIED]: `{"data":{"dsn":"${SECRET}"}}` } },
      data: { dsn: 'postgres://db' },
    };
    raw.responseObject = undefined;
    const { text, event } = output(raw);
    expectNoSecret(text, SECRET);
    expect((audit(event).requestObject as { data: unknown }).data).toEqual({ dsn: 'postgres://db' });
  });

  it('service-account tokens: TokenReview requests and TokenRequest responses', () => {
    const review = secretCreate('x', 'unused');
    review.objectRef = { resource: 'tokenreviews', apiGroup: 'authentication.k8s.io' };
    review.requestObject = { kind: 'TokenReview', spec: { token: SECRET, audiences: ['api'] } };
    review.responseObject = { kind: 'TokenReview', spec: { token: SECRET }, status: { authenticated: true } };
    const tokenRequest = secretCreate('x', 'unused');
    tokenRequest.objectRef = {
      resource: 'serviceaccounts',
      subresource: 'token',
      name: 'builder',
      namespace: 'ci',
    };
    tokenRequest.requestObject = { kind: 'TokenRequest', spec: { audiences: ['api'] } };
    tokenRequest.responseObject = {
      kind: 'TokenRequest',
      status: { token: SECRET, expirationTimestamp: 'x' },
    };
    for (const raw of [review, tokenRequest]) {
      const { text } = output(raw);
      expectNoSecret(text, SECRET);
      expect(text).toContain(REDACTED);
    }
  });

  it('does not mutate deeply frozen input', () => {
    const raw = secretCreate('password', SECRET);
    const freeze = (value: unknown): void => {
      if (value && typeof value === 'object') {
        Object.freeze(value);
        for (const child of Object.values(value)) freeze(child);
      }
    };
    freeze(raw);
    const { text } = output(raw);
    expectNoSecret(text, SECRET);
  });
});

/** Values that cannot collide with the event's own strings by chance. */
const secretValue = fc.oneof(
  fc.string({ minLength: 12, maxLength: 48 }),
  fc.string({ unit: 'grapheme', minLength: 12, maxLength: 24 }),
  fc.uint8Array({ minLength: 12, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64')),
);
const keyName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.constantFrom('password', 'token', '__proto__', 'constructor', 'a/b~c', '.dockerconfigjson'),
);
const builders = [secretCreate, secretJsonPatch, secretMergePatch, secretList, secretTable, secretInsideList];

describe('redaction properties', () => {
  it('no secret value, plain or base64, survives any Secret-carrying event', () => {
    fc.assert(
      fc.property(fc.constantFrom(...builders), keyName, secretValue, (build, key, value) => {
        // Round-trip through JSON: the shape ingest and the file reader hand over (own `__proto__` keys included).
        const raw = JSON.parse(JSON.stringify(build(key, value))) as unknown;
        const { text, event } = output(raw);
        for (const form of forms(value)) {
          if (text.includes(form)) throw new Error(`${build.name} leaked ${JSON.stringify(form)}`);
        }
        expect(NormalizedEvent.safeParse(event).success).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

/** Issue 22, defect 9: credentials outside Secrets, in pod environments and ConfigMaps, never reach the bus. */
describe('credentials outside Secrets', () => {
  const container = (env: unknown[]) => ({ name: 'app', image: 'registry.example.com/app:1.4.2', env });
  const env = [
    { name: 'DB_PASSWORD', value: SECRET },
    { name: 'STRIPE_API_KEY', value: `sk_live_${SECRET}` },
    { name: 'DATABASE_URL', value: `postgres://app:${SECRET}@db.payments:5432/app` },
    { name: 'DB_PASSWORD_FILE', value: '/run/secrets/db-password' },
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'password' } } },
  ];
  const event = (resource: string, verb: string, requestObject: unknown, subresource?: string) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `cred-${resource}-${verb}`,
    stage: 'ResponseComplete',
    verb,
    requestURI: `/apis/apps/v1/namespaces/payments/${resource}`,
    user: { username: 'alice@example.com' },
    objectRef: { resource, namespace: 'payments', name: 'api', subresource },
    requestObject,
    responseObject: requestObject,
    responseStatus: { code: 201 },
    stageTimestamp: '2026-11-20T10:00:00.000000Z',
  });

  it('drops literal env values under credential-like names or that carry a credential, wherever a pod spec is', () => {
    const pod = { kind: 'Pod', spec: { containers: [container(env)], initContainers: [container(env)] } };
    const deployment = { kind: 'Deployment', spec: { template: { spec: { containers: [container(env)] } } } };
    const patchOps = [
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/env/-',
        value: { name: 'API_TOKEN', value: SECRET },
      },
      { op: 'replace', path: '/spec/template/spec/containers/0/env', value: env },
    ];
    for (const raw of [
      event('pods', 'create', pod),
      event('deployments', 'create', deployment),
      event('deployments', 'patch', patchOps),
      event('deployments', 'patch', { spec: { template: { spec: { containers: [container(env)] } } } }),
      event('pods', 'create', pod, 'ephemeralcontainers'),
    ]) {
      const { text } = output(raw);
      expectNoSecret(text, SECRET);
      expect(text).toContain('/run/secrets/db-password');
      expect(text).toContain('"LOG_LEVEL","value":"info"');
      expect(text).toContain('secretKeyRef');
      expect(text).toContain('"DB_PASSWORD","value":"[REDACTED]"');
    }
  });

  it('drops ConfigMap values that are credentials, keeps the others and every key, and records where', () => {
    const data = {
      'application.properties': `spring.datasource.password=${SECRET}\nserver.port=8080\n`,
      'tls.key': `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`,
      ADMIN_PASSWORD: SECRET,
      'app.yaml': 'color: blue\nreplicas: 3\n',
    };
    const { text, event: e } = output(event('configmaps', 'create', { kind: 'ConfigMap', data }));
    expectNoSecret(text, SECRET);
    const request = audit(e).requestObject as { data: Record<string, string> };
    expect(Object.keys(request.data).sort()).toEqual(Object.keys(data).sort());
    expect(request.data['app.yaml']).toBe(data['app.yaml']);
    expect(e.klaxon?.redacted).toEqual(
      expect.arrayContaining([
        '/requestObject/data/application.properties',
        '/requestObject/data/ADMIN_PASSWORD',
      ]),
    );
    const patch = output(
      event('configmaps', 'patch', [{ op: 'add', path: '/data/db.password', value: `password: ${SECRET}` }]),
    );
    expectNoSecret(patch.text, SECRET);
    const merge = output(
      event('configmaps', 'patch', { data: { 'creds.ini': `aws_secret_access_key = ${SECRET}` } }),
    );
    expectNoSecret(merge.text, SECRET);
  });
});
