import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registry } from '../../../src/metrics.ts';
import type { FirstSeenChange, FirstSeenRecord } from '../../../src/schema/first-seen.ts';
import { FileFirstSeenLog, partitionOf } from '../../../src/worker/first-seen-log.ts';

const record = (user: string, values: Array<[string, number]>): FirstSeenRecord => ({
  rule: 'r1',
  cluster: 'prod',
  group: { 'user.username': user },
  first: values[0]![1],
  since: 0,
  values,
});
const change = (user: string, values: Array<[string, number]> | null): FirstSeenChange => ({
  key: JSON.stringify(['r1', 'prod', user]),
  record: values ? record(user, values) : null,
});

async function invalidLoads(): Promise<number> {
  const m = (await registry.getSingleMetric('klaxon_first_seen_store_total')!.get()).values;
  return m.find((v) => v.labels.op === 'load' && v.labels.outcome === 'invalid')?.value ?? 0;
}

describe('first-seen state in state.dir', () => {
  it('gives back the latest record of every key, tombstones removing keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-fs-'));
    const log = new FileFirstSeenLog(dir);
    expect(await log.loadAll()).toEqual([]);
    await log.save([change('a', [['x', 1]]), change('b', [['y', 2]])]);
    await log.save([
      change('a', [
        ['x', 1],
        ['z', 3],
      ]),
      change('b', null),
    ]);
    const again = new FileFirstSeenLog(dir);
    expect(await again.load()).toEqual([
      change('a', [
        ['x', 1],
        ['z', 3],
      ]),
    ]);
  });

  it('skips a line a crash cut short and a record that is not one, counting them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-fs-'));
    const log = new FileFirstSeenLog(dir);
    await log.save([change('a', [['x', 1]])]);
    const file = join(dir, 'first-seen.jsonl');
    await appendFile(file, `${JSON.stringify({ key: 'k2', record: { rule: 'r1', values: 'nope' } })}\n`);
    await appendFile(file, '{"key":"k3","record":{"rule":"r1","clus');
    const before = await invalidLoads();
    expect(await new FileFirstSeenLog(dir).loadAll()).toEqual([change('a', [['x', 1]])]);
    expect(await invalidLoads()).toBe(before + 2);
  });

  it('rewrites the file with the live keys once superseded lines pile up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-fs-'));
    const log = new FileFirstSeenLog(dir);
    await log.loadAll();
    const rounds = 3;
    for (let r = 0; r < rounds; r++)
      await log.save(Array.from({ length: 5_000 }, (_, i) => change(`u${i}`, [[`v${r}`, r]])));
    const lines = readFileSync(join(dir, 'first-seen.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(5_000);
    const loaded = await new FileFirstSeenLog(dir).loadAll();
    expect(loaded).toHaveLength(5_000);
    expect(loaded[0]).toEqual(change('u0', [['v2', 2]]));
  });

  it('writes nothing for no change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-fs-'));
    writeFileSync(join(dir, 'first-seen.jsonl'), '');
    await new FileFirstSeenLog(dir).save([]);
    expect(readFileSync(join(dir, 'first-seen.jsonl'), 'utf8')).toBe('');
  });
});

describe('partitionOf', () => {
  it('spreads keys over every partition, a key always to the same one (the integration test checks it against Kafka)', () => {
    const counts = new Map<number, number>();
    for (let i = 0; i < 6_000; i++) {
      const p = partitionOf(`key-${i}`, 6);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
    expect(partitionOf('key-1', 1)).toBe(0);
    expect(partitionOf('key-1', 6)).toBe(partitionOf('key-1', 6));
  });
});
