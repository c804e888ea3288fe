import { describe, expect, it } from 'vitest';
import {
  type Category,
  FAILED_AUTH_BURST,
  generate,
  METADATA_CATEGORIES,
  MIX,
  toEventLists,
} from '../../../scripts/bench/workload.ts';
import { AuditEvent, AuditEventList } from '../../../src/schema/audit.ts';
import { FalcoAlert } from '../../../src/schema/falco.ts';

const N = 40_000;
const items = generate(N, { seed: 42 });

describe('bench workload generator', () => {
  it('produces valid audit events and Falco alerts', () => {
    for (const item of items) {
      const schema = item.source === 'audit' ? AuditEvent : FalcoAlert;
      const parsed = schema.safeParse(item.raw);
      expect(parsed.success, `${item.category}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
  });

  it('logs noise at Metadata level without bodies and object changes with bodies of a few KiB', () => {
    for (const item of items) {
      if (item.source !== 'audit') continue;
      if (METADATA_CATEGORIES.has(item.category)) {
        expect(item.raw.level).toBe('Metadata');
        expect(item.raw.requestObject).toBeUndefined();
        expect(item.raw.responseObject).toBeUndefined();
      }
      if (item.category === 'pod' || item.category === 'workload') {
        expect(item.raw.level).toBe('RequestResponse');
        const size = JSON.stringify(item.raw).length;
        expect(size).toBeGreaterThan(2048);
        expect(size).toBeLessThan(16_384);
      }
    }
  });

  it('draws categories in the documented mix', () => {
    const counts = new Map<Category, number>();
    for (const item of items) counts.set(item.category, (counts.get(item.category) ?? 0) + 1);
    const weights = Object.entries(MIX) as [Category, number][];
    const eventsPerDraw = (c: Category) => (c === 'attack-failed-auth' ? FAILED_AUTH_BURST : 1);
    const totalWeight = weights.reduce((sum, [c, w]) => sum + w * eventsPerDraw(c), 0);
    for (const [category, weight] of weights) {
      const expected = (N * weight * eventsPerDraw(category)) / totalWeight;
      const actual = counts.get(category) ?? 0;
      // Binomial spread: allow five standard deviations (bursts count as one draw each).
      const spread = 5 * Math.sqrt(expected * eventsPerDraw(category)) + eventsPerDraw(category);
      expect(Math.abs(actual - expected), `${category}: ${actual} vs ${expected.toFixed(0)}`).toBeLessThan(
        spread,
      );
    }
    const metadata = items.filter((i) => METADATA_CATEGORIES.has(i.category)).length;
    expect(metadata / N).toBeGreaterThan(0.8);
  });

  it('is deterministic by seed', () => {
    const again = generate(2000, { seed: 42 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(items.slice(0, 2000)));
    const other = generate(2000, { seed: 43 });
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(again));
  });

  it('spaces event times at the requested rate', () => {
    const sample = generate(1001, { seed: 7, startMs: Date.UTC(2026, 5, 1), rate: 1000 });
    const first = sample[0]?.raw.requestReceivedTimestamp as string;
    const last = sample[1000]?.raw.requestReceivedTimestamp ?? sample[1000]?.raw.time;
    expect(first.startsWith('2026-06-01T00:00:00.000')).toBe(true);
    expect(String(last).startsWith('2026-06-01T00:00:01.000')).toBe(true);
  });

  it('serves audit events as 400-event EventLists', () => {
    const lists = toEventLists(items);
    const audit = items.filter((i) => i.source === 'audit').length;
    expect(lists.length).toBe(Math.ceil(audit / 400));
    for (const list of lists) expect(AuditEventList.safeParse(list).success).toBe(true);
    expect((lists[0]?.items as unknown[] | undefined)?.length).toBe(400);
    expect(lists.reduce((sum, l) => sum + (l.items as unknown[]).length, 0)).toBe(audit);
  });
});
