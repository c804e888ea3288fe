import { alertsSuppressed } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { DueQueue } from './due-queue.ts';
import { LinkedList } from './linked-list.ts';

const NONE = Object.freeze([]) as unknown as Alert[];

/** Event ids kept per alert; `count` keeps counting past it. */
export const MAX_EVENT_IDS = 100;

interface Window<T> {
  key: string;
  /** Opening order: windows due at the same time close in the order they opened. */
  seq: number;
  /** The id of the revision-0 alert (the alert itself is not kept: its revision 1 is rebuilt from `last`). */
  alertId: string;
  end: number;
  count: number;
  eventIds: string[];
  last: T;
  lastTime: number;
  rebuild: (last: T) => Alert;
  /** False once closed; its entry in the due queue is then stale. */
  live: boolean;
  /** Neighbours in opening order (oldest first), for eviction. */
  older: Window<T> | undefined;
  newer: Window<T> | undefined;
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

const byEndThenOpening = <T>(a: Window<T>, b: Window<T>) => a.end - b.end || a.seq - b.seq;

/**
 * One alert per rule and group key within a window of event time. The first
 * match is emitted at once (revision 0); matches folded in are counted, and when
 * the window closes the alert is emitted again (revision 1, same id) with the
 * final count and event ids, so sinks upsert it. A match (`T`) is what the
 * window keeps of it: the detector keeps an event's id and alert context, taken
 * from the event in one process or from a suppression signal in the distributed
 * detector.
 *
 * Every step costs O(1) amortized (O(log n) for the due queue) whatever the number of open windows: expiry pops
 * only the windows that are due, and eviction takes the oldest-opened window from a list in opening order (a
 * Map's `keys().next()` walks the deleted entries at its front on every call once keys churn).
 */
export class Suppressor<T> {
  private readonly windows = new Map<string, Window<T>>();
  /** Open windows by end time; entries of windows closed early stay until popped or rebuilt away. */
  private readonly due = new DueQueue<Window<T>>();
  /** Open windows in opening order, for eviction. */
  private readonly order = new LinkedList<Window<T>>();
  private opened = 0;
  private readonly maxKeys: number;
  private readonly idOf: (match: T) => string;

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
    if (previous) this.closeInto(previous, out);
    out.push(o.alert);
    if (o.windowMs <= 0) return out;
    const w: Window<T> = {
      key: o.key,
      seq: this.opened++,
      alertId: o.alert.klaxon.alert_id,
      end: o.time + o.windowMs,
      count: 1,
      eventIds: [this.idOf(o.event)],
      last: o.event,
      lastTime: o.time,
      rebuild: o.rebuild,
      live: true,
      older: undefined,
      newer: undefined,
    };
    this.order.append(w);
    this.windows.set(o.key, w);
    this.due.push(w.end, w);
    if (this.windows.size > this.maxKeys) this.closeInto(this.order.oldest!, out);
    // Entries of windows closed before their end stay in the queue until they come out or are rebuilt away.
    if (this.due.overgrown(this.windows.size)) this.rebuildDue();
    return out;
  }

  /** Closes the windows that end at or before `watermark` (event time, ms): by end, then opening order. */
  expire(watermark: number): Alert[] {
    if (watermark < this.due.peek()) return NONE;
    const closing: Window<T>[] = [];
    while (this.due.size > 0 && this.due.peek() <= watermark) {
      const w = this.due.pop();
      if (w.live) closing.push(w);
    }
    if (closing.length === 0) return NONE;
    closing.sort(byEndThenOpening);
    const out: Alert[] = [];
    for (const w of closing) this.closeInto(w, out);
    return out;
  }

  flush(): Alert[] {
    return this.expire(Number.POSITIVE_INFINITY);
  }

  /** Removes an open window; its revision-1 alert goes to `out` when matches were folded in. */
  private closeInto(w: Window<T>, out: Alert[]): void {
    w.live = false;
    this.windows.delete(w.key);
    this.order.remove(w);
    if (w.count <= 1) return;
    const alert = w.rebuild(w.last);
    alert.klaxon.alert_id = w.alertId;
    alert.klaxon.count = w.count;
    alert.klaxon.event_ids = w.eventIds;
    alert.klaxon.revision = 1;
    out.push(alert);
  }

  private rebuildDue(): void {
    this.due.clear();
    for (let w = this.order.oldest; w; w = w.newer) this.due.push(w.end, w);
  }
}
