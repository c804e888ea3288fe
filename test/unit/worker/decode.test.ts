import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NormalizedEvent } from '../../../src/schema/event.ts';
import { DEADLETTER_HEADERS, deadLetterMessage } from '../../../src/worker/deadletter.ts';
import { decodeEvent, decodeSignal } from '../../../src/worker/decode.ts';
import { failedAuth } from '../../integration/detect-fixtures.ts';

describe('decodeEvent', () => {
  it('accepts a normalized event', () => {
    const event = failedAuth('2025-03-14T09:00:00Z', 'bob', '10.0.0.9');
    const decoded = decodeEvent(Buffer.from(JSON.stringify(event)));
    expect(decoded).toEqual({ ok: true, value: event });
  });

  it('decodes exactly what the schema would parse: keys a plain object strips are stripped', () => {
    const event = failedAuth('2025-03-14T09:00:00Z', 'bob', '10.0.0.9');
    const objects = (root: Record<string, unknown>): Record<string, unknown>[] => {
      const out = [root];
      for (const v of Object.values(root))
        if (v !== null && typeof v === 'object' && !Array.isArray(v))
          out.push(...objects(v as Record<string, unknown>));
      return out;
    };
    const count = objects(event).length;
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat(count - 1),
            fc.string({ minLength: 1, maxLength: 8 }),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          {
            maxLength: 4,
          },
        ),
        (extras) => {
          const copy = structuredClone(event) as unknown as Record<string, unknown>;
          const targets = objects(copy);
          for (const [at, key, value] of extras) targets[at]![key] = value;
          const bytes = Buffer.from(JSON.stringify(copy));
          const zod = NormalizedEvent.safeParse(JSON.parse(bytes.toString()));
          const decoded = decodeEvent(bytes);
          expect(decoded.ok).toBe(zod.success);
          if (decoded.ok && zod.success) expect(decoded.value).toStrictEqual(zod.data);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('tells bad JSON from a JSON value that is no event, with where it is wrong', () => {
    expect(decodeEvent(Buffer.from('{"a":'))).toMatchObject({ ok: false, reason: 'invalid-json' });
    const wrong = decodeEvent(Buffer.from(JSON.stringify({ '@timestamp': 1, event: {} })));
    expect(wrong).toMatchObject({ ok: false, reason: 'invalid-event' });
    expect(wrong.ok ? '' : wrong.detail).toMatch(/@timestamp/);
  });
});

describe('decodeSignal', () => {
  it('refuses a signal without its group key', () => {
    expect(decodeSignal(Buffer.from(JSON.stringify({ correlation: 'c' })))).toMatchObject({
      ok: false,
      reason: 'invalid-signal',
    });
  });
});

describe('deadLetterMessage', () => {
  it('carries the reason and the source position in headers, and the original bytes as value', () => {
    const value = Buffer.from('{"a":');
    const m = deadLetterMessage({
      reason: 'invalid-json',
      detail: 'x'.repeat(5000),
      key: 'k',
      value,
      source: { topic: 'klaxon.events', partition: 3, offset: '42' },
    });
    expect(m.value).toBe(value);
    expect(m.headers).toMatchObject({
      [DEADLETTER_HEADERS.reason]: 'invalid-json',
      [DEADLETTER_HEADERS.topic]: 'klaxon.events',
      [DEADLETTER_HEADERS.partition]: '3',
      [DEADLETTER_HEADERS.offset]: '42',
    });
    expect(m.headers?.[DEADLETTER_HEADERS.detail]).toHaveLength(1000);
  });
});
