// Elasticsearch outage: the detector keeps its place (commits nothing for the events whose
// alerts it cannot write), keeps its memory bounded, and writes every alert once ES is back.
import { afterAll, describe, expect, it } from 'vitest';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import {
  alertCount,
  clusterAdminBinding,
  committedTotal,
  groupLag,
  isolatedEnv,
  postLikeApiServer,
  rssBytes,
  startDetect,
  startIngest,
  startOutage,
} from './fault-processes.ts';
import { elasticsearchClient, kafkaClient, waitFor } from './services.ts';

const RULE = 'k8s-cluster-admin-binding';
const procs: Klaxon[] = [];
const es = elasticsearchClient();
const kafka = kafkaClient('klaxon-fault-es');
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await es.close();
});

describe('Elasticsearch outage', () => {
  it('pauses without committing, stays bounded, and lands all 20 alerts once', {
    timeout: 300_000,
  }, async () => {
    const env = isolatedEnv('es-outage');
    const prefix = env.KLAXON_ES_INDEX_PREFIX!;
    const topic = env.KLAXON_EVENTS_TOPIC!;
    const group = env.KLAXON_GROUP_ID!;
    const ingest = await startIngest(env);
    procs.push(ingest.proc);
    const detect = await startDetect(env);
    procs.push(detect);

    // One alert before the outage: the detector consumes and its index exists.
    expect((await postLikeApiServer(ingest.url, [clusterAdminBinding('es-warmup')])).status).toBe(200);
    await waitFor(async () => (await alertCount(es, prefix, RULE)) === 1, 90_000, 500);
    await waitFor(async () => (await groupLag(kafka, group, topic)) === 0, 30_000, 500);
    const committedBefore = await committedTotal(kafka, group, topic);

    const outage = await startOutage('elasticsearch');
    try {
      const posted = await Promise.all(
        Array.from({ length: 20 }, () => postLikeApiServer(ingest.url, [clusterAdminBinding('es-outage')])),
      );
      expect(posted.map((p) => p.status)).toEqual(Array(20).fill(200));
      // For a while (the sink keeps retrying): nothing committed, memory flat.
      const rss: number[] = [];
      for (let i = 0; i < 15; i++) {
        await new Promise((r) => setTimeout(r, 1_000));
        rss.push(rssBytes(detect.child.pid!));
        expect(await committedTotal(kafka, group, topic)).toBe(committedBefore);
      }
      expect(await groupLag(kafka, group, topic)).toBe(20);
      expect(Math.max(...rss)).toBeLessThan(512 * 1024 * 1024);
      expect(detect.child.exitCode).toBeNull();

      await outage.end();
      await waitFor(async () => (await groupLag(kafka, group, topic)) === 0, 150_000, 1_000);
      expect(await alertCount(es, prefix, RULE)).toBe(21);
      const ids = await es.search<{ klaxon: { alert_id: string } }>({
        index: `${prefix}-alerts-*`,
        size: 100,
        query: { term: { 'rule.name': RULE } },
      });
      const alertIds = ids.hits.hits.map((h) => h._source!.klaxon.alert_id);
      expect(new Set(alertIds).size).toBe(21);
    } finally {
      await outage.end();
    }
  });
});
