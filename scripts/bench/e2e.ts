/**
 * End to end on real services: `klaxon ingest` and `klaxon detect` as separate
 * processes, Kafka between them, alerts to Elasticsearch (and `klaxon.alerts`).
 * A load-generator child POSTs 400-event `EventList`s at a steady offered rate,
 * one step per rate of a sweep (the same processes throughout); some batches
 * carry a marker attack (a cluster-admin binding by a user of its own, so no
 * suppression merges two markers).
 *
 * Per step:
 * - Latency percentiles: from the moment the batch holding a marker is POSTed
 *   to the moment its alert is consumed from the alerts topic by this process;
 *   and until the alert is searchable in Elasticsearch (polled every 100 ms, so
 *   it includes the index's 1 s refresh interval).
 * - Throughput (`eps`): events of the step divided by the time from its first
 *   POST until the detector's consumer group has committed every event (lag 0);
 *   `caught_up_s`: from the last POST's answer until lag 0.
 * - CPU of each process (ingest, detect, Kafka, Elasticsearch, the load
 *   generator) and of the whole machine while the load ran, from /proc.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ask, profileArgs } from './ingest.ts';
import type { LoadReport, LoadStart } from './load.ts';
import { CpuMeter, pidListeningOn } from './proc.ts';
import { percentile } from './stats.ts';
import { type JsonObject, Workload } from './workload.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const LOAD = path.join(HERE, 'load.ts');
// Ingest refuses tokens shorter than 32 characters.
const TOKEN = 'bench-e2e-token-0123456789abcdef0123';
/** Markers per step, at least (every batch carries one at the usual rates): p99 needs a few hundred to be more than the maximum. */
const MARKERS_PER_STEP = 200;
/** Audit events per POST: the API server's default webhook batch. */
const BATCH = 400;
/** A request unanswered this long counts as failed: the ingest is not keeping up, and the run stays short. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface E2eStep {
  /** Offered rate, audit events per second. */
  rate: number;
  seconds: number;
  /** Events POSTed in the step (markers included) and the requests that carried them. */
  events: number;
  requests: number;
  /** Requests not answered 200 within REQUEST_TIMEOUT_MS (refused, failed or timed out); their events are not counted. */
  failed: number;
  /** The first failure, as the load generator saw it. */
  failure?: string;
  /** Sustained: events of the step per second from its first POST until the detector committed them all. */
  eps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  es_p50_ms: number;
  es_p99_ms: number;
  /** The alert latency split at ingest's answer (the events are on Kafka): POST → answer, answer → alert. */
  answer_p50_ms: number;
  answer_p99_ms: number;
  after_answer_p50_ms: number;
  after_answer_p99_ms: number;
  markers: number;
  markers_seen: number;
  markers_in_es: number;
  /** From the last POST's answer until lag 0; undefined when the detector had not caught up by the deadline. */
  caught_up_s: number | undefined;
  /** Events not yet committed by the detector at the end of the step (0 when it caught up). */
  lag: number;
  ingest_p50_ms: number;
  ingest_p99_ms: number;
  /** Cores used while the load ran: ingest, detect, kafka, elasticsearch, load, machine (all), cores (machine's). */
  cpu: Record<string, number>;
}

export interface E2eResult {
  steps: E2eStep[];
  /** Why the sweep stopped before its last rate, if it did. */
  stopped?: string;
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

/** `KLAXON_BENCH_LOGS=DIR` keeps each klaxon process's whole log (at info) in DIR/<name>.log. */
function klaxon(args: string[], env: Record<string, string>, name: string): ChildProcess {
  const logs = process.env.KLAXON_BENCH_LOGS;
  const child = spawn(process.execPath, [...profileArgs(), path.join(ROOT, 'bin/klaxon.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, KLAXON_LOG_LEVEL: logs ? 'info' : 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  stderrTails.set(name, tail);
  if (logs) child.stderr?.pipe(createWriteStream(path.join(logs, `${name}.log`)));
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

export async function runE2e(options: {
  rates: readonly number[];
  seconds: number;
  warmupSeconds: number;
  seed: number;
  /** Called after each step, to print progress. */
  onStep?: (step: E2eStep) => void;
}): Promise<E2eResult> {
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
    // The run's own, deleted with the others: the default topic would carry what earlier runs learned into this one.
    KLAXON_FIRST_SEEN_TOPIC: `${base}.first-seen`,
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
    const ingest = klaxon(
      ['ingest'],
      // A spool of its own: one left by an interrupted run would hold records for topics deleted since.
      {
        ...common,
        KLAXON_PORT: String(port),
        KLAXON_TOKENS_FILE: tokensFile,
        KLAXON_SPOOL_DIR: path.join(dir, 'spool'),
      },
      'ingest',
    );
    const detect = klaxon(
      ['detect'],
      {
        ...common,
        ELASTICSEARCH_URL: elasticsearchUrl(),
        KLAXON_ES_INDEX_PREFIX: indexPrefix,
        KLAXON_DETECT_PORT: String(detectPort),
      },
      'detect',
    );
    children.push(ingest, detect);
    for (const child of children) {
      child.once('exit', (code) => {
        if (polling) process.stderr.write(`e2e: a klaxon process exited early (${code})\n`);
      });
    }
    await until('klaxon ingest /readyz', 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return res.ok ? true : undefined;
    });
    // The processes whose CPU is measured: ours by pid, the services by the port they listen on.
    const pids = new Map<string, number>();
    if (ingest.pid) pids.set('ingest', ingest.pid);
    if (detect.pid) pids.set('detect', detect.pid);
    const kafkaPid = pidListeningOn(Number(brokers()[0]?.split(':')[1] ?? 9092));
    if (kafkaPid) pids.set('kafka', kafkaPid);
    const esPid = pidListeningOn(Number(new URL(elasticsearchUrl()).port || 9200));
    if (esPid) pids.set('elasticsearch', esPid);

    // Alerts as the SIEM sees them on Kafka: receipt time of each marker's alert.
    const sentAt = new Map<string, number>();
    /** When ingest answered the marker's request 200: its events were on Kafka. */
    const answeredAt = new Map<string, number>();
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
          .slice(0, 1000)
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

    // Events the detector's group has committed, and how many are still to commit.
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

    let stepNo = 0;
    const runStep = async (rate: number, seconds: number): Promise<E2eStep> => {
      stepNo++;
      // The workload at real time: event times follow the offered rate from the moment the load starts.
      const lists = Math.max(1, Math.round((rate * seconds) / BATCH));
      const markerEvery = Math.max(1, Math.floor(lists / MARKERS_PER_STEP));
      const bodiesFile = path.join(dir, `bodies-${stepNo}.ndjson`);
      const markersFile = path.join(dir, `markers-${stepNo}.txt`);
      const startMs = Date.now() + 1000 + lists * 5;
      const workload = new Workload({ seed: options.seed + stepNo, startMs, rate });
      const bodies = createWriteStream(bodiesFile);
      const markerOf: string[] = [];
      let events = 0;
      for (let i = 0; i < lists; i++) {
        const items: JsonObject[] = [];
        while (items.length < BATCH) {
          const item = workload.next();
          if (item.source === 'audit') items.push(item.raw);
        }
        let marker = '';
        if (i % markerEvery === 0 || i === lists - 1) {
          const first = items[0]?.stageTimestamp;
          const event = markerEvent(
            stepNo * 100_000 + i,
            runId,
            typeof first === 'string' ? Date.parse(first) : startMs,
          );
          items.push(event);
          marker = event.auditID as string;
        }
        markerOf.push(marker);
        events += items.length;
        const line = `${JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items })}\n`;
        if (!bodies.write(line)) await once(bodies, 'drain');
      }
      bodies.end();
      await once(bodies, 'finish');
      writeFileSync(markersFile, markerOf.join('\n'));
      const markers = new Set(markerOf.filter((m) => m !== ''));

      const before = await committedEvents();
      load = fork(LOAD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const meter = new CpuMeter(new Map([...pids, ...(load.pid ? [['load', load.pid] as const] : [])]));
      let firstPost = 0;
      load.on('message', (m: { type: string; marker?: string; at?: number }) => {
        if (m.type === 'sent' && m.marker && m.at) {
          sentAt.set(m.marker, m.at);
          if (m.marker === markerOf[0]) firstPost = m.at;
        }
        if (m.type === 'answered' && m.marker && m.at) answeredAt.set(m.marker, m.at);
      });
      const intervalMs = (BATCH / rate) * 1000;
      const start: LoadStart = {
        type: 'start',
        url: `http://127.0.0.1:${port}/v1/audit`,
        bodiesFile,
        markersFile,
        mode: 'open',
        // Enough that a slow answer never holds back the next POST (open load: the rate is offered, not negotiated).
        connections: Math.min(64, Math.max(4, Math.ceil(rate / 500))),
        pipelining: 1,
        intervalMs,
        headers: { authorization: `Bearer ${TOKEN}` },
        timeoutMs: REQUEST_TIMEOUT_MS,
      };
      await ask(load, start, 'started');
      meter.reset();
      // Send each body once: stop just before the sequence would wrap around.
      await new Promise((r) => setTimeout(r, lists * intervalMs - intervalMs / 2));
      const report = await ask<LoadReport>(load, { type: 'stop' }, 'report');
      const cpu = meter.cores();
      load = undefined;
      const sentAll = Date.now();

      // Until the detector's group has committed every event of the step (all of them on the topic:
      // ingest may still be draining its spool), or the deadline.
      const deadline = sentAll + Math.max(10_000, 2 * seconds * 1000);
      const accepted = Math.round(events * ((report.statuses['200'] ?? 0) / Math.max(1, report.requests)));
      const settled = (p: { done: number; lag: number }) => p.lag === 0 && p.done - before.done >= accepted;
      let progress = await committedEvents();
      while (!settled(progress) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        progress = await committedEvents().catch(() => progress);
      }
      const caughtUpAt = Date.now();
      const caughtUp = settled(progress);
      await until('the last markers', 10_000, async () =>
        [...markers].every((m) => kafkaSeenAt.has(m) && esSeenAt.has(m)) ? true : undefined,
      ).catch(() => undefined);

      const ok = report.statuses['200'] ?? 0;
      const failed = report.requests - ok;
      const failure =
        report.firstError ?? (failed > 0 ? `ingest answered ${JSON.stringify(report.statuses)}` : undefined);
      const latencies = (seen: Map<string, number>, from = sentAt) =>
        [...markers].flatMap((m) => {
          const s = from.get(m);
          const a = seen.get(m);
          return s !== undefined && a !== undefined ? [a - s] : [];
        });
      const kafkaLat = latencies(kafkaSeenAt);
      const esLat = latencies(esSeenAt);
      const answerLat = latencies(answeredAt);
      const afterAnswerLat = latencies(kafkaSeenAt, answeredAt);
      const missing = markers.size - kafkaLat.length;
      const done = progress.done - before.done;
      return {
        rate,
        seconds,
        events,
        requests: report.requests,
        failed,
        ...(failure === undefined ? {} : { failure }),
        eps: (caughtUp && failed === 0 ? events : done) / ((caughtUpAt - firstPost) / 1000),
        p50_ms: percentile(kafkaLat, 50),
        p90_ms: percentile(kafkaLat, 90),
        p99_ms: missing > 0 ? Number.POSITIVE_INFINITY : percentile(kafkaLat, 99),
        max_ms: missing > 0 ? Number.POSITIVE_INFINITY : percentile(kafkaLat, 100),
        es_p50_ms: percentile(esLat, 50),
        es_p99_ms: percentile(esLat, 99),
        answer_p50_ms: percentile(answerLat, 50),
        answer_p99_ms: percentile(answerLat, 99),
        after_answer_p50_ms: percentile(afterAnswerLat, 50),
        after_answer_p99_ms: percentile(afterAnswerLat, 99),
        markers: markers.size,
        markers_seen: kafkaLat.length,
        markers_in_es: esLat.length,
        caught_up_s: caughtUp ? (caughtUpAt - sentAll) / 1000 : undefined,
        lag: Math.max(progress.lag, accepted - (progress.done - before.done)),
        ingest_p50_ms: report.p50_ms,
        ingest_p99_ms: report.p99_ms,
        cpu,
      };
    };

    // Warm-up (JIT, connections, topic leaders), not reported.
    if (options.warmupSeconds > 0) await runStep(Math.min(...options.rates), options.warmupSeconds);
    const steps: E2eStep[] = [];
    let stopped: string | undefined;
    for (const rate of options.rates) {
      const step = await runStep(rate, options.seconds);
      steps.push(step);
      options.onStep?.(step);
      if (step.failed > 0) {
        stopped = `at ${rate}/s, ${step.failed} of ${step.requests} requests were not answered 200 within ${REQUEST_TIMEOUT_MS / 1000} s (${step.failure})`;
        break;
      }
      if (step.caught_up_s === undefined) {
        stopped = `the detector was still ${step.lag} events behind ${Math.max(10, 2 * options.seconds)} s after the load at ${rate}/s stopped`;
        break;
      }
    }
    polling = false;
    await esPoller;
    return stopped ? { steps, stopped } : { steps };
  } catch (err) {
    for (const [name, tail] of stderrTails) {
      for (const line of tail) process.stderr.write(`[${name}] ${line}\n`);
    }
    throw err;
  } finally {
    polling = false;
    load?.kill();
    // The klaxon processes first: one still consuming topics deleted under it may not stop in time, and one
    // killed writes no profile (`KLAXON_BENCH_PROFILE`).
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    await consumer.disconnect().catch(() => undefined);
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) =>
      t.startsWith(`${base}.`),
    );
    await admin.deleteTopics({ topics }).catch(() => undefined);
    for (const what of [`${indexPrefix}-*`, `_index_template/${indexPrefix}-*`]) {
      await fetch(`${elasticsearchUrl()}/${what}`, { method: 'DELETE' }).catch(() => undefined);
    }
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
