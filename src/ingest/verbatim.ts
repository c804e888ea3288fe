import type { BusMessage } from '../bus/index.ts';
import { MAX_DEPTH } from '../normalize/redact.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import { messageEnvelope } from './publisher.ts';

/**
 * An item's own JSON text, as received, with the object members the raw bytes hold (`itemSpans`).
 * Only built from a body that is valid UTF-8, so the text decodes to exactly the strings JSON.parse saw.
 */
export interface ItemText {
  text: Buffer;
  members: number;
}

/**
 * Object members of a parsed value, or -1 when it is nested deeper than the redaction walk goes (such a value
 * was never published as it came: the walk replaced the subtree). `for…in` is the fastest way through the
 * keys; it also lists inherited enumerable properties, so the caller checks that Object.prototype has none.
 */
function membersOf(value: unknown, depth: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (depth > MAX_DEPTH) return -1;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const m = membersOf(value[i], depth + 1);
      if (m < 0) return -1;
      n += m;
    }
    return n;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const m = membersOf(record[key], depth + 1);
    if (m < 0) return -1;
    n += m + 1;
  }
  return n;
}

/** Whether Object.prototype has gained an enumerable property (`membersOf` would count it). */
function prototypeTouched(): boolean {
  for (const _ in EMPTY) return true;
  return false;
}
const EMPTY = {};

/**
 * The bus message of an audit event whose `kubernetes.audit` is the item exactly as received, with the item's
 * own bytes in place of a second serialization of it (JSON.stringify of the redacted event is the largest single
 * cost of ingest). Undefined, so the caller serializes as usual, unless every condition holds:
 * - redaction changed nothing: `kubernetes.audit` is the parsed item itself, not a redacted copy;
 * - the bytes hold what was checked and nothing more: as many object members as the parsed item has. JSON.parse
 *   keeps the last of duplicate keys, so a value hidden under an earlier duplicate (a Secret's data, a smuggled
 *   field) makes the bytes hold more members than the object validation and redaction saw;
 * - the text is one JSON object.
 * Everything else in the message (time, ids, cluster, dataset, user, …) is serialized from the normalized event,
 * as always.
 */
export function verbatimAuditMessage(
  event: NormalizedEvent,
  raw: unknown,
  item: ItemText,
): BusMessage | undefined {
  const { kubernetes, ...rest } = event;
  if (kubernetes === undefined || kubernetes.audit !== raw || Object.keys(kubernetes).length !== 1)
    return undefined;
  const { text } = item;
  if (text[0] !== 0x7b || text[text.length - 1] !== 0x7d) return undefined;
  if (prototypeTouched() || membersOf(raw, 0) !== item.members) return undefined;
  // `rest` has no `kubernetes` key, so the one added here is the message's only one.
  const head = JSON.stringify(rest);
  const prefix = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"kubernetes":{"audit":`;
  const prefixBytes = Buffer.byteLength(prefix);
  const value = Buffer.allocUnsafe(prefixBytes + text.length + 2);
  value.write(prefix, 0, 'utf8');
  text.copy(value, prefixBytes);
  value[value.length - 2] = 0x7d;
  value[value.length - 1] = 0x7d;
  return { ...messageEnvelope(event), value };
}
