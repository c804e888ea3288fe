// Where a secret can live in what Klaxon receives (issue 19, item 1): each place a generator of (secret, marker) →
// a payload of one dataset holding the secret there, and the marker in a field every output keeps (a name, a
// pod), so a test can find what Klaxon wrote for it. Shared by the in-process property test and the integration
// test through the real services.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';

/** Rules that fire on every event of each dataset: every planted payload becomes an alert. */
export const CATCH_ALL_RULES = `title: Every audit event
name: every-audit-event
id: ${randomUUID()}
logsource: {product: kubernetes, service: audit}
detection:
  sel: {auditID|exists: true}
  condition: sel
level: high
---
title: Every Falco alert
name: every-falco-alert
id: ${randomUUID()}
logsource: {product: falco}
detection:
  sel: {rule|exists: true}
  condition: sel
level: high
---
title: Every Hubble flow
name: every-hubble-flow
id: ${randomUUID()}
logsource: {product: cilium, service: hubble}
detection:
  sel: {verdict|exists: true}
  condition: sel
level: high
`;

export const b64 = (s: string) => Buffer.from(s).toString('base64');
const query = (params: [string, string][]) => new URLSearchParams(params).toString();

export interface Planted {
  dataset: 'audit' | 'falco' | 'flows';
  /** Where the secret was put, for the failure message. */
  where: string;
  raw: Record<string, unknown>;
}

export type Place = (secret: string, marker: string) => Planted;

let seq = 0;
function auditEvent(marker: string, fields: Record<string, unknown>): Record<string, unknown> {
  seq++;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: randomUUID(),
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: `user-${marker}`, groups: ['system:authenticated'] },
    sourceIPs: ['10.0.3.7'],
    userAgent: 'kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc',
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: new Date(Date.now() - 1000 + seq).toISOString(),
    stageTimestamp: new Date(Date.now() - 900 + seq).toISOString(),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...fields,
  };
}

/** A create of `resource` whose request and response body is `body`. */
function create(
  marker: string,
  resource: string,
  body: Record<string, unknown>,
  apiGroup = '',
): Record<string, unknown> {
  const ns = 'payments';
  const path = apiGroup ? `/apis/${apiGroup}/v1` : '/api/v1';
  return auditEvent(marker, {
    requestURI: `${path}/namespaces/${ns}/${resource}`,
    objectRef: { resource, namespace: ns, name: marker, apiGroup, apiVersion: 'v1' },
    requestObject: body,
    responseObject: body,
  });
}

function pod(marker: string, container: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: marker, namespace: 'payments', labels: { app: 'api' } },
    spec: { containers: [{ name: 'api', image: 'registry.example.com/shop/api:2.4.1', ...container }] },
  };
}

const HEADERS: ((s: string) => [string, string])[] = [
  (s) => ['Authorization', `Bearer ${s}`],
  (s) => ['authorization', `Basic ${s}`],
  (s) => ['X-Api-Key', s],
  (s) => ['Cookie', `session=${s}; theme=dark`],
  (s) => ['X-Auth-Token', s],
  (s) => ['Private-Token', s],
  (s) => ['Proxy-Authorization', `Bearer ${s}`],
];
const QUERY_PARAMS = [
  'token',
  'access_token',
  'id_token',
  'password',
  'key',
  'secret',
  'sig',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'api_key',
  'client_secret',
];
/** Command lines that carry a secret, as argument vectors. */
const COMMANDS: ((s: string) => string[])[] = [
  (s) => ['mysql', '-h', 'db', '-uroot', `-p${s}`, 'shop'],
  (s) => ['sh', '-c', `mysql -uroot -p${s} shop < /tmp/dump.sql`],
  (s) => ['curl', '-sk', '-H', `Authorization: Bearer ${s}`, 'https://kubernetes.default.svc/api'],
  (s) => ['curl', '-H', `X-Api-Key: ${s}`, 'https://api.example.com/v1/orders'],
  (s) => ['curl', '--cookie', `session=${s}`, 'https://shop.example.com/admin'],
  (s) => ['psql', `--password=${s}`, '-h', 'db'],
  (s) => ['sh', '-c', `PGPASSWORD=${s} pg_dump -h db shop`],
  (s) => ['redis-cli', '-h', 'cache', '-a', s, 'KEYS', '*'],
  (s) => ['wget', '-q', `https://artifacts.example.com/build.tgz?token=${s}`],
  (s) => ['git', 'clone', `https://deploy:${s}@git.example.com/shop/api.git`],
  (s) => ['sh', '-c', `export AWS_SECRET_ACCESS_KEY=${s}; aws s3 ls`],
  (s) => ['app', '--db-password', s],
];

const pick = <T>(list: readonly T[]) => fc.nat({ max: list.length - 1 }).map((i) => list[i]!);

/** Every place, each a generator of (secret, marker) → event. */
export const AUDIT_PLACES: fc.Arbitrary<Place>[] = [
  pick(QUERY_PARAMS).map((param) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `requestURI ?${param}=`,
    raw: auditEvent(m, {
      verb: 'get',
      requestURI: `/api/v1/namespaces/payments/services/https:${m}:443/proxy/login?${query([
        ['next', '/home'],
        [param, s],
      ])}`,
      objectRef: {
        resource: 'services',
        subresource: 'proxy',
        namespace: 'payments',
        name: m,
        apiVersion: 'v1',
      },
      responseStatus: { metadata: {}, code: 200 },
    }),
  })),
  pick(COMMANDS).map((command) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `exec command ${command('S').join(' ')}`,
    raw: auditEvent(m, {
      verb: 'create',
      stage: 'ResponseStarted',
      requestURI: `/api/v1/namespaces/payments/pods/${m}/exec?${query([
        ...command(s).map((c): [string, string] => ['command', c]),
        ['container', 'api'],
        ['stdin', 'true'],
        ['tty', 'true'],
      ])}`,
      objectRef: { resource: 'pods', subresource: 'exec', namespace: 'payments', name: m, apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 101 },
    }),
  })),
  pick(COMMANDS).map((command) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `container command ${command('S').join(' ')}`,
    raw: create(m, 'pods', pod(m, { command: command(s).slice(0, 1), args: command(s).slice(1) })),
  })),
  pick(HEADERS).map((header) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `probe httpHeaders ${header('S')[0]}`,
    raw: create(
      m,
      'pods',
      pod(m, {
        livenessProbe: {
          httpGet: {
            path: '/healthz',
            port: 8080,
            httpHeaders: [{ name: header(s)[0], value: header(s)[1] }],
          },
        },
      }),
    ),
  })),
  pick(QUERY_PARAMS).map((param) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `probe path ?${param}=`,
    raw: create(
      m,
      'pods',
      pod(m, { readinessProbe: { httpGet: { path: `/ready?${param}=${s}`, port: 8080 } } }),
    ),
  })),
  pick(HEADERS).map((header) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `HTTPRoute header modifier ${header('S')[0]}`,
    raw: create(
      m,
      'httproutes',
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: m, namespace: 'payments' },
        spec: {
          rules: [
            {
              filters: [
                {
                  type: 'RequestHeaderModifier',
                  requestHeaderModifier: { set: [{ name: header(s)[0], value: header(s)[1] }] },
                },
              ],
              backendRefs: [{ name: 'api', port: 8080 }],
            },
          ],
        },
      },
      'gateway.networking.k8s.io',
    ),
  })),
  pick(HEADERS).map((header) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `custom resource header map ${header('S')[0]}`,
    raw: create(
      m,
      'virtualservices',
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: m, namespace: 'payments' },
        spec: { http: [{ headers: { request: { set: { [header(s)[0]]: header(s)[1] } } } }] },
      },
      'networking.istio.io',
    ),
  })),
  fc.constantFrom('query', 'userinfo').map((form) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `webhook clientConfig.url (${form})`,
    raw: create(
      m,
      'validatingwebhookconfigurations',
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: m },
        webhooks: [
          {
            name: 'policy.example.com',
            clientConfig: {
              url:
                form === 'query'
                  ? `https://hooks.example.com/validate?token=${s}`
                  : `https://admission:${s}@hooks.example.com/validate`,
            },
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
          },
        ],
      },
      'admissionregistration.k8s.io',
    ),
  })),
  fc
    .constantFrom<[string, (s: string) => string]>(
      ['DB_PASSWORD', (s) => s],
      ['API_TOKEN', (s) => s],
      ['AWS_SECRET_ACCESS_KEY', (s) => s],
      ['DATABASE_URL', (s) => `postgres://app:${s}@db:5432/shop`],
      ['STRIPE_KEY', (s) => s],
    )
    .map(([name, value]) => (s: string, m: string) => ({
      dataset: 'audit' as const,
      where: `env ${name}`,
      raw: create(
        m,
        'pods',
        pod(m, {
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name, value: value(s) },
          ],
        }),
      ),
    })),
  fc
    .constantFrom<[string, (s: string) => string]>(
      ['app.properties', (s) => `db.user=shop\ndb.password = ${s}\n`],
      ['api_key', (s) => s],
      ['nginx.conf', (s) => `location / {\n  proxy_set_header Authorization "Bearer ${s}";\n}\n`],
      ['config.json', (s) => JSON.stringify({ endpoint: 'https://api.example.com', apiKey: s })],
      ['settings.yaml', (s) => `upstream:\n  url: https://api.example.com\n  token: ${s}\n`],
    )
    .map(([key, value]) => (s: string, m: string) => ({
      dataset: 'audit' as const,
      where: `ConfigMap ${key}`,
      raw: create(m, 'configmaps', {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: m, namespace: 'payments' },
        data: { 'log.level': 'info', [key]: value(s) },
      }),
    })),
  fc.constantFrom('data', 'stringData').map((field) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `Secret ${field}`,
    raw: create(m, 'secrets', {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: m, namespace: 'payments' },
      type: 'Opaque',
      [field]: { password: field === 'data' ? b64(s) : s },
    }),
  })),
  fc.constant((s: string, m: string) => ({
    dataset: 'audit' as const,
    where: 'TokenReview spec.token',
    raw: create(
      m,
      'tokenreviews',
      { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: { token: s } },
      'authentication.k8s.io',
    ),
  })),
  pick(HEADERS).map((header) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `annotation text with ${header('S')[0]}`,
    raw: create(
      m,
      'deployments',
      {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        metadata: {
          name: m,
          namespace: 'payments',
          annotations: {
            'example.com/smoke-test': `curl -fsS -H '${header(s)[0]}: ${header(s)[1]}' http://api/healthz`,
          },
        },
        spec: { replicas: 2 },
      },
      'apps',
    ),
  })),
  fc.constantFrom('password', 'clientSecret', 'apiKey', 'token').map((key) => (s: string, m: string) => ({
    dataset: 'audit' as const,
    where: `custom resource spec.${key}`,
    raw: create(
      m,
      'databases',
      {
        apiVersion: 'db.example.com/v1',
        kind: 'Database',
        metadata: { name: m, namespace: 'payments' },
        spec: { engine: 'postgres', auth: { user: 'shop', [key]: s } },
      },
      'db.example.com',
    ),
  })),
];

function falcoAlert(
  marker: string,
  output: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return {
    time: new Date().toISOString(),
    rule: 'Terminal shell in container',
    priority: 'Notice',
    source: 'syscall',
    hostname: 'ip-10-0-3-7',
    tags: ['container', 'shell', 'mitre_execution', 'T1059'],
    output: `${new Date().toISOString().slice(11, 23)}: Notice ${output}`,
    output_fields: {
      'container.id': 'a1b2c3d4e5f6',
      'container.image.repository': 'registry.example.com/shop/api',
      'k8s.ns.name': 'payments',
      'k8s.pod.name': marker,
      'user.name': 'root',
      ...fields,
    },
  };
}

export const FALCO_PLACES: fc.Arbitrary<Place>[] = [
  pick(COMMANDS).map((command) => (s: string, m: string) => {
    const cmdline = command(s).join(' ');
    return {
      dataset: 'falco' as const,
      where: `Falco output and proc.cmdline: ${command('S').join(' ')}`,
      raw: falcoAlert(m, `A shell was spawned in a container (user=root k8s.pod=${m} cmdline=${cmdline})`, {
        'proc.name': command(s)[0],
        'proc.cmdline': cmdline,
        'proc.pcmdline': `bash -c ${cmdline}`,
        'proc.args': command(s).slice(1).join(' '),
      }),
    };
  }),
  pick(QUERY_PARAMS).map((param) => (s: string, m: string) => ({
    dataset: 'falco' as const,
    where: `Falco k8saudit ka.uri ?${param}=`,
    raw: {
      ...falcoAlert(
        m,
        `K8s request (user=admin uri=/api/v1/namespaces/payments/services/x/proxy?${param}=${s})`,
        {
          'ka.uri': `/api/v1/namespaces/payments/services/x/proxy?${param}=${s}`,
          'ka.user.name': 'admin',
        },
      ),
      source: 'k8s_audit',
      rule: 'K8s Serviceaccount Created',
    },
  })),
  fc.constant((s: string, m: string) => {
    const obj = JSON.stringify({ 'db.password': s, 'app.properties': `password = ${s}` });
    return {
      dataset: 'falco' as const,
      where: 'Falco k8saudit ConfigMap quoted in output',
      raw: {
        ...falcoAlert(
          m,
          `K8s configmap with private credential (user=admin verb=create configmap=${m} config=${obj})`,
          {
            'ka.req.configmap.obj': obj,
            'ka.req.configmap.name': m,
          },
        ),
        source: 'k8s_audit',
        rule: 'Create/Modify Configmap With Private Credentials',
        priority: 'Warning',
      },
    };
  }),
];

/** An L7 HTTP flow the proxy dropped (what the volume filter publishes), as the Hubble exporter writes it. */
function hubbleHttpFlow(
  marker: string,
  http: Record<string, unknown>,
  summary: string,
): Record<string, unknown> {
  const time = new Date().toISOString();
  const node = 'prod/ip-10-0-1-5';
  const side = (ip: string, app: string, identity: number) => ({
    ID: identity % 4000,
    identity,
    cluster_name: 'prod',
    namespace: 'payments',
    labels: [`k8s:app=${app}`, 'k8s:io.kubernetes.pod.namespace=payments'],
    pod_name: marker,
    workloads: [{ name: app, kind: 'Deployment' }],
    ip,
  });
  return {
    flow: {
      time,
      uuid: randomUUID(),
      verdict: 'DROPPED',
      IP: { source: '10.0.1.23', destination: '10.0.2.41', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 43512, destination_port: 8080 } },
      source: side('10.0.1.23', 'frontend', 48213),
      destination: side('10.0.2.41', 'api', 51877),
      Type: 'L7',
      node_name: node,
      l7: { type: 'REQUEST', http: { protocol: 'HTTP/1.1', ...http } },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: false,
      Summary: summary,
    },
    node_name: node,
    time,
  };
}

export const HUBBLE_PLACES: fc.Arbitrary<Place>[] = [
  pick(QUERY_PARAMS).map((param) => (s: string, m: string) => {
    const url = `http://api.payments.svc.cluster.local:8080/v1/orders?limit=20&${param}=${s}`;
    return {
      dataset: 'flows' as const,
      where: `Hubble l7.http.url ?${param}=`,
      raw: hubbleHttpFlow(m, { method: 'GET', url }, `HTTP/1.1 GET ${url}`),
    };
  }),
  pick(HEADERS).map((header) => (s: string, m: string) => {
    const url = 'http://api.payments.svc.cluster.local:8080/v1/orders';
    return {
      dataset: 'flows' as const,
      where: `Hubble l7.http.headers ${header('S')[0]}`,
      raw: hubbleHttpFlow(
        m,
        {
          method: 'POST',
          url,
          headers: [
            { key: ':authority', value: 'api.payments.svc.cluster.local:8080' },
            { key: header(s)[0], value: header(s)[1] },
            { key: 'User-Agent', value: 'okhttp/4.12.0' },
          ],
        },
        `HTTP/1.1 POST ${url}`,
      ),
    };
  }),
  fc.constant((s: string, m: string) => {
    const url = `https://deploy:${s}@git.example.com/shop/api.git/info/refs?service=git-upload-pack`;
    return {
      dataset: 'flows' as const,
      where: 'Hubble l7.http.url user info',
      raw: hubbleHttpFlow(m, { method: 'GET', url }, `HTTP/1.1 GET ${url}`),
    };
  }),
];

export const ALL_PLACES: fc.Arbitrary<Place>[] = [...AUDIT_PLACES, ...FALCO_PLACES, ...HUBBLE_PLACES];

/** A secret as a token generator would make it. */
export const secretArb = fc.stringMatching(/^[A-Za-z0-9]{20,40}$/);

/** The route and JSON body that carry a planted payload, as its sender posts it. */
export function requestOf(planted: Planted): { path: string; contentType: string; body: string } {
  if (planted.dataset === 'audit')
    return {
      path: '/v1/audit',
      contentType: 'application/json',
      body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [planted.raw] }),
    };
  if (planted.dataset === 'flows')
    return {
      path: '/v1/flows',
      contentType: 'application/x-ndjson',
      body: `${JSON.stringify(planted.raw)}\n`,
    };
  return { path: '/v1/falco', contentType: 'application/json', body: JSON.stringify(planted.raw) };
}
