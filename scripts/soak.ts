/**
 * `npm run soak [-- --minutes 10] [-- --rate 2000] [-- --only kafka,elasticsearch,alertmanager] [-- --seed N]`
 *
 * Long outages under load (docs/reliability.md, "Soak"): real `klaxon ingest` and `klaxon detect`,
 * a steady load of workload events with marker attacks, and Kafka, Elasticsearch and Alertmanager
 * stopped in turn for `--minutes` each (`scripts/services stop|start`). Afterwards it checks that
 * nothing accepted was lost, no marker alerted or paged twice, the alerts of each outage were
 * delivered after it, memory stayed bounded, and records the spool's size and where ingest
 * refuses (503 + Retry-After). It stops shared services: run it alone, e.g. under the lock:
 * `flock -o /tmp/klaxon-it.lock npm run soak -- --minutes 1`. Exits 1 when a check fails.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { ask } from './bench/ingest.ts';
import type { SoakLoadReport, SoakLoadStart } from './soak/load.ts';
import {
  type KlaxonChild,
  metricSum,
  metricsOf,
  ROOT,
  rssBytes,
  services,
  spawnKlaxon,
  until,
} from './soak/processes.ts';
import { findRefusalPoint, type RefusalPoint } from './soak/refusal.ts';
import { lag, markerDocuments, pagedAlerts, topicMessages } from './soak/verify.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    only: { type: 'string', default: 'kafka,elasticsearch,alertmanager' },
    seed: { type: 'string', default: '1' },
    'warmup-seconds': { type: 'string', default: '60' },
    'max-rss-mib': { type: 'string', default: '1024' },
    'refusal-spool-mib': { type: 'string', default: '32' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const MiB = 1024 * 1024;
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const seed = Number(args.seed);
const outages = args.only.split(',').filter(Boolean) as Array<'kafka' | 'elasticsearch' | 'alertmanager'>;
const warmupMs = Number(args['warmup-seconds']) * 1000;
const maxRss = Number(args['max-rss-mib']) * MiB;
for (const o of outages)
  if (!['kafka', 'elasticsearch', 'alertmanager'].includes(o))
    throw new Error(`--only: unknown service ${o}`);
if (!(minutes > 0 && rate > 0)) throw new Error('--minutes and --rate must be positive');

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const es = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
const alertmanager = process.env.KLAXON_ALERTMANAGER_URL ?? 'http://127.0.0.1:9093';
/** Alertmanager sends the notifications of clusters named klaxon-webhook-* here (scripts/services.d/alertmanager.sh). */
const WEBHOOK_PORT = 19093;

const log = (line: string) =>
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

interface Sample {
  t: number;
  phase: string;
  ingestRss: number;
  detectRss: number;
  spoolBytes: number;
  spoolEvents: number;
  spoolDropped: number;
  eventsLag: number;
  signalsLag: number;
}

interface PhaseFigures {
  phase: string;
  seconds: number;
  maxIngestRssMiB: number;
  maxDetectRssMiB: number;
  maxSpoolMiB: number;
  maxSpoolEvents: number;
  maxEventsLag: number;
  maxSignalsLag: number;
}

const max = (values: number[]) => values.filter(Number.isFinite).reduce((a, b) => Math.max(a, b), 0);

async function main(): Promise<number> {
  const runId = `soak-${Date.now().toString(36)}`;
  const cluster = `klaxon-webhook-${runId}`;
  const token = randomBytes(24).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'klaxon-soak-'));
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, `${cluster}: ${token}\n`);
  // Room for the whole Kafka outage at this rate (about 3 KiB a spooled event, with margin): this
  // ingest must lose nothing; where a spool refuses is measured on a second, small one.
  const spoolMax = Math.max(1024 * MiB, Math.ceil((rate * minutes * 60 * 3 * 1024 * 1.5) / MiB) * MiB);
  const base = `klaxon.${runId}`;
  const topics = {
    events: `${base}.events`,
    signals: `${base}.signals`,
    alerts: `${base}.alerts`,
    deadletter: `${base}.deadletter`,
  };
  const groups = { detect: `${base}.detect`, correlate: `${base}.correlate` };
  const indexPrefix = `klaxon-${runId}`;
  const common = {
    KAFKA_BROKERS: brokers.join(','),
    KLAXON_EVENTS_TOPIC: topics.events,
    KLAXON_SIGNALS_TOPIC: topics.signals,
    KLAXON_ALERTS_TOPIC: topics.alerts,
    KLAXON_DEADLETTER_TOPIC: topics.deadletter,
    KLAXON_GROUP_ID: groups.detect,
    KLAXON_CORRELATE_GROUP_ID: groups.correlate,
    KLAXON_HOST: '127.0.0.1',
  };

  const status = (await (await fetch(`${alertmanager}/api/v2/status`)).json()) as {
    config: { original: string };
  };
  if (!status.config.original.includes(`127.0.0.1:${WEBHOOK_PORT}`)) {
    throw new Error(
      `Alertmanager at ${alertmanager} does not route to the webhook on port ${WEBHOOK_PORT}: run scripts/services up alertmanager`,
    );
  }
  const notified = new Map<string, number>();
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const n = JSON.parse(body) as { alerts: Array<{ status: string; labels: Record<string, string> }> };
      for (const a of n.alerts) {
        if (a.status === 'firing' && a.labels.cluster === cluster) {
          const id = a.labels.alert_id ?? '';
          notified.set(id, (notified.get(id) ?? 0) + 1);
        }
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    webhook.once('error', reject);
    webhook.listen(WEBHOOK_PORT, '127.0.0.1', resolve);
  });

  const ingestPort = await freePort();
  const detectPort = await freePort();
  const ingestUrl = `http://127.0.0.1:${ingestPort}`;
  const detectUrl = `http://127.0.0.1:${detectPort}`;
  mkdirSync(path.join(dir, 'spool'));
  const out = args.out ?? path.join(ROOT, 'var', `${runId}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  const logOf = (name: string) => `${out.replace(/\.json$/, '')}.${name}.log`;
  const children: KlaxonChild[] = [
    spawnKlaxon(
      'ingest',
      ['ingest'],
      {
        ...common,
        KLAXON_PORT: String(ingestPort),
        KLAXON_TOKENS_FILE: tokensFile,
        KLAXON_SPOOL_DIR: path.join(dir, 'spool'),
        KLAXON_SPOOL_MAX_BYTES: String(spoolMax),
      },
      logOf('ingest'),
    ),
    spawnKlaxon(
      'detect',
      ['detect'],
      {
        ...common,
        ELASTICSEARCH_URL: es,
        KLAXON_ALERTMANAGER_URL: alertmanager,
        KLAXON_ES_INDEX_PREFIX: indexPrefix,
        KLAXON_DETECT_PORT: String(detectPort),
      },
      logOf('detect'),
    ),
  ];
  const [ingest, detect] = children as [KlaxonChild, KlaxonChild];
  let running = true;
  for (const c of children) {
    c.child.once('exit', (code, signal) => {
      if (running) log(`${c.name} exited (${code ?? signal}):\n${c.tail.join('\n')}`);
    });
  }
  const kafka = new Kafka({ clientId: 'klaxon-soak', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const load = fork(path.join(ROOT, 'scripts/soak/load.ts'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const samples: Sample[] = [];
  const phases: PhaseFigures[] = [];
  const recoveries: Record<string, number> = {};
  const outageWindows: Record<string, { down: number; up: number }> = {};
  let refusal: RefusalPoint | undefined;
  let phase = 'start';
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();

  try {
    await until('ingest /readyz', 120_000, async () => (await fetch(`${ingestUrl}/readyz`)).ok);
    await until('detect /readyz', 120_000, async () => (await fetch(`${detectUrl}/readyz`)).ok);
    await admin.connect();

    sampler = (async () => {
      while (sampling) {
        const metrics = await metricsOf(ingestUrl).catch(() => '');
        samples.push({
          t: Date.now(),
          phase,
          ingestRss: rssBytes(ingest.child.pid),
          detectRss: rssBytes(detect.child.pid),
          spoolBytes: metricSum(metrics, 'klaxon_spool_bytes'),
          spoolEvents: metricSum(metrics, 'klaxon_spool_events'),
          spoolDropped: metricSum(metrics, 'klaxon_spool_dropped_total'),
          eventsLag: await lag(admin, groups.detect, topics.events).catch(() => Number.NaN),
          signalsLag: await lag(admin, groups.correlate, topics.signals).catch(() => Number.NaN),
        });
        await sleep(5_000);
      }
    })();
    const enter = (name: string) => {
      phase = name;
      log(name);
      return Date.now();
    };
    const close = (name: string, since: number) => {
      const mine = samples.filter((s) => s.phase === name);
      phases.push({
        phase: name,
        seconds: Math.round((Date.now() - since) / 1000),
        maxIngestRssMiB: Math.round(max(mine.map((s) => s.ingestRss)) / MiB),
        maxDetectRssMiB: Math.round(max(mine.map((s) => s.detectRss)) / MiB),
        maxSpoolMiB: Math.round((max(mine.map((s) => s.spoolBytes)) / MiB) * 10) / 10,
        maxSpoolEvents: max(mine.map((s) => s.spoolEvents)),
        maxEventsLag: max(mine.map((s) => s.eventsLag)),
        maxSignalsLag: max(mine.map((s) => s.signalsLag)),
      });
    };
    const caughtUp = async (slack: number) => {
      const metrics = await metricsOf(ingestUrl);
      return (
        metricSum(metrics, 'klaxon_spool_events') === 0 &&
        (await lag(admin, groups.detect, topics.events)) <= slack &&
        (await lag(admin, groups.correlate, topics.signals)) <= slack
      );
    };

    const loadStart: SoakLoadStart = {
      type: 'start',
      url: ingestUrl,
      token,
      rate,
      seed,
      runId,
      markerEvery: 4,
      batch: 400,
    };
    await ask(load, loadStart, 'started');
    let since = enter('warm-up');
    await sleep(warmupMs);
    close('warm-up', since);

    for (const service of outages) {
      since = enter(`${service} down`);
      await services('stop', service);
      const down = Date.now();
      if (service === 'kafka') {
        refusal = await findRefusalPoint({
          env: { ...common, KLAXON_EVENTS_TOPIC: `${base}.refusal.events` },
          cluster,
          token,
          maxBytes: Number(args['refusal-spool-mib']) * MiB,
          seed: seed + 1,
        });
        log(`refusal point: ${JSON.stringify(refusal)}`);
      }
      await sleep(Math.max(0, down + minutes * 60_000 - Date.now()));
      await services('start', service);
      outageWindows[service] = { down, up: Date.now() };
      close(`${service} down`, since);
      since = enter(`${service} recovery`);
      // Caught up while the load goes on: spool empty, both stages within two seconds of load.
      recoveries[service] = Math.round(
        (await until(`recovery from ${service}`, 45 * 60_000, () => caughtUp(2 * rate))) / 1000,
      );
      close(`${service} recovery`, since);
    }

    since = enter('drain');
    const loadReport = await ask<SoakLoadReport>(load, { type: 'stop' }, 'report');
    await until('the last events and alerts', 30 * 60_000, () => caughtUp(0));
    // Alertmanager waits group_wait (1 s) before it notifies; give the last ones time.
    await sleep(10_000);
    close('drain', since);
    sampling = false;
    await sampler;

    // ---- checks
    const accepted = new Map(loadReport.markers.map((m) => [m.name, m.sentAt]));
    const docs = await markerDocuments(es, indexPrefix, `bench-${runId}-`);
    const missing = [...accepted.keys()].filter((name) => !docs.has(name));
    const doubled = [...docs.values()].filter((ids) => ids.length > 1).length;
    const alertIds = [...accepted.keys()].flatMap((name) => docs.get(name) ?? []);
    const paged = await pagedAlerts(alertmanager, cluster);
    const amUp = outageWindows.alertmanager?.up ?? 0;
    const afterAm = [...accepted.entries()].filter(([, sentAt]) => sentAt > amUp).map(([name]) => name);
    const afterAmIds = afterAm.flatMap((name) => docs.get(name) ?? []);
    const notAfterAm = afterAmIds.filter((id) => !paged.has(id)).length;
    const pagedTwice = [...paged.values()].filter(
      (startsAt) => new Set(startsAt).size > 1 || startsAt.length > 1,
    ).length;
    const notifiedTwice = alertIds.filter((id) => (notified.get(id) ?? 0) > 1).length;
    const neverNotified = alertIds.filter((id) => !notified.has(id)).length;
    const neverNotifiedAfterAm = afterAmIds.filter((id) => !notified.has(id)).length;
    const messages = await topicMessages(admin, topics.events);
    const eventsLost = Math.max(0, loadReport.acceptedEvents - messages);
    const maxIngest = max(samples.map((s) => s.ingestRss));
    const maxDetect = max(samples.map((s) => s.detectRss));
    const kafkaDown = phases.find((p) => p.phase === 'kafka down');
    const spoolBytesPerEvent =
      kafkaDown && kafkaDown.maxSpoolEvents > 0
        ? (kafkaDown.maxSpoolMiB * MiB) / kafkaDown.maxSpoolEvents
        : Number.NaN;

    const checks: Array<[string, boolean, string]> = [
      [
        'no accepted event lost',
        eventsLost === 0,
        `${loadReport.acceptedEvents} accepted, ${messages} on ${topics.events} (${messages - loadReport.acceptedEvents} extra copies)`,
      ],
      [
        'no sender request dropped',
        loadReport.droppedBatches === 0,
        `${loadReport.droppedBatches} batches dropped after the API server's retries`,
      ],
      [
        'every marker alerted',
        missing.length === 0,
        `${accepted.size - missing.length}/${accepted.size} markers in Elasticsearch`,
      ],
      ['no marker alerted twice', doubled === 0, `${doubled} markers with more than one alert document`],
      [
        'no marker paged twice',
        pagedTwice === 0 && notifiedTwice === 0,
        `${pagedTwice} Alertmanager alerts with several startsAt, ${notifiedTwice} alerts notified more than once`,
      ],
      [
        'alerts delivered after the Alertmanager outage',
        notAfterAm === 0 && neverNotifiedAfterAm === 0,
        `${afterAmIds.length - notAfterAm}/${afterAmIds.length} markers sent after Alertmanager came back are in it, ${afterAmIds.length - neverNotifiedAfterAm} notified`,
      ],
      [
        'memory bounded',
        maxIngest <= maxRss && maxDetect <= maxRss,
        `max RSS ingest ${Math.round(maxIngest / MiB)} MiB, detect ${Math.round(maxDetect / MiB)} MiB (bound ${maxRss / MiB} MiB)`,
      ],
      [
        'spool never full',
        max(samples.map((s) => s.spoolDropped)) === 0,
        `klaxon_spool_dropped_total ${max(samples.map((s) => s.spoolDropped))}`,
      ],
    ];
    const report = {
      run: runId,
      command: `npm run soak -- --minutes ${minutes} --rate ${rate}`,
      minutes,
      rate,
      seed,
      spoolMaxMiB: spoolMax / MiB,
      load: { ...loadReport, markers: loadReport.markers.length },
      phases,
      recoverySeconds: recoveries,
      notifications: { alerts: alertIds.length, neverNotified, notifiedTwice },
      spool: {
        maxMiB: kafkaDown?.maxSpoolMiB,
        maxEvents: kafkaDown?.maxSpoolEvents,
        bytesPerEvent: Math.round(spoolBytesPerEvent),
        secondsToFill1GiBAtThisRate: Math.round((1024 * MiB) / (spoolBytesPerEvent * rate)),
        refusal,
      },
      checks: checks.map(([name, ok, detail]) => ({ name, ok, detail })),
    };
    writeFileSync(out, `${JSON.stringify({ ...report, samples }, null, 1)}\n`);

    log(
      'phase                      s   ingest MiB  detect MiB  spool MiB  spool events  events lag  signals lag',
    );
    for (const p of phases) {
      log(
        `${p.phase.padEnd(24)} ${String(p.seconds).padStart(4)} ${String(p.maxIngestRssMiB).padStart(11)} ${String(p.maxDetectRssMiB).padStart(11)} ` +
          `${String(p.maxSpoolMiB).padStart(10)} ${String(p.maxSpoolEvents).padStart(13)} ${String(p.maxEventsLag).padStart(11)} ${String(p.maxSignalsLag).padStart(12)}`,
      );
    }
    log(`recovery (s): ${JSON.stringify(recoveries)}`);
    log(`spool: ${JSON.stringify(report.spool)}`);
    log(`notifications: ${JSON.stringify(report.notifications)}`);
    for (const [name, ok, detail] of checks) log(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
    log(`report: ${out} (logs of the Klaxon processes beside it)`);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    running = false;
    sampling = false;
    await sampler.catch(() => {});
    load.kill('SIGKILL');
    for (const c of children) c.child.kill('SIGTERM');
    // Whatever the outcome, the services this run stopped are started again.
    for (const service of outages) await services('start', service).catch(() => {});
    if (!args.keep) {
      await admin
        .deleteTopics({ topics: [...Object.values(topics), `${base}.refusal.events`] })
        .catch(() => {});
      await fetch(`${es}/${indexPrefix}-*`, { method: 'DELETE' }).catch(() => {});
      await fetch(`${es}/_index_template/${indexPrefix}-alerts`, { method: 'DELETE' }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
    await admin.disconnect().catch(() => {});
    await new Promise((resolve) => webhook.close(resolve));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
