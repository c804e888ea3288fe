import { alertsSuppressed } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';

const NONE = Object.freeze([]) as unknown as Alert[];

/** Event ids kept per alert; `count` keeps counting past it. */
export const MAX_EVENT_IDS = 100;

interface Window<T> {
  first: Alert;
  end: number;
  count: number;
  eventIds: string[];
  last: T;
  lastTime: number;
  rebuild: (last: T) => Alert;
}

export interface Opening<T> {
  key: string;
  time: number;
  windowMs: number;
  event: T;
  /** The revision-0 alert of the new window. */
  alert: Alert;
  /** Builds the alert again from the window's latest event (for revision 1). */
  rebuild: (last: T) => Alert;
}

/**
 * One alert per rule and group key within a window of event time. The first
 * match is emitted at once (revision 0); matches folded in are counted, and when
 * the window closes the alert is emitted again (revision 1, same id) with the
 * final count and event ids, so sinks upsert it. A match is a normalized event
 * in one process, a suppression signal in the distributed detector (`T`).
 */
export class Suppressor<T = NormalizedEvent> {
  private readonly windows = new Map<string, Window<T>>();
  private readonly maxKeys: number;
  private readonly idOf: (match: T) => string;
  /** Earliest window end, so most calls to expire() return at once. */
  private nextEnd = Number.POSITIVE_INFINITY;

  constructor(maxKeys: number, idOf: (match: T) => string) {
    this.maxKeys = maxKeys;
    this.idOf = idOf;
  }

  get size(): number {
    return this.windows.size;
  }

  /** Folds a match into the open window of its key; false when no window holds it (open one). */
  fold(key: string, time: number, event: T, ruleName: string): boolean {
    const open = this.windows.get(key);
    if (!open || time >= open.end) return false;
    open.count++;
    if (open.eventIds.length < MAX_EVENT_IDS) open.eventIds.push(this.idOf(event));
    if (time >= open.lastTime) {
      open.last = event;
      open.lastTime = time;
    }
    alertsSuppressed.inc({ rule: ruleName });
    return true;
  }

  /** Opens a window (closing the key's expired one): the alerts to emit. */
  open(o: Opening<T>): Alert[] {
    const out: Alert[] = [];
    const previous = this.windows.get(o.key);
    if (previous) {
      this.windows.delete(o.key);
      const closed = this.close(previous);
      if (closed) out.push(closed);
    }
    out.push(o.alert);
    if (o.windowMs <= 0) return out;
    const end = o.time + o.windowMs;
    this.windows.set(o.key, {
      first: o.alert,
      end,
      count: 1,
      eventIds: [this.idOf(o.event)],
      last: o.event,
      lastTime: o.time,
      rebuild: o.rebuild,
    });
    if (end < this.nextEnd) this.nextEnd = end;
    if (this.windows.size > this.maxKeys) {
      const oldest = this.windows.keys().next().value as string;
      const w = this.windows.get(oldest)!;
      this.windows.delete(oldest);
      const closed = this.close(w);
      if (closed) out.push(closed);
    }
    return out;
  }

  private close(w: Window<T>): Alert | undefined {
    if (w.count <= 1) return undefined;
    const alert = w.rebuild(w.last);
    alert.klaxon.alert_id = w.first.klaxon.alert_id;
    alert.klaxon.count = w.count;
    alert.klaxon.event_ids = w.eventIds;
    alert.klaxon.revision = 1;
    return alert;
  }
  /** Closes the windows that end at or before `watermark` (event time, ms). */
  expire(watermark: number): Alert[] {
    if (watermark < this.nextEnd) return NONE;
    const out: Alert[] = [];
    this.nextEnd = Number.POSITIVE_INFINITY;
    for (const [key, w] of this.windows) {
      if (w.end > watermark) {
        if (w.end < this.nextEnd) this.nextEnd = w.end;
        continue;
      }
      this.windows.delete(key);
      const closed = this.close(w);
      if (closed) out.push(closed);
    }
    return out;
  }

  flush(): Alert[] {
    return this.expire(Number.POSITIVE_INFINITY);
  }
}
