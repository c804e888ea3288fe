import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generations } from '../../../src/detect/generations.ts';

describe('Generations', () => {
  it('remembers at least the last half of its cap and never more than its cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 300 }),
        (cap, keys) => {
          const g = new Generations<number, number>(cap);
          for (const [i, k] of keys.entries()) g.set(k, i);
          const distinct = [...new Set([...keys].reverse())];
          // The most recently set half of the cap (distinct keys) is there with its latest value.
          for (const k of distinct.slice(0, Math.floor(cap / 2))) expect(g.get(k)).toBe(keys.lastIndexOf(k));
          const remembered = distinct.filter((k) => g.get(k) !== undefined);
          expect(remembered.length).toBeLessThanOrEqual(cap);
          // What is remembered is always the latest value set.
          for (const k of remembered) expect(g.get(k)).toBe(keys.lastIndexOf(k));
        },
      ),
    );
  });

  it('forgets the oldest keys once they have churned through', () => {
    const g = new Generations<string, number>(4);
    for (let i = 0; i < 10; i++) g.set(`k${i}`, i);
    expect(g.get('k0')).toBeUndefined();
    expect(g.get('k9')).toBe(9);
  });
});
