/**
 * End to end on real services: `klaxon ingest` and `klaxon detect` as separate
 * processes, Kafka between them, alerts to Elasticsearch (and `klaxon.alerts`).
 * A load-generator child POSTs 400-event `EventList`s at a steady offered rate;
 * every few batches carries a marker attack (a cluster-admin binding by a user of
 * its own, so no suppression merges two markers).
 *
 * - Latency (`e2e_p50_ms`, `e2e_p99_ms`): from the moment the batch holding a
 *   marker is POSTed to the moment its alert is consumed from the `klaxon.alerts`
 *   topic by this process. A second pair (`e2e_es_p50_ms`, `e2e_es_p99_ms`) is
 *   the time until the alert is searchable in Elasticsearch (polled every 100 ms,
 *   so it includes the index's 1 s refresh interval).
 * - Throughput (`e2e_eps`): events accepted by ingest during the run divided by
 *   the time from the first POST until the detector's consumer group has
 *   committed every event (lag 0).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ask, profileArgs } from './ingest.ts';
import type { LoadReport, LoadStart } from './load.ts';
import { percentile } from './stats.ts';
import { generate, type JsonObject, toEventLists } from './workload.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const LOAD = path.join(HERE, 'load.ts');
// Ingest refuses tokens shorter than 32 characters.
const TOKEN = 'bench-e2e-token-0123456789abcdef0123';
/** One marker attack every this many batches (at 5,000 ev/s: about 3 a second). */
const MARKER_EVERY = 4;

export interface E2eFigures {
  e2e_eps: number;
  p50_ms: number;
  p99_ms: number;
  es_p50_ms: number;
  es_p99_ms: number;
  detail: string;
}

function brokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
}
function elasticsearchUrl(): string {
  return (process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200').replace(/\/$/, '');
}

function reachable(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Why the e2e benchmark cannot run here, or undefined when Kafka and Elasticsearch answer. */
export async function e2eUnavailableReason(): Promise<string | undefined> {
  const broker = brokers()[0] ?? '';
  if (!(await reachable(broker)))
    return `Kafka is not reachable at ${broker} (npm run services:up, or set KAFKA_BROKERS)`;
  try {
    const res = await fetch(`${elasticsearchUrl()}/_cluster/health`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return `Elasticsearch at ${elasticsearchUrl()} answered ${res.status}`;
  } catch (err) {
    return `Elasticsearch is not reachable at ${elasticsearchUrl()} (${(err as Error).message})`;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Last lines of each klaxon process's stderr, shown only when the run fails. */
const stderrTails = new Map<string, string[]>();

function klaxon(args: string[], env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(process.execPath, [...profileArgs(), path.join(ROOT, 'bin/klaxon.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, KLAXON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  stderrTails.set(name, tail);
  child.stderr?.on('data', (chunk: Buffer) => {
    tail.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    tail.splice(0, Math.max(0, tail.length - 20));
  });
  return child;
}

/** A ClusterRoleBinding to cluster-admin by a user of its own: exactly one alert, never folded into another. */
export function markerEvent(n: number, runId: string, atMs: number): JsonObject {
  const at = new Date(atMs).toISOString().replace('Z', '000Z');
  const name = `bench-${runId}-${n}`;
  const object = {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'User', name: `bench-attacker-${runId}-${n}`, apiGroup: 'rbac.authorization.k8s.io' }],
  };
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `${runId}-marker-${n}`,
    stage: 'ResponseComplete',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    verb: 'create',
    user: { username: `bench-attacker-${runId}-${n}`, groups: ['system:authenticated'] },
    sourceIPs: ['198.51.100.77'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505',
    objectRef: {
      resource: 'clusterrolebindings',
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1',
      name,
    },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: object,
    responseObject: object,
    requestReceivedTimestamp: at,
    stageTimestamp: at,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}

export async function runE2e(options: { seconds: number; rate: number; seed: number }): Promise<E2eFigures> {
  const runId = Date.now().toString(36);
  // Topics, groups and indices of this run only, so other users of the services do not interfere.
  const base = `klaxon.bench.${runId}`;
  const eventsTopic = `${base}.events`;
  const alertsTopic = `${base}.alerts`;
  const detectGroup = `${base}.detect`;
  const indexPrefix = `klaxon-bench-${runId}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'klaxon-e2e-'));
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, `bench: ${TOKEN}\n`);
  const port = await freePort();
  const detectPort = await freePort();
  const common = {
    KAFKA_BROKERS: brokers().join(','),
    KLAXON_EVENTS_TOPIC: eventsTopic,
    KLAXON_ALERTS_TOPIC: alertsTopic,
    KLAXON_SIGNALS_TOPIC: `${base}.signals`,
    KLAXON_DEADLETTER_TOPIC: `${base}.deadletter`,
    KLAXON_GROUP_ID: detectGroup,
    KLAXON_CORRELATE_GROUP_ID: `${base}.correlate`,
  };
  const children: ChildProcess[] = [];
  const kafka = new Kafka({ clientId: 'klaxon-bench', brokers: brokers(), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `klaxon-bench-${runId}`, maxWaitTimeInMs: 50 });
  const admin = kafka.admin();
  let polling = true;
  let load: ChildProcess | undefined;
  try {
    children.push(
      klaxon(['ingest'], { ...common, KLAXON_PORT: String(port), KLAXON_TOKENS_FILE: tokensFile }, 'ingest'),
    );
    children.push(
      klaxon(
        ['detect'],
        {
          ...common,
          ELASTICSEARCH_URL: elasticsearchUrl(),
          KLAXON_ES_INDEX_PREFIX: indexPrefix,
          KLAXON_DETECT_PORT: String(detectPort),
        },
        'detect',
      ),
    );
    for (const child of children) {
      child.once('exit', (code) => {
        if (polling) process.stderr.write(`e2e: a klaxon process exited early (${code})\n`);
      });
    }
    await until('klaxon ingest /readyz', 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return res.ok ? true : undefined;
    });

    // Alerts as the SIEM sees them on Kafka: receipt time of each marker's alert.
    const sentAt = new Map<string, number>();
    const kafkaSeenAt = new Map<string, number>();
    const esSeenAt = new Map<string, number>();
    await admin.connect();
    // Created here so the consumer can subscribe before the detector first writes to it.
    await admin.createTopics({ topics: [{ topic: alertsTopic, numPartitions: 1 }], waitForLeaders: true });
    await consumer.connect();
    await consumer.subscribe({ topics: [alertsTopic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const now = Date.now();
        const alert = JSON.parse(message.value?.toString('utf8') ?? '{}') as {
          klaxon?: { event_ids?: string[] };
        };
        for (const id of alert.klaxon?.event_ids ?? []) {
          const marker = id.split('/')[0] ?? id;
          if (sentAt.has(marker) && !kafkaSeenAt.has(marker)) kafkaSeenAt.set(marker, now);
        }
      },
    });
    await until('the alerts consumer to join', 30_000, async () =>
      (await admin.describeGroups([`klaxon-bench-${runId}`])).groups[0]?.state === 'Stable'
        ? true
        : undefined,
    );

    // Elasticsearch: when each marker's alert becomes searchable.
    const esPoller = (async () => {
      while (polling) {
        const pending = [...sentAt.keys()]
          .filter((m) => !esSeenAt.has(m))
          .map((m) => `${m}/ResponseComplete`);
        if (pending.length > 0) {
          const res = await fetch(
            `${elasticsearchUrl()}/${indexPrefix}-alerts-*/_search?ignore_unavailable=true&allow_no_indices=true`,
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                size: 1000,
                _source: ['klaxon.event_ids'],
                query: { terms: { 'klaxon.event_ids': pending } },
              }),
            },
          ).catch(() => undefined);
          const now = Date.now();
          if (res?.ok) {
            const body = (await res.json()) as {
              hits: { hits: { _source: { klaxon?: { event_ids?: string[] } } }[] };
            };
            for (const hit of body.hits.hits) {
              for (const id of hit._source.klaxon?.event_ids ?? []) {
                const marker = id.split('/')[0] ?? id;
                if (sentAt.has(marker) && !esSeenAt.has(marker)) esSeenAt.set(marker, now);
              }
            }
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // The workload at real time: event times follow the offered rate from now on.
    const warmupSeconds = 5;
    const total = (warmupSeconds + options.seconds) * options.rate;
    const startMs = Date.now() + 1000;
    const items = generate(total, { seed: options.seed, startMs, rate: options.rate });
    const lists = toEventLists(items);
    const warmupLists = Math.ceil((warmupSeconds * options.rate) / 400);
    const markerOf: string[] = [];
    const eventsPerList: number[] = [];
    lists.forEach((list, i) => {
      const events = list.items as JsonObject[];
      // The first timed batch carries one too: its send time starts the throughput clock.
      if (i % MARKER_EVERY === 0 || i === warmupLists || i === lists.length - 1) {
        const first = events[0]?.stageTimestamp;
        const event = markerEvent(i, runId, typeof first === 'string' ? Date.parse(first) : startMs);
        events.push(event);
        markerOf.push(event.auditID as string);
      } else {
        markerOf.push('');
      }
      eventsPerList.push(events.length);
    });
    const bodiesFile = path.join(dir, 'bodies.ndjson');
    const markersFile = path.join(dir, 'markers.txt');
    writeFileSync(bodiesFile, `${lists.map((l) => JSON.stringify(l)).join('\n')}\n`);
    writeFileSync(markersFile, markerOf.join('\n'));

    load = fork(LOAD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timedMarkers = new Set(markerOf.slice(warmupLists).filter((m) => m !== ''));
    let firstPost = 0;
    load.on('message', (m: { type: string; marker?: string; at?: number }) => {
      if (m.type === 'sent' && m.marker && m.at) {
        sentAt.set(m.marker, m.at);
        if (m.marker === markerOf[warmupLists]) firstPost = m.at;
      }
    });
    const intervalMs = (400 / options.rate) * 1000;
    const start: LoadStart = {
      type: 'start',
      url: `http://127.0.0.1:${port}/v1/audit`,
      bodiesFile,
      markersFile,
      mode: 'open',
      connections: 4,
      pipelining: 1,
      intervalMs,
      headers: { authorization: `Bearer ${TOKEN}` },
    };
    await ask(load, start, 'started');
    // Send each body once: stop just before the sequence would wrap around.
    await new Promise((r) => setTimeout(r, lists.length * intervalMs - intervalMs / 2));
    const report = await ask<LoadReport>(load, { type: 'stop' }, 'report');
    const sentAll = Date.now();

    // Throughput: until the detector's group has committed every event of the run.
    // Throughput: until the detector's group has committed every event of the run, or the
    // deadline (then the rate is what it sustained so far).
    const committedEvents = async () => {
      const ends = await admin.fetchTopicOffsets(eventsTopic);
      const committed = await admin.fetchOffsets({ groupId: detectGroup, topics: [eventsTopic] });
      let done = 0;
      let end = 0;
      for (const p of ends) {
        const c = committed[0]?.partitions.find((q) => q.partition === p.partition);
        done += Math.max(0, Number(c?.offset ?? 0));
        end += Number(p.offset);
      }
      return { done, lag: end - done };
    };
    const deadline = Date.now() + Math.max(60_000, 2 * options.seconds * 1000);
    let progress = await committedEvents();
    while (progress.lag > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      progress = await committedEvents().catch(() => progress);
    }
    const caughtUpAt = Date.now();
    const caughtUp = progress.lag === 0;
    await until('the last markers', 15_000, async () =>
      [...timedMarkers].every((m) => kafkaSeenAt.has(m) && esSeenAt.has(m)) ? true : undefined,
    ).catch(() => undefined);
    polling = false;
    await esPoller;

    const ok = report.statuses['200'] ?? 0;
    if (report.errors > 0 || ok !== report.requests) {
      throw new Error(
        `ingest answered ${JSON.stringify(report.statuses)}, ${report.errors} errors (${report.firstError})`,
      );
    }
    const timedEvents = eventsPerList.slice(warmupLists).reduce((a, b) => a + b, 0);
    const warmupEvents = eventsPerList.slice(0, warmupLists).reduce((a, b) => a + b, 0);
    const latencies = (seen: Map<string, number>) =>
      [...timedMarkers].flatMap((m) => {
        const s = sentAt.get(m);
        const a = seen.get(m);
        return s !== undefined && a !== undefined ? [a - s] : [];
      });
    const kafkaLat = latencies(kafkaSeenAt);
    const esLat = latencies(esSeenAt);
    const missing = timedMarkers.size - kafkaLat.length;
    return {
      e2e_eps: (caughtUp ? timedEvents : progress.done - warmupEvents) / ((caughtUpAt - firstPost) / 1000),
      p50_ms: percentile(kafkaLat, 50),
      p99_ms: missing > 0 ? Number.POSITIVE_INFINITY : percentile(kafkaLat, 99),
      es_p50_ms: percentile(esLat, 50),
      es_p99_ms: percentile(esLat, 99),
      detail:
        `${options.seconds} s at ${options.rate} ev/s offered after ${warmupSeconds} s warm-up; ${report.requests} requests, ` +
        `ingest p50 ${report.p50_ms.toFixed(0)} ms / p99 ${report.p99_ms.toFixed(0)} ms; ` +
        `markers ${kafkaLat.length}/${timedMarkers.size} on the alerts topic, ${esLat.length} in Elasticsearch; ` +
        (caughtUp
          ? `detector caught up ${((caughtUpAt - sentAll) / 1000).toFixed(1)} s after the last POST`
          : `detector still ${progress.lag} events behind ${((caughtUpAt - sentAll) / 1000).toFixed(0)} s after the last POST`),
    };
  } catch (err) {
    for (const [name, tail] of stderrTails) {
      for (const line of tail) process.stderr.write(`[${name}] ${line}\n`);
    }
    throw err;
  } finally {
    polling = false;
    load?.kill();
    await consumer.disconnect().catch(() => undefined);
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) =>
      t.startsWith(`${base}.`),
    );
    await admin.deleteTopics({ topics }).catch(() => undefined);
    for (const what of [`${indexPrefix}-*`, `_index_template/${indexPrefix}-*`]) {
      await fetch(`${elasticsearchUrl()}/${what}`, { method: 'DELETE' }).catch(() => undefined);
    }
    await admin.disconnect().catch(() => undefined);
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
