// Detector failure: `klaxon detect` is SIGKILLed mid-stream while 6 batches of 1,500 noise
// events and 10 cluster-admin bindings each flow through `klaxon ingest`, then restarted.
// At-least-once consumption plus alerts written by id: exactly 60 alerts, none lost, none twice.
import { afterAll, describe, expect, it } from 'vitest';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import {
  alertCount,
  clusterAdminBinding,
  groupLag,
  isolatedEnv,
  noiseEvent,
  postLikeApiServer,
  startDetect,
  startIngest,
} from './fault-processes.ts';
import { elasticsearchClient, kafkaClient, waitFor } from './services.ts';

const RULE = 'k8s-cluster-admin-binding';
const BURST = 'k8s-auth-failure-burst';
const GUESSER = '198.51.100.77';

/** A refused (401) request from the guessing address; ten within five minutes make a burst alert. */
function failedAuth(): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: crypto.randomUUID(),
    stage: 'ResponseStarted',
    requestURI: '/api/v1/namespaces/kube-system/secrets',
    verb: 'list',
    user: {},
    sourceIPs: [GUESSER],
    userAgent: 'python-requests/2.31.0',
    responseStatus: { metadata: {}, message: 'Authentication failed, attempted: basic, bearer', code: 401 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
    annotations: {},
  };
}
const procs: Klaxon[] = [];
const es = elasticsearchClient();
const kafka = kafkaClient('klaxon-fault-detector');
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await es.close();
});

/** 1,500 noise events with 10 bindings spread among them (and failed logins, when asked), as one EventList. */
function batch(n: number, failedLogins = 0): Record<string, unknown> {
  const items: Record<string, unknown>[] = Array.from({ length: failedLogins }, failedAuth);
  for (let i = 0; i < 1_500; i++) {
    items.push(noiseEvent(n * 1_500 + i));
    if (i % 150 === 75) items.push(clusterAdminBinding(`detector-kill-b${n}`));
  }
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
}

describe('detector killed mid-stream', () => {
  it('raises exactly 60 binding alerts and a burst straddling the kill across a SIGKILL and a restart', {
    timeout: 300_000,
  }, async () => {
    const env = isolatedEnv('detector-kill');
    const prefix = env.KLAXON_ES_INDEX_PREFIX!;
    const ingest = await startIngest(env);
    procs.push(ingest.proc);
    let detect = await startDetect(env);
    procs.push(detect);

    const post = async (n: number, failedLogins = 0) =>
      expect((await postLikeApiServer(ingest.url, batch(n, failedLogins))).status).toBe(200);
    await post(0);
    // Six failed logins before the kill open a burst window; six after it must complete it.
    await post(1, 6);
    await waitFor(async () => (await alertCount(es, prefix, RULE)) > 0, 90_000, 200);
    await post(2);
    // Killed while batch 2 is being consumed, without a chance to commit or flush anything.
    expect(await detect.kill('SIGKILL')).toBe('SIGKILL');
    await post(3, 6);
    detect = await startDetect(env);
    procs.push(detect);
    await post(4);
    await post(5);

    await waitFor(
      async () => (await groupLag(kafka, env.KLAXON_GROUP_ID!, env.KLAXON_EVENTS_TOPIC!)) === 0,
      150_000,
      1_000,
    );
    await waitFor(async () => (await alertCount(es, prefix, RULE)) >= 60, 60_000, 500);
    expect(await alertCount(es, prefix, RULE)).toBe(60);
    const found = await es.search<{ orchestrator: { resource: { name: string } } }>({
      index: `${prefix}-alerts-*`,
      size: 200,
      query: { term: { 'rule.name': RULE } },
    });
    const names = found.hits.hits.map((h) => h._source!.orchestrator.resource.name);
    expect(new Set(names).size).toBe(60);
    // The correlation window open at the kill survived it: one burst alert for the guessing address.
    await waitFor(async () => (await alertCount(es, prefix, BURST)) >= 1, 60_000, 500);
    expect(await alertCount(es, prefix, BURST)).toBe(1);
  });
});
