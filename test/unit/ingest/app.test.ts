import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryBus } from '../../../src/bus/memory.ts';
import { registry } from '../../../src/metrics.ts';
import { auditEvent, bearer, eventList, falcoAlert, makeApp, published, TOKENS } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Builds this test's app (closed after the test) and returns its bus. */
async function start(env: Record<string, string> = {}): Promise<MemoryBus> {
  const made = await makeApp(env);
  app = made.app;
  return made.bus;
}

/** POSTs to this test's app as the prod cluster, unless other headers are given. */
function post(
  url: string,
  payload: InjectOptions['payload'],
  headers: Record<string, string> = bearer(TOKENS.prod),
) {
  return app!.inject({ method: 'POST', url, headers, payload });
}

const get = (url: string) => app!.inject({ url });

describe('authentication', () => {
  it('refuses a request without a credential with 401 and a Bearer challenge', async () => {
    const bus = await start();
    const res = await post('/v1/audit', eventList([auditEvent()]), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({
      error: 'unauthorized',
      reason: expect.stringContaining('credential'),
    });
    expect(published(bus)).toHaveLength(0);
  });

  it('refuses a wrong token and a malformed Authorization header', async () => {
    const bus = await start();
    for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwYXNz', `Bearer ${TOKENS.prod}x`]) {
      const res = await post('/v1/falco', falcoAlert(), {
        authorization,
        'content-type': 'application/json',
      });
      expect([401, 403]).toContain(res.statusCode);
      expect(res.json().reason).toBeTypeOf('string');
    }
    expect(published(bus)).toHaveLength(0);
  });

  it('names the cluster after the token, whatever the payload says', async () => {
    const bus = await start();
    const tokens: Array<[string, string]> = [
      [TOKENS.prod, 'prod'],
      [TOKENS.staging[0]!, 'staging'],
      [TOKENS.staging[1]!, 'staging'],
    ];
    for (const [token, cluster] of tokens) {
      const res = await post(
        '/v1/audit',
        eventList([auditEvent({ annotations: { cluster: 'evil' } })]),
        bearer(token),
      );
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ accepted: 1, rejected: [] });
      expect(published(bus).at(-1)?.orchestrator.cluster.name).toBe(cluster);
    }
  });

  it('leaves health, readiness and metrics open', async () => {
    await start();
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('klaxon_ingest_events_total');
  });
});

describe('audit batches', () => {
  it('accepts a 4-event EventList and puts 4 normalized events on the bus, keyed by cluster/actor', async () => {
    const bus = await start();
    const items = [
      auditEvent(),
      auditEvent({ verb: 'get' }),
      auditEvent({ user: { username: 'bob' } }),
      auditEvent(),
    ];
    const res = await post('/v1/audit', eventList(items));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 4, rejected: [] });
    const events = bus.read('klaxon.events', 0, 10);
    expect(events.map((m) => m.key)).toEqual(['prod/alice', 'prod/alice', 'prod/bob', 'prod/alice']);
    expect(published(bus).map((e) => e.event.id)).toEqual(items.map((i) => `${i.auditID}/ResponseComplete`));
  });

  it('accepts a single Event and a JSON array of events', async () => {
    const bus = await start();
    const one = await post('/v1/audit', auditEvent());
    expect(one.json()).toEqual({ accepted: 1, rejected: [] });
    const arr = await post('/v1/audit', JSON.stringify([auditEvent(), auditEvent()]));
    expect(arr.json()).toEqual({ accepted: 2, rejected: [] });
    expect(published(bus)).toHaveLength(3);
  });

  it('lets the valid items of a mixed batch through and names the broken ones by index', async () => {
    const bus = await start();
    const items = [auditEvent(), 'not an event', auditEvent(), { kind: 'Event', verb: 17 }, auditEvent()];
    const res = await post('/v1/audit', eventList(items));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(3);
    expect(body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 3]);
    for (const r of body.rejected) expect(r.reason).toMatch(/\w/);
    expect(published(bus)).toHaveLength(3);
  });

  it('answers 400 with every rejection when no item is valid', async () => {
    const bus = await start();
    const res = await post('/v1/audit', eventList([1, { verb: [] }]));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ accepted: 0, rejected: [{ index: 0 }, { index: 1 }] });
    expect(published(bus)).toHaveLength(0);
  });

  it('rejects an event over the per-event limit as an item, not the batch', async () => {
    await start();
    const big = auditEvent({
      level: 'RequestResponse',
      verb: 'create',
      objectRef: { resource: 'configmaps', namespace: 'default', name: 'big', apiVersion: 'v1' },
      requestObject: { kind: 'ConfigMap', data: { blob: 'x'.repeat(300 * 1024) } },
    });
    const res = await post('/v1/audit', eventList([auditEvent(), big, auditEvent()]));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.rejected).toHaveLength(1);
    expect(body.rejected[0].index).toBe(1);
    expect(body.rejected[0].reason).toMatch(/over the limit of 262144 bytes/);
  });

  it('accepts a ~6 MiB EventList', async () => {
    const bus = await start();
    const items = Array.from({ length: 400 }, () =>
      auditEvent({
        level: 'RequestResponse',
        verb: 'update',
        objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'cm', apiVersion: 'v1' },
        requestObject: { kind: 'ConfigMap', data: { payload: 'y'.repeat(15 * 1024) } },
      }),
    );
    const payload = JSON.stringify(eventList(items));
    expect(payload.length).toBeGreaterThan(6 * 1024 * 1024);
    const res = await post('/v1/audit', payload);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 400, rejected: [] });
    expect(published(bus)).toHaveLength(400);
  });
});

describe('limits and bad bodies', () => {
  it('answers 413 for a body over the audit limit, and stays healthy', async () => {
    await start({ KLAXON_AUDIT_BODY_LIMIT: '64KiB' });
    const payload = JSON.stringify(eventList(Array.from({ length: 200 }, () => auditEvent())));
    const res = await post('/v1/audit', payload);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({
      error: 'payload_too_large',
      reason: expect.stringContaining('65536'),
    });
    expect((await get('/healthz')).statusCode).toBe(200);
  });

  it('answers 413 for a Falco body over 1 MiB', async () => {
    await start();
    const res = await post('/v1/falco', JSON.stringify(falcoAlert({ output: 'z'.repeat(1024 * 1024) })));
    expect(res.statusCode).toBe(413);
  });

  it('answers 415 for content types other than JSON', async () => {
    await start();
    for (const [url, type] of [
      ['/v1/audit', 'text/plain'],
      ['/v1/audit', 'application/x-ndjson'],
      ['/v1/falco', 'application/x-www-form-urlencoded'],
    ] as const) {
      const res = await post(url, '{}', { authorization: `Bearer ${TOKENS.prod}`, 'content-type': type });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toMatchObject({
        error: 'unsupported_media_type',
        reason: expect.stringContaining(type),
      });
    }
  });

  it('answers 400 with the parse error for broken JSON', async () => {
    await start();
    const res = await post('/v1/audit', '{"kind": "EventList", "items": [');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_json', reason: expect.stringMatching(/JSON/) });
  });

  it('answers 400 for an empty body and for a JSON value that is no event container', async () => {
    await start();
    for (const payload of ['', '42', '"x"']) {
      const res = await post('/v1/audit', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().reason).toBeTypeOf('string');
    }
  });
});

describe('falco', () => {
  it('accepts one alert, and NDJSON of several with per-line rejections', async () => {
    const bus = await start();
    const one = await post('/v1/falco', falcoAlert());
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual({ accepted: 1, rejected: [] });
    const ndjson = [
      JSON.stringify(falcoAlert()),
      '{broken',
      JSON.stringify(falcoAlert({ rule: 'Terminal shell in container' })),
    ].join('\n');
    const many = await post('/v1/falco', ndjson, {
      authorization: `Bearer ${TOKENS.staging[1]}`,
      'content-type': 'application/x-ndjson',
    });
    expect(many.statusCode).toBe(200);
    expect(many.json()).toMatchObject({ accepted: 2, rejected: [{ index: 1 }] });
    const events = published(bus);
    expect(events.map((e) => e.event.dataset)).toEqual(['falco', 'falco', 'falco']);
    expect(events.map((e) => e.orchestrator.cluster.name)).toEqual(['prod', 'staging', 'staging']);
  });

  it('answers 400 with a reason for an invalid alert', async () => {
    const bus = await start();
    const res = await post('/v1/falco', { rule: 12, priority: 'loud' });
    expect(res.statusCode).toBe(400);
    expect(res.json().reason).toMatch(/\w/);
    expect(published(bus)).toHaveLength(0);
  });
});

describe('metrics', () => {
  it('counts requests by endpoint and code, and events by outcome', async () => {
    await start();
    await post('/v1/audit', eventList([auditEvent(), 7]));
    const text = await registry.metrics();
    expect(text).toMatch(/klaxon_ingest_requests_total\{endpoint="audit",code="200"\} [1-9]/);
    expect(text).toMatch(
      /klaxon_ingest_events_total\{source="audit",cluster="prod",outcome="accepted"\} [1-9]/,
    );
    expect(text).toMatch(/klaxon_ingest_rejected_total\{source="audit",reason="schema"\} [1-9]/);
  });
});

describe('hostile input', () => {
  it('answers 4xx, never 5xx, and pollutes no prototype', async () => {
    await start();
    const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const payloads: Array<string | Buffer> = [
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `[${JSON.stringify(auditEvent()).slice(0, -1)},"requestObject":${deepObject(20_000)}}]`,
      `[${JSON.stringify(auditEvent()).slice(0, -1)},"__proto__":{"polluted":1},"requestObject":{"constructor":{"prototype":{"polluted":1}}}}]`,
      Buffer.concat([
        Buffer.from('[{"kind":"Event","verb":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}]'),
      ]),
      '{"kind":"EventList","items":"nope"}',
      'null',
    ];
    for (const payload of payloads) {
      for (const url of ['/v1/audit', '/v1/falco', '/v1/flows']) {
        const res = await post(url, payload);
        expect(res.statusCode, `${url} ${String(payload).slice(0, 40)}`).toBeLessThan(500);
        expect(res.json()).toBeTypeOf('object');
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
