// 300 hostile requests against a real listening ingest server (raw sockets, so nothing is
// cleaned up by an HTTP client on the way): never a 5xx, never a reset connection, no prototype
// pollution, /healthz 200 afterwards; slow senders are cut off by the request deadline.
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory.ts';
import { loadConfig } from '../../src/config.ts';
import { buildIngestApp } from '../../src/ingest/app.ts';
import { TokenTable } from '../../src/ingest/auth.ts';

const TOKEN = 'hostile-test-token-5f1c9a-0123456789abcdef';
const REQUEST_TIMEOUT_S = 2;

let app: FastifyInstance;
let bus: MemoryBus;
let port: number;

beforeAll(async () => {
  bus = new MemoryBus({ capacity: 1_000_000 });
  await bus.start();
  const settings = loadConfig({ KLAXON_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_S) });
  app = await buildIngestApp({
    settings,
    bus,
    auth: { tokens: new TokenTable({ hostile: TOKEN }) },
    logger: pino({ level: 'silent' }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  port = address.port;
});

afterAll(async () => {
  await app?.close();
  await bus?.stop();
});

interface RawResponse {
  status: number;
  /** Set when the connection broke before any response arrived. */
  error?: string;
  body: string;
}

/**
 * Sends raw bytes (request line, headers and body as given) and reads the response until the
 * server closes. A failed write after the server already answered (it may refuse before
 * reading the body) is not an error; a reset before any response is.
 */
function rawRequest(parts: Array<Buffer | string>, options: { gapMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let finished = false;
    const done = (error?: string) => {
      if (finished) return;
      finished = true;
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      if (m) resolve({ status: Number(m[1]), body });
      else resolve({ status: 0, error: error ?? 'connection closed without a response', body: text });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => done());
    socket.on('close', () => done());
    socket.on('error', (err) => done(`${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.on('connect', async () => {
      for (const part of parts) {
        if (finished || socket.destroyed) return;
        socket.write(part);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
    });
  });
}

function post(
  path: string,
  body: Buffer | string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  auth = true,
): Promise<RawResponse> {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const lines = [
    `POST ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: close',
    ...(auth ? [`Authorization: Bearer ${TOKEN}`] : []),
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${payload.length}`,
    '',
    '',
  ];
  return rawRequest([lines.join('\r\n'), payload]);
}

const auditEvent = (extra: Record<string, unknown> = {}) => ({
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Metadata',
  auditID: '8a3f2c1e-0000-4000-8000-000000000001',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods',
  verb: 'list',
  user: { username: 'mallory', groups: ['system:authenticated'] },
  sourceIPs: ['10.0.0.66'],
  objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
  responseStatus: { code: 200 },
  requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
  stageTimestamp: '2024-05-01T10:00:00.010000Z',
  ...extra,
});
const eventList = (items: unknown[]) =>
  JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
const falco = (extra: Record<string, unknown> = {}) => ({
  output: 'Shell spawned in a container',
  priority: 'Warning',
  rule: 'Terminal shell in container',
  time: '2024-05-01T10:00:00.000000000Z',
  source: 'syscall',
  hostname: 'node-1',
  output_fields: { 'k8s.pod.name': 'web-1' },
  ...extra,
});

const ENDPOINTS = ['/v1/audit', '/v1/falco'] as const;

/** The hostile requests: each a thunk, so they are sent one after another. */
function hostileRequests(): Array<{ name: string; send: () => Promise<RawResponse> }> {
  const out: Array<{ name: string; send: () => Promise<RawResponse> }> = [];
  const add = (name: string, send: () => Promise<RawResponse>) => out.push({ name, send });
  const rng = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 4096 }), { numRuns: 40, seed: 9 });
  for (const [i, bytes] of rng.entries()) {
    add(`random bytes ${i}`, () => post(ENDPOINTS[i % 2]!, Buffer.from(bytes)));
  }
  for (const path of ENDPOINTS) {
    const deep = 100_000;
    add(`${path} 100k unclosed [`, () => post(path, '['.repeat(deep)));
    add(`${path} 100k nested arrays`, () => post(path, `${'['.repeat(deep)}${']'.repeat(deep)}`));
    add(`${path} 100k nested objects`, () => post(path, `${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}`));
    add(`${path} nested arrays in a field`, () =>
      post(
        path,
        path === '/v1/audit'
          ? `[${JSON.stringify(auditEvent()).slice(0, -1)},"requestObject":${'['.repeat(50_000)}${']'.repeat(50_000)}}]`
          : `${JSON.stringify(falco()).slice(0, -1)},"output_fields":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
      ),
    );
    add(`${path} huge string over the body limit`, () =>
      post(
        path,
        JSON.stringify(
          path === '/v1/audit'
            ? auditEvent({ verb: 'x'.repeat(33 * 1024 * 1024) })
            : falco({ output: 'x'.repeat(2 * 1024 * 1024) }),
        ),
      ),
    );
    add(`${path} huge string within the body limit`, () =>
      post(
        path,
        JSON.stringify(
          path === '/v1/audit'
            ? [auditEvent({ requestURI: 'y'.repeat(8 * 1024 * 1024) }), auditEvent()]
            : falco({ output: 'y'.repeat(900 * 1024) }),
        ),
      ),
    );
    add(`${path} many keys`, () =>
      post(
        path,
        JSON.stringify(
          path === '/v1/audit'
            ? auditEvent({
                annotations: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v'])),
              })
            : falco({
                output_fields: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i])),
              }),
        ),
      ),
    );
  }
  const wrongTypes: unknown[] = [
    null,
    0,
    -1,
    1e308,
    'string',
    true,
    [],
    {},
    [null],
    [1, 'a', true],
    { kind: 5 },
    { kind: 'EventList', items: 'x' },
    { kind: 'EventList', items: [null, 1, [], {}] },
    { kind: 'EventList', items: { length: 1e9 } },
    auditEvent({ verb: 42 }),
    auditEvent({ user: 'root' }),
    auditEvent({ user: { username: { $ne: null } } }),
    auditEvent({ objectRef: [] }),
    auditEvent({ sourceIPs: 'not-a-list' }),
    auditEvent({ sourceIPs: [1, null, {}] }),
    auditEvent({ responseStatus: { code: '200' } }),
    auditEvent({ responseStatus: { code: Number.MAX_VALUE } }),
    auditEvent({ stageTimestamp: '99999-99-99T99:99:99Z' }),
    auditEvent({ stageTimestamp: 1714557600 }),
    auditEvent({ requestReceivedTimestamp: null, stageTimestamp: null }),
    auditEvent({ annotations: [] }),
    auditEvent({ requestObject: 'string', responseObject: 7 }),
    auditEvent({ auditID: '' }),
    auditEvent({ stage: {} }),
    falco({ priority: 7 }),
    falco({ time: 'yesterday' }),
    falco({ output_fields: 'x' }),
    falco({ output_fields: [1, 2] }),
    falco({ rule: null }),
    falco({ tags: 'a' }),
    falco({ tags: [{}] }),
    falco({ hostname: ['a'] }),
  ];
  for (const [i, value] of wrongTypes.entries()) {
    for (const path of ENDPOINTS) add(`${path} wrong types ${i}`, () => post(path, JSON.stringify(value)));
  }
  const pollution = [
    '{"__proto__":{"polluted":"yes"}}',
    '[{"__proto__":{"polluted":"yes"},"kind":"Event"}]',
    `{"kind":"EventList","items":[${JSON.stringify(auditEvent()).slice(0, -1)},"__proto__":{"polluted":"yes"}}]}`,
    `[${JSON.stringify(auditEvent()).slice(0, -1)},"user":{"username":"a","__proto__":{"polluted":"yes"}}}]`,
    `[${JSON.stringify(auditEvent()).slice(0, -1)},"requestObject":{"constructor":{"prototype":{"polluted":"yes"}}}}]`,
    `[${JSON.stringify(auditEvent()).slice(0, -1)},"annotations":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}]`,
    `[${JSON.stringify(auditEvent({ kind: 'Event' })).slice(0, -1)},"objectRef":{"resource":"secrets","__proto__":{"polluted":"yes"}},"requestObject":{"kind":"Secret","data":{"__proto__":{"polluted":"yes"}}}}]`,
    `${JSON.stringify(falco()).slice(0, -1)},"__proto__":{"polluted":"yes"}}`,
    `${JSON.stringify(falco()).slice(0, -1)},"output_fields":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}}`,
    '{"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}',
    eventList([JSON.parse('{"__proto__":{"polluted":"yes"},"kind":"Event"}'), auditEvent()]),
  ];
  for (const [i, body] of pollution.entries()) {
    for (const path of ENDPOINTS) add(`${path} prototype keys ${i}`, () => post(path, body));
  }
  const valid = Buffer.from(JSON.stringify([auditEvent()]));
  const invalidUtf8 = [
    Buffer.concat([valid.subarray(0, 40), Buffer.from([0xff, 0xfe, 0xc3]), valid.subarray(40)]),
    Buffer.from([0xef, 0xbb, 0xbf, ...valid]), // BOM
    Buffer.from(
      JSON.stringify([auditEvent({ user: { username: 'PLACEHOLDER' } })]).replace(
        'PLACEHOLDER',
        '\udcff\ud800',
      ),
    ),
    Buffer.concat([
      Buffer.from('[{"kind":"Event","auditID":"'),
      Buffer.from([0xed, 0xa0, 0x80, 0xc0, 0xaf]),
      Buffer.from('"}]'),
    ]),
    Buffer.from('\u0000\u0000\u0000[', 'utf16le'),
  ];
  for (const [i, body] of invalidUtf8.entries()) {
    add(`audit invalid utf-8 ${i}`, () => post('/v1/audit', body));
    add(`falco invalid utf-8 ${i}`, () =>
      post(
        '/v1/falco',
        Buffer.concat([
          Buffer.from('{"output":"'),
          Buffer.from([0xff, 0xc0, 0x80]),
          Buffer.from('","priority":"Warning","rule":"r","time":"2024-05-01T10:00:00Z"}'),
        ]),
      ),
    );
  }
  const text = JSON.stringify([auditEvent(), auditEvent({ verb: 'get' })]);
  const falcoText = `${JSON.stringify(falco())}\n${JSON.stringify(falco({ rule: 'other' }))}`;
  for (let i = 1; i <= 20; i++) {
    add(`audit truncated at ${i}/20`, () =>
      post('/v1/audit', text.slice(0, Math.floor((text.length * i) / 21))),
    );
    add(`falco truncated at ${i}/20`, () =>
      post('/v1/falco', falcoText.slice(0, Math.floor((falcoText.length * i) / 21)), {
        'content-type': 'application/x-ndjson',
      }),
    );
  }
  const contentTypes = [
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    'application/json\u0001',
    '',
    'a'.repeat(8000),
    'application/xml',
    '*/*',
    'application/json, text/plain',
  ];
  for (const [i, type] of contentTypes.entries()) {
    for (const path of ENDPOINTS) {
      add(`${path} content type ${i}`, () => post(path, text, type === '' ? {} : { 'content-type': type }));
    }
  }
  const headerAbuse: Array<[string, () => Promise<RawResponse>]> = [
    ['no credential', () => post('/v1/audit', text, undefined, false)],
    [
      'huge bearer token',
      () =>
        rawRequest([
          `POST /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${'t'.repeat(12_000)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]`,
        ]),
    ],
    [
      'non-ascii bearer',
      () =>
        rawRequest([
          Buffer.concat([
            Buffer.from('POST /v1/falco HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '),
            Buffer.from([0xff, 0xfe]),
            Buffer.from('\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'),
          ]),
        ]),
    ],
    [
      'Basic auth',
      () =>
        post(
          '/v1/audit',
          text,
          { 'content-type': 'application/json', authorization: 'Basic YWRtaW46YWRtaW4=' },
          false,
        ),
    ],
    [
      'duplicate content-length',
      () =>
        rawRequest([
          `POST /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n[]`,
        ]),
    ],
    [
      'negative content-length',
      () =>
        rawRequest([
          `POST /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n[]`,
        ]),
    ],
    [
      'broken chunked body',
      () =>
        rawRequest([
          `POST /v1/falco HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        ]),
    ],
    [
      'chunked and content-length',
      () =>
        rawRequest([
          `POST /v1/falco HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
        ]),
    ],
    ['garbage request line', () => rawRequest(['\u0000\u0001GARBAGE / HTTP/9.9\r\n\r\n'])],
    ['unknown method', () => rawRequest(['BREW /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'])],
    [
      'GET on an ingest route',
      () => rawRequest(['GET /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']),
    ],
    [
      'path traversal',
      () => rawRequest(['GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']),
    ],
    [
      'very long url',
      () => rawRequest([`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]),
    ],
    [
      'percent-encoded garbage',
      () => rawRequest(['GET /v1/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']),
    ],
    [
      'header flood',
      () =>
        rawRequest([
          `POST /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
        ]),
    ],
  ];
  for (const [name, send] of headerAbuse) add(name, send);
  const json = fc.sample(fc.jsonValue({ maxDepth: 6 }), { numRuns: 400, seed: 90 });
  for (let i = 0; out.length < 300; i++) {
    const value = json[i % json.length];
    add(`arbitrary JSON ${i}`, () =>
      post(ENDPOINTS[i % 2]!, JSON.stringify(i % 3 === 0 ? { kind: 'EventList', items: [value] } : value)),
    );
  }
  return out;
}

describe('hostile input at a listening ingest server', () => {
  it('answers 300 hostile requests without a 5xx or a reset, stays healthy and unpolluted', {
    timeout: 300_000,
  }, async () => {
    const requests = hostileRequests();
    expect(requests.length).toBeGreaterThanOrEqual(300);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const { name, send } of requests) {
      const res = await send();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.error) failures.push(`${name}: ${res.error}`);
      else if (res.status >= 500) failures.push(`${name}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    // The valid parts of the mixes did go through: not everything was refused.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    const health = await rawRequest(['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(health.status).toBe(200);
  });

  it('cuts off a slow-loris body and slow headers with 408, and keeps serving', {
    timeout: 60_000,
  }, async () => {
    const body = JSON.stringify([auditEvent()]);
    const head = `POST /v1/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const trickle = [head, ...body.split('')];
    const [bodyLoris, headerLoris, healthy] = await Promise.all([
      rawRequest(trickle, { gapMs: 200 }),
      rawRequest(
        ['POST /v1/audit HTTP/1.1\r\n', ...Array.from({ length: 200 }, (_, i) => `X-Slow-${i}: 1\r\n`)],
        { gapMs: 200 },
      ),
      new Promise<RawResponse>((resolve) =>
        setTimeout(
          () => resolve(rawRequest(['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'])),
          500,
        ),
      ),
    ]);
    // 408 is the server cutting them off: the body trickle needs over a minute at this pace (longer
    // than the test may run), and the slow headers never end.
    expect(bodyLoris.status).toBe(408);
    expect(headerLoris.status).toBe(408);
    expect(healthy.status).toBe(200);
  });
});
