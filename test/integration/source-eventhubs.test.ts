// The `eventhubs` source in `klaxon serve`, against the real Kafka's SASL listeners that authenticate as Azure
// Event Hubs' Kafka endpoint does (user `$ConnectionString`, the connection string as password; SASL_SSL with
// a test CA, and SASL_PLAINTEXT). AKS diagnostic-logs documents are produced to a topic (the hub); Klaxon reads
// them with a consumer group of its own and alerts. Restarts (SIGKILL mid-stream, and a batch read again after
// it was accepted but not committed) lose nothing and raise no second alert; a broken record is rejected alone;
// a wrong connection string says so and never shows a secret.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { type Served, startServe } from '../helpers/klaxon-process.ts';
import {
  elasticsearchClient,
  elasticsearchUrl,
  eventHubs,
  eventHubsKafka,
  kafkaBrokers,
  kafkaClient,
  uniqueTopic,
  waitFor,
} from './services.ts';

const RULE_NAME = 'eventhubs-test-crb';
// A rule of the test's own: one alert per ClusterRoleBinding created (each by another user, so no suppression).
const RULE = `title: Event Hubs test cluster role binding
name: ${RULE_NAME}
id: 7c1e2f3a-9b8d-4e6f-a1b2-c3d4e5f60718
status: test
level: high
logsource:
    product: kubernetes
    service: audit
detection:
    selection:
        verb: create
        objectRef.resource: clusterrolebindings
    condition: selection
`;

const RESOURCE_ID = (cluster: string) =>
  `/SUBSCRIPTIONS/0B6CB75E-8BB1-426B-8C7E-ACD7C6599495/RESOURCEGROUPS/RG-${cluster}/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/${cluster}`;

type Json = Record<string, unknown>;

/** A `kube-audit` record whose `properties.log` is the API server's Event as a JSON string, as AKS sends it. */
function bindingRecord(user: string, cluster = 'PROD-WEU'): Json {
  const now = new Date().toISOString();
  const event = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: randomUUID(),
    stage: 'ResponseComplete',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    verb: 'create',
    user: {
      username: `${user}@example.com`,
      groups: ['system:authenticated'],
      extra: { oid: [randomUUID()] },
    },
    sourceIPs: ['198.51.100.23'],
    userAgent: 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
    objectRef: {
      resource: 'clusterrolebindings',
      name: `crb-${user}`,
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1',
    },
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
  };
  return {
    operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
    category: 'kube-audit',
    resourceId: RESOURCE_ID(cluster),
    properties: {
      log: `${JSON.stringify(event)}\n`,
      stream: 'stdout',
      pod: 'kube-apiserver-7d5c9b8f6d-q4hxz',
    },
    time: now,
  };
}

const otherCategory = (): Json => ({
  category: 'kube-apiserver',
  resourceId: RESOURCE_ID('PROD-WEU'),
  properties: { log: 'I0311 14:02:05.131874 1 trace.go:236] Trace[1]: "List" ...\n', stream: 'stderr' },
  time: new Date().toISOString(),
});

const brokenRecord = (): Json => ({
  category: 'kube-audit',
  resourceId: RESOURCE_ID('PROD-WEU'),
  properties: { log: '{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"cut-sh', stream: 'stdout' },
  time: new Date().toISOString(),
});

const document = (records: Json[]) => JSON.stringify({ records });

async function produce(kafka: Kafka, topic: string, documents: string[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: documents.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** A settings file naming the source, and the rule directory; returns the environment for `klaxon serve`. */
function klaxonEnv(source: Json, extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-eventhubs-'));
  writeFileSync(join(dir, 'rule.yml'), RULE);
  writeFileSync(join(dir, 'klaxon.yaml'), JSON.stringify({ sources: { aks: source } }));
  return {
    KLAXON_CONFIG: join(dir, 'klaxon.yaml'),
    KLAXON_RULES: join(dir, 'rule.yml'),
    KLAXON_STATE_DIR: join(dir, 'state'),
    KLAXON_SPOOL_DIR: join(dir, 'spool'),
    KLAXON_LOG_LEVEL: 'info',
    ...extra,
  };
}

const alertsOf = (text: string): Alert[] =>
  text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Alert)
    .filter((a) => a.rule.name === RULE_NAME);

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const running: Served[] = [];
async function serve(env: Record<string, string>): Promise<Served> {
  const served = await startServe(env);
  running.push(served);
  return served;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.kill('SIGKILL')));
});

describe('eventhubs source over SASL_PLAINTEXT (memory bus)', () => {
  it('alerts on the good records of a document, rejects its broken record alone, ignores other categories, and counts all', async () => {
    const hubs = eventHubs();
    const topic = uniqueTopic('insights-logs-kube-audit');
    const kafka = eventHubsKafka({ tls: false });
    await createTopic(kafka, topic, 2);
    const served = await serve(
      klaxonEnv({
        type: 'eventhubs',
        brokers: hubs.saslBrokers,
        topic,
        connectionStringFile: hubs.connectionStringFile,
        tls: false,
        cluster: 'prod',
        startAt: 'earliest',
        sessionTimeoutMs: 10_000,
      }),
    );
    await produce(kafka, topic, [
      document([bindingRecord('ana'), brokenRecord(), otherCategory(), bindingRecord('ben')]),
      document([bindingRecord('cyd')]),
    ]);

    const alerts = await waitFor(() => {
      const got = alertsOf(served.stdout());
      return got.length >= 3 && got;
    }, 90_000);
    expect(alerts.map((a) => a.user?.name).sort()).toEqual([
      'ana@example.com',
      'ben@example.com',
      'cyd@example.com',
    ]);
    // The configured cluster, not the one the record names.
    expect(new Set(alerts.map((a) => a.orchestrator?.cluster?.name))).toEqual(new Set(['prod']));
    // The Entra object id is on the alert, where analysts search for a user.
    expect(alerts[0]!.related?.user).toHaveLength(2);

    const text = await waitFor(async () => {
      const m = await metrics(served.url);
      return metricValue(m, 'klaxon_eventhubs_messages_total', 'source="aks"') === 2 && m;
    }, 30_000);
    expect(metricValue(text, 'klaxon_eventhubs_records_total', 'source="aks",outcome="accepted"')).toBe(3);
    expect(metricValue(text, 'klaxon_eventhubs_records_total', 'source="aks",outcome="rejected"')).toBe(1);
    expect(metricValue(text, 'klaxon_eventhubs_records_total', 'source="aks",outcome="ignored"')).toBe(1);
    expect(text).toMatch(/klaxon_eventhubs_lag_messages\{source="aks",partition="[01]"\} 0/);
    expect(served.stderr()).toMatch(
      /"where":"[01]@\d+ records\[1\]","reason":"properties\.log: invalid JSON/,
    );
    expect(await (await fetch(`${served.url}/readyz`)).json()).toEqual({ status: 'ready' });
    // The connection string never reaches the log.
    expect(served.stderr()).not.toContain(readFileSync(hubs.connectionStringFile, 'utf8').trim());

    expect(await served.kill('SIGTERM')).toBe(0);
  });

  it('reads the same documents from a plain Kafka topic, without SASL or TLS (a relay into your own Kafka)', async () => {
    const topic = uniqueTopic('aks-relay');
    const kafka = kafkaClient();
    await createTopic(kafka, topic, 1);
    const served = await serve(
      klaxonEnv({ type: 'eventhubs', brokers: kafkaBrokers(), topic, cluster: 'relay', startAt: 'earliest' }),
    );
    await produce(kafka, topic, [document([otherCategory(), bindingRecord('dee')])]);
    const alerts = await waitFor(() => {
      const got = alertsOf(served.stdout());
      return got.length >= 1 && got;
    }, 90_000);
    expect(alerts.map((a) => [a.user?.name, a.orchestrator?.cluster?.name])).toEqual([
      ['dee@example.com', 'relay'],
    ]);
  });

  it('says a wrong connection string is refused, in /readyz and the log, without showing it', async () => {
    const hubs = eventHubs();
    const topic = uniqueTopic('insights-logs-kube-audit');
    await createTopic(eventHubsKafka({ tls: false }), topic, 1);
    const served = await serve(
      klaxonEnv({
        type: 'eventhubs',
        brokers: hubs.saslSslBrokers,
        topic,
        connectionStringFile: hubs.wrongConnectionStringFile,
        caFile: hubs.caFile,
        cluster: 'prod',
      }),
    );
    const readyz = await waitFor(async () => {
      const body = (await (await fetch(`${served.url}/readyz`)).json()) as { sources?: string[] };
      return body.sources?.some((s) => /refused/.test(s)) && body;
    }, 60_000);
    expect(readyz).toEqual({
      status: 'degraded',
      sources: [
        expect.stringMatching(
          /^aks: the brokers refused the connection string of connectionStringFile \S+ \(SASL PLAIN as \$ConnectionString\): .*Invalid username or password/,
        ),
      ],
    });
    expect(served.stderr()).toMatch(/"level":50.*the brokers refused the connection string/);
    for (const file of [hubs.wrongConnectionStringFile, hubs.connectionStringFile]) {
      const secret = readFileSync(file, 'utf8').trim();
      expect(served.stderr()).not.toContain(secret);
      expect(JSON.stringify(readyz)).not.toContain(secret);
      // Not even the key alone.
      expect(served.stderr()).not.toContain(secret.slice(secret.indexOf('SharedAccessKey=') + 16));
    }
  });
});

describe('eventhubs source over SASL_SSL (Kafka bus, Elasticsearch)', () => {
  const es = elasticsearchClient();
  const prefix = `kxt-aks-${randomUUID().slice(0, 8)}`;
  afterAll(async () => {
    await es.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
    await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await es.close();
  });

  async function stored(): Promise<Array<{ id: string; alert: Alert }>> {
    await es.indices.refresh({ index: `${prefix}-alerts*`, allow_no_indices: true });
    const r = await es.search<Alert>({
      index: `${prefix}-alerts*`,
      allow_no_indices: true,
      query: { term: { 'rule.name': RULE_NAME } },
      size: 1000,
    });
    return r.hits.hits.map((h) => ({ id: h._id!, alert: h._source! }));
  }

  it('reads a hub shared by allowed clusters, survives SIGKILL mid-stream and a re-read batch: no loss, no second alert', async () => {
    const hubs = eventHubs();
    const topic = uniqueTopic('insights-logs-kube-audit');
    const kafka = eventHubsKafka({ tls: true });
    await createTopic(kafka, topic, 3);
    const group = uniqueTopic('klaxon-aks');
    const env = klaxonEnv(
      {
        type: 'eventhubs',
        brokers: hubs.saslSslBrokers,
        topic,
        consumerGroup: group,
        connectionStringFile: hubs.connectionStringFile,
        caFile: hubs.caFile,
        allowedClusters: ['prod-weu', 'staging-weu'],
        startAt: 'earliest',
        maxBatchMessages: 3,
        sessionTimeoutMs: 10_000,
      },
      {
        KAFKA_BROKERS: kafkaBrokers().join(','),
        KLAXON_EVENTS_TOPIC: uniqueTopic('aks-events'),
        KLAXON_SERVE_GROUP_ID: uniqueTopic('aks-serve'),
        KLAXON_STATE_TOPIC: uniqueTopic('aks-state'),
        ELASTICSEARCH_URL: elasticsearchUrl(),
        KLAXON_ES_INDEX_PREFIX: prefix,
      },
    );
    const users: string[] = [];
    const batch = (n: number) =>
      Array.from({ length: n }, () => {
        const user = `u${users.length}-${randomUUID().slice(0, 6)}`;
        users.push(user);
        return document([bindingRecord(user, users.length % 2 === 0 ? 'PROD-WEU' : 'STAGING-WEU')]);
      });

    // A cluster the source was not told about: refused, whatever its record says.
    const intruder = document([bindingRecord('mallory', 'SOMEONE-ELSE')]);
    await produce(kafka, topic, [...batch(6), intruder]);
    let served = await serve(env);
    await waitFor(async () => (await stored()).length >= 6, 120_000);

    // Mid-stream: messages keep coming while the process is killed without warning, then started again.
    const producing = (async () => {
      for (let i = 0; i < 8; i++) {
        await produce(kafka, topic, batch(3));
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await waitFor(async () => (await stored()).length >= 9, 120_000);
    await served.kill('SIGKILL');
    await producing;
    served = await serve(env);
    const all = await waitFor(async () => {
      const docs = await stored();
      return docs.length >= users.length && docs;
    }, 180_000);

    // No loss: an alert for every user; no duplicate: one document per alert, one alert per user.
    expect(all.map((d) => d.alert.user?.name).sort()).toEqual(users.map((u) => `${u}@example.com`).sort());
    expect(new Set(all.map((d) => d.id)).size).toBe(all.length);
    expect(all.every((d) => d.id === d.alert.klaxon.alert_id)).toBe(true);
    expect(new Set(all.map((d) => d.alert.orchestrator?.cluster?.name))).toEqual(
      new Set(['prod-weu', 'staging-weu']),
    );
    expect(all.some((d) => d.alert.user?.name === 'mallory@example.com')).toBe(false);

    // The committed offsets are the checkpoint: wait until the group committed to the end, stop cleanly.
    const admin = kafkaClient().admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      const committedToEnd = async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        return ends.every(
          (e) => offsets!.partitions.find((p) => p.partition === e.partition)?.offset === e.offset,
        );
      };
      await waitFor(committedToEnd, 60_000);
      expect(await served.kill('SIGTERM')).toBe(0);

      // A batch accepted but not committed (a crash between the two): its offsets go back, and it is read again.
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: ends.map((e) => ({
          partition: e.partition,
          offset: String(Math.max(0, Number(e.offset) - 2)),
        })),
      });
      served = await serve(env);
      await waitFor(committedToEnd, 120_000);
      const duplicates = await waitFor(async () => {
        const m = await metrics(served.url);
        const n = metricValue(m, 'klaxon_sink_writes_total', 'sink="elasticsearch",outcome="duplicate"');
        return n >= 1 && n;
      }, 60_000);
      // The re-read events kept their ids, so their alerts kept theirs: Elasticsearch refused them as duplicates.
      expect(duplicates).toBeGreaterThanOrEqual(1);
      const after = await stored();
      expect(after.map((d) => d.id).sort()).toEqual(all.map((d) => d.id).sort());
    } finally {
      await admin.disconnect();
    }
  });
});
