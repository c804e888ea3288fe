/**
 * Byte sizes of the events in an audit body, read off the raw bytes so that the
 * per-event limit costs neither a second parse nor a re-serialization. Strings (most
 * of an audit event's bytes) are skipped with `indexOf`, which is native.
 *
 * Only the structure JSON.parse already accepted is walked, so the scanner trusts it is
 * well-formed; it returns undefined rather than guess when something is unexpected.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function skipWhitespace(b: Buffer, i: number): number {
  while (i < b.length) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** `i` is at an opening quote; returns the index after the closing quote, or -1. */
function skipString(b: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** `i` is at the start of a value; returns the index after it, or -1. */
function skipValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i]!;
      if (d === QUOTE) {
        i = skipString(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  while (i < b.length) {
    const d = b[i]!;
    if (
      d === COMMA ||
      d === CLOSE_OBJECT ||
      d === CLOSE_ARRAY ||
      d === 0x20 ||
      d === 0x0a ||
      d === 0x0d ||
      d === 0x09
    )
      break;
    i++;
  }
  return i;
}

/** `i` is at `[`; sizes of the array's elements. */
function elementSizes(b: Buffer, i: number): number[] | undefined {
  const sizes: number[] = [];
  i = skipWhitespace(b, i + 1);
  if (b[i] === CLOSE_ARRAY) return sizes;
  for (;;) {
    const end = skipValue(b, i);
    if (end < 0) return undefined;
    sizes.push(end - i);
    i = skipWhitespace(b, end);
    if (b[i] === CLOSE_ARRAY) return sizes;
    if (b[i] !== COMMA) return undefined;
    i = skipWhitespace(b, i + 1);
  }
}

/**
 * Sizes of a top-level array's elements, or of the elements of a top-level object's
 * `items` array (the last `items` key, as JSON.parse keeps the last duplicate).
 */
export function itemSizes(b: Buffer): number[] | undefined {
  let i = skipWhitespace(b, 0);
  if (b[i] === OPEN_ARRAY) return elementSizes(b, i);
  if (b[i] !== OPEN_OBJECT) return undefined;
  let found: number[] | undefined;
  i = skipWhitespace(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return undefined;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return undefined;
    const key = b.toString('latin1', i + 1, keyEnd - 1);
    i = skipWhitespace(b, keyEnd);
    if (b[i] !== COLON) return undefined;
    i = skipWhitespace(b, i + 1);
    const isItems = key === 'items' || (key.includes('\\') && JSON.parse(`"${key}"`) === 'items');
    if (isItems) found = b[i] === OPEN_ARRAY ? elementSizes(b, i) : undefined;
    const end = skipValue(b, i);
    if (end < 0) return undefined;
    i = skipWhitespace(b, end);
    if (b[i] === CLOSE_OBJECT) return found;
    if (b[i] !== COMMA) return undefined;
    i = skipWhitespace(b, i + 1);
  }
}
