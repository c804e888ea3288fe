// Issue 7's done-check: with `klaxon serve` running and a REAL Prometheus (Debian's `prometheus`
// binary) scraping it while audit batches and Falco alerts are posted, Prometheus accepts every
// query of the Grafana dashboard and at least half of them return data.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, loadDashboard } from '../unit/deploy/dashboard.ts';

const root = join(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures');
const token = 'prometheus-test-token-0123456789abcdef';
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-prometheus-'));
const children: ChildProcess[] = [];

type PromResponse = { status: string; error?: string; data: { resultType: string; result: unknown[] } };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts a process, keeping the tail of its output for error messages. */
function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; log: () => string } {
  let output = '';
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  children.push(child);
  return { child, log: () => output };
}

async function waitFor(
  what: string,
  log: () => string,
  check: () => Promise<boolean>,
  seconds = 60,
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; output:\n${log()}\n${await diagnose()}`);
}

/** What Prometheus thinks of its targets, for error messages. */
async function diagnose(): Promise<string> {
  if (!prometheusUrl) return '';
  const targets = await fetch(`${prometheusUrl}/api/v1/targets`).then(
    (r) => r.text(),
    (err: Error) => err.message,
  );
  const series = await query('klaxon_ingest_events_total[10s]').then(
    (r) => JSON.stringify(r),
    (err: Error) => err.message,
  );
  return `Prometheus targets: ${targets}\nklaxon_ingest_events_total: ${series}`;
}

/** The Falco k8s-audit trace events, one JSON object per line. */
function auditEvents(): unknown[] {
  const dir = join(fixtures, 'falco-k8s-audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as unknown),
    );
}

function falcoAlerts(): string[] {
  const dir = join(fixtures, 'falco-events');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
}

let klaxonUrl = '';
let prometheusUrl = '';

async function post(path: string, body: string): Promise<number> {
  const response = await fetch(`${klaxonUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function query(expr: string): Promise<PromResponse> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await response.json()) as PromResponse;
}

beforeAll(async () => {
  const which = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    throw new Error(
      `this test needs a real Prometheus and the prometheus binary is missing (${which.error.message}); install Debian's package: apt-get install -y prometheus`,
    );
  }

  // klaxon serve, embedded: in-process bus, alerts as JSON lines (no Kafka/Elasticsearch
  // variables, so it does not share the integration services with other tests).
  const tokensFile = join(scratch, 'tokens.yaml');
  writeFileSync(tokensFile, `test: ${token}\n`);
  const klaxonPort = await freePort();
  klaxonUrl = `http://127.0.0.1:${klaxonPort}`;
  const env: NodeJS.ProcessEnv = { ...process.env, KLAXON_TOKENS_FILE: tokensFile, KLAXON_LOG_LEVEL: 'warn' };
  for (const name of ['KAFKA_BROKERS', 'ELASTICSEARCH_URL', 'KLAXON_ALERTMANAGER_URL', 'KLAXON_CONFIG'])
    delete env[name];
  const klaxon = start(
    process.execPath,
    ['bin/klaxon.js', 'serve', '--port', String(klaxonPort), '--host', '127.0.0.1'],
    env,
  );
  await waitFor('klaxon serve /healthz', klaxon.log, async () => (await fetch(`${klaxonUrl}/healthz`)).ok);

  // A real Prometheus scraping it every second.
  const prometheusPort = await freePort();
  prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  const config = join(scratch, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: klaxon-serve',
      `    static_configs: [{ targets: ["127.0.0.1:${klaxonPort}"] }]`,
      '',
    ].join('\n'),
  );
  const prometheus = start(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(scratch, 'data')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
    ],
    process.env,
  );
  await waitFor(
    'Prometheus /-/ready',
    prometheus.log,
    async () => (await fetch(`${prometheusUrl}/-/ready`)).ok,
  );

  // Traffic, in rounds until Prometheus sees the counters move: the audit traces as EventList
  // batches, the Falco alerts one by one, Hubble flows, and one batch with an invalid item (rejected-items
  // panel). Rounds repeat because a scrape may land before, during or after any one of them.
  const events = auditEvents();
  expect(events.length).toBeGreaterThan(40);
  const batches: unknown[][] = [];
  for (let i = 0; i < events.length; i += 10) batches.push(events.slice(i, i + 10));
  const round = async () => {
    for (const items of batches) {
      const status = await post(
        '/v1/audit',
        JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }),
      );
      expect(status, 'audit batch').toBeLessThan(300);
    }
    for (const alert of falcoAlerts()) expect(await post('/v1/falco', alert)).toBeLessThan(300);
    // Hubble flows, as the exporter writes them: policy drops, a lost-events notice (network policy row).
    for (const file of ['drop-networkpolicy.jsonl', 'lost-events.jsonl'])
      expect(await post('/v1/flows', readFileSync(join(fixtures, 'hubble', file), 'utf8'))).toBeLessThan(300);
    await post(
      '/v1/audit',
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [{ kind: 'Event' }] }),
    );
  };
  await round();
  await waitFor(
    'rate(klaxon_ingest_events_total[1m]) in Prometheus',
    prometheus.log,
    async () => {
      await round();
      await new Promise((r) => setTimeout(r, 2000));
      const r = await query('sum(rate(klaxon_ingest_events_total[1m])) > 0');
      return r.status === 'success' && r.data.result.length > 0;
    },
    90,
  );
}, 240_000);

afterAll(() => {
  for (const child of children) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe('the Grafana dashboard against a real Prometheus scraping klaxon serve', () => {
  it('every query is accepted and at least half return data', async () => {
    const queries = dashboardQueries(loadDashboard());
    expect(queries.length).toBeGreaterThanOrEqual(8);
    const withData: string[] = [];
    const empty: string[] = [];
    for (const q of queries) {
      const response = await query(q.expr);
      expect(response.status, `${q.panel}: ${q.expr}: ${response.error ?? ''}`).toBe('success');
      (response.data.result.length > 0 ? withData : empty).push(q.panel);
    }
    expect(
      withData.length,
      `${withData.length}/${queries.length} queries returned data; empty: ${empty.join(', ')}`,
    ).toBeGreaterThanOrEqual(Math.ceil(queries.length / 2));
  });
});
