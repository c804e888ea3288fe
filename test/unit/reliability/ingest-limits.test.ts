import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { SpoolBus } from '../../../src/bus/spool.ts';
import { encodeRecord } from '../../../src/bus/spool-record.ts';
import { loadConfig } from '../../../src/config.ts';
import { buildIngestApp } from '../../../src/ingest/app.ts';
import { TokenTable } from '../../../src/ingest/auth.ts';
import { eventMessage } from '../../../src/ingest/publisher.ts';
import { RateLimiter } from '../../../src/ingest/rate-limit.ts';
import { normalizeFalco } from '../../../src/normalize/index.ts';
import { bearer, falcoAlert, TOKENS } from '../ingest/helpers.ts';
import { FakeBus } from './fake-bus.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('RateLimiter', () => {
  it('allows the burst, then one request per 1/rate seconds, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ rate: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('a'))).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1);
    expect(limiter.take('b')).toBe(0);
    now += 500;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });
});

describe('ingest with a rate limit', () => {
  it('answers 429 with Retry-After once a cluster is over its rate, leaving other clusters alone', async () => {
    const settings = loadConfig({ KLAXON_RATE_LIMIT: '1', KLAXON_RATE_BURST: '2' });
    const bus = new MemoryBus();
    await bus.start();
    const app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable(TOKENS) } });
    cleanups.push(
      () => app.close(),
      () => bus.stop(),
    );
    const post = (token: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/falco',
        headers: bearer(token),
        payload: JSON.stringify(falcoAlert()),
      });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await post(TOKENS.prod)).statusCode);
    expect(codes).toEqual([200, 200, 429, 429]);
    const limited = await post(TOKENS.prod);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect((await post(TOKENS.staging[0]!)).statusCode).toBe(200);
  });
});

describe('ingest on the spool', () => {
  async function spooledApp(maxBytes: number) {
    const dir = await mkdtemp(join(tmpdir(), 'klaxon-ingest-spool-'));
    const inner = new FakeBus();
    inner.mode = 'down';
    const bus = new SpoolBus(inner, {
      dir,
      maxBytes,
      directTimeoutMs: 50,
      logger: pino({ level: 'silent' }),
    });
    await bus.start();
    const app = await buildIngestApp({
      settings: loadConfig({}),
      bus,
      auth: { tokens: new TokenTable(TOKENS) },
    });
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => bus.stop(),
      () => app.close(),
    );
    return { app, inner };
  }
  const post = (app: Awaited<ReturnType<typeof spooledApp>>['app']) =>
    app.inject({
      method: 'POST',
      url: '/v1/falco',
      headers: bearer(TOKENS.prod),
      payload: JSON.stringify(falcoAlert()),
    });

  it('accepts while Kafka is down and says degraded in a 200 /readyz', async () => {
    const { app } = await spooledApp(1024 * 1024);
    expect((await post(app)).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', kafka: false, spool: { events: 1 } });
  });

  it('answers 503 with Retry-After and a reason once the spool is full', async () => {
    const normalized = normalizeFalco(falcoAlert(), {
      cluster: 'prod',
      receivedAt: new Date().toISOString(),
    });
    if (!normalized.ok) throw new Error(normalized.reason);
    const message = eventMessage(normalized.event);
    const record = encodeRecord('klaxon.events', message).length;
    const { app } = await spooledApp(Math.floor(record * 2.5));
    expect((await post(app)).statusCode).toBe(200);
    expect((await post(app)).statusCode).toBe(200);
    const full = await post(app);
    expect(full.statusCode).toBe(503);
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);
    expect(full.json()).toMatchObject({
      error: 'unavailable',
      reason: expect.stringContaining('spool is full'),
    });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
