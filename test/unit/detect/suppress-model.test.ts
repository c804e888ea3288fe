import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_IDS, type Opening, Suppressor } from '../../../src/detect/suppress.ts';
import type { Alert } from '../../../src/schema/alert.ts';

interface Match {
  id: string;
}

function alertOf(alertId: string, last: Match, revision: number): Alert {
  return {
    '@timestamp': '2024-05-01T12:00:00.000Z',
    event: { kind: 'alert', created: '2024-05-01T12:00:00.000Z', severity: 47 },
    message: `last ${last.id}`,
    rule: { name: 'r', id: 'r', ruleset: 'klaxon' },
    klaxon: { severity: 'medium', alert_id: alertId, event_ids: [last.id], count: 1, revision },
  };
}

interface OracleWindow {
  key: string;
  first: Alert;
  end: number;
  count: number;
  eventIds: string[];
  last: Match;
  lastTime: number;
  rebuild: (last: Match) => Alert;
}

/**
 * The oracle: the Suppressor's contract written as plainly as possible, with every step scanning an array of the
 * open windows in opening order. Windows due together close by end time, then in opening order; the cap evicts
 * the oldest-opened window.
 */
class ArrayScanOracle {
  private windows: OracleWindow[] = [];

  private readonly maxKeys: number;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.windows.length;
  }

  fold(key: string, time: number, match: Match): boolean {
    const w = this.windows.find((x) => x.key === key);
    if (!w || time >= w.end) return false;
    w.count++;
    if (w.eventIds.length < MAX_EVENT_IDS) w.eventIds.push(match.id);
    if (time >= w.lastTime) {
      w.last = match;
      w.lastTime = time;
    }
    return true;
  }

  open(o: Opening<Match>): Alert[] {
    const out: Alert[] = [];
    const at = this.windows.findIndex((x) => x.key === o.key);
    if (at >= 0) this.close(this.windows.splice(at, 1)[0]!, out);
    out.push(o.alert);
    if (o.windowMs <= 0) return out;
    this.windows.push({
      key: o.key,
      first: o.alert,
      end: o.time + o.windowMs,
      count: 1,
      eventIds: [o.event.id],
      last: o.event,
      lastTime: o.time,
      rebuild: o.rebuild,
    });
    if (this.windows.length > this.maxKeys) this.close(this.windows.shift()!, out);
    return out;
  }

  expire(watermark: number): Alert[] {
    const due = this.windows.filter((w) => w.end <= watermark);
    this.windows = this.windows.filter((w) => w.end > watermark);
    const out: Alert[] = [];
    for (const w of due.sort((a, b) => a.end - b.end)) this.close(w, out);
    return out;
  }

  private close(w: OracleWindow, out: Alert[]): void {
    if (w.count <= 1) return;
    const alert = w.rebuild(w.last);
    alert.klaxon.alert_id = w.first.klaxon.alert_id;
    alert.klaxon.count = w.count;
    alert.klaxon.event_ids = w.eventIds;
    alert.klaxon.revision = 1;
    out.push(alert);
  }
}

const seen = (alerts: Alert[]) =>
  alerts.map((a) => ({
    id: a.klaxon.alert_id,
    revision: a.klaxon.revision,
    count: a.klaxon.count,
    eventIds: [...a.klaxon.event_ids],
    message: a.message,
  }));

type Step =
  | { op: 'match' | 'open'; key: string; time: number; windowMs: number }
  | { op: 'expire'; watermark: number }
  | { op: 'flush' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      // Mostly the detector's fold-else-open; sometimes a bare open, which closes the key's window early.
      op: fc.constantFrom('match' as const, 'match' as const, 'match' as const, 'open' as const),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      // Multiples of 5, so matches often share a time with a window's latest match, end or watermark.
      time: fc.integer({ min: 0, max: 20 }).map((t) => t * 5),
      windowMs: fc.constantFrom(0, 10, 25, 50),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('expire' as const),
      watermark: fc.integer({ min: -2, max: 32 }).map((t) => t * 5),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** Feeds the same steps to both; what each step returns must be equal. `match` is the detector's fold-else-open. */
function replay(steps: Step[], maxKeys: number): void {
  const real = new Suppressor<Match>(maxKeys, (m) => m.id);
  const oracle = new ArrayScanOracle(maxKeys);
  steps.forEach((s, n) => {
    const at = `step ${n} ${JSON.stringify(s)}`;
    if (s.op === 'expire')
      expect(seen(real.expire(s.watermark)), at).toEqual(seen(oracle.expire(s.watermark)));
    else if (s.op === 'flush')
      expect(seen(real.flush()), at).toEqual(seen(oracle.expire(Number.POSITIVE_INFINITY)));
    else {
      const match = { id: `e${n}` };
      if (s.op === 'match') {
        const folded = real.fold(s.key, s.time, match, 'r');
        expect(folded, at).toBe(oracle.fold(s.key, s.time, match));
        if (folded) return;
      }
      const opening = (): Opening<Match> => ({
        key: s.key,
        time: s.time,
        windowMs: s.windowMs,
        event: match,
        alert: alertOf(`${s.key}@${n}`, match, 0),
        rebuild: (last) => alertOf(`${s.key}@${n}`, last, 1),
      });
      expect(seen(real.open(opening())), at).toEqual(seen(oracle.open(opening())));
    }
    expect(real.size, at).toBe(oracle.size);
  });
}

describe('Suppressor against the array-scan oracle', () => {
  it('emits the same alerts in the same order at every step (eviction, out-of-order times, any watermark)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150 }), fc.integer({ min: 0, max: 4 }), (steps, maxKeys) =>
        replay(steps, maxKeys),
      ),
      { numRuns: 1000 },
    );
  });

  it('agrees after thousands of windows closed early (their due-queue entries are dropped in a rebuild)', () => {
    // 7 long windows, then one key reopened 3,000 times: the stale entries it leaves get the queue rebuilt.
    // 140 matches fold 20 event ids into each long window, more than MAX_EVENT_IDS in all.
    const steps: Step[] = [];
    for (let i = 0; i < 7; i++) steps.push({ op: 'open', key: `k${i}`, time: i, windowMs: 1000 });
    for (let i = 0; i < 3000; i++) steps.push({ op: 'open', key: 'churn', time: 10 + (i % 50), windowMs: 5 });
    for (let i = 0; i < 7 * 20; i++) steps.push({ op: 'match', key: `k${i % 7}`, time: 100, windowMs: 1000 });
    steps.push({ op: 'expire', watermark: 1003 }, { op: 'expire', watermark: 1006 }, { op: 'flush' });
    replay(steps, 100);
  });

  it('windows due together close by end time, then in the order they opened', () => {
    const s = new Suppressor<Match>(100, (m) => m.id);
    const open = (key: string, time: number, windowMs: number) =>
      s.open({
        key,
        time,
        windowMs,
        event: { id: `${key}0` },
        alert: alertOf(key, { id: `${key}0` }, 0),
        rebuild: (last) => alertOf(key, last, 1),
      });
    open('late', 0, 50);
    open('early', 10, 25);
    const tied = Array.from({ length: 12 }, (_, i) => `tied${i}`);
    for (const [i, key] of tied.entries()) open(key, 20 + i, 20 - i);
    for (const key of ['late', 'early', ...tied]) s.fold(key, 34, { id: `${key}1` }, 'r');
    expect(s.flush().map((a) => a.klaxon.alert_id)).toEqual(['early', ...tied, 'late']);
  });
});
