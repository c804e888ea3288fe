import { describe, expect, it } from 'vitest';
import { decodeCommitMeta, encodeCommitMeta, rebuildFromTime } from '../../../src/worker/correlate-stage.ts';

describe('commit metadata', () => {
  it('round-trips and ignores what it did not write', () => {
    expect(decodeCommitMeta(encodeCommitMeta({ w: 5, p: 7 }))).toEqual({ w: 5, p: 7 });
    expect(decodeCommitMeta(null)).toBeUndefined();
    expect(decodeCommitMeta('not json')).toBeUndefined();
    expect(decodeCommitMeta('{"w":"x","p":1}')).toBeUndefined();
  });
});

describe('rebuildFromTime', () => {
  it('reaches back the longest timespan and the lateness from the older of watermark and produce time', () => {
    expect(rebuildFromTime({ w: 1_000_000, p: 2_000_000 }, 300_000, 90_000)).toBe(610_000);
    expect(rebuildFromTime({ w: 2_000_000, p: 1_000_000 }, 300_000, 90_000)).toBe(610_000);
    expect(rebuildFromTime({ w: 100, p: 100 }, 300_000, 90_000)).toBe(0);
  });
});
