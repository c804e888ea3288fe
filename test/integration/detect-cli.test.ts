import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsOfRule, clusterAdminBinding, type TestRules, writeTestRules } from './detect-fixtures.ts';
import {
  alertmanagerUrl,
  elasticsearchClient,
  elasticsearchUrl,
  kafkaBrokers,
  kafkaClient,
  uniqueTopic,
  waitFor,
} from './services.ts';
import { Relay } from './tcp-relay.ts';

const run = randomUUID().slice(0, 8);
const prefix = `kxc-${run}`;
const topics = { events: uniqueTopic('kxc.events'), signals: uniqueTopic('kxc.signals') };
const group = `kxc-detect-${run}`;
const bin = fileURLToPath(new URL('../../bin/klaxon.js', import.meta.url));

let rules: TestRules;
let relay: Relay;
let es: Client;
let producer: Producer;
let admin: Admin;
let child: ChildProcess | undefined;
let port = 0;
let stderr = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

const adminAlerts = () => alertsOfRule(es, prefix, rules.admin);

/** Committed offset of the detect group on partition 0, and the partition's end. */
async function positions(): Promise<{ committed: number; end: number }> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topics.events] });
  const committed = Number(offsets!.partitions.find((p) => p.partition === 0)!.offset);
  const end = Number((await admin.fetchTopicOffsets(topics.events)).find((p) => p.partition === 0)!.high);
  return { committed, end };
}

beforeAll(async () => {
  rules = writeTestRules(`cli-${run}`);
  relay = new Relay(elasticsearchUrl());
  await relay.open();
  es = elasticsearchClient();
  producer = kafkaClient('kxc-producer').producer();
  await producer.connect();
  admin = kafkaClient('kxc-admin').admin();
  await admin.connect();
  port = await freePort();
  child = spawn(process.execPath, [bin, 'detect', '--port', String(port)], {
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      ELASTICSEARCH_URL: `http://127.0.0.1:${relay.port}`,
      KLAXON_ALERTMANAGER_URL: alertmanagerUrl(),
      KLAXON_EVENTS_TOPIC: topics.events,
      KLAXON_EVENTS_PARTITIONS: '2',
      KLAXON_SIGNALS_TOPIC: topics.signals,
      KLAXON_ALERTS_TOPIC: uniqueTopic('kxc.alerts'),
      KLAXON_DEADLETTER_TOPIC: uniqueTopic('kxc.deadletter'),
      KLAXON_GROUP_ID: group,
      KLAXON_CORRELATE_GROUP_ID: `kxc-correlate-${run}`,
      KLAXON_ES_INDEX_PREFIX: prefix,
      KLAXON_RULES: rules.dir,
      KLAXON_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await relay?.close();
  await producer?.disconnect();
  await admin?.disconnect();
  await es?.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
  await es?.indices.deleteIndexTemplate({ name: `${prefix}-alerts` }).catch(() => {});
  await es?.close();
});

describe('klaxon detect as a process', () => {
  it('becomes ready, detects, and exports klaxon_alerts_total', async () => {
    await waitFor(async () => (await get('/readyz')).status === 200, 60_000).catch((error) => {
      throw new Error(`${error.message}\nstderr of klaxon detect:\n${stderr}`);
    });
    expect((await get('/healthz')).status).toBe(200);
    await producer.send({
      topic: topics.events,
      acks: -1,
      messages: [
        { value: JSON.stringify(clusterAdminBinding(new Date().toISOString(), 'eve')), partition: 0 },
      ],
    });
    await waitFor(async () => (await adminAlerts()).length === 1, 30_000);
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(
      new RegExp(`klaxon_alerts_total\\{rule="${rules.admin}",severity="high",cluster="test"\\} 1`),
    );
    expect(metrics).toMatch(/klaxon_sink_writes_total\{sink="elasticsearch",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/klaxon_detect_events_total\{source="audit"\} 1/);
    expect(metrics).toMatch(/klaxon_k8s_rbac_changes_total\{cluster="test",verb="create"\} 1/);
  });

  it('holds its offsets while Elasticsearch is down and catches up when it is back', async () => {
    await relay.close();
    const before = await positions();
    await producer.send({
      topic: topics.events,
      acks: -1,
      messages: [
        { value: JSON.stringify(clusterAdminBinding(new Date().toISOString(), 'trudy')), partition: 0 },
      ],
    });
    await waitFor(async () => (await get('/readyz')).status === 503, 60_000);
    // The detector has tried (and failed) to write the new alert: its offset must not move.
    const retries = () =>
      Number(
        /klaxon_sink_writes_total\{sink="elasticsearch",outcome="retry"\} (\d+)/.exec(metricsText)?.[1] ?? 0,
      );
    let metricsText = (await get('/metrics')).text;
    const retriesBefore = retries();
    await waitFor(async () => {
      metricsText = (await get('/metrics')).text;
      return retries() >= retriesBefore + 3;
    }, 60_000);
    const during = await positions();
    expect(during.end).toBe(before.end + 1);
    expect(during.committed).toBe(before.committed);

    await relay.open();
    await waitFor(async () => (await adminAlerts()).length === 2, 60_000);
    await waitFor(async () => {
      const p = await positions();
      return p.committed === p.end;
    }, 30_000);
    await waitFor(async () => (await get('/readyz')).status === 200, 30_000);
  });

  it('leaves the consumer group and exits cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    const { groups } = await admin.describeGroups([group]);
    expect(groups[0]!.members).toEqual([]);
  });
});
