// A detect replica killed between two matches of one suppression window and between two
// signals of a burst: the replica that takes over pages no one twice. Real Kafka, Elasticsearch
// and Alertmanager; Alertmanager routes this test's alerts (cluster klaxon-webhook-*) to a
// webhook receiver the test runs, so notifications are counted, not only alerts.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Client } from '@elastic/elasticsearch';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../src/schema/event.ts';
import { type Klaxon, spawnKlaxon, waitForStderr } from '../helpers/klaxon-process.ts';
import { alertsOfRule, auditEvent, type TestRules, writeTestRules } from './detect-fixtures.ts';
import { groupLag } from './fault-processes.ts';
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

/** Where Alertmanager sends this test's notifications (scripts/services.d/alertmanager.sh). */
const WEBHOOK_PORT = 19093;

const run = randomUUID().slice(0, 8);
const cluster = `klaxon-webhook-${run}`;
const prefix = `kxf-${run}`;
const topics = {
  events: uniqueTopic('kxf.events'),
  signals: uniqueTopic('kxf.signals'),
  alerts: uniqueTopic('kxf.alerts'),
  deadletter: uniqueTopic('kxf.deadletter'),
};
const groups = { detect: `kxf-detect-${run}`, correlate: `kxf-correlate-${run}` };

interface Notification {
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string>; startsAt: string }>;
}

let rules: TestRules;
let es: Client;
let relay: Relay;
let producer: Producer;
let webhook: Server;
const notifications: Notification[] = [];
const procs: Klaxon[] = [];
const kafka = kafkaClient('kxf-admin');

function startDetect(): Promise<Klaxon> {
  const proc = spawnKlaxon(['detect'], {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    ELASTICSEARCH_URL: `http://127.0.0.1:${relay.port}`,
    KLAXON_ALERTMANAGER_URL: alertmanagerUrl(),
    KLAXON_EVENTS_TOPIC: topics.events,
    KLAXON_EVENTS_PARTITIONS: '3',
    KLAXON_SIGNALS_TOPIC: topics.signals,
    KLAXON_ALERTS_TOPIC: topics.alerts,
    KLAXON_DEADLETTER_TOPIC: topics.deadletter,
    KLAXON_GROUP_ID: groups.detect,
    KLAXON_CORRELATE_GROUP_ID: groups.correlate,
    KLAXON_ES_INDEX_PREFIX: prefix,
    KLAXON_RULES: rules.dir,
    KLAXON_HOST: '127.0.0.1',
    KLAXON_DETECT_PORT: '0',
    KLAXON_LOG_LEVEL: 'info',
  });
  procs.push(proc);
  return waitForStderr(proc, /detector running/).then(() => proc);
}

function binding(time: number, user: string, name: string): NormalizedEvent {
  return auditEvent(
    {
      verb: 'create',
      objectRef: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', name },
      requestObject: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
      responseStatus: { code: 201 },
    },
    new Date(time).toISOString(),
    { user, ip: '10.1.2.3', cluster },
  );
}

function failedLogins(from: number, n: number, ip: string): NormalizedEvent[] {
  return Array.from({ length: n }, (_, i) =>
    auditEvent(
      {
        verb: 'list',
        objectRef: { resource: 'secrets', namespace: 'default' },
        responseStatus: { code: 401 },
      },
      new Date(from + i * 100).toISOString(),
      { user: `guess-${from}-${i}`, ip, cluster },
    ),
  );
}

/** Keyed as ingest keys events (cluster/actor). */
async function produce(events: NormalizedEvent[]): Promise<void> {
  await producer.send({
    topic: topics.events,
    acks: -1,
    messages: events.map((e) => ({ key: `${cluster}/${e.user?.name}`, value: JSON.stringify(e) })),
  });
}

/** Both stages have committed everything on their topics. */
async function caughtUp(): Promise<boolean> {
  return (
    (await groupLag(kafka, groups.detect, topics.events)) === 0 &&
    (await groupLag(kafka, groups.correlate, topics.signals)) === 0
  );
}

async function paged(ruleName: string): Promise<Array<{ labels: Record<string, string>; startsAt: string }>> {
  const filter = encodeURIComponent(`alertname="${ruleName}"`);
  const response = await fetch(`${alertmanagerUrl()}/api/v2/alerts?filter=${filter}`);
  return (await response.json()) as Array<{ labels: Record<string, string>; startsAt: string }>;
}

/** Notifications that carried the alert `alertId`, firing. */
function notified(alertId: string): number {
  return notifications.filter((n) =>
    n.alerts.some((a) => a.labels.alert_id === alertId && a.status === 'firing'),
  ).length;
}

const kill = async (p: Klaxon) => expect(await p.kill('SIGKILL')).toBe('SIGKILL');

beforeAll(async () => {
  const status = (await (await fetch(`${alertmanagerUrl()}/api/v2/status`)).json()) as {
    config: { original: string };
  };
  if (!status.config.original.includes(`127.0.0.1:${WEBHOOK_PORT}`)) {
    throw new Error(
      `Alertmanager at ${alertmanagerUrl()} has no route to the test webhook on port ${WEBHOOK_PORT}: ` +
        'run `scripts/services up alertmanager` (it updates and reloads the configuration of the one it started)',
    );
  }
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const n = JSON.parse(body) as Notification;
      // Only this run's: another run's leftovers may still be grouped in Alertmanager.
      if (n.alerts.some((a) => a.labels.cluster === cluster)) notifications.push(n);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    webhook.once('error', reject);
    webhook.listen(WEBHOOK_PORT, '127.0.0.1', resolve);
  });
  rules = writeTestRules(`fo-${run}`);
  es = elasticsearchClient();
  relay = new Relay(elasticsearchUrl());
  await relay.open();
  producer = kafkaClient('kxf-producer').producer();
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await producer?.disconnect();
  await relay?.close();
  await es?.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
  await es?.indices.deleteIndexTemplate({ name: `${prefix}-alerts` }).catch(() => {});
  await es?.close();
  await new Promise((resolve) => webhook?.close(resolve));
});

describe('a detect replica killed mid-window', () => {
  it('pages once per incident: one alert document, one Alertmanager alert, one notification', {
    timeout: 400_000,
  }, async () => {
    const t0 = Date.now();
    const guesser = '198.51.100.41';
    const first = await startDetect();

    // 1. A binding opens its suppression window and six failed logins open a burst window, all
    // delivered and committed; then the replica dies.
    await produce([binding(t0, 'mallory', 'pwn-failover'), ...failedLogins(t0, 6, guesser)]);
    await waitFor(async () => (await alertsOfRule(es, prefix, rules.admin)).length === 1, 90_000);
    await waitFor(caughtUp, 90_000, 500);
    await kill(first);

    // 2. The next replica sees the same binding again (same actor, same object: the same window)
    // and the rest of the burst.
    const second = await startDetect();
    await produce([binding(t0 + 60_000, 'mallory', 'pwn-failover'), ...failedLogins(t0 + 1_000, 6, guesser)]);
    await waitFor(async () => (await alertsOfRule(es, prefix, rules.burst)).length > 0, 150_000);
    await waitFor(caughtUp, 90_000, 500);
    expect((await alertsOfRule(es, prefix, rules.admin)).map((a) => a.user?.name)).toEqual(['mallory']);
    expect(await paged(rules.admin)).toHaveLength(1);

    // 3. Elasticsearch unreachable for this replica: a new binding's alert reaches Alertmanager,
    // not Elasticsearch, so nothing is committed (the events offsets included); then it dies.
    await relay.close();
    await produce([binding(t0 + 120_000, 'victor', 'pwn-failover-2')]);
    await waitFor(async () => (await paged(rules.admin)).length === 2, 60_000);
    expect(await groupLag(kafka, groups.detect, topics.events)).toBeGreaterThan(0);
    await kill(second);
    await relay.open();

    // 4. The replica after it delivers that alert again (same id) and folds the repeat into it.
    const third = await startDetect();
    await produce([binding(t0 + 150_000, 'victor', 'pwn-failover-2')]);
    const victor = async () =>
      (await alertsOfRule(es, prefix, rules.admin)).some((a) => a.user?.name === 'victor');
    await waitFor(victor, 150_000);
    await waitFor(caughtUp, 90_000, 500);

    const admin = await alertsOfRule(es, prefix, rules.admin);
    const burst = await alertsOfRule(es, prefix, rules.burst);
    expect(admin.map((a) => a.user?.name).sort()).toEqual(['mallory', 'victor']);
    expect(burst).toHaveLength(1);
    expect(burst[0]!.klaxon.count).toBe(10);

    const adminPages = await paged(rules.admin);
    expect(adminPages).toHaveLength(2);
    expect(new Set(adminPages.map((a) => a.labels.alert_id))).toEqual(
      new Set(admin.map((a) => a.klaxon.alert_id)),
    );
    const startsAt = Object.fromEntries(adminPages.map((a) => [a.labels.alert_id, Date.parse(a.startsAt)]));
    const byUser = Object.fromEntries(admin.map((a) => [a.user!.name, a.klaxon.alert_id]));
    expect(startsAt[byUser.mallory!]).toBe(t0);
    expect(startsAt[byUser.victor!]).toBe(t0 + 120_000);
    const burstPages = await paged(rules.burst);
    expect(burstPages.map((a) => a.labels.alert_id)).toEqual([burst[0]!.klaxon.alert_id]);

    // Every incident notified, and (after more than one group interval) none twice.
    const incidents = [byUser.mallory!, byUser.victor!, burst[0]!.klaxon.alert_id];
    await waitFor(() => incidents.every((id) => notified(id) > 0), 30_000);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(incidents.map(notified)).toEqual([1, 1, 1]);

    // The kafkajs TimeoutNegativeWarning (Node 24) is fixed at its cause: no replica printed it.
    for (const p of [first, second, third]) expect(p.stderr()).not.toContain('TimeoutNegativeWarning');
  });
});
