import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandPaths, type FileRecord, readRecords } from '../../../src/sources/files.ts';
import { fixtureJson, fixtureLines } from '../cloud/fixtures.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'klaxon-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function collect(path: string): Promise<FileRecord[]> {
  const records: FileRecord[] = [];
  for await (const record of readRecords(path)) records.push(record);
  return records;
}

/** `where` relative to the temp dir, plus the raw value or the error. */
function summary(records: FileRecord[]): [string, unknown][] {
  return records.map((r) => [
    r.where.slice(dir.length + 1),
    'raw' in r ? r.raw : `error: ${r.error.slice(0, 12)}`,
  ]);
}

describe('readRecords', () => {
  it('reads pretty-printed documents one after another (jq . output), each at the line it starts on', async () => {
    const path = await write(
      'observe.json',
      '{\n  "flow": {\n    "verdict": "DROPPED"\n  }\n}\n{\n  "flow": {}\n}\n[\n  {"e": 1}\n]\n',
    );
    expect(summary(await collect(path))).toEqual([
      ['observe.json:1', { flow: { verdict: 'DROPPED' } }],
      ['observe.json:6', { flow: {} }],
      ['observe.json:9#0', { e: 1 }],
    ]);
  });

  it('reads JSON lines, reports a broken line and goes on, expands arrays and EventLists on a line', async () => {
    const path = await write(
      'audit.log',
      '{"a":1}\r\n\nnot json\n[{"b":1},{"b":2}]\n{"kind":"EventList","items":[{"c":1}]}\n{"d":1}',
    );
    expect(summary(await collect(path))).toEqual([
      ['audit.log:1', { a: 1 }],
      ['audit.log:3', 'error: invalid JSON'],
      ['audit.log:4#0', { b: 1 }],
      ['audit.log:4#1', { b: 2 }],
      ['audit.log:5#0', { c: 1 }],
      ['audit.log:6', { d: 1 }],
    ]);
  });

  it('reads GKE entries as gcloud prints them, as JSON lines and as Pub/Sub push envelopes: audit events', async () => {
    const entries = fixtureJson('gke/gcloud-logging-read.json') as unknown[];
    const array = await write('gcloud.json', JSON.stringify(entries, null, 2));
    const lines = await write(
      'entries.jsonl',
      `${fixtureLines('gke/control-plane.jsonl')
        .slice(0, 2)
        .map((e) => JSON.stringify(e))
        .join('\n')}\n{"logName":"x","resource":{"type":"gce_instance"},"protoPayload":{}}\n`,
    );
    const push = await write('push.json', JSON.stringify(fixtureJson('gke/pubsub-push.json')));
    const fromArray = await collect(array);
    expect(fromArray).toHaveLength(entries.length);
    expect(fromArray[0]).toMatchObject({
      where: `${array}:1#0`,
      raw: { kind: 'Event', apiVersion: 'audit.k8s.io/v1', verb: 'create' },
    });
    const fromLines = summary(await collect(lines));
    expect(fromLines.map(([where]) => where)).toEqual([
      'entries.jsonl:1',
      'entries.jsonl:2',
      'entries.jsonl:3',
    ]);
    expect(fromLines[0]![1]).toMatchObject({ kind: 'Event', user: { username: 'system:addon-manager' } });
    expect(fromLines[2]![1]).toBe('error: not a GKE Ku');
    const [fromPush, ...more] = await collect(push);
    expect(more).toEqual([]);
    expect(fromPush).toMatchObject({
      where: `${push}:1#message.data[0]`,
      raw: { kind: 'Event', objectRef: { subresource: 'exec' } },
    });
  });

  it('parses a pretty-printed EventList whole, one record per item', async () => {
    const list = {
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      items: [{ auditID: 'x' }, { auditID: 'y' }],
    };
    const path = await write('list.json', `\uFEFF${JSON.stringify(list, null, 2)}\n`);
    expect(summary(await collect(path))).toEqual([
      ['list.json:1#0', { auditID: 'x' }],
      ['list.json:1#1', { auditID: 'y' }],
    ]);
  });

  it('parses a pretty-printed single event and a pretty-printed array', async () => {
    const single = await write('one.json', JSON.stringify({ auditID: 'x', verb: 'get' }, null, 2));
    expect(summary(await collect(single))).toEqual([['one.json:1', { auditID: 'x', verb: 'get' }]]);
    const array = await write('arr.json', `\n\n${JSON.stringify([{ a: 1 }, { a: 2 }], null, 1)}`);
    expect(summary(await collect(array))).toEqual([
      ['arr.json:3#0', { a: 1 }],
      ['arr.json:3#1', { a: 2 }],
    ]);
  });

  it('a JSON-lines file with a broken first line still yields the rest', async () => {
    const path = await write('broken-first.jsonl', '{"a": \n{"b":1}\n{"c":2}\n');
    expect(summary(await collect(path))).toEqual([
      ['broken-first.jsonl:1', 'error: invalid JSON'],
      ['broken-first.jsonl:2', { b: 1 }],
      ['broken-first.jsonl:3', { c: 2 }],
    ]);
  });

  it('a broken pretty-printed document is one error', async () => {
    const path = await write('broken.json', '{\n  "kind": "EventList",\n  "items": [\n');
    expect(summary(await collect(path))).toEqual([['broken.json:1', 'error: invalid JSON']]);
  });

  it('reads gzip', async () => {
    const path = await write('alerts.jsonl.gz', gzipSync('{"rule":"a"}\n{"rule":"b"}\n'));
    expect(summary(await collect(path))).toEqual([
      ['alerts.jsonl.gz:1', { rule: 'a' }],
      ['alerts.jsonl.gz:2', { rule: 'b' }],
    ]);
  });

  it('reports a corrupt gzip stream without throwing', async () => {
    const good = gzipSync(`${'{"rule":"a"}\n'.repeat(1000)}`);
    const path = await write('corrupt.gz', Buffer.concat([good.subarray(0, 40), Buffer.alloc(100, 7)]));
    const records = await collect(path);
    expect(records.some((r) => 'error' in r)).toBe(true);
  });

  it('a missing file is one error record with the bare path', async () => {
    const path = join(dir, 'missing.jsonl');
    const records = await collect(path);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ where: path, error: expect.stringContaining('ENOENT') });
  });
});

describe('expandPaths', () => {
  it('expands directories into their record files, sorted; keeps files as given; reports missing paths', async () => {
    const root = join(dir, 'tree');
    await mkdir(join(root, 'b'), { recursive: true });
    await writeFile(join(root, 'b', 'z.jsonl'), '');
    await writeFile(join(root, 'a.json'), '');
    await writeFile(join(root, 'c.log.gz'), '');
    await writeFile(join(root, 'notes.txt'), '');
    const explicit = await write('explicit.txt', '');
    const result = await expandPaths([root, explicit, join(dir, 'nope')]);
    expect(result.files).toEqual([
      join(root, 'a.json'),
      join(root, 'b', 'z.jsonl'),
      join(root, 'c.log.gz'),
      explicit,
    ]);
    expect(result.errors).toEqual([{ path: join(dir, 'nope'), error: expect.stringContaining('ENOENT') }]);
  });
});
