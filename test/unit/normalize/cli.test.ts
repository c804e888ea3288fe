import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runNormalize } from '../../../src/cli/normalize.ts';
import { NormalizedEvent } from '../../../src/schema/event.ts';
import { secretForms } from './secret-events.ts';

const ROOT = join(import.meta.dirname, '../../..');
const SAMPLES = join(ROOT, 'samples');

async function run(paths: string[], cluster = 'local') {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => {
    chunks.out += c.toString();
  });
  err.on('data', (c: Buffer) => {
    chunks.err += c.toString();
  });
  const code = await runNormalize(paths, cluster, out, err);
  return { code, ...chunks };
}

function lineCount(path: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}

describe('klaxon normalize', () => {
  it('normalizes every sample into valid events of the named cluster, with no errors', async () => {
    const { code, out, err } = await run([SAMPLES], 'demo');
    expect(err).toBe('');
    expect(code).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((line) => NormalizedEvent.parse(JSON.parse(line)));
    const list = JSON.parse(readFileSync(join(SAMPLES, 'audit/eventlist-attack.json'), 'utf8')) as {
      items: unknown[];
    };
    const expected =
      lineCount(join(SAMPLES, 'audit/busy-cluster.jsonl')) +
      lineCount(join(SAMPLES, 'audit/secret-redaction.jsonl')) +
      lineCount(join(SAMPLES, 'falco/alerts.jsonl')) +
      list.items.length;
    expect(events).toHaveLength(expected);
    expect(new Set(events.map((e) => e.orchestrator.cluster.name))).toEqual(new Set(['demo']));
    expect(new Set(events.map((e) => e.event.dataset))).toEqual(new Set(['kubernetes.audit', 'falco']));
  });

  it('reports bad records as file:line: reason and carries on', async () => {
    const fixture = join(ROOT, 'test/fixtures/falco-k8s-audit');
    const { code, out, err } = await run([
      join(fixture, 'fal_01_003.json'),
      join(fixture, 'create_secret.json'),
    ]);
    expect(code).toBe(0);
    expect(err).toBe(`${join(fixture, 'fal_01_003.json')}:1: kind: expected "Event"\n`);
    expect(out.trim().split('\n')).toHaveLength(1);
  });

  it('exits 1 only when no file could be opened', async () => {
    const missing = await run([join(ROOT, 'no-such-file.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no-such-file.jsonl: ENOENT');
    const mixed = await run([join(ROOT, 'no-such-file.jsonl'), join(SAMPLES, 'falco/alerts.jsonl')]);
    expect(mixed.code).toBe(0);
  });

  it('the binary prints no secret value of a RequestResponse-level Secret create and JSON patch', () => {
    const file = join(SAMPLES, 'audit/secret-redaction.jsonl');
    const input = readFileSync(file, 'utf8');
    const secrets = ['correct-horse-battery-staple', 'Tr0ub4dor&3-rotated'];
    // the sample does carry them, in plain text or base64
    for (const secret of secrets) expect(secretForms(secret).some((form) => input.includes(form))).toBe(true);
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/klaxon.js'), 'normalize', '--cluster', 'prod', file],
      {
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    for (const secret of secrets) {
      for (const form of secretForms(secret)) expect(result.stdout + result.stderr).not.toContain(form);
    }
    expect(JSON.parse(result.stdout.split('\n')[0] ?? '').orchestrator.cluster.name).toBe('prod');
  });
});
