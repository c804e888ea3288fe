import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { ElasticsearchSink } from '../../src/sinks/elasticsearch.ts';
import { SinkUnavailableError } from '../../src/sinks/sink.ts';
import { makeAlert } from '../unit/sinks/make-alert.ts';
import { elasticsearchUrl } from './services.ts';

const url = elasticsearchUrl();
const prefix = `kxt-${randomUUID().slice(0, 8)}`;
const sink = new ElasticsearchSink({ url, indexPrefix: prefix, indexEvents: false });
const pattern = `${prefix}-alerts*`;

async function search(query: object = { match_all: {} }): Promise<Alert[]> {
  await sink.client.indices.refresh({ index: pattern });
  const r = await sink.client.search<Alert>({ index: pattern, query, size: 100 });
  return r.hits.hits.map((h) => h._source!);
}

beforeAll(async () => {
  expect(await sink.ready(), `Elasticsearch at ${url} is not reachable`).toBe(true);
});

afterAll(async () => {
  await sink.client.indices.delete({ index: `${prefix}-*`, allow_no_indices: true });
  await sink.client.indices.deleteIndexTemplate({ name: `${prefix}-alerts` });
  await sink.close();
});

describe('ElasticsearchSink against a real Elasticsearch', () => {
  it('stores alerts in daily indices by event date, with explicit ECS mappings', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const index = (day: string) => `${prefix}-alerts-${day.replaceAll('-', '.')}`;
    const a = makeAlert(`${prefix}-a`, { at: `${yesterday}T23:59:00Z` });
    const b = makeAlert(`${prefix}-b`, { at: `${today}T00:01:00Z` });
    // Dates a sender may pick freely do not make indices of their own.
    const old = makeAlert(`${prefix}-old`, { at: '1999-03-15T00:01:00Z' });
    const future = makeAlert(`${prefix}-future`, { at: '2099-03-15T00:01:00Z' });
    expect(await sink.write([a, b, old, future])).toEqual([]);

    const docs = await search();
    expect(docs.map((d) => d.klaxon.alert_id).sort()).toEqual(
      [a, b, old, future].map((x) => x.klaxon.alert_id).sort(),
    );
    const indices = Object.keys(await sink.client.indices.get({ index: pattern })).sort();
    expect(indices).toEqual([index(yesterday), index(today), `${prefix}-alerts-out-of-range`].sort());

    const mapping = await sink.client.indices.getFieldMapping({
      index: index(yesterday),
      fields: ['source.ip', 'event.severity', '@timestamp', 'kubernetes.audit', 'rule.name'],
    });
    const fields = mapping[index(yesterday)]!.mappings;
    const typeOf = (f: string) => (Object.values(fields[f]!.mapping)[0] as { type: string }).type;
    expect(typeOf('source.ip')).toBe('ip');
    expect(typeOf('event.severity')).toBe('long');
    expect(typeOf('@timestamp')).toBe('date');
    expect(typeOf('kubernetes.audit')).toBe('flattened');
    expect(typeOf('rule.name')).toBe('keyword');

    // The raw audit payload is searchable by path without growing the mapping.
    const byVerb = await search({ term: { 'kubernetes.audit.objectRef.name': `${prefix}-a` } });
    expect(byVerb).toHaveLength(1);
  });

  it('creates no duplicate when the same alerts are written again, and a later revision overwrites', async () => {
    const c = makeAlert(`${prefix}-c`);
    await sink.write([c]);
    await sink.write([c, c]);
    expect(await search({ term: { 'klaxon.alert_id': c.klaxon.alert_id } })).toHaveLength(1);

    const final = makeAlert(`${prefix}-c`, { revision: 1 });
    final.klaxon.count = 7;
    await sink.write([final]);
    // A late replay of the first revision must not undo the final count.
    await sink.write([c]);
    const docs = await search({ term: { 'klaxon.alert_id': c.klaxon.alert_id } });
    expect(docs.map((d) => [d.klaxon.revision, d.klaxon.count])).toEqual([[1, 7]]);
  });

  it('rejects an alert the mapping refuses, with the reason, and stores the rest of the batch', async () => {
    const good = makeAlert(`${prefix}-good`);
    const bad = makeAlert(`${prefix}-bad`);
    (bad.event as { severity: unknown }).severity = 'very high';
    const rejected = await sink.write([bad, good]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.alert.klaxon.alert_id).toBe(bad.klaxon.alert_id);
    expect(rejected[0]!.reason).toMatch(/parsing_exception|illegal_argument/);
    expect(await search({ term: { 'klaxon.alert_id': good.klaxon.alert_id } })).toHaveLength(1);
  });

  it('installs its template idempotently', async () => {
    await sink.installTemplates();
    await sink.installTemplates();
    const t = await sink.client.indices.getIndexTemplate({ name: `${prefix}-alerts` });
    expect(t.index_templates[0]!.index_template.index_patterns).toEqual([`${prefix}-alerts-*`]);
  });

  it('fails the write (so nothing is committed) when Elasticsearch does not answer', async () => {
    const down = new ElasticsearchSink({
      url: 'http://127.0.0.1:9',
      indexPrefix: prefix,
      retry: { attempts: 2, baseMs: 10, maxMs: 20 },
    });
    await expect(down.write([makeAlert(`${prefix}-down`)])).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(await down.ready()).toBe(false);
    await down.close();
  });
});
