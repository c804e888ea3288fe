// Issue 19, item 1, through the real services: `klaxon ingest` → Kafka → `klaxon detect` with Elasticsearch (events
// indexed too) and Alertmanager takes payloads that each hold a random secret somewhere a secret can live (every place of
// test/helpers/secret-places.ts once, plus random draws, plain and compressed), and a rule fires on every event.
// Then everything that left Klaxon is read back — every message of every topic of the run, every document of
// every index of the run, every alert Alertmanager holds, the process's stdout and stderr (trace-level logs) and
// /metrics of both processes — and no secret is in any of it, while the marker planted beside each secret is.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Klaxon } from '../helpers/klaxon-process.ts';
import {
  ALL_PLACES,
  b64,
  CATCH_ALL_RULES,
  type Planted,
  requestOf,
  secretArb,
} from '../helpers/secret-places.ts';
import { isolatedEnv, startDetect, startIngest, TOKEN } from './fault-processes.ts';
import { alertmanagerUrl, elasticsearchClient, kafkaClient, waitFor } from './services.ts';

interface Sent {
  planted: Planted;
  secret: string;
  marker: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Every message of every topic whose name starts with `prefix`, as text (keys, values and headers). */
async function topicsText(prefix: string): Promise<Record<string, string>> {
  const kafka = kafkaClient('klaxon-secrets-read');
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  let expected = 0;
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) expected += Number(p.high) - Number(p.low);
  }
  await admin.disconnect();
  const texts: Record<string, string[]> = Object.fromEntries(topics.map((t) => [t, []]));
  if (expected === 0) return {};
  const consumer = kafka.consumer({ groupId: `${prefix}.reader-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const headers = Object.entries(message.headers ?? {}).map(([k, v]) => `${k}=${String(v)}`);
      texts[topic]!.push(
        `${message.key?.toString() ?? ''} ${message.value?.toString() ?? ''} ${headers.join(' ')}`,
      );
      seen++;
    },
  });
  await waitFor(() => seen >= expected, 60_000);
  await consumer.disconnect();
  return Object.fromEntries(Object.entries(texts).map(([t, lines]) => [`topic ${t}`, lines.join('\n')]));
}

/** Every document of every index whose name starts with `prefix`, as Elasticsearch returns it. */
async function indicesText(prefix: string): Promise<Record<string, string>> {
  const es = elasticsearchClient();
  await es.indices.refresh({ index: `${prefix}-*`, allow_no_indices: true });
  const r = await es.search({
    index: `${prefix}-*`,
    allow_no_indices: true,
    size: 10_000,
    query: { match_all: {} },
  });
  const byIndex: Record<string, string[]> = {};
  for (const hit of r.hits.hits) {
    const name = `index ${hit._index}`;
    byIndex[name] = [...(byIndex[name] ?? []), JSON.stringify(hit)];
  }
  return Object.fromEntries(Object.entries(byIndex).map(([i, docs]) => [i, docs.join('\n')]));
}

describe('klaxon ingest and detect with Kafka, Elasticsearch and Alertmanager', () => {
  const running: Klaxon[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
  });

  it('lets no planted secret out, anywhere', { timeout: 300_000 }, async () => {
    const rules = mkdtempSync(join(tmpdir(), 'klaxon-secrets-it-'));
    writeFileSync(join(rules, 'catch-all.yml'), CATCH_ALL_RULES);
    const env = isolatedEnv('secrets');
    Object.assign(env, {
      KLAXON_RULES: `${env.KLAXON_RULES},${rules}`,
      KLAXON_INDEX_EVENTS: 'true',
      // Under the run's prefix like every other topic, so it is read back too.
      KLAXON_FIRST_SEEN_TOPIC: env.KLAXON_EVENTS_TOPIC!.replace(/\.events$/, '.first-seen'),
      KLAXON_ALERTMANAGER_MIN_LEVEL: 'high',
      KLAXON_LOG_LEVEL: 'trace',
    });
    const ingest = await startIngest(env);
    running.push(ingest.proc);
    const url = ingest.url;
    // `klaxon detect` logs the port it was given, not the one it got: it gets a free one.
    const detectPort = await freePort();
    const detect = await startDetect({ ...env, KLAXON_DETECT_PORT: String(detectPort) });
    running.push(detect);
    const detectUrl = `http://127.0.0.1:${detectPort}`;

    // Every place once, then random places; each with its own secret and marker, some compressed.
    const draws = [
      ...ALL_PLACES.map((place) => fc.sample(fc.tuple(place, secretArb), 1)[0]!),
      ...fc.sample(fc.tuple(fc.oneof(...ALL_PLACES), secretArb), 15),
    ];
    const sent: Sent[] = [];
    for (const [i, [place, secret]] of draws.entries()) {
      const marker = `m${randomUUID().slice(0, 12)}`;
      const planted = place(secret, marker);
      const request = requestOf(planted);
      const encoding = ['identity', 'gzip', 'zstd'][i % 3]!;
      const json = Buffer.from(request.body);
      const body =
        encoding === 'gzip' ? zlib.gzipSync(json) : encoding === 'zstd' ? zlib.zstdCompressSync(json) : json;
      const res = await fetch(`${url}${request.path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': request.contentType,
          ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
        },
        body,
      });
      const answer = await res.text();
      expect(res.status, `${planted.where}: ${answer}`).toBe(200);
      expect(JSON.parse(answer), planted.where).toMatchObject({ accepted: 1, rejected: [] });
      sent.push({ planted, secret, marker });
    }

    // Everything has arrived: an alert per payload in Elasticsearch and in Alertmanager.
    const prefix = env.KLAXON_ES_INDEX_PREFIX!;
    const amText = async () => (await fetch(`${alertmanagerUrl()}/api/v2/alerts`)).text();
    await waitFor(
      async () => {
        const indexed = Object.values(await indicesText(prefix)).join('\n');
        const am = await amText();
        return sent.every((s) => indexed.includes(s.marker) && am.includes(s.marker));
      },
      120_000,
      1_000,
    );

    const metrics = {
      'ingest metrics': await (await fetch(`${url}/metrics`)).text(),
      'detect metrics': await (await fetch(`${detectUrl}/metrics`)).text(),
    };
    const topics = await topicsText(env.KLAXON_EVENTS_TOPIC!.replace(/\.events$/, ''));
    await Promise.all([ingest.proc.kill('SIGTERM'), detect.kill('SIGTERM')]);
    const outputs: Record<string, string> = {
      ...topics,
      ...(await indicesText(prefix)),
      alertmanager: await amText(),
      'ingest stdout': ingest.proc.stdout(),
      'ingest stderr (trace logs)': ingest.proc.stderr(),
      'detect stdout': detect.stdout(),
      'detect stderr (trace logs)': detect.stderr(),
      ...metrics,
    };
    expect(Object.keys(outputs), 'the events topic, an events and an alerts index were read').toEqual(
      expect.arrayContaining([
        `topic ${env.KLAXON_EVENTS_TOPIC}`,
        expect.stringMatching(/^index .*-events/),
        expect.stringMatching(/^index .*-alerts/),
      ]),
    );
    for (const { planted, secret } of sent) {
      for (const [name, text] of Object.entries(outputs)) {
        expect(text.includes(secret), `${planted.where}: the secret reached ${name}`).toBe(false);
        expect(text.includes(b64(secret)), `${planted.where}: the secret (base64) reached ${name}`).toBe(
          false,
        );
      }
    }
    // The control: what was planted beside each secret came out where events and alerts go.
    const indexed = Object.entries(outputs)
      .filter(([name]) => name.startsWith('index '))
      .map(([, text]) => text)
      .join('\n');
    const carriers = [`topic ${env.KLAXON_EVENTS_TOPIC}`, `topic ${env.KLAXON_ALERTS_TOPIC}`, 'alertmanager'];
    for (const { planted, marker } of sent) {
      for (const name of carriers)
        expect(outputs[name]?.includes(marker), `${planted.where}: ${name}`).toBe(true);
      expect(
        indexed.split(marker).length - 1,
        `${planted.where}: an event and an alert document`,
      ).toBeGreaterThanOrEqual(2);
    }
  });
});
