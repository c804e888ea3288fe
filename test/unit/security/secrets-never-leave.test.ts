// Issue 19, item 1: a random secret planted anywhere a secret can live in an audit event, a Falco alert or an L7
// Hubble flow never
// reaches anything Klaxon writes. The whole of `klaxon serve` runs in process — the ingest app (bearer token,
// compressed or plain bodies), the in-memory bus, the detection runtime with the shipped catalogue and a rule
// that fires on every event — and each planted event is followed to every output: the normalized event (the
// events topic, the events index), the alert on the alerts topic, as Elasticsearch indexes it, as Alertmanager
// gets it, as stdout prints it (JSON and text), as CEF and Splunk HEC carry it, every log line at trace level,
// and /metrics. A control value planted beside the secret must come out, so the outputs are really read.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { formatAlertText } from '../../../src/cli/format.ts';
import { buildServeRuntime } from '../../../src/cli/serve.ts';
import { loadConfig } from '../../../src/config.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { toPostable } from '../../../src/sinks/alertmanager.ts';
import { formatCef } from '../../../src/sinks/cef.ts';
import { alertDocs, bulkBody, eventDocs } from '../../../src/sinks/elasticsearch.ts';
import { hecEvent } from '../../../src/sinks/hec-events.ts';
import { JsonlSink } from '../../../src/sinks/jsonl.ts';
import { KafkaAlertsSink } from '../../../src/sinks/kafka-alerts.ts';
import type { RejectedAlert, Sink } from '../../../src/sinks/sink.ts';
import type { DetectionRuntime } from '../../../src/worker/detection-runtime.ts';
import {
  ALL_PLACES,
  b64,
  CATCH_ALL_RULES,
  type Place,
  requestOf,
  secretArb,
} from '../../helpers/secret-places.ts';

const TOKEN = 'secrets-test-token-0123456789abcdefghijklmnop';

class CaptureSink implements Sink {
  readonly name = 'capture';
  readonly alerts: Alert[] = [];
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    this.alerts.push(...alerts);
    return [];
  }
  async ready() {
    return true;
  }
  async close() {}
}

const rulesDir = mkdtempSync(join(tmpdir(), 'klaxon-secrets-rules-'));
writeFileSync(join(rulesDir, 'catch-all.yml'), CATCH_ALL_RULES);
const settings = loadConfig({ KLAXON_RULES: rulesDir });
const { ruleset, errors } = loadRules([join(import.meta.dirname, '../../../detections'), rulesDir]);
const logs: string[] = [];
const logger = createLogger('trace', { write: (line: string) => void logs.push(line) });
const capture = new CaptureSink();
const stdout: string[] = [];
let bus: MemoryBus;
let app: FastifyInstance;
let runtime: DetectionRuntime;

beforeAll(async () => {
  bus = new MemoryBus();
  await bus.start();
  app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable({ prod: TOKEN }) }, logger });
  const printed = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout.push(chunk.toString());
      done();
    },
  });
  const sinks: Sink[] = [
    capture,
    new KafkaAlertsSink(bus, settings.kafka.alertsTopic),
    new JsonlSink({ stream: printed, name: 'stdout' }),
    new JsonlSink({ stream: printed, name: 'stdout-text', line: (a) => formatAlertText(a, true) }),
  ];
  runtime = buildServeRuntime(settings, { events: bus, memory: bus }, ruleset, sinks, logger);
  await runtime.start();
});
afterAll(async () => {
  await runtime?.stop({ drainMs: 0 });
  await app?.close();
  await bus?.stop();
});

// ---- the check

/** Everything Klaxon wrote for one event: its outputs, each a text. */
async function outputsFor(marker: string, eventsFrom: number, alertsFrom: number, logsFrom: number) {
  const deadline = Date.now() + 20_000;
  let alerts: Alert[] = [];
  for (;;) {
    alerts = capture.alerts.filter((a) => JSON.stringify(a).includes(marker));
    if (alerts.some((a) => a.rule.name.startsWith('every-'))) break;
    if (Date.now() > deadline) throw new Error(`no alert for ${marker}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const events = bus.read(settings.kafka.eventsTopic, eventsFrom, 1000).map((m) => m.value.toString());
  const alertMessages = bus.read(settings.kafka.alertsTopic, alertsFrom, 1000).map((m) => m.value.toString());
  const parsedEvents = events.map((e) => JSON.parse(e));
  return {
    'events topic': events.join('\n'),
    'events index': JSON.stringify(bulkBody(eventDocs('klaxon-events', parsedEvents))),
    'alerts topic': alertMessages.join('\n'),
    'alerts index': JSON.stringify(bulkBody(alertDocs('klaxon-alerts', alerts))),
    alertmanager: JSON.stringify(alerts.map((a) => toPostable(a, { resolveAfterMs: 3_600_000 }))),
    stdout: stdout.join('\n'),
    cef: alerts.map((a) => formatCef(a, { version: '0.1.0', hostname: 'klaxon-0' })).join('\n'),
    'splunk hec': JSON.stringify(
      alerts.map((a) =>
        hecEvent(a, { sourcetype: 'klaxon:alert', source: 'klaxon', fallbackHost: 'klaxon-0' }),
      ),
    ),
    'trace logs': logs.slice(logsFrom).join(''),
    metrics: await registry.metrics(),
  };
}

const encoding = fc.constantFrom('identity', 'gzip', 'zstd');

async function checkPlaced(place: Place, s: string, enc: string): Promise<void> {
  const marker = `m${randomUUID().slice(0, 12)}`;
  const planted = place(s, marker);
  const text = JSON.stringify(planted.raw);
  expect(text.includes(s) || text.includes(b64(s)), 'the secret is in what is sent').toBe(true);
  const eventsFrom = bus.end(settings.kafka.eventsTopic);
  const alertsFrom = bus.end(settings.kafka.alertsTopic);
  const logsFrom = logs.length;
  const request = requestOf(planted);
  const json = Buffer.from(request.body);
  const body = enc === 'gzip' ? zlib.gzipSync(json) : enc === 'zstd' ? zlib.zstdCompressSync(json) : json;
  const res = await app.inject({
    method: 'POST',
    url: request.path,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': request.contentType,
      ...(enc === 'identity' ? {} : { 'content-encoding': enc }),
    },
    payload: body,
  });
  expect(res.json(), planted.where).toMatchObject({ accepted: 1, rejected: [] });
  const outputs = await outputsFor(marker, eventsFrom, alertsFrom, logsFrom);
  for (const [name, out] of Object.entries(outputs)) {
    expect(out.includes(s), `${planted.where}: the secret reached ${name}`).toBe(false);
    expect(out.includes(b64(s)), `${planted.where}: the secret (base64) reached ${name}`).toBe(false);
    // The control: what was planted beside the secret did come out (logs and metrics carry no event content).
    if (name !== 'trace logs' && name !== 'metrics')
      expect(out.includes(marker), `${planted.where}: ${name} holds the event`).toBe(true);
  }
}

describe('a secret planted anywhere in an audit event, a Falco alert or a Hubble flow', () => {
  it('loads the catalogue and the catch-all rules', () => {
    expect(errors).toEqual([]);
    expect(ruleset.rules.map((r) => r.name)).toEqual(
      expect.arrayContaining(['every-audit-event', 'every-falco-alert', 'every-hubble-flow']),
    );
  });

  it('never reaches Kafka, Elasticsearch, Alertmanager, stdout, the SIEM sinks, the logs or /metrics', {
    timeout: 300_000,
  }, async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(...ALL_PLACES), secretArb, encoding, checkPlaced), {
      numRuns: 150,
      endOnFailure: true,
    });
  });

  // Each place at least once, whatever the random draw above visited.
  it.each(ALL_PLACES.map((p, i) => [i, p] as const))(
    'place %i, with a fixed secret',
    { timeout: 60_000 },
    async (_i, place) => {
      const [sample] = fc.sample(place, { numRuns: 1, seed: 19 });
      await checkPlaced(sample!, 'Zq7RkT2vLm9XwP4sNb8YcD3h', 'identity');
    },
  );
});
