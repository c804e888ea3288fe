import { describe, expect, it } from 'vitest';
import { DEADLETTER_HEADERS, deadLetterMessage } from '../../../src/worker/deadletter.ts';
import { decodeEvent, decodeSignal } from '../../../src/worker/decode.ts';
import { failedAuth } from '../../integration/detect-fixtures.ts';

describe('decodeEvent', () => {
  it('accepts a normalized event', () => {
    const event = failedAuth('2025-03-14T09:00:00Z', 'bob', '10.0.0.9');
    const decoded = decodeEvent(Buffer.from(JSON.stringify(event)));
    expect(decoded).toEqual({ ok: true, value: event });
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
