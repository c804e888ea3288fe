import { describe, expect, it } from 'vitest';
import {
  alertDocs,
  bulkBody,
  classifyItem,
  clientOptions,
  dailyIndex,
} from '../../../src/sinks/elasticsearch.ts';
import { ALERT_MAPPINGS, indexTemplate } from '../../../src/sinks/elasticsearch-template.ts';
import { makeAlert } from './make-alert.ts';

describe('dailyIndex', () => {
  const now = new Date('2025-01-10T12:00:00Z');

  it('names the index by the event date in UTC, not the detection date', () => {
    expect(dailyIndex('klaxon-alerts', '2024-12-31T23:59:59.999Z', { now })).toBe('klaxon-alerts-2024.12.31');
    expect(dailyIndex('klaxon-alerts', '2025-01-01T01:00:00+02:00', { now })).toBe(
      'klaxon-alerts-2024.12.31',
    );
  });

  it('falls back to the current date when the timestamp does not parse', () => {
    expect(dailyIndex('x', 'not a date', { now: new Date('2025-06-01T12:00:00Z') })).toBe('x-2025.06.01');
  });

  it('files dates a sender could pick freely (far past, future) in one out-of-range index', () => {
    const dates = { now, maxEventAgeDays: 30 };
    expect(dailyIndex('x', '2024-12-11T00:00:00Z', dates)).toBe('x-2024.12.11');
    expect(dailyIndex('x', '2024-12-10T23:59:59Z', dates)).toBe('x-out-of-range');
    expect(dailyIndex('x', '1970-01-01T00:00:00Z', dates)).toBe('x-out-of-range');
    expect(dailyIndex('x', '2025-01-11T23:59:59Z', dates)).toBe('x-2025.01.11');
    expect(dailyIndex('x', '2025-01-12T00:00:00Z', dates)).toBe('x-out-of-range');
    expect(dailyIndex('x', '2099-01-01T00:00:00Z', dates)).toBe('x-out-of-range');
    const days = new Set<string>();
    for (let d = -3650; d <= 3650; d += 7)
      days.add(dailyIndex('x', new Date(now.getTime() + d * 86_400_000).toISOString(), dates));
    expect(days.size).toBeLessThanOrEqual(32);
  });
});

describe('alertDocs', () => {
  it('creates revision 0 (never overwrites) and overwrites later revisions, with _id = alert_id', () => {
    const first = makeAlert('a');
    const final = makeAlert('a', { revision: 1 });
    const docs = alertDocs('klaxon-alerts', [first, final], { now: new Date('2025-03-20T00:00:00Z') });
    expect(docs.map((d) => [d.op, d.id, d.index])).toEqual([
      ['create', first.klaxon.alert_id, 'klaxon-alerts-2025.03.14'],
      ['index', first.klaxon.alert_id, 'klaxon-alerts-2025.03.14'],
    ]);
    expect(bulkBody(docs)).toEqual([
      { create: { _index: 'klaxon-alerts-2025.03.14', _id: first.klaxon.alert_id } },
      first,
      { index: { _index: 'klaxon-alerts-2025.03.14', _id: first.klaxon.alert_id } },
      final,
    ]);
  });
});

describe('classifyItem', () => {
  it('counts a 409 on create as already stored', () => {
    expect(classifyItem('create', { _index: 'i', status: 409 }).kind).toBe('duplicate');
  });

  it('retries 429 and 5xx, rejects mapping errors with the reason', () => {
    expect(classifyItem('create', { _index: 'i', status: 429 }).kind).toBe('retry');
    expect(classifyItem('index', { _index: 'i', status: 503 }).kind).toBe('retry');
    expect(
      classifyItem('create', {
        _index: 'i',
        status: 400,
        error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [event.severity]' },
      }),
    ).toEqual({
      kind: 'rejected',
      reason: 'mapper_parsing_exception: failed to parse field [event.severity]',
    });
  });

  it('treats a missing item answer as transient', () => {
    expect(classifyItem('create', undefined).kind).toBe('retry');
  });

  it('does not take a 409 on an overwrite as success', () => {
    expect(classifyItem('index', { _index: 'i', status: 409 }).kind).toBe('rejected');
  });
});

describe('index template', () => {
  it('matches dated indices of its base and maps the ECS fields explicitly', () => {
    const t = indexTemplate('klaxon-alerts', ALERT_MAPPINGS);
    expect(t.index_patterns).toEqual(['klaxon-alerts-*']);
    const p = t.template.mappings as typeof ALERT_MAPPINGS;
    expect(p.dynamic).toBe(false);
    expect(p.properties['@timestamp'].type).toBe('date');
    expect(p.properties.event.properties.severity.type).toBe('long');
    expect(p.properties.source.properties.ip.type).toBe('ip');
    expect(p.properties.kubernetes.properties.audit.type).toBe('flattened');
    expect(p.properties.falco.type).toBe('flattened');
    expect(p.properties.user_agent.properties.original.fields.text.type).toBe('text');
    expect(p.properties.process.properties.command_line.type).toBe('keyword');
    expect(p.properties.process.properties.command_line.fields.text.type).toBe('text');
    expect(p.properties.container.properties.name.type).toBe('keyword');
  });
});

describe('clientOptions', () => {
  it('prefers an API key over basic auth and disables the client’s own retries', () => {
    const o = clientOptions({ url: 'https://es:9200', apiKey: 'k', username: 'u', password: 'p' });
    expect(o.auth).toEqual({ apiKey: 'k' });
    expect(o.maxRetries).toBe(0);
    expect(clientOptions({ url: 'https://es:9200', username: 'u', password: 'p' }).auth).toEqual({
      username: 'u',
      password: 'p',
    });
  });
});
