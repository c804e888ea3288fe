import type { RejectReason } from '../ingest/rejections.ts';
import type { CloudItem } from '../normalize/cloud-batch.ts';
import { type SourceItem, serializedSize } from './accept.ts';

/**
 * The fixed reason (for `klaxon_ingest_rejected_total`) of a converter's refusal, which is text: an event cut
 * by CloudWatch (`[Truncated...]`, over its size limit) or over a size budget is `too_large`; what cannot be
 * decoded is `json`; the rest is `schema`.
 */
export function rejectReasonOf(reason: string): RejectReason {
  if (/truncated|over the limit|larger than/i.test(reason)) return 'too_large';
  if (/invalid (JSON|UTF-8|gzip|base64)/.test(reason)) return 'json';
  return 'schema';
}

/**
 * Converter output → items for the accept path, numbered from `first`. Each event carries its size, so the
 * accept path rejects one over the per-event limit (`too_large`) before normalizing it: `sizes[i]` when the
 * caller knows the bytes it read, else the event's JSON size.
 */
export function sourceItems(
  items: readonly CloudItem<unknown>[],
  first = 0,
  sizes?: readonly number[],
): SourceItem[] {
  return items.map((item, i) =>
    item.ok
      ? { index: first + i, raw: item.event, bytes: sizes?.[i] ?? serializedSize(item.event) }
      : {
          index: first + i,
          error: item.where ? `${item.where}: ${item.reason}` : item.reason,
          reason: rejectReasonOf(item.reason),
        },
  );
}
