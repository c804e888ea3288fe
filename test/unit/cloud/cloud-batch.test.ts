import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { batchOfJsonDocuments, type CloudBatch } from '../../../src/normalize/cloud-batch.ts';

// A reader that files each document's `items` as events under `items[i]`, and counts `skip` as ignored.
function read(document: unknown): CloudBatch<string> {
  const { items = [], skip = 0 } = document as { items?: string[]; skip?: number };
  return {
    items: items.map((name, i) => ({ ok: true, event: { name }, where: `items[${i}]`, origin: name })),
    ignored: skip,
  };
}
const bytes = (text: string) => new TextEncoder().encode(text);

describe('batchOfJsonDocuments', () => {
  it('reads one document without a position prefix', () => {
    const batch = batchOfJsonDocuments(bytes('{"items":["a","b"],"skip":1}'), { remaining: 1 << 20 }, read);
    expect(batch.items.map((i) => i.where)).toEqual(['items[0]', 'items[1]']);
    expect(batch.ignored).toBe(1);
  });

  it('reads documents written back to back, gzipped, each under its index, summing what they ignore', () => {
    const data = gzipSync('{"items":["a"],"skip":2}\n{"items":["b","c"],"skip":3}');
    const batch = batchOfJsonDocuments(data, { remaining: 1 << 20 }, read);
    expect(batch.items.map((i) => [i.where, i.ok && i.origin])).toEqual([
      ['[0].items[0]', 'a'],
      ['[1].items[0]', 'b'],
      ['[1].items[1]', 'c'],
    ]);
    expect(batch.ignored).toBe(5);
  });

  it('turns undecodable bytes into one failed item, and stops at the inflate budget', () => {
    expect(batchOfJsonDocuments(bytes('{"items": ['), { remaining: 1 << 20 }, read)).toMatchObject({
      items: [{ ok: false, where: '' }],
      ignored: 0,
    });
    const big = gzipSync(`{"items":["${'x'.repeat(10_000)}"]}`);
    const overBudget = batchOfJsonDocuments(big, { remaining: 100 }, read);
    expect(overBudget.items).toHaveLength(1);
    expect(overBudget.items[0]?.ok).toBe(false);
  });
});
