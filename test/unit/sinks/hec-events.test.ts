import { describe, expect, it } from 'vitest';
import { classifyHec, hecBatches, hecEvent } from '../../../src/sinks/hec-events.ts';
import { makeAlert } from './make-alert.ts';

describe('hecEvent', () => {
  it('is an HEC event object: epoch-seconds time, host, source, sourcetype, index, the alert, indexed fields', () => {
    const alert = makeAlert('a');
    const event = hecEvent(alert, {
      sourcetype: 'klaxon:alert',
      source: 'klaxon',
      index: 'security',
      fallbackHost: 'det-0',
    });
    expect(event).toEqual({
      time: Date.parse(alert['@timestamp']) / 1000,
      host: 'test',
      source: 'klaxon',
      sourcetype: 'klaxon:alert',
      index: 'security',
      event: alert,
      fields: { rule: alert.rule.name, severity: 'high', alert_id: alert.klaxon.alert_id, cluster: 'test' },
    });
  });

  it('keeps milliseconds as decimals and leaves unset keys out', () => {
    const alert = makeAlert('b', { at: '2025-03-14T09:26:53.123Z' });
    delete alert.orchestrator;
    const event = hecEvent(alert, { sourcetype: 's', source: 'k', fallbackHost: 'det-0' });
    expect(event.time).toBe(1741944413.123);
    expect(event.host).toBe('det-0');
    expect(event).not.toHaveProperty('index');
    expect(event.fields).not.toHaveProperty('cluster');
  });

  it('takes a configured host over the cluster name', () => {
    expect(
      hecEvent(makeAlert('c'), { sourcetype: 's', source: 'k', host: 'klaxon', fallbackHost: 'x' }).host,
    ).toBe('klaxon');
  });
});

describe('hecBatches', () => {
  const events = ['{"a":1}', '{"b":22}', '{"c":333}', '{"d":4444}'];

  it('concatenates event objects without separators, as HEC batches them', () => {
    expect(hecBatches(events, 10, 1000)).toEqual([{ from: 0, to: 4, body: events.join('') }]);
  });

  it('cuts by count', () => {
    expect(hecBatches(events, 3, 1000).map((b) => [b.from, b.to])).toEqual([
      [0, 3],
      [3, 4],
    ]);
  });

  it('cuts by bytes, and sends an oversized event alone', () => {
    expect(hecBatches(events, 10, 17).map((b) => b.body)).toEqual([
      '{"a":1}{"b":22}',
      '{"c":333}',
      '{"d":4444}',
    ]);
    expect(hecBatches(['x'.repeat(50), 'y'], 10, 10).map((b) => [b.from, b.to])).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  it('counts bytes, not characters', () => {
    expect(hecBatches(['ü'.repeat(5), 'a'], 10, 10).length).toBe(2);
  });
});

describe('classifyHec', () => {
  it('follows HEC status codes', () => {
    expect(classifyHec(200, { code: 0, text: 'Success' })).toEqual({ kind: 'ok' });
    expect(
      classifyHec(400, { code: 6, text: 'Invalid data format', 'invalid-event-number': 2 }),
    ).toMatchObject({
      kind: 'rejected',
      invalidEvent: 2,
    });
    expect(classifyHec(400, { code: 7, text: 'Incorrect index' }).kind).toBe('rejected');
    expect(classifyHec(503, { code: 9, text: 'Server is busy' }).kind).toBe('retry');
    expect(classifyHec(500, undefined).kind).toBe('retry');
  });

  it('retries token errors and lost ack channels instead of dropping alerts', () => {
    expect(classifyHec(403, { code: 4, text: 'Invalid token' }).kind).toBe('retry');
    expect(classifyHec(401, { code: 2, text: 'Token is required' }).kind).toBe('retry');
    expect(classifyHec(400, { code: 11, text: 'Invalid data channel' }).kind).toBe('retry');
  });

  it('does not take a 200 with a non-zero code for success', () => {
    expect(classifyHec(200, { code: 8, text: 'Internal server error' }).kind).toBe('retry');
  });
});
