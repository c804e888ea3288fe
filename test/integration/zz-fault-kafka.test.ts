// Kafka outage: while Kafka is stopped, 20 cluster-admin bindings arrive the way the API server
// sends them (retrying non-2xx) and 20 Falco alerts the way Falco sends them (once, status
// ignored). Ingest spools them durably; once Kafka is back every one becomes an alert.
import { afterAll, describe, expect, it } from 'vitest';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import {
  alertCount,
  clusterAdminBinding,
  falcoShell,
  isolatedEnv,
  metricValue,
  postLikeApiServer,
  postLikeFalco,
  startDetect,
  startIngest,
  startOutage,
} from './fault-processes.ts';
import { elasticsearchClient, waitFor } from './services.ts';

const procs: Klaxon[] = [];
const es = elasticsearchClient();
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await es.close();
});

describe('Kafka outage', () => {
  it('loses none of 20 bindings and 20 Falco alerts sent while Kafka is down', {
    timeout: 300_000,
  }, async () => {
    const env = isolatedEnv('kafka-outage');
    const ingest = await startIngest(env);
    procs.push(ingest.proc);
    const detect = await startDetect(env);
    procs.push(detect);

    const outage = await startOutage('kafka');
    try {
      const bindings = await Promise.all(
        Array.from({ length: 20 }, () =>
          postLikeApiServer(ingest.url, [clusterAdminBinding('kafka-outage')]),
        ),
      );
      const falco = [];
      for (let i = 0; i < 20; i++) falco.push(await postLikeFalco(ingest.url, falcoShell(i)));
      // Ingest answered 2xx at once: the events are on disk, not lost, and nothing was refused.
      expect(bindings.map((b) => b.status)).toEqual(Array(20).fill(200));
      expect(falco).toEqual(Array(20).fill(200));
      expect(await metricValue(ingest.url, 'klaxon_spool_events')).toBe(40);
      expect(await metricValue(ingest.url, 'klaxon_spool_dropped_total')).toBe(0);
      const ready = await fetch(`${ingest.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', kafka: false, spool: { events: 40 } });

      await outage.end();
      await waitFor(async () => (await metricValue(ingest.url, 'klaxon_spool_events')) === 0, 120_000, 500);
      expect(await metricValue(ingest.url, 'klaxon_spool_drained_total')).toBe(40);
      const prefix = env.KLAXON_ES_INDEX_PREFIX!;
      await waitFor(
        async () =>
          (await alertCount(es, prefix, 'k8s-cluster-admin-binding')) >= 20 &&
          (await alertCount(es, prefix, 'falco-runtime-alert')) >= 20,
        150_000,
        1_000,
      );
      expect(await alertCount(es, prefix, 'k8s-cluster-admin-binding')).toBe(20);
      expect(await alertCount(es, prefix, 'falco-runtime-alert')).toBe(20);
      expect(detect.child.exitCode).toBeNull();
    } finally {
      await outage.end();
    }
  });
});
