// Issue 19, item 1: a random secret planted anywhere a secret can live in an audit event or a Falco alert never
// reaches anything Klaxon writes. The whole of `klaxon serve` runs in process — the ingest app (bearer token,
// compressed or plain bodies), the in-memory bus, the detection runtime with the shipped catalogue and a rule
// that fires on every event — and each planted event is followed to every output: the normalized event (the
// events topic, the events index), the alert on the alerts topic, as Elasticsearch indexes it, as Alertmanager
// gets it, as stdout prints it (JSON and text), as CEF and Splunk HEC carry it, every log line at trace level,
// and /metrics. A control value planted beside the secret must come out, so the outputs are really read.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { formatAlertText } from '../../../src/cli/format.ts';
import { buildServeRuntime } from '../../../src/cli/serve.ts';
import { loadConfig } from '../../../src/config.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { toPostable } from '../../../src/sinks/alertmanager.ts';
import { formatCef } from '../../../src/sinks/cef.ts';
import { alertDocs, bulkBody, eventDocs } from '../../../src/sinks/elasticsearch.ts';
import { hecEvent } from '../../../src/sinks/hec-events.ts';
import { JsonlSink } from '../../../src/sinks/jsonl.ts';
import { KafkaAlertsSink } from '../../../src/sinks/kafka-alerts.ts';
import type { RejectedAlert, Sink } from '../../../src/sinks/sink.ts';
import type { DetectionRuntime } from '../../../src/worker/detection-runtime.ts';

const TOKEN = 'secrets-test-token-0123456789abcdefghijklmnop';
const CATCH_ALL = `title: Every audit event
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
`;

class CaptureSink implements Sink {
  readonly name = 'capture';
  readonly alerts: Alert[] = [];
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    this.alerts.push(...alerts);
    return [];
  }
  async ready() {
    return true;
  }
  async close() {}
}

const rulesDir = mkdtempSync(join(tmpdir(), 'klaxon-secrets-rules-'));
writeFileSync(join(rulesDir, 'catch-all.yml'), CATCH_ALL);
const settings = loadConfig({ KLAXON_RULES: rulesDir });
const { ruleset, errors } = loadRules([join(import.meta.dirname, '../../../detections'), rulesDir]);
const logs: string[] = [];
const logger = createLogger('trace', { write: (line: string) => void logs.push(line) });
const capture = new CaptureSink();
const stdout: string[] = [];
let bus: MemoryBus;
let app: FastifyInstance;
let runtime: DetectionRuntime;

beforeAll(async () => {
  bus = new MemoryBus();
  await bus.start();
  app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable({ prod: TOKEN }) }, logger });
  const printed = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout.push(chunk.toString());
      done();
    },
  });
  const sinks: Sink[] = [
    capture,
    new KafkaAlertsSink(bus, settings.kafka.alertsTopic),
    new JsonlSink({ stream: printed, name: 'stdout' }),
    new JsonlSink({ stream: printed, name: 'stdout-text', line: (a) => formatAlertText(a, true) }),
  ];
  runtime = buildServeRuntime(settings, { events: bus, memory: bus }, ruleset, sinks, logger);
  await runtime.start();
});
afterAll(async () => {
  await runtime?.stop({ drainMs: 0 });
  await app?.close();
  await bus?.stop();
});

// ---- where a secret can live

const b64 = (s: string) => Buffer.from(s).toString('base64');
const query = (params: [string, string][]) => new URLSearchParams(params).toString();

interface Planted {
  dataset: 'audit' | 'falco';
  /** Where the secret was put, for the failure message. */
  where: string;
  raw: Record<string, unknown>;
}

type Place = (secret: string, marker: string) => Omit<Planted, 'raw'> & { raw: Record<string, unknown> };

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
const AUDIT_PLACES: fc.Arbitrary<Place>[] = [
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

const FALCO_PLACES: fc.Arbitrary<Place>[] = [
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

// ---- the check

/** Everything Klaxon wrote for one event: its outputs, each a text. */
async function outputsFor(marker: string, eventsFrom: number, alertsFrom: number, logsFrom: number) {
  const deadline = Date.now() + 20_000;
  let alerts: Alert[] = [];
  for (;;) {
    alerts = capture.alerts.filter((a) => JSON.stringify(a).includes(marker));
    if (alerts.some((a) => a.rule.name.startsWith('every-'))) break;
    if (Date.now() > deadline) throw new Error(`no alert for ${marker}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const events = bus.read(settings.kafka.eventsTopic, eventsFrom, 1000).map((m) => m.value.toString());
  const alertMessages = bus.read(settings.kafka.alertsTopic, alertsFrom, 1000).map((m) => m.value.toString());
  const parsedEvents = events.map((e) => JSON.parse(e));
  return {
    'events topic': events.join('\n'),
    'events index': JSON.stringify(bulkBody(eventDocs('klaxon-events', parsedEvents))),
    'alerts topic': alertMessages.join('\n'),
    'alerts index': JSON.stringify(bulkBody(alertDocs('klaxon-alerts', alerts))),
    alertmanager: JSON.stringify(alerts.map((a) => toPostable(a, { resolveAfterMs: 3_600_000 }))),
    stdout: stdout.join('\n'),
    cef: alerts.map((a) => formatCef(a, { version: '0.1.0', hostname: 'klaxon-0' })).join('\n'),
    'splunk hec': JSON.stringify(
      alerts.map((a) =>
        hecEvent(a, { sourcetype: 'klaxon:alert', source: 'klaxon', fallbackHost: 'klaxon-0' }),
      ),
    ),
    'trace logs': logs.slice(logsFrom).join(''),
    metrics: await registry.metrics(),
  };
}

const secret = fc.stringMatching(/^[A-Za-z0-9]{20,40}$/);
const encoding = fc.constantFrom('identity', 'gzip', 'zstd');

async function checkPlaced(place: Place, s: string, enc: string): Promise<void> {
  const marker = `m${randomUUID().slice(0, 12)}`;
  const planted = place(s, marker);
  const text = JSON.stringify(planted.raw);
  expect(text.includes(s) || text.includes(b64(s)), 'the secret is in what is sent').toBe(true);
  const eventsFrom = bus.end(settings.kafka.eventsTopic);
  const alertsFrom = bus.end(settings.kafka.alertsTopic);
  const logsFrom = logs.length;
  const json = Buffer.from(
    planted.dataset === 'audit' ? JSON.stringify({ kind: 'EventList', items: [planted.raw] }) : text,
  );
  const body = enc === 'gzip' ? zlib.gzipSync(json) : enc === 'zstd' ? zlib.zstdCompressSync(json) : json;
  const res = await app.inject({
    method: 'POST',
    url: `/v1/${planted.dataset}`,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      ...(enc === 'identity' ? {} : { 'content-encoding': enc }),
    },
    payload: body,
  });
  expect(res.json(), planted.where).toEqual({ accepted: 1, rejected: [] });
  const outputs = await outputsFor(marker, eventsFrom, alertsFrom, logsFrom);
  for (const [name, out] of Object.entries(outputs)) {
    expect(out.includes(s), `${planted.where}: the secret reached ${name}`).toBe(false);
    expect(out.includes(b64(s)), `${planted.where}: the secret (base64) reached ${name}`).toBe(false);
    // The control: what was planted beside the secret did come out (logs and metrics carry no event content).
    if (name !== 'trace logs' && name !== 'metrics')
      expect(out.includes(marker), `${planted.where}: ${name} holds the event`).toBe(true);
  }
}

describe('a secret planted anywhere in an audit event or a Falco alert', () => {
  it('loads the catalogue and the catch-all rules', () => {
    expect(errors).toEqual([]);
    expect(ruleset.rules.map((r) => r.name)).toEqual(
      expect.arrayContaining(['every-audit-event', 'every-falco-alert']),
    );
  });

  it('never reaches Kafka, Elasticsearch, Alertmanager, stdout, the SIEM sinks, the logs or /metrics', {
    timeout: 300_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(...AUDIT_PLACES, ...FALCO_PLACES), secret, encoding, checkPlaced),
      { numRuns: 150, endOnFailure: true },
    );
  });

  // Each place at least once, whatever the random draw above visited.
  it.each([...AUDIT_PLACES, ...FALCO_PLACES].map((p, i) => [i, p] as const))(
    'place %i, with a fixed secret',
    { timeout: 60_000 },
    async (_i, place) => {
      const [sample] = fc.sample(place, { numRuns: 1, seed: 19 });
      await checkPlaced(sample!, 'Zq7RkT2vLm9XwP4sNb8YcD3h', 'identity');
    },
  );
});
