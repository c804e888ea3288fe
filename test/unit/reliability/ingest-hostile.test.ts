import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryBus } from '../../../src/bus/memory.ts';
import { auditEvent, bearer, falcoAlert, makeApp, TOKENS } from '../ingest/helpers.ts';

let app: FastifyInstance;
let bus: MemoryBus;

beforeAll(async () => {
  ({ app, bus } = await makeApp());
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await bus.stop();
});

/** Every route and method the app serves, read from Fastify's own route table. */
function routes(): Array<{ path: string; method: string }> {
  const out: Array<{ path: string; method: string }> = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /(\/\S*) \(([A-Z, ]+)\)/.exec(line);
    if (!m) continue;
    for (const method of m[2]!.split(', ')) out.push({ path: m[1]!, method });
  }
  return out;
}

const OPEN = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

describe('authentication on every route', () => {
  it('refuses every route but health, readiness, metrics and the OpenAPI description without a credential', async () => {
    const all = routes();
    expect(all.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/v1/audit', '/v1/falco', '/v1/flows', ...OPEN]),
    );
    for (const { path, method } of all) {
      const res = await app.inject({
        method: method as 'GET',
        url: path,
        headers: { 'content-type': 'application/json' },
        ...(method === 'POST' ? { payload: '[]' } : {}),
      });
      if (OPEN.has(path)) expect(res.statusCode, `${method} ${path}`).toBeLessThan(400);
      else expect(res.statusCode, `${method} ${path}`).toBe(401);
    }
  });
});

/** JSON with the keys attackers like, at any depth. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'kind', 'items', 'user', 'verb'),
        fc.string(),
      ),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

const polluted = () => ({}) as Record<string, unknown>;

describe('hostile bodies (property-based)', () => {
  it('never a 5xx and never prototype pollution, whatever JSON reaches any endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/audit', '/v1/falco', '/v1/flows'),
        fc.oneof(
          hostileJson.map((v) => JSON.stringify(v) ?? 'null'),
          hostileJson.map((v) => JSON.stringify({ kind: 'EventList', items: [auditEvent(), v] })),
          hostileJson.map((v) => JSON.stringify([auditEvent({ requestObject: v, annotations: v })])),
          hostileJson.map((v) => JSON.stringify(falcoAlert({ output_fields: v }))),
          hostileJson.map(
            (v) =>
              `${JSON.stringify({ flow: v, node_name: 'n' })}\n${JSON.stringify({ flow: { verdict: 'DROPPED', IP: v, l4: v, source: v } })}`,
          ),
          fc.string().map((s) => `{"__proto__":{"polluted":${JSON.stringify(s)}},"kind":"Event"}`),
        ),
        async (url, payload) => {
          const res = await app.inject({ method: 'POST', url, headers: bearer(TOKENS.prod), payload });
          expect(res.statusCode).toBeLessThan(500);
          expect(() => res.json()).not.toThrow();
          expect(polluted().polluted).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never a 5xx for arbitrary bytes with any content type', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/audit', '/v1/falco', '/v1/flows'),
        fc.constantFrom(
          'application/json',
          'application/x-ndjson',
          'text/plain',
          'application/json; charset=latin1',
        ),
        fc.uint8Array({ maxLength: 2048 }),
        async (url, type, bytes) => {
          const res = await app.inject({
            method: 'POST',
            url,
            headers: { ...bearer(TOKENS.prod), 'content-type': type },
            payload: Buffer.from(bytes),
          });
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
