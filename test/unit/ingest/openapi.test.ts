// The OpenAPI 3.1 description of the ingest server (issue 19, item 3): made from the routes the server has and
// the zod schemas they parse with, valid by the OpenAPI 3.1 schema (a real validator), the same as
// docs/openapi.json, and true: the answers of every route, good and bad, are ones it describes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { INGEST_ERRORS } from '../../../src/ingest/errors.ts';
import { BusPublisher } from '../../../src/ingest/publisher.ts';
import { createLogger } from '../../../src/log.ts';
import { Acceptor } from '../../../src/sources/accept.ts';
import { FileCheckpointStore } from '../../../src/sources/checkpoints.ts';
import { type RunningSources, startSources } from '../../../src/sources/runner.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';
import { everyRouteSettings, FIREHOSE_KEY, INGEST_TOKEN } from '../../helpers/every-route.ts';
import { auditEvent, eventList, falcoAlert } from './helpers.ts';

const FILE = join(import.meta.dirname, '../../../docs/openapi.json');
type Json = Record<string, unknown>;

let app: FastifyInstance;
let bus: MemoryBus;
let sources: RunningSources;
let doc: Json;

beforeAll(async () => {
  const every = everyRouteSettings();
  const settings = loadConfig({ KLAXON_MAX_ITEMS: '50', KLAXON_FALCO_BODY_LIMIT: '64KiB' });
  bus = new MemoryBus();
  await bus.start();
  sources = await startSources(SourcesSettings.parse(every.sources), {
    accept: new Acceptor({
      publisher: new BusPublisher(bus, settings.kafka.eventsTopic),
      maxItemBytes: settings.ingest.auditEventLimit,
      maxAheadMs: 60_000,
    }),
    checkpoints: new FileCheckpointStore(every.dir),
    logger: createLogger('silent'),
  });
  app = await buildIngestApp({
    settings,
    bus,
    auth: { tokens: new TokenTable({ prod: INGEST_TOKEN }) },
    sourceRoutes: sources.routes,
  });
  doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(async () => {
  await app?.close();
  await sources?.stop();
  await bus?.stop();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('is docs/openapi.json (KLAXON_WRITE_OPENAPI=1 writes it)', () => {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.env.KLAXON_WRITE_OPENAPI === '1') writeFileSync(FILE, text);
    expect(readFileSync(FILE, 'utf8')).toBe(text);
  });

  it('is served without a credential', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('describes every route the server has, and nothing else', () => {
    const routes = app
      .printRoutes({ commonPrefix: false, method: 'POST' })
      .concat(app.printRoutes({ commonPrefix: false, method: 'GET' }));
    const described = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(described.sort()).toEqual(
      [
        'GET /healthz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /readyz',
        'POST /v1/audit',
        'POST /v1/falco',
        'POST /v1/firehose',
        'POST /v1/flows',
        'POST /v1/pubsub',
      ].sort(),
    );
    for (const entry of described) expect(routes).toContain(entry.split(' ')[1]);
  });

  it('names the credential of every ingest route, and every error code of the table with its reason', () => {
    const paths = doc.paths as Record<string, Record<string, Json>>;
    for (const path of ['/v1/audit', '/v1/falco', '/v1/flows'])
      expect(paths[path]!.post!.security).toEqual([{ ingestToken: [] }, { clientCertificate: [] }]);
    expect(paths['/v1/firehose']!.post!.security).toEqual([{ firehoseAccessKey: [] }]);
    expect(paths['/v1/pubsub']!.post!.security).toEqual([{ pubsubPushToken: [] }]);
    expect(paths['/healthz']!.get!.security).toEqual([]);
    const text = JSON.stringify(doc);
    // `not_found` answers a path no route has: no operation to describe it on.
    for (const [code, { when }] of Object.entries(INGEST_ERRORS).filter(([c]) => c !== 'not_found')) {
      expect(text, code).toContain(`\`${code}\``);
      expect(text, code).toContain(JSON.stringify(when).slice(1, -1));
    }
  });

  it('refuses to start with a route that does not describe itself', async () => {
    const undocumented = async (a: FastifyInstance) => {
      a.post('/v1/undocumented', async () => ({}));
    };
    await expect(
      buildIngestApp({
        settings: loadConfig({}),
        bus,
        auth: { tokens: new TokenTable({ prod: INGEST_TOKEN }) },
        sourceRoutes: [undocumented],
      }).then((a) => a.ready()),
    ).rejects.toThrow(/POST \/v1\/undocumented has no OpenAPI description/);
  });
});

describe('the answers of every route are the ones the description gives', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const auth = { authorization: `Bearer ${INGEST_TOKEN}` };
  const json = { 'content-type': 'application/json' };
  const big = JSON.stringify(falcoAlert({ pad: 'x'.repeat(70 * 1024) }));
  const firehose = {
    'x-amz-firehose-access-key': FIREHOSE_KEY,
    'x-amz-firehose-request-id': 'c5e2f0b1-0c77-4b3f-9a2f-1f9a2b4c3d5e',
    ...json,
  };
  const cases: [string, InjectOptions][] = [
    ['GET /healthz', { method: 'GET', url: '/healthz' }],
    ['GET /readyz', { method: 'GET', url: '/readyz' }],
    ['GET /metrics', { method: 'GET', url: '/metrics' }],
    ['GET /openapi.json', { method: 'GET', url: '/openapi.json' }],
    [
      'audit: an EventList',
      { method: 'POST', url: '/v1/audit', headers: { ...auth, ...json }, payload: eventList([auditEvent()]) },
    ],
    [
      'audit: one good event and one bad',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { ...auth, ...json },
        payload: [auditEvent(), { kind: 'Event' }],
      },
    ],
    [
      'audit: only bad events',
      { method: 'POST', url: '/v1/audit', headers: { ...auth, ...json }, payload: [{ kind: 'Event' }] },
    ],
    [
      'audit: not JSON',
      { method: 'POST', url: '/v1/audit', headers: { ...auth, ...json }, payload: '{"kind": "EventL' },
    ],
    ['audit: no token', { method: 'POST', url: '/v1/audit', headers: json, payload: '{}' }],
    [
      'audit: an unknown token',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { authorization: 'Bearer not-a-token-of-this-server-at-all', ...json },
        payload: '{}',
      },
    ],
    [
      'audit: text/plain',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { ...auth, 'content-type': 'text/plain' },
        payload: '{}',
      },
    ],
    [
      'audit: too many items',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { ...auth, ...json },
        payload: Array.from({ length: 60 }, () => auditEvent()),
      },
    ],
    [
      'audit: Content-Encoding br',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { ...auth, ...json, 'content-encoding': 'br' },
        payload: '{}',
      },
    ],
    [
      'audit: a corrupt gzip body',
      {
        method: 'POST',
        url: '/v1/audit',
        headers: { ...auth, ...json, 'content-encoding': 'gzip' },
        payload: zlib.gzipSync('[]').subarray(0, 8),
      },
    ],
    [
      'falco: an alert',
      { method: 'POST', url: '/v1/falco', headers: { ...auth, ...json }, payload: falcoAlert() },
    ],
    [
      'falco: a body over the limit',
      { method: 'POST', url: '/v1/falco', headers: { ...auth, ...json }, payload: big },
    ],
    [
      'flows: a bare flow',
      {
        method: 'POST',
        url: '/v1/flows',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        payload: `${JSON.stringify({ flow: { time: new Date().toISOString(), verdict: 'FORWARDED' } })}\n`,
      },
    ],
    [
      'firehose: an empty delivery',
      {
        method: 'POST',
        url: '/v1/firehose',
        headers: firehose,
        payload: { requestId: 'c5e2f0b1-0c77-4b3f-9a2f-1f9a2b4c3d5e', timestamp: Date.now(), records: [] },
      },
    ],
    ['firehose: no access key', { method: 'POST', url: '/v1/firehose', headers: json, payload: '{}' }],
    ['firehose: not a delivery', { method: 'POST', url: '/v1/firehose', headers: firehose, payload: '[1]' }],
    ['pubsub: no token', { method: 'POST', url: '/v1/pubsub', headers: json, payload: '{}' }],
    [
      'pubsub: a token not signed by the keys',
      {
        method: 'POST',
        url: '/v1/pubsub',
        headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln', ...json },
        payload: '{}',
      },
    ],
  ];

  it.each(cases)('%s', async (_name, request) => {
    const res = await app.inject(request);
    const op = (doc.paths as Record<string, Record<string, Json>>)[request.url as string]![
      (request.method as string).toLowerCase()
    ]!;
    const responses = op.responses as Record<string, Json>;
    expect(Object.keys(responses), `status ${res.statusCode}: ${res.body}`).toContain(String(res.statusCode));
    const content = responses[String(res.statusCode)]!.content as
      | Record<string, { schema: Json }>
      | undefined;
    const type = String(res.headers['content-type']).split(';')[0]!;
    expect(content && Object.keys(content), res.body).toContain(type);
    if (type !== 'application/json') return;
    const validate = ajv.compile(content![type]!.schema);
    expect(validate(res.json()), `${res.body}\n${JSON.stringify(validate.errors)}`).toBe(true);
  });
});
