// Secrets anywhere in a payload (issue 19, item 1): header lists and maps, credential-like keys, text with a
// credential in it, URLs of webhook configurations, Falco output and output fields; and the identifiers and
// verdicts around them that rules match on, which must stay as they are.
import { describe, expect, it } from 'vitest';
import { normalizeAudit } from '../../../src/normalize/audit.ts';
import { normalizeFalco } from '../../../src/normalize/falco.ts';
import { REDACTED } from '../../../src/normalize/redact.ts';
import { isSecretKey, redactFreeText } from '../../../src/normalize/secrets-in-text.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';

const ctx = { cluster: 'prod' };
const S = 'Zq7RkT2vLm9XwP4sNb8Y';

function audit(requestObject: unknown, objectRef: Record<string, unknown>): NormalizedEvent {
  const result = normalizeAudit(
    {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: 'a1',
      stage: 'ResponseComplete',
      verb: 'create',
      requestURI: `/api/v1/namespaces/shop/${objectRef.resource}`,
      user: { username: 'token-admin', groups: ['system:authenticated'] },
      objectRef: { namespace: 'shop', apiVersion: 'v1', ...objectRef },
      responseStatus: { code: 201 },
      requestObject,
      stageTimestamp: '2024-05-01T10:00:00.000000Z',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "token-admins"',
      },
    },
    ctx,
  );
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

const body = (e: NormalizedEvent) => e.kubernetes?.audit?.requestObject as Record<string, unknown>;

describe('secrets in payloads', () => {
  it('drops the value of a probe header named like a credential, and keeps the others', () => {
    const event = audit(
      {
        kind: 'Pod',
        metadata: { name: 'web' },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'registry.example.com/token-service:1.2',
              livenessProbe: {
                httpGet: {
                  path: '/healthz',
                  port: 8080,
                  httpHeaders: [
                    { name: 'Authorization', value: `Bearer ${S}` },
                    { name: 'X-Api-Key', value: S },
                    { name: 'Accept', value: 'application/json' },
                  ],
                },
              },
            },
          ],
        },
      },
      { resource: 'pods', name: 'web' },
    );
    const text = JSON.stringify(event);
    expect(text).not.toContain(S);
    const container = (body(event).spec as { containers: Record<string, unknown>[] }).containers[0]!;
    expect(container.image).toBe('registry.example.com/token-service:1.2');
    expect((container.livenessProbe as { httpGet: { httpHeaders: unknown } }).httpGet.httpHeaders).toEqual([
      { name: 'Authorization', value: REDACTED },
      { name: 'X-Api-Key', value: REDACTED },
      { name: 'Accept', value: 'application/json' },
    ]);
    expect(event.klaxon?.redacted).toEqual(
      expect.arrayContaining([
        '/requestObject/spec/containers/0/livenessProbe/httpGet/httpHeaders/0/value',
        '/requestObject/spec/containers/0/livenessProbe/httpGet/httpHeaders/1/value',
      ]),
    );
  });

  it('redacts a header map, a credential-like key and a webhook URL; identifiers and verdicts stay', () => {
    const event = audit(
      {
        kind: 'MutatingWebhookConfiguration',
        metadata: {
          name: 'inject',
          annotations: {
            'nginx.ingress.kubernetes.io/auth-url': 'https://auth.example.com/check',
            'openshift.io/token-secret.value': S,
          },
        },
        webhooks: [
          {
            name: 'inject.example.com',
            clientConfig: { url: `https://hooks.example.com/mutate?token=${S}&v=1` },
            objectSelector: { matchExpressions: [{ key: 'token', operator: 'Exists' }] },
          },
          { name: 'other.example.com', clientConfig: { url: `https://hook:${S}@other.example.com/m` } },
        ],
        spec: { headers: { Authorization: `Bearer ${S}` }, auth: { clientSecret: S, user: 'ops' } },
      },
      { resource: 'mutatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io', name: 'inject' },
    );
    expect(JSON.stringify(event)).not.toContain(S);
    const obj = body(event) as {
      webhooks: { clientConfig: { url: string }; objectSelector?: unknown }[];
      spec: unknown;
      metadata: { annotations: Record<string, string> };
    };
    expect(obj.webhooks[0]!.clientConfig.url).toBe(`https://hooks.example.com/mutate?token=${REDACTED}&v=1`);
    expect(obj.webhooks[1]!.clientConfig.url).toBe(`https://hook:${REDACTED}@other.example.com/m`);
    expect(obj.webhooks[0]!.objectSelector).toEqual({
      matchExpressions: [{ key: 'token', operator: 'Exists' }],
    });
    expect(obj.spec).toEqual({
      headers: { Authorization: REDACTED },
      auth: { clientSecret: REDACTED, user: 'ops' },
    });
    expect(obj.metadata.annotations['nginx.ingress.kubernetes.io/auth-url']).toBe(
      'https://auth.example.com/check',
    );
    expect(obj.metadata.annotations['openshift.io/token-secret.value']).toBe(REDACTED);
    // Who acted and the API server's verdict are read as they are, whatever words they contain.
    expect(event.user?.name).toBe('token-admin');
    expect(event.kubernetes?.audit?.annotations).toEqual({
      'authorization.k8s.io/decision': 'allow',
      'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "token-admins"',
    });
  });

  it('keeps the key name of a secretKeyRef and taint keys, drops a literal env value', () => {
    const event = audit(
      {
        kind: 'Pod',
        spec: {
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'payments', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'api',
              image: 'api:1',
              command: ['mysql'],
              args: ['-h', 'db', `-p${S}`],
              env: [
                { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
                { name: 'API_TOKEN', value: S },
                { name: 'TOKEN_FILE', value: '/var/run/secrets/token' },
              ],
            },
          ],
        },
      },
      { resource: 'pods', name: 'api' },
    );
    expect(JSON.stringify(event)).not.toContain(S);
    const spec = body(event).spec as { tolerations: unknown; containers: Record<string, unknown>[] };
    expect(spec.tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'payments', effect: 'NoSchedule' },
    ]);
    expect(spec.containers[0]!.env).toEqual([
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'API_TOKEN', value: REDACTED },
      { name: 'TOKEN_FILE', value: '/var/run/secrets/token' },
    ]);
    // `args` is read after `command`: `-p…` is mysql's password.
    expect(spec.containers[0]!.args).toEqual(['-h', 'db', `-p${REDACTED}`]);
    expect(event.process?.command_line).toBe(`mysql -h db -p${REDACTED}`);
  });

  it('drops secrets inside ConfigMap values that are not credentials as a whole', () => {
    const event = audit(
      {
        kind: 'ConfigMap',
        data: {
          'nginx.conf': `location / { proxy_set_header Authorization "Bearer ${S}"; }`,
          'settings.yaml': `upstream:\n  url: https://api.example.com\n  token: ${S}\n`,
          'app.properties': 'log.level = info\n',
        },
      },
      { resource: 'configmaps', name: 'proxy' },
    );
    expect(JSON.stringify(event)).not.toContain(S);
    const data = body(event).data as Record<string, string>;
    expect(data['nginx.conf']).toBe(`location / { proxy_set_header Authorization "Bearer ${REDACTED}"; }`);
    expect(data['settings.yaml']).toBe(`upstream:\n  url: https://api.example.com\n  token: ${REDACTED}\n`);
    expect(data['app.properties']).toBe('log.level = info\n');
  });

  it('Falco: output, output fields and proc.args (read after proc.name) lose their secrets', () => {
    const result = normalizeFalco(
      {
        time: '2024-05-01T10:00:00.000000000Z',
        rule: 'Terminal shell in container',
        priority: 'Notice',
        output: `10:00:00.000: Notice shell (user=root cmdline=curl -H "Authorization: Bearer ${S}" https://api/x?token=${S})`,
        output_fields: {
          'proc.name': 'mysql',
          'proc.cmdline': `mysql -uroot -p${S}`,
          'proc.args': `-uroot -p${S}`,
          'ka.uri': `/api/v1/namespaces/shop/services/x/proxy?access_token=${S}`,
          'ka.req.configmap.obj': JSON.stringify({ 'app.properties': `password = ${S}` }),
          'k8s.pod.name': 'token-service-7d9f',
        },
      },
      ctx,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(JSON.stringify(result.event)).not.toContain(S);
    const fields = result.event.falco?.output_fields as Record<string, string>;
    expect(fields['proc.args']).toBe(`-uroot -p${REDACTED}`);
    expect(fields['ka.uri']).toBe(`/api/v1/namespaces/shop/services/x/proxy?access_token=${REDACTED}`);
    expect(fields['k8s.pod.name']).toBe('token-service-7d9f');
    expect(result.event.orchestrator.resource?.name).toBe('token-service-7d9f');
    expect(result.event.klaxon?.redacted).toEqual(
      expect.arrayContaining(['/output', '/output_fields/proc.args', '/output_fields/ka.uri']),
    );
  });
});

describe('redactFreeText', () => {
  it.each([
    [`curl -H 'X-Api-Key: ${S}' http://api`, `curl -H 'X-Api-Key: ${REDACTED}' http://api`],
    [`Cookie: session=${S}`, `Cookie: ${REDACTED}`],
    [`https://api.example.com/v1?sig=${S}&se=2024`, `https://api.example.com/v1?sig=${REDACTED}&se=2024`],
    [`db.password = ${S}`, `db.password = ${REDACTED}`],
    [`postgres://app:${S}@db:5432/shop`, `postgres://app:${REDACTED}@db:5432/shop`],
  ])('%s', (text, expected) => {
    expect(redactFreeText(text)).toBe(expected);
  });

  it('returns the same string for identifiers that merely contain a secret-like word', () => {
    for (const text of [
      'registry.example.com/token-service:1.2',
      'keycloak:24.0',
      'system:serviceaccount:kube-system:token-cleaner',
      'RBAC: allowed by ClusterRoleBinding "system:controller:token-cleaner"',
      'object.spec.token == ""',
      'key encipherment',
    ])
      expect(redactFreeText(text)).toBe(text);
  });
});

describe('isSecretKey', () => {
  it('judges a prefixed key by its own name, and never a bare `key`', () => {
    expect(isSecretKey('password')).toBe(true);
    expect(isSecretKey('clientSecret')).toBe(true);
    expect(isSecretKey('openshift.io/token-secret.value')).toBe(true);
    expect(isSecretKey('authorization.k8s.io/decision')).toBe(false);
    expect(isSecretKey('key')).toBe(false);
    expect(isSecretKey('secretName')).toBe(false);
  });
});
