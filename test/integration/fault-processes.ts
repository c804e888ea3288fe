// Helpers of the fault tests: Klaxon processes as children (so they can be SIGKILLed), senders
// that behave like the API server and Falco, Elasticsearch and Kafka probes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import type { Kafka } from 'kafkajs';
import { type Klaxon, LISTENING_URL, spawnKlaxon, waitForStderr } from '../helpers/klaxon-process.ts';
import { alertmanagerUrl, elasticsearchUrl, kafkaBrokers, runServices, uniqueTopic } from './services.ts';

const catalogue = fileURLToPath(new URL('../../detections', import.meta.url));

export const TOKEN = 'fault-test-token-8d2e61b7c0-abcdefghijkl';

/** Settings of one test: its own topics, groups, index prefix and spool, so tests never share state. */
export function isolatedEnv(name: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), `klaxon-${name}-`));
  writeFileSync(join(dir, 'tokens.yaml'), `fault: ${TOKEN}\n`);
  const id = uniqueTopic(name);
  return {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    ELASTICSEARCH_URL: elasticsearchUrl(),
    KLAXON_ALERTMANAGER_URL: alertmanagerUrl(),
    KLAXON_EVENTS_TOPIC: `${id}.events`,
    KLAXON_SIGNALS_TOPIC: `${id}.signals`,
    KLAXON_ALERTS_TOPIC: `${id}.alerts`,
    KLAXON_DEADLETTER_TOPIC: `${id}.deadletter`,
    KLAXON_EVENTS_PARTITIONS: '3',
    KLAXON_GROUP_ID: `${id}.detect`,
    KLAXON_CORRELATE_GROUP_ID: `${id}.correlate`,
    KLAXON_ES_INDEX_PREFIX: id.replace(/[^a-z0-9-]/g, '-'),
    KLAXON_TOKENS_FILE: join(dir, 'tokens.yaml'),
    KLAXON_SPOOL_DIR: join(dir, 'spool'),
    KLAXON_SPOOL_KAFKA_TIMEOUT_MS: '1000',
    KLAXON_RULES: catalogue,
    KLAXON_HOST: '127.0.0.1',
    KLAXON_PORT: '0',
    KLAXON_DETECT_PORT: '0',
    KLAXON_LOG_LEVEL: 'info',
  };
}

/** Starts `klaxon ingest` and resolves with its URL once it listens. */
export async function startIngest(env: Record<string, string>): Promise<{ proc: Klaxon; url: string }> {
  const proc = spawnKlaxon(['ingest'], env);
  return { proc, url: await waitForStderr(proc, LISTENING_URL) };
}

/** Starts `klaxon detect` and resolves once its consumers run. */
export async function startDetect(env: Record<string, string>): Promise<Klaxon> {
  const proc = spawnKlaxon(['detect'], env);
  await waitForStderr(proc, /detector running/);
  return proc;
}

/** Resident set size of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface Delivery {
  status: number;
  attempts: number;
}

/**
 * Posts like the API server's audit webhook: any non-2xx or network error is retried, with a
 * growing back-off, up to 5 retries within about 80 s; then the batch is dropped.
 */
export async function postLikeApiServer(url: string, body: unknown): Promise<Delivery> {
  const delays = [2_000, 4_000, 8_000, 16_000, 32_000];
  let status = 0;
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    try {
      const res = await fetch(`${url}/v1/audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      await res.arrayBuffer();
      if (res.ok) return { status, attempts: attempt + 1 };
    } catch {
      status = 0;
    }
    if (attempt < delays.length) await new Promise((r) => setTimeout(r, delays[attempt]));
  }
  return { status, attempts: delays.length + 1 };
}

/** Posts like Falco's http_output: once, whatever the answer (a 5xx is a lost alert). */
export async function postLikeFalco(url: string, alert: unknown): Promise<number> {
  try {
    const res = await fetch(`${url}/v1/falco`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

let seq = 0;

/** A ClusterRoleBinding to cluster-admin, each with its own name (one alert each). */
export function clusterAdminBinding(tag: string, at = new Date()): Record<string, unknown> {
  const n = ++seq;
  const name = `${tag}-admin-${n}`;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `${crypto.randomUUID()}`,
    stage: 'ResponseComplete',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    verb: 'create',
    user: { username: 'mallory@example.com', groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.9'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: {
      resource: 'clusterrolebindings',
      name,
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1',
    },
    requestObject: {
      kind: 'ClusterRoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'User', name: 'mallory@example.com', apiGroup: 'rbac.authorization.k8s.io' }],
    },
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: at.toISOString(),
    stageTimestamp: at.toISOString(),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}

const NOISE_VERBS = ['get', 'list', 'watch'] as const;
const NOISE_RESOURCES = ['pods', 'configmaps', 'services', 'endpoints', 'deployments', 'nodes'] as const;

/** Metadata-level reads by controllers: what most of an audit stream is. */
export function noiseEvent(i: number, at = new Date()): Record<string, unknown> {
  const resource = NOISE_RESOURCES[i % NOISE_RESOURCES.length]!;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: crypto.randomUUID(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/ns-${i % 7}/${resource}`,
    verb: NOISE_VERBS[i % NOISE_VERBS.length],
    user: {
      username: `system:serviceaccount:kube-system:controller-${i % 13}`,
      groups: ['system:serviceaccounts'],
    },
    sourceIPs: [`10.0.${i % 4}.${(i % 200) + 10}`],
    userAgent: 'kube-controller-manager/v1.30.0',
    objectRef: { resource, namespace: `ns-${i % 7}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: at.toISOString(),
    stageTimestamp: at.toISOString(),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}

/** A Falco alert about its own pod (one alert each). */
export function falcoShell(i: number, at = new Date()): Record<string, unknown> {
  return {
    output: `${at.toISOString()}: Notice A shell was spawned in a container (user=root pod=web-${i} ns=shop)`,
    priority: 'Notice',
    rule: 'Terminal shell in container',
    time: at.toISOString(),
    source: 'syscall',
    hostname: 'node-3',
    output_fields: {
      'container.id': `c0ffee${String(i).padStart(6, '0')}`,
      'k8s.ns.name': 'shop',
      'k8s.pod.name': `web-${i}`,
      'proc.cmdline': 'bash',
      'user.name': 'root',
    },
    tags: ['container', 'shell', 'mitre_execution', 'T1059'],
  };
}

/** Alerts of one rule in the test's alert indices (0 when the index does not exist yet). */
export async function alertCount(es: Client, indexPrefix: string, rule: string): Promise<number> {
  try {
    await es.indices.refresh({ index: `${indexPrefix}-alerts-*`, allow_no_indices: true });
    const res = await es.count({
      index: `${indexPrefix}-alerts-*`,
      allow_no_indices: true,
      query: { term: { 'rule.name': rule } },
    });
    return res.count;
  } catch {
    return 0;
  }
}

/** Messages of a group not yet committed on a topic (end offsets minus committed offsets). */
export async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    let lag = 0;
    for (const end of ends) {
      const c = committed?.partitions.find((p) => p.partition === end.partition);
      const at = c && Number(c.offset) >= 0 ? Number(c.offset) : 0;
      lag += Number(end.offset) - at;
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/** Sum of a group's committed offsets on a topic. */
export async function committedTotal(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Stops a shared service for an outage test. `end()` starts it again and waits until it is
 * ready; it is idempotent, so a test calls it where the outage should end AND in `finally`.
 */
export async function startOutage(name: 'kafka' | 'elasticsearch'): Promise<{ end(): Promise<void> }> {
  await runServices('stop', name);
  let ended: Promise<unknown> | undefined;
  return {
    end: async () => {
      ended ??= runServices('start', name);
      await ended;
    },
  };
}

/** The value of a metric line in Prometheus text (sum over its label sets). */
export async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
