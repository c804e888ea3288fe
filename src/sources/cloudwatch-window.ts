import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * How far a CloudWatch Logs group has been read, and which events were already delivered: the pure part of
 * the `type: cloudwatch` source (no I/O, time passed in).
 *
 * FilterLogEvents searches the group by event timestamp. CloudWatch makes an event searchable some time after
 * its timestamp (ingestion delay: seconds usually, minutes when the shipper lags), and a stream that starts
 * while Klaxon is down holds events older than the newest one read. So a time mark alone loses events, and
 * re-reading behind it doubles them. The window therefore keeps:
 * - `until`: the end of the last complete query (every event stamped at or before it was searched for once);
 * - the ids of the events delivered that are stamped within `reach` (lateness + late-scan period) before it,
 *   so a re-read drops them;
 * - `floor`: events stamped before it are never delivered (`startAt: end`, or ids forgotten at the cap).
 * Each poll searches from `until − overlap`; a late scan now and then from `until − reach`; a query spans at
 * most `reach` (a late scan twice that; doubled after each empty query, so an idle gap costs few calls), so the
 * ids a query adds stay bounded, and `until` advances only when a query is complete: a crash in the middle
 * re-reads that query, and the saved ids drop what was already delivered.
 */

/** The fields of a FilterLogEvents event the window uses (every event CloudWatch returns has them). */
export interface LogEventRef {
  eventId?: string | undefined;
  timestamp?: number | undefined;
}

/** An event with what deduplication needs. */
export type DatedLogEvent<E extends LogEventRef> = E & { eventId: string; timestamp: number };

export interface WindowOptions {
  overlapMs: number;
  latenessMs: number;
  lateScanMs: number;
  maxTracked: number;
}

/** One FilterLogEvents search: `[startTime, endTime]`, both inclusive as in CloudWatch. */
export interface Query {
  startTime: number;
  endTime: number;
  /** A late scan: new events it finds became searchable after their time had been searched. */
  late: boolean;
}

/** The checkpoint: event-id digests grouped by the second of their timestamp, 12 characters each. */
export const WindowCheckpoint = z
  .object({
    v: z.literal(1),
    until: z.number().int().nonnegative(),
    floor: z.number().int().nonnegative(),
    newest: z.number().int().nonnegative().optional(),
    seen: z.record(z.string().regex(/^\d{1,15}$/), z.string().regex(/^(?:[A-Za-z0-9_-]{12})*$/)),
  })
  .strict();
export type WindowCheckpoint = z.infer<typeof WindowCheckpoint>;

const DIGEST_CHARS = 12;
/** Consecutive empty queries double the span up to 2^this times `reach`. */
const MAX_SPAN_DOUBLINGS = 20;

/** 72 bits of SHA-256 of an event id: a fixed, short size whatever CloudWatch's ids look like. */
export function eventDigest(eventId: string): string {
  return createHash('sha256').update(eventId).digest('base64url').slice(0, DIGEST_CHARS);
}

export interface Sorted<E extends LogEventRef> {
  /** Not delivered before: to accept, then `record`. */
  fresh: DatedLogEvent<E>[];
  /** Delivered before (the overlap, a late scan, or a restart re-reading): dropped. */
  repeats: number;
  /** Stamped before the floor, or without an id or time: never delivered. */
  skipped: number;
}

export class ReadWindow {
  private until: number;
  private floor: number;
  private newestTime: number | undefined;
  private readonly seen = new Map<number, Set<string>>();
  private tracked = 0;
  private emptyRun = 0;
  private readonly opts: WindowOptions;

  private constructor(until: number, floor: number, opts: WindowOptions) {
    this.until = until;
    this.floor = floor;
    this.opts = opts;
  }

  /** A group never read before: from now (`end`) or from the oldest event it retains (`beginning`). */
  static start(startAt: 'end' | 'beginning', nowMs: number, opts: WindowOptions): ReadWindow {
    const from = startAt === 'end' ? nowMs : 0;
    return new ReadWindow(from, from, opts);
  }

  /** A saved window, or undefined when the text is not one (the caller starts afresh and says so). */
  static restore(text: string, opts: WindowOptions): ReadWindow | undefined {
    let parsed: WindowCheckpoint;
    try {
      const result = WindowCheckpoint.safeParse(JSON.parse(text));
      if (!result.success) return undefined;
      parsed = result.data;
    } catch {
      return undefined;
    }
    const window = new ReadWindow(parsed.until, parsed.floor, opts);
    window.newestTime = parsed.newest;
    for (const [second, digests] of Object.entries(parsed.seen)) {
      const set = new Set<string>();
      for (let i = 0; i < digests.length; i += DIGEST_CHARS) set.add(digests.slice(i, i + DIGEST_CHARS));
      window.seen.set(Number(second), set);
      window.tracked += set.size;
    }
    window.cap();
    return window;
  }

  /** How far behind `until` a late scan reaches, and how long event ids are remembered. */
  get reach(): number {
    return this.opts.latenessMs + this.opts.lateScanMs;
  }

  /** Newest event time delivered (for the lag metric). */
  get newest(): number | undefined {
    return this.newestTime;
  }

  /** Event ids remembered now. */
  get size(): number {
    return this.tracked;
  }

  /**
   * The next search: a poll from `until − overlap`, or a late scan from `until − reach` (reaching on to now
   * when `until` is within `reach` of it); bounded in span.
   */
  next(nowMs: number, late: boolean): Query {
    const back = late ? this.reach : this.opts.overlapMs;
    const startTime = Math.max(this.floor, this.until - back, 0);
    const span = Math.max(this.reach, 1000) * 2 ** this.emptyRun * (late ? 2 : 1);
    const endTime = Math.max(startTime, Math.min(nowMs, startTime + span));
    return { startTime, endTime, late };
  }

  /** Splits a page into events to deliver and events to drop. */
  sort<E extends LogEventRef>(events: readonly E[]): Sorted<E> {
    const out: Sorted<E> = { fresh: [], repeats: 0, skipped: 0 };
    const inPage = new Set<string>();
    for (const event of events) {
      const { eventId, timestamp } = event;
      if (typeof eventId !== 'string' || typeof timestamp !== 'number' || timestamp < this.floor) {
        out.skipped++;
        continue;
      }
      const digest = eventDigest(eventId);
      const key = `${Math.floor(timestamp / 1000)}/${digest}`;
      if (inPage.has(key) || this.seen.get(Math.floor(timestamp / 1000))?.has(digest)) {
        out.repeats++;
        continue;
      }
      inPage.add(key);
      out.fresh.push(event as DatedLogEvent<E>);
    }
    return out;
  }

  /**
   * Remembers events once they are accepted. Returns how many ids were forgotten to stay under
   * `maxTracked` (the floor rises past them: a late scan no longer reaches them).
   */
  record(events: readonly DatedLogEvent<LogEventRef>[]): number {
    for (const { eventId, timestamp } of events) {
      const second = Math.floor(timestamp / 1000);
      let set = this.seen.get(second);
      if (!set) {
        set = new Set();
        this.seen.set(second, set);
      }
      const digest = eventDigest(eventId);
      if (!set.has(digest)) {
        set.add(digest);
        this.tracked++;
      }
      if (this.newestTime === undefined || timestamp > this.newestTime) this.newestTime = timestamp;
    }
    return this.cap();
  }

  /** A query read to its end: `until` advances, and ids no search will reach again are forgotten. */
  complete(query: Query, found: number): void {
    this.emptyRun = found === 0 ? Math.min(this.emptyRun + 1, MAX_SPAN_DOUBLINGS) : 0;
    if (query.endTime <= this.until) return;
    this.until = query.endTime;
    const cutoff = Math.floor((this.until - this.reach) / 1000);
    for (const [second, set] of this.seen) {
      if (second < cutoff) {
        this.seen.delete(second);
        this.tracked -= set.size;
      }
    }
  }

  /** Whether searching has caught up with `nowMs` (within a poll). */
  caughtUp(nowMs: number, pollMs: number): boolean {
    return this.until >= nowMs - pollMs;
  }

  /** The oldest seconds go first; the floor rises past the last one forgotten. */
  private cap(): number {
    let forgotten = 0;
    if (this.tracked <= this.opts.maxTracked) return forgotten;
    for (const second of [...this.seen.keys()].sort((a, b) => a - b)) {
      if (this.tracked <= this.opts.maxTracked) break;
      const set = this.seen.get(second)!;
      this.seen.delete(second);
      this.tracked -= set.size;
      forgotten += set.size;
      this.floor = Math.max(this.floor, (second + 1) * 1000);
    }
    return forgotten;
  }

  toCheckpoint(): string {
    const seen: Record<string, string> = {};
    for (const [second, set] of this.seen) seen[String(second)] = [...set].join('');
    const checkpoint: WindowCheckpoint = { v: 1, until: this.until, floor: this.floor, seen };
    if (this.newestTime !== undefined) checkpoint.newest = this.newestTime;
    return JSON.stringify(checkpoint);
  }
}
