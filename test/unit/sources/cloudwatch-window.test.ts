// The read window of the EKS CloudWatch Logs source: what to search next, which events were delivered, and
// what the checkpoint keeps — driven by a model of a log group that, like CloudWatch, makes events searchable
// late, and answers a search with every event visible at that moment within the time range.
import { describe, expect, it } from 'vitest';
import {
  type DatedLogEvent,
  type LogEventRef,
  type Query,
  ReadWindow,
  WindowCheckpoint,
} from '../../../src/sources/cloudwatch-window.ts';

const opts = { overlapMs: 10_000, latenessMs: 60_000, lateScanMs: 30_000, maxTracked: 10_000 };
const T0 = 1_800_000_000_000;

type Event = { eventId: string; timestamp: number; visibleAt: number };

/** A log group: events with their own time and the time they become searchable. */
class Group {
  readonly events: Event[] = [];
  private next = 1;
  put(timestamp: number, visibleAt = timestamp): Event {
    const event = { eventId: String(this.next++), timestamp, visibleAt };
    this.events.push(event);
    return event;
  }
  search(q: Query, now: number): Event[] {
    return this.events
      .filter((e) => e.visibleAt <= now && e.timestamp >= q.startTime && e.timestamp <= q.endTime)
      .sort((a, b) => a.timestamp - b.timestamp);
  }
}

/** Runs polls like the source does and returns the ids delivered, in order. */
function poll(window: ReadWindow, group: Group, now: number, late: boolean, delivered: string[]): void {
  let first = late;
  do {
    const query = window.next(now, first);
    const found = group.search(query, now);
    const { fresh } = window.sort(found);
    delivered.push(...fresh.map((e) => e.eventId));
    window.record(fresh);
    window.complete(query, found.length);
    first = false;
  } while (!window.caughtUp(now, 1000));
}

describe('ReadWindow', () => {
  it('starts at now (only new events) or at the oldest event retained', () => {
    const group = new Group();
    const old = group.put(T0 - 3_600_000);
    const delivered: string[] = [];
    poll(ReadWindow.start('end', T0, opts), group, T0 + 1000, true, delivered);
    expect(delivered).toEqual([]);
    poll(ReadWindow.start('beginning', T0, opts), group, T0 + 1000, true, delivered);
    expect(delivered).toEqual([old.eventId]);
  });

  it('re-reads the overlap every poll and drops what it delivered', () => {
    const window = ReadWindow.start('end', T0, opts);
    const group = new Group();
    const delivered: string[] = [];
    for (let i = 1; i <= 20; i++) {
      group.put(T0 + i * 1000 - 500);
      poll(window, group, T0 + i * 1000, false, delivered);
    }
    expect(delivered).toEqual(group.events.map((e) => e.eventId));
    const query = window.next(T0 + 21_000, false);
    expect(window.sort(group.search(query, T0 + 21_000))).toMatchObject({ fresh: [], repeats: 10 });
  });

  it('delivers an event searchable late exactly once: by the overlap when a little late, by the late scan when later', () => {
    const window = ReadWindow.start('end', T0, opts);
    const group = new Group();
    const delivered: string[] = [];
    const slightly = group.put(T0 + 5_000, T0 + 9_000);
    const much = group.put(T0 + 6_000, T0 + 50_000);
    const tooLate = group.put(T0 + 7_000, T0 + 200_000);
    for (let now = T0 + 1000; now <= T0 + 240_000; now += 1000) {
      group.put(now - 200);
      poll(window, group, now, (now - T0) % opts.lateScanMs === 0, delivered);
    }
    expect(delivered.filter((id) => id === slightly.eventId)).toHaveLength(1);
    expect(delivered.filter((id) => id === much.eventId)).toHaveLength(1);
    // Later than latenessSeconds (and the scan period): not read, as documented.
    expect(delivered).not.toContain(tooLate.eventId);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(delivered.length).toBe(group.events.length - 1);
  });

  it('keeps the delivered ids and its marks in the checkpoint: a restart drops repeats and misses nothing', () => {
    const group = new Group();
    const delivered: string[] = [];
    let window = ReadWindow.start('end', T0, opts);
    for (let i = 1; i <= 30; i++) group.put(T0 + i * 1000);
    poll(window, group, T0 + 15_500, true, delivered);
    expect(delivered).toHaveLength(15);
    const saved = window.toCheckpoint();
    expect(WindowCheckpoint.parse(JSON.parse(saved)).seen).toBeTruthy();
    // A stream that started while Klaxon was down, with events older than the newest one read.
    group.put(T0 + 12_500, T0 + 40_000);
    window = ReadWindow.restore(saved, opts)!;
    poll(window, group, T0 + 45_000, true, delivered);
    expect([...delivered].sort()).toEqual(group.events.map((e) => e.eventId).sort());
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(window.newest).toBe(T0 + 30_000);
  });

  it('re-reads a query cut short by a crash (until advances only at its end), dropping the pages already delivered', () => {
    const group = new Group();
    for (let i = 1; i <= 10; i++) group.put(T0 + i * 1000);
    const window = ReadWindow.start('end', T0, opts);
    const query = window.next(T0 + 11_000, false);
    const all = group.search(query, T0 + 11_000);
    // The first page went through and was checkpointed; the process died before the second.
    const firstPage = window.sort(all.slice(0, 4)).fresh;
    window.record(firstPage);
    const restored = ReadWindow.restore(window.toCheckpoint(), opts)!;
    const delivered = firstPage.map((e) => e.eventId);
    poll(restored, group, T0 + 11_000, true, delivered);
    expect(delivered).toEqual(group.events.map((e) => e.eventId));
  });

  it('spans at most lateness + scan period per query, doubling over empty ones, so an idle gap costs few searches', () => {
    const window = ReadWindow.start('end', T0, opts);
    const group = new Group();
    const day = 86_400_000;
    const late = group.put(T0 + day - 1000);
    let searches = 0;
    const delivered: string[] = [];
    do {
      const query = window.next(T0 + day, false);
      expect(query.endTime - query.startTime).toBeLessThanOrEqual(90_000 * 2 ** 20);
      const found = group.search(query, T0 + day);
      searches++;
      const { fresh } = window.sort(found);
      delivered.push(...fresh.map((e) => e.eventId));
      window.record(fresh);
      window.complete(query, found.length);
    } while (!window.caughtUp(T0 + day, 1000));
    expect(delivered).toEqual([late.eventId]);
    expect(searches).toBeLessThan(15);
    expect(window.next(T0 + day + 5000, false).endTime - window.next(T0 + day + 5000, false).startTime).toBe(
      15_000,
    );
  });

  it('forgets the oldest ids beyond maxTracked and raises the floor past them, never delivering them again', () => {
    const window = ReadWindow.start('end', T0, { ...opts, maxTracked: 1000 });
    const events: DatedLogEvent<LogEventRef>[] = [];
    for (let i = 0; i < 1500; i++) events.push({ eventId: `e${i}`, timestamp: T0 + i * 10 });
    expect(window.record(events)).toBeGreaterThanOrEqual(500);
    expect(window.size).toBeLessThanOrEqual(1000);
    const again = window.sort(events);
    expect(again.fresh).toEqual([]);
    expect(again.repeats + again.skipped).toBe(1500);
    expect(window.next(T0 + 20_000, true).startTime).toBeGreaterThan(T0);
  });

  it('refuses a checkpoint that is not its own, and sorts out events without an id or time', () => {
    expect(ReadWindow.restore('{"v":2}', opts)).toBeUndefined();
    expect(ReadWindow.restore('not json', opts)).toBeUndefined();
    expect(ReadWindow.restore('{"v":1,"until":5,"floor":0,"seen":{"1":"short"}}', opts)).toBeUndefined();
    const window = ReadWindow.start('beginning', T0, opts);
    const sorted = window.sort([{ eventId: 'a' }, { timestamp: T0 }, { eventId: 'b', timestamp: T0 }]);
    expect(sorted).toMatchObject({ repeats: 0, skipped: 2 });
    expect(sorted.fresh.map((e) => e.eventId)).toEqual(['b']);
  });

  it('drops the same event twice in one page', () => {
    const window = ReadWindow.start('beginning', T0, opts);
    const e = { eventId: 'x', timestamp: T0 };
    expect(window.sort([e, { ...e }])).toMatchObject({ fresh: [e], repeats: 1 });
  });
});
