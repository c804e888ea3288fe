import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonlSink } from '../../../src/sinks/jsonl.ts';
import { makeAlert } from './make-alert.ts';

describe('JsonlSink', () => {
  it('writes one line per alert revision to the stream and the file, skipping repeats', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const file = join(mkdtempSync(join(tmpdir(), 'klaxon-jsonl-')), 'alerts.jsonl');
    const sink = new JsonlSink({ stream, file });
    const a = makeAlert('a');
    const b = makeAlert('b');
    await sink.write([a, b]);
    await sink.write([a, makeAlert('a', { revision: 1 })]);
    await sink.close();

    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.klaxon.alert_id, l.klaxon.revision])).toEqual([
      [a.klaxon.alert_id, 0],
      [b.klaxon.alert_id, 0],
      [a.klaxon.alert_id, 1],
    ]);
    expect(chunks.join('')).toBe(readFileSync(file, 'utf8'));
  });

  it('forgets the oldest ids beyond its memory bound', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => {
      text += c.toString();
    });
    const sink = new JsonlSink({ stream, rememberLast: 1 });
    await sink.write([makeAlert('a'), makeAlert('b'), makeAlert('a')]);
    expect(text.trim().split('\n')).toHaveLength(3);
  });

  it('fails the write when the file cannot be opened', async () => {
    const sink = new JsonlSink({ file: '/nonexistent-dir/alerts.jsonl' });
    await new Promise((r) => setTimeout(r, 50));
    await expect(sink.write([makeAlert('a')])).rejects.toThrow(/ENOENT/);
  });

  it('writes the alerts of a failed write on the retry (a failure is not remembered as written)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'klaxon-jsonl-')), 'not-yet');
    const file = join(dir, 'alerts.jsonl');
    const sink = new JsonlSink({ file });
    const a = makeAlert('a');
    await expect(sink.write([a])).rejects.toThrow(/ENOENT/);
    mkdirSync(dir);
    await sink.write([a]);
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).klaxon.alert_id)).toEqual([a.klaxon.alert_id]);
  });
});
