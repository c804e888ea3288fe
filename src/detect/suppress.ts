import { alertsSuppressed } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { AlertContext } from '../schema/signal.ts';

/** Event ids kept per alert; `count` keeps counting past it. */
export const MAX_EVENT_IDS = 100;

interface Window {
  first: Alert;
  end: number;
  count: number;
  eventIds: string[];
  last: AlertContext;
  lastTime: number;
  rebuild: (ctx: AlertContext) => Alert;
}

export interface Offer {
  key: string;
  ruleName: string;
  time: number;
  eventId: string;
  windowMs: number;
  context: AlertContext;
  /** Builds the revision-0 alert of a new window. */
  open: () => Alert;
  /** Rebuilds the alert from the latest event's context (for revision 1). */
  rebuild: (ctx: AlertContext) => Alert;
}

/**
 * One alert per rule and group key within a window of event time. The first
 * match is emitted at once (revision 0); matches folded in are counted, and when
 * the window closes the alert is emitted again (revision 1, same id) with the
 * final count and event ids, so sinks upsert it.
 */
export class Suppressor {
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;
  /** Earliest window end, so most calls to expire() return at once. */
  private nextEnd = Number.POSITIVE_INFINITY;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.windows.size;
  }

  offer(o: Offer): Alert[] {
    const out: Alert[] = [];
    const open = this.windows.get(o.key);
    if (open && o.time < open.end) {
      open.count++;
      if (open.eventIds.length < MAX_EVENT_IDS) open.eventIds.push(o.eventId);
      if (o.time >= open.lastTime) {
        open.last = o.context;
        open.lastTime = o.time;
      }
      alertsSuppressed.inc({ rule: o.ruleName });
      return out;
    }
    if (open) {
      this.windows.delete(o.key);
      const closed = this.close(open);
      if (closed) out.push(closed);
    }
    const first = o.open();
    out.push(first);
    if (o.windowMs > 0) {
      this.windows.set(o.key, {
        first,
        end: o.time + o.windowMs,
        count: 1,
        eventIds: [o.eventId],
        last: o.context,
        lastTime: o.time,
        rebuild: o.rebuild,
      });
      if (o.time + o.windowMs < this.nextEnd) this.nextEnd = o.time + o.windowMs;
      if (this.windows.size > this.maxKeys) {
        const oldest = this.windows.keys().next().value as string;
        const w = this.windows.get(oldest)!;
        this.windows.delete(oldest);
        const closed = this.close(w);
        if (closed) out.push(closed);
      }
    }
    return out;
  }

  private close(w: Window): Alert | undefined {
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
    const out: Alert[] = [];
    if (watermark < this.nextEnd) return out;
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
