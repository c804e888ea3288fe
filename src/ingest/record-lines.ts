/**
 * An upper bound on the records of a JSON-lines body, read off the bytes before anything is parsed, so a body
 * of millions of tiny records (`{}` a line) is refused before JSON.parse turns it into millions of objects.
 * A record starts a line with `{` or `[`: one per JSON line, and one per record of pretty-printed records one
 * after another (`jq .` indents everything inside a record).
 */

const NEWLINE = 0x0a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;

/** Whether more than `max` lines of `buf` start with `{` or `[` (a leading byte-order mark and blanks skipped). */
export function moreRecordLinesThan(buf: Buffer, max: number): boolean {
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0d || b[i] === NEWLINE)) i++;
  let count = b[i] === OPEN_OBJECT || b[i] === OPEN_ARRAY ? 1 : 0;
  for (; i < b.length - 1; i++) {
    if (b[i] !== NEWLINE) continue;
    const next = b[i + 1];
    if ((next === OPEN_OBJECT || next === OPEN_ARRAY) && ++count > max) return true;
  }
  return count > max;
}
