// The Firehose HTTP endpoint (`type: firehose`) on the real ingest app, with request bodies built the way
// Amazon Data Firehose sends them: `{requestId, timestamp, records: [{data}]}`, each `data` the base64 of a
// gzip'd CloudWatch Logs subscription payload (EKS's own fixtures), the body gzip'd or not.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Bus } from '../../../src/bus/index.ts';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { BusPublisher } from '../../../src/ingest/publisher.ts';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import { FirehoseErrorResponse, FirehoseResponse } from '../../../src/schema/firehose.ts';
import { Acceptor } from '../../../src/sources/accept.ts';
import { FileCheckpointStore } from '../../../src/sources/checkpoints.ts';
import { clusterForLogGroup, FirehoseKeys } from '../../../src/sources/firehose-keys.ts';
import { type RunningSources, startSources } from '../../../src/sources/runner.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';
import { fixtureJson, variant } from '../cloud/fixtures.ts';
import { published, TOKENS, TOPIC } from '../ingest/helpers.ts';
import { FakeBus } from '../reliability/fake-bus.ts';

type Json = Record<string, unknown>;
const KEY_EU = 'fh-eu-key-0123456789abcdefghijklmnopqrstu';
const SHARED = 'fh-shared-key-9876543210zyxwvutsrqponmlk';
const audit = fixtureJson('eks/subscription-audit.json') as Json & { logEvents: Json[] };
const controlPlane = fixtureJson('eks/subscription-control-plane.json') as Json & { logEvents: Json[] };
const control = fixtureJson('eks/subscription-control-message.json');
const authenticator = fixtureJson('eks/subscription-authenticator.json');
const fixtureRequest = fixtureJson('eks/firehose-request.json') as Json & { requestId: string };

/** A Firehose record: the base64 of the gzip'd subscription payload, as CloudWatch Logs hands it to Firehose. */
const record = (payload: unknown) => ({ data: gzipSync(JSON.stringify(payload)).toString('base64') });
const request = (payloads: unknown[], requestId = randomUUID()) => ({
  requestId,
  timestamp: Date.now(),
  records: payloads.map(record),
});
const ofGroup = (payload: Json, logGroup: string) =>
  variant(payload, (p) => {
    p.logGroup = logGroup;
  });

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

let running: RunningSources | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function firehoseApp(
  options: { publishTo?: Bus; eventLimit?: number; bodyLimit?: number; maxInflatedBytes?: number } = {},
): Promise<{ app: FastifyInstance; bus: MemoryBus }> {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-firehose-'));
  const accessKeysFile = join(dir, 'firehose-keys.yaml');
  writeFileSync(accessKeysFile, stringify({ 'prod-eu': [KEY_EU, SHARED], 'prod-us': SHARED }));
  const sources = SourcesSettings.parse({
    eks: {
      type: 'firehose',
      accessKeysFile,
      ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
      ...(options.maxInflatedBytes ? { maxInflatedBytes: options.maxInflatedBytes } : {}),
    },
  });
  const settings = loadConfig({});
  const bus = new MemoryBus();
  await bus.start();
  const accept = new Acceptor({
    publisher: new BusPublisher(options.publishTo ?? bus, TOPIC),
    maxItemBytes: options.eventLimit ?? settings.ingest.auditEventLimit,
    maxAheadMs: 60_000,
  });
  running = await startSources(sources, {
    accept,
    checkpoints: new FileCheckpointStore(dir),
    logger: createLogger('silent'),
  });
  const app = await buildIngestApp({
    settings,
    bus,
    auth: { tokens: new TokenTable(TOKENS) },
    sourceRoutes: running.routes,
  });
  return { app, bus };
}

type Injected = Awaited<ReturnType<FastifyInstance['inject']>>;

function post(
  app: FastifyInstance,
  body: unknown,
  headers: Record<string, string | undefined> = {},
): Promise<Injected> {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const id = (body as { requestId?: string }).requestId ?? randomUUID();
  const all: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'x-amz-firehose-protocol-version': '1.0',
    'x-amz-firehose-request-id': id,
    'x-amz-firehose-source-arn': 'arn:aws:firehose:eu-west-1:111122223333:deliverystream/eks-audit',
    'x-amz-firehose-access-key': KEY_EU,
    ...headers,
  };
  const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  return app.inject({ method: 'POST', url: '/v1/firehose', headers: sent, payload });
}

/** The exact success and error bodies of the Firehose protocol: no other keys. */
function expectSuccess(res: { statusCode: number; json(): unknown; headers: Json }, requestId: string): void {
  expect(res.statusCode).toBe(200);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const body = FirehoseResponse.strict().parse(res.json());
  expect(body.requestId).toBe(requestId);
  expect(Math.abs(body.timestamp - Date.now())).toBeLessThan(60_000);
}
function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  requestId: string,
): string {
  expect(res.statusCode).toBe(status);
  const body = FirehoseErrorResponse.strict().parse(res.json());
  expect(body.requestId).toBe(requestId);
  return body.errorMessage;
}

describe('POST /v1/firehose', () => {
  it('stores every audit event of the delivery under the key’s cluster, skipping control messages and other streams', async () => {
    const { app, bus } = await firehoseApp();
    const res = await post(app, fixtureRequest);
    expectSuccess(res, fixtureRequest.requestId);
    const events = published(bus);
    expect(events).toHaveLength(audit.logEvents.length + controlPlane.logEvents.length);
    expect(new Set(events.map((e) => e.orchestrator.cluster.name))).toEqual(new Set(['prod-eu']));
    expect(events[0]?.kubernetes?.audit).toMatchObject({ verb: 'create', objectRef: { resource: 'pods' } });
  });

  it('reads a body sent with Content-Encoding: gzip', async () => {
    const { app, bus } = await firehoseApp();
    const body = request([audit]);
    const res = await post(app, gzipSync(JSON.stringify(body)), {
      'content-encoding': 'gzip',
      'x-amz-firehose-request-id': body.requestId,
    });
    expectSuccess(res, body.requestId);
    expect(published(bus)).toHaveLength(audit.logEvents.length);
  });

  it('acknowledges a delivery of control messages and other log streams only, storing nothing', async () => {
    const { app, bus } = await firehoseApp();
    const body = request([control, authenticator]);
    expectSuccess(await post(app, body), body.requestId);
    expect(published(bus)).toHaveLength(0);
  });

  it('refuses a bad or missing access key with 401 in the Firehose error shape, before the body, closing the connection', async () => {
    const { app, bus } = await firehoseApp();
    const before = await metric('klaxon_ingest_rejected_total', { source: 'firehose', reason: 'auth' });
    const body = request([audit]);
    for (const key of ['fh-wrong-key-0123456789abcdefghijklmnopq', undefined]) {
      const res = await post(app, body, { 'x-amz-firehose-access-key': key });
      expect(expectError(res, 401, body.requestId)).toMatch(/X-Amz-Firehose-Access-Key/);
      expect(res.headers.connection).toBe('close');
    }
    // A bearer token of the audit webhook is no Firehose key.
    const bearer = await post(app, body, {
      'x-amz-firehose-access-key': undefined,
      authorization: `Bearer ${TOKENS.prod}`,
    });
    expectError(bearer, 401, body.requestId);
    expect(published(bus)).toHaveLength(0);
    expect(
      (await metric('klaxon_ingest_rejected_total', { source: 'firehose', reason: 'auth' })) - before,
    ).toBe(3);
    expect(
      await metric('klaxon_ingest_requests_total', { endpoint: 'firehose', code: '401' }),
    ).toBeGreaterThan(0);
  });

  it('refuses what Firehose never sends: another content type (415), a body that is not JSON or not a delivery (400)', async () => {
    const { app } = await firehoseApp();
    const id = randomUUID();
    const headers = { 'x-amz-firehose-request-id': id };
    expectError(await post(app, Buffer.from('{}'), { ...headers, 'content-type': 'text/plain' }), 415, id);
    expect(expectError(await post(app, Buffer.from('{"requestId":'), headers), 400, id)).toMatch(
      /invalid JSON/,
    );
    const notOne = await post(app, { requestId: 'r-1', records: 'x' }, headers);
    expect(expectError(notOne, 400, 'r-1')).toMatch(/not a Firehose request/);
  });

  it('rejects an oversized event or an undecodable record alone, and answers 400 when nothing was storable', async () => {
    const { app, bus } = await firehoseApp({ eventLimit: 4096 });
    const big = variant(audit, (p) => {
      const event = JSON.parse(String(p.logEvents[0]!.message)) as Json;
      event.requestObject = { padding: 'x'.repeat(10_000) };
      p.logEvents = [{ ...p.logEvents[0], message: JSON.stringify(event) }];
    });
    const truncated = variant(audit, (p) => {
      p.logEvents = [
        { ...p.logEvents[1], message: `${String(p.logEvents[1]!.message).slice(0, 200)}[Truncated...]` },
      ];
    });
    const small = variant(audit, (p) => {
      p.logEvents = p.logEvents.filter((e) => String(e.message).length < 4096).slice(0, 3);
    });
    const before = await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'too_large' });
    const mixed = request([big, small, truncated]);
    mixed.records.push({ data: 'not base64!' });
    expectSuccess(await post(app, mixed), mixed.requestId);
    expect(published(bus)).toHaveLength(3);
    expect(
      (await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'too_large' })) - before,
    ).toBe(2);
    const onlyBig = request([big]);
    expect(expectError(await post(app, onlyBig), 400, onlyBig.requestId)).toMatch(
      /all 1 events were rejected/,
    );
    expect(published(bus)).toHaveLength(3);
  });

  it('answers 413 in the Firehose shape to a body over the limit or a gzip body inflating over the budget', async () => {
    const { app, bus } = await firehoseApp({ bodyLimit: 64 * 1024, maxInflatedBytes: 1024 * 1024 });
    const big = request(Array.from({ length: 40 }, () => audit));
    expect(JSON.stringify(big).length).toBeGreaterThan(64 * 1024);
    expectError(await post(app, big), 413, big.requestId);
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    const id = randomUUID();
    expectError(
      await post(app, bomb, { 'x-amz-firehose-request-id': id, 'content-encoding': 'gzip' }),
      413,
      id,
    );
    expect(published(bus)).toHaveLength(0);
  });

  it('files events of a key shared by clusters under the cluster their log group names, among those only', async () => {
    const { app, bus } = await firehoseApp();
    const body = request([
      ofGroup(controlPlane, '/aws/eks/prod-us/cluster'),
      audit,
      ofGroup(controlPlane, '/aws/eks/prod-ap/cluster'),
    ]);
    expectSuccess(await post(app, body, { 'x-amz-firehose-access-key': SHARED }), body.requestId);
    const clusters = published(bus).map((e) => e.orchestrator.cluster.name);
    expect(clusters.filter((c) => c === 'prod-us')).toHaveLength(controlPlane.logEvents.length);
    expect(clusters.filter((c) => c === 'prod-eu')).toHaveLength(audit.logEvents.length);
    expect(clusters).toHaveLength(controlPlane.logEvents.length + audit.logEvents.length);
    // The EU-only key files everything under prod-eu, whatever the log group says.
    const eu = request([ofGroup(controlPlane, '/aws/eks/prod-us/cluster')]);
    expectSuccess(await post(app, eu), eu.requestId);
    expect(
      published(bus)
        .slice(clusters.length)
        .map((e) => e.orchestrator.cluster.name),
    ).toEqual(controlPlane.logEvents.map(() => 'prod-eu'));
  });

  it('stores a retried delivery (same requestId) once', async () => {
    const { app, bus } = await firehoseApp();
    const body = request([audit]);
    expectSuccess(await post(app, body), body.requestId);
    expectSuccess(await post(app, body), body.requestId);
    expect(published(bus)).toHaveLength(audit.logEvents.length);
  });

  it('answers 503 in the Firehose shape while nothing can be made durable, so Firehose retries', async () => {
    const down = new FakeBus();
    down.mode = 'down';
    const { app } = await firehoseApp({ publishTo: down });
    const body = request([audit]);
    const res = await post(app, body);
    expect(expectError(res, 503, body.requestId)).toMatch(/fake bus is down/);
    down.mode = 'up';
    expectSuccess(await post(app, body), body.requestId);
    expect(down.acked).toHaveLength(audit.logEvents.length);
  });
});

describe('Firehose access keys', () => {
  it('maps a key to its clusters and picks an event’s cluster only among them', () => {
    const keys = new FirehoseKeys({ a: [KEY_EU, SHARED], b: SHARED });
    expect(keys.lookup(KEY_EU)).toEqual(['a']);
    expect(keys.lookup(SHARED)).toEqual(['a', 'b']);
    expect(keys.lookup(`${KEY_EU}x`)).toBeUndefined();
    expect(clusterForLogGroup(['a'], '/aws/eks/b/cluster')).toEqual({ cluster: 'a' });
    expect(clusterForLogGroup(['a', 'b'], '/aws/eks/b/cluster')).toEqual({ cluster: 'b' });
    expect(clusterForLogGroup(['a', 'b'], '/aws/eks/c/cluster')).toHaveProperty('error');
    expect(clusterForLogGroup(['a', 'b'], undefined)).toHaveProperty('error');
  });

  it('refuses weak keys, naming the entry and never the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-firehose-keys-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'prod: short-secret-key\n');
    expect(() => FirehoseKeys.fromFile('sources.eks.accessKeysFile', file)).toThrow(
      /sources\.eks\.accessKeysFile .*entry 1/,
    );
    expect(() => FirehoseKeys.fromFile('sources.eks.accessKeysFile', file)).not.toThrow(/short-secret-key/);
  });
});
