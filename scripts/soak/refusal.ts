/**
 * Where ingest stops accepting while Kafka is down: a second `klaxon ingest` with a small spool
 * of its own (and topic of its own) is sent audit batches until it answers 503, and the soak
 * records what it said and how full its spool was. (The soak's main ingest gets a spool large
 * enough for the whole outage: its job is to lose nothing.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Workload } from '../bench/workload.ts';
import { metricSum, metricsOf, spawnKlaxon, until } from './processes.ts';

export interface RefusalPoint {
  maxBytes: number;
  requests: number;
  acceptedEvents: number;
  status: number;
  retryAfter: string | null;
  reason: string;
  spoolBytes: number;
  spoolEvents: number;
  readyzStatus: number;
}

export async function findRefusalPoint(opts: {
  env: Record<string, string>;
  cluster: string;
  token: string;
  maxBytes: number;
  seed: number;
}): Promise<RefusalPoint> {
  const dir = mkdtempSync(path.join(tmpdir(), 'klaxon-soak-refusal-'));
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, `${opts.cluster}: ${opts.token}\n`);
  const ingest = spawnKlaxon('refusal-ingest', ['ingest'], {
    ...opts.env,
    KLAXON_PORT: '0',
    KLAXON_HOST: '127.0.0.1',
    KLAXON_LOG_LEVEL: 'info',
    KLAXON_TOKENS_FILE: tokensFile,
    KLAXON_SPOOL_DIR: path.join(dir, 'spool'),
    KLAXON_SPOOL_MAX_BYTES: String(opts.maxBytes),
  });
  try {
    let url = '';
    await until('the refusal probe ingest to listen', 60_000, async () => {
      url = /"url":"(http[^"]+)"/.exec(ingest.tail.join('\n'))?.[1] ?? '';
      return url !== '';
    });
    const workload = new Workload({ seed: opts.seed, startMs: Date.now(), rate: 2_000 });
    let acceptedEvents = 0;
    for (let requests = 1; requests <= 5_000; requests++) {
      const items = Array.from({ length: 400 }, () => workload.next()).filter((i) => i.source === 'audit');
      const res = await fetch(`${url}/v1/audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'EventList',
          apiVersion: 'audit.k8s.io/v1',
          metadata: {},
          items: items.map((i) => i.raw),
        }),
      });
      const text = await res.text();
      if (res.status === 200) {
        acceptedEvents += (JSON.parse(text) as { accepted: number }).accepted;
        continue;
      }
      const metrics = await metricsOf(url);
      const readyz = await fetch(`${url}/readyz`);
      await readyz.arrayBuffer();
      return {
        maxBytes: opts.maxBytes,
        requests,
        acceptedEvents,
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        reason: text.slice(0, 300),
        spoolBytes: metricSum(metrics, 'klaxon_spool_bytes'),
        spoolEvents: metricSum(metrics, 'klaxon_spool_events'),
        readyzStatus: readyz.status,
      };
    }
    throw new Error('soak: the refusal probe ingest never refused');
  } finally {
    ingest.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
