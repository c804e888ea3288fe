/**
 * Where the events of an audit body are in its raw bytes, read off the bytes so that the
 * per-event limit costs neither a second parse nor a re-serialization: one pass over
 * the bytes that tracks nesting and skips string contents. The same pass counts each
 * event's object members (a `:` outside strings), which says whether JSON.parse dropped
 * a duplicate key of the event (see verbatim.ts).
 *
 * The scanner trusts the structure: callers use its spans only for a body JSON.parse
 * accepted, check the count against the parsed items and fall back otherwise.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isItemsKey(buf: Buffer, start: number, end: number): boolean {
  const key = buf.toString('latin1', start, end);
  if (key === 'items') return true;
  if (!key.includes('\\')) return false;
  try {
    return JSON.parse(`"${key}"`) === 'items';
  } catch {
    return false;
  }
}

/** What `itemSizes` answers when the body holds more items than the caller allows. */
export const TOO_MANY = Symbol('too many items');

/** The items of a body: item `i` is `buf[starts[i], ends[i])` and holds `members[i]` object members. */
export interface ItemSpans {
  starts: number[];
  ends: number[];
  members: number[];
}

/**
 * Byte sizes of a top-level array's elements, or of the elements of a top-level object's
 * `items` array (`itemSpans`).
 */
export function itemSizes(
  buf: Buffer,
  maxItems = Number.POSITIVE_INFINITY,
): number[] | undefined | typeof TOO_MANY {
  const spans = itemSpans(buf, maxItems);
  if (spans === undefined || spans === TOO_MANY) return spans;
  return spans.ends.map((end, i) => end - spans.starts[i]!);
}

/**
 * Spans of a top-level array's elements, or of the elements of a top-level object's
 * `items` array (the last `items` key, as JSON.parse keeps the last duplicate). Stops with
 * TOO_MANY as soon as one array holds more than `maxItems`, so a body of millions of tiny
 * items costs one partial scan, not a parse.
 */
export function itemSpans(
  buf: Buffer,
  maxItems = Number.POSITIVE_INFINITY,
): ItemSpans | undefined | typeof TOO_MANY {
  // A plain Uint8Array view keeps the loop on V8's fast typed-array path.
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const n = b.length;
  let i = 0;
  while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  const rootIsObject = b[i] === OPEN_OBJECT;
  if (!rootIsObject && b[i] !== OPEN_ARRAY) return undefined;

  let found: ItemSpans | undefined;
  let spans: ItemSpans = { starts: [], ends: [], members: [] };
  /** Colons outside strings so far (`counter.colons`), and at the start of the current item. */
  const counter = { colons: 0 };
  let itemColons = 0;
  /** Nesting depth inside the array being measured; -1 while there is none. */
  let target = rootIsObject ? -1 : 1;
  let depth = 0;
  let itemStart = -1;
  let lastEnd = 0;
  let expectKey = false;
  let itemsKey = false;
  for (; i < n; i++) {
    if (depth > (target > 0 ? target : 1)) {
      // Inside an item (or a top-level value other than the items): only nesting, strings and members matter
      // until the bracket that closes it, so a tighter loop skips the rest.
      i = skipNested(b, i, depth, counter);
      depth = target > 0 ? target : 1;
      lastEnd = i + 1;
      continue;
    }
    const c = b[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (depth === target && itemStart < 0 && c !== COMMA && c !== CLOSE_ARRAY) {
      itemStart = i;
      itemColons = counter.colons;
    }
    if (c === QUOTE) {
      const start = i + 1;
      for (i++; i < n; i++) {
        const d = b[i];
        if (d === QUOTE) break;
        if (d === BACKSLASH) i++;
      }
      if (expectKey && depth === 1) {
        itemsKey = isItemsKey(buf, start, i);
        expectKey = false;
      }
      lastEnd = i + 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 1 && rootIsObject) expectKey = true;
      else if (depth === 2 && itemsKey) {
        itemsKey = false;
        if (c === OPEN_ARRAY) {
          target = 2;
          spans = { starts: [], ends: [], members: [] };
          itemStart = -1;
        }
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === target) {
        if (itemStart >= 0) endItem(spans, itemStart, lastEnd, counter.colons - itemColons);
        if (spans.starts.length > maxItems) return TOO_MANY;
        found = spans;
        target = -1;
        itemStart = -1;
      }
      depth--;
      lastEnd = i + 1;
    } else if (c === COMMA) {
      if (depth === target) {
        endItem(spans, itemStart, lastEnd, counter.colons - itemColons);
        if (spans.starts.length > maxItems) return TOO_MANY;
        itemStart = -1;
      }
      if (depth === 1 && rootIsObject) {
        expectKey = true;
        itemsKey = false;
      }
    } else if (c === COLON) {
      counter.colons++;
    } else {
      lastEnd = i + 1;
    }
  }
  return found;
}

/**
 * From `start`, inside a value opened at nesting `depth`, to the bracket that brings the nesting back to
 * `depth - 1` of the value's container: returns that bracket's index and adds the colons met on the way.
 */
function skipNested(b: Uint8Array, start: number, depth: number, counter: { colons: number }): number {
  const n = b.length;
  const floor = depth - 1;
  let level = depth;
  let colons = 0;
  let i = start;
  for (; i < n; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = b[i];
        if (d === QUOTE) break;
        if (d === BACKSLASH) i++;
      }
    } else if (c === COLON) colons++;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) level++;
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && --level === floor) break;
  }
  counter.colons += colons;
  return i;
}

function endItem(spans: ItemSpans, start: number, end: number, members: number): void {
  spans.starts.push(start);
  spans.ends.push(end);
  spans.members.push(members);
}
