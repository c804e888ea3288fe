import type { BusMessage } from '../bus/index.ts';
import type { Dataset } from '../datasets/index.ts';
import { type EventPublisher, eventMessage, RetryLaterError } from '../ingest/publisher.ts';
import { Rejections, type RejectReason } from '../ingest/rejections.ts';
import { type ItemText, verbatimAuditMessage } from '../ingest/verbatim.ts';
import { ingestEvents, ingestRejected } from '../metrics.ts';

/**
 * One item a source read: a raw event (with its size in bytes where the source knows it; Infinity for an item
 * nested too deeply to measure; and its own JSON text where the source has it, which may be published in place
 * of a re-serialization when normalization kept the item unchanged: verbatim.ts), or why it could not be read
 * at all.
 */
export type SourceItem =
  | { index: number; raw: unknown; bytes?: number; text?: ItemText }
  | { index: number; error: string; reason: RejectReason };

/** A batch of one dataset, from one cluster, as a source read it. */
export interface SourceBatch {
  /** The dataset its items are (the route or the source's configuration says, never the payload). */
  dataset: Dataset;
  /** From the credential or the source's configuration, never from the payload. */
  cluster: string;
  items: readonly SourceItem[];
  /** When Klaxon received the batch (ISO); events dated far ahead of it are filed under it. */
  receivedAt: string;
}

export interface Accepted {
  /** Events that are durable now (on Kafka, or in the spool). */
  accepted: number;
  rejected: Rejections;
}

export interface AcceptOptions {
  publisher: EventPublisher;
  /** Largest item, in bytes, where the source knows an item's size; a bigger one is a rejected item. */
  maxItemBytes: number;
  /** How far ahead of the receive time an event may be dated (NormalizeContext.maxAheadMs). */
  maxAheadMs: number;
}

/** Bytes of an item as JSON; a nesting too deep to serialize (stack overflow) counts as unbounded. */
export function serializedSize(item: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(item) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * The one path every source takes, push or pull: per item the size limit, normalization (which redacts) by
 * the batch's dataset, serialization; then the publish that resolves only when the accepted events are
 * durable. Invalid items are rejected by index (bounded: `Rejections`) while the valid ones go through;
 * `accept` rejects with `RetryLaterError` when nothing can be made durable now, so the source can say
 * "retry" (503, a nack, an uncommitted offset) and lose nothing.
 */
export class Acceptor {
  private readonly opts: AcceptOptions;

  constructor(opts: AcceptOptions) {
    this.opts = opts;
  }

  /** The largest item it accepts, in bytes (a source that measures items itself checks the same limit). */
  get maxItemBytes(): number {
    return this.opts.maxItemBytes;
  }

  /** Whether `accept` can make events durable now (readiness). */
  ready(): Promise<boolean> {
    return this.opts.publisher.ready();
  }

  async accept(batch: SourceBatch): Promise<Accepted> {
    const { dataset, cluster, items, receivedAt } = batch;
    const { maxItemBytes, maxAheadMs } = this.opts;
    const ctx = { cluster, receivedAt, maxAheadMs };
    const rejected = new Rejections(dataset.label);
    const messages: BusMessage[] = [];
    for (const item of items) {
      if ('error' in item) {
        rejected.add(item.index, item.reason, item.error);
        continue;
      }
      if (item.bytes !== undefined && item.bytes > maxItemBytes) {
        rejected.add(
          item.index,
          'too_large',
          Number.isFinite(item.bytes)
            ? `event is ${item.bytes} bytes, over the limit of ${maxItemBytes} bytes`
            : 'event is nested too deeply to process',
        );
        continue;
      }
      const outcome = toMessage(dataset, item.raw, item.text, ctx);
      if ('message' in outcome) messages.push(outcome.message);
      else rejected.add(item.index, 'schema', outcome.reason);
    }
    if (rejected.count > 0)
      ingestEvents.inc({ source: dataset.label, cluster, outcome: 'rejected' }, rejected.count);
    if (messages.length > 0) {
      try {
        await this.opts.publisher.publish(messages);
      } catch (err) {
        if (err instanceof RetryLaterError)
          ingestRejected.inc({ source: dataset.label, reason: 'unavailable' }, messages.length);
        throw err;
      }
      ingestEvents.inc({ source: dataset.label, cluster, outcome: 'accepted' }, messages.length);
    }
    return { accepted: messages.length, rejected };
  }
}

/**
 * Normalizes and serializes one item. Whatever a hostile item does (e.g. nesting that defeats
 * JSON.stringify), it costs that item, never the batch.
 */
function toMessage(
  dataset: Dataset,
  raw: unknown,
  text: ItemText | undefined,
  ctx: { cluster: string; receivedAt: string; maxAheadMs: number },
): { message: BusMessage } | { reason: string } {
  try {
    const result = dataset.normalize(raw, ctx);
    if (!result.ok) return { reason: result.reason };
    const verbatim = text && verbatimAuditMessage(result.event, raw, text);
    return { message: verbatim ?? eventMessage(result.event) };
  } catch (err) {
    return { reason: `cannot be processed: ${(err as Error).message}` };
  }
}
