import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { MAX_DEPTH, TRUNCATED } from '../../../src/normalize/redact.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';

const ctx = { cluster: 'c', receivedAt: '2024-01-01T00:00:00Z' };

const interestingKey = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'kind',
    'auditID',
    'verb',
    'stage',
    'rule',
    'output',
    'priority',
    'output_fields',
    'requestObject',
    'responseObject',
    'objectRef',
    'resource',
    'data',
    'stringData',
    'annotations',
    'items',
    'rows',
    'op',
    'path',
    'value',
  ),
);

const audit = {
  kind: 'Event',
  auditID: 'a',
  verb: 'get',
  stageTimestamp: '2024-01-01T00:00:00Z',
  objectRef: { resource: 'secrets' },
};
const falco = { rule: 'r', priority: 'Warning', output: 'o', time: '2024-01-01T00:00:00Z' };

describe('hostile input', () => {
  it('normalizeAny never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.anything({
          key: interestingKey,
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          maxDepth: 6,
        }),
        (raw) => {
          const result = normalizeAny(raw, ctx);
          expect(typeof result.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('near-valid events with arbitrary JSON in every field: a result, never a throw; ok results meet the contract', () => {
    const field = fc.constantFrom(
      ...Object.keys(audit),
      'requestObject',
      'responseObject',
      'user',
      'annotations',
    );
    const falcoField = fc.constantFrom(...Object.keys(falco), 'output_fields', 'tags', 'uuid', 'source');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.constant(audit), field, fc.jsonValue()),
          fc.tuple(fc.constant(falco), falcoField, fc.jsonValue()),
        ),
        ([template, key, value]) => {
          const raw = JSON.parse(JSON.stringify({ ...template, [key]: value })) as unknown;
          const result = normalizeAny(raw, ctx);
          if (result.ok) {
            const wire = JSON.parse(JSON.stringify(result.event)) as unknown;
            expect(NormalizedEvent.safeParse(wire).success).toBe(true);
          } else {
            expect(result.reason.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('no prototype pollution from __proto__ / constructor keys, and such keys survive as data', () => {
    const raw = JSON.parse(
      `{"kind":"Event","auditID":"p","verb":"create","stageTimestamp":"2024-01-01T00:00:00Z",
        "__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},
        "objectRef":{"resource":"secrets","__proto__":{"polluted":"yes"}},
        "requestObject":{"kind":"Secret","data":{"__proto__":"c2VjcmV0LXZhbHVl"},
          "metadata":{"annotations":{"__proto__":{"polluted":"yes"},
            "kubectl.kubernetes.io/last-applied-configuration":"{}"}}}}`,
    ) as unknown;
    const result = normalizeAny(raw, ctx);
    expect(result.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    if (!result.ok) return;
    const audit = result.event.kubernetes?.audit as Record<string, Record<string, unknown>>;
    expect(Object.getPrototypeOf(audit)).toBe(Object.prototype);
    expect(Object.hasOwn(audit, '__proto__')).toBe(true);
    const data = audit.requestObject?.data as Record<string, unknown>;
    expect(Object.hasOwn(data, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(JSON.stringify(result.event)).not.toContain('c2VjcmV0LXZhbHVl');
    expect(JSON.stringify(result.event)).toContain('"__proto__":"[REDACTED]"');
  });

  it('deep nesting is cut at MAX_DEPTH, so the result still serializes', () => {
    const depth = 50_000;
    const deep = JSON.parse(`${'['.repeat(depth)}"x"${']'.repeat(depth)}`) as unknown;
    for (const raw of [
      { ...audit, requestObject: deep },
      { ...falco, output_fields: { 'proc.args': deep } },
    ]) {
      const result = normalizeAny(raw, ctx);
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      const text = JSON.stringify(result.event);
      expect(text).toContain(TRUNCATED);
      expect(result.event.klaxon?.redacted?.length).toBe(1);
      expect(text.split('[').length).toBeLessThan(MAX_DEPTH + 10);
    }
  });

  it('a cycle (not JSON, but not a crash either) is cut too', () => {
    const cyclic: Record<string, unknown> = { kind: 'Thing' };
    cyclic.self = cyclic;
    const result = normalizeAny({ ...audit, requestObject: cyclic }, ctx);
    expect(result.ok && JSON.stringify(result.event)).toContain(TRUNCATED);
  });

  it('huge strings pass through without trouble', () => {
    const big = 'A'.repeat(8 * 1024 * 1024);
    const result = normalizeAny({ ...audit, userAgent: big, requestObject: { note: big } }, ctx);
    expect(result.ok && result.event.user_agent?.original?.length).toBe(big.length);
  });

  it('wrong types get specific reasons', () => {
    expect(normalizeAny({ ...audit, user: 'root' }, ctx)).toEqual({
      ok: false,
      reason: 'user: expected object, received string',
    });
    expect(normalizeAny({ ...falco, priority: 'Loud' }, ctx)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('priority: expected one of'),
    });
    expect(normalizeAny({ ...falco, output_fields: { x: { nested: 1 } } }, ctx)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('output_fields.x'),
    });
  });
});
