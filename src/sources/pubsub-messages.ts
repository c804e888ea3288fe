import { auditDataset } from '../datasets/audit.ts';
import { RetryLaterError } from '../ingest/publisher.ts';
import { MAX_LISTED_REJECTIONS, MAX_REASON_CHARS } from '../ingest/rejections.ts';
import type { Logger } from '../log.ts';
import { pubsubEvents, pubsubMessages } from '../metrics.ts';
import type { CloudBatch } from '../normalize/cloud-batch.ts';
import type { GkeOrigin } from '../normalize/gke-readers.ts';
import { type Acceptor, serializedSize } from './accept.ts';
import { clusterFor, type GkeClusterSettings } from './gke-cluster.ts';

/** One Pub/Sub message's GKE entries as audit events, each with the cluster Klaxon files it under, and why the others are not. */
export interface ConvertedMessage {
  events: Array<{ event: Record<string, unknown>; cluster: string }>;
  failures: string[];
}

/** What becomes of a message once its events were offered to the accept path. */
export type MessageOutcome =
  /** Its events are durable (some may have been rejected): ack. */
  | { kind: 'accepted'; events: number }
  /** None of it can ever be accepted: ack it (no redelivery loop), count it, log the reason. */
  | { kind: 'deadletter'; reason: string }
  /** Its events cannot be made durable now: nack (Pub/Sub redelivers it). */
  | { kind: 'retry'; retryAfterSeconds: number; reason: string };

/** A message's converted entries → events with their cluster (the source's settings decide it, never the entry alone). */
export function convertMessage(
  batch: CloudBatch<GkeOrigin>,
  settings: GkeClusterSettings,
  source: string,
): ConvertedMessage {
  const out: ConvertedMessage = { events: [], failures: [] };
  for (const item of batch.items) {
    if (!item.ok) {
      out.failures.push(item.where === '' ? item.reason : `${item.where}: ${item.reason}`);
      continue;
    }
    const chosen = clusterFor(settings, item.origin.cluster);
    if (chosen.ok) out.events.push({ event: item.event, cluster: chosen.cluster });
    else out.failures.push(item.where === '' ? chosen.reason : `${item.where}: ${chosen.reason}`);
  }
  if (out.events.length === 0 && out.failures.length === 0)
    out.failures.push('the message holds no log entry');
  pubsubEvents.inc({ source }, out.events.length);
  return out;
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

interface Chunk {
  cluster: string;
  items: Array<{ message: number; event: Record<string, unknown> }>;
}

/** The messages' events by cluster, in chunks small enough that every rejection is listed with its index. */
function chunksOf(messages: readonly ConvertedMessage[]): Chunk[] {
  const groups = new Map<string, Chunk['items']>();
  messages.forEach((m, message) => {
    for (const { event, cluster } of m.events) {
      let group = groups.get(cluster);
      if (!group) {
        group = [];
        groups.set(cluster, group);
      }
      group.push({ message, event });
    }
  });
  const chunks: Chunk[] = [];
  for (const [cluster, items] of groups) {
    for (let k = 0; k < items.length; k += MAX_LISTED_REJECTIONS)
      chunks.push({ cluster, items: items.slice(k, k + MAX_LISTED_REJECTIONS) });
  }
  return chunks;
}

/**
 * Offers the events of several messages to the accept path (one batch per cluster) and says, per message, whether
 * to ack it (its events are durable, or it can never be processed) or nack it (nothing can be made durable now).
 * An event the accept path rejects (normalization, size) counts against its own message only.
 */
export async function acceptMessages(
  acceptor: Acceptor,
  messages: readonly ConvertedMessage[],
  receivedAt: string,
): Promise<MessageOutcome[]> {
  const accepted = messages.map(() => 0);
  const failures = messages.map((m) => [...m.failures]);
  const retry: Array<{ retryAfterSeconds: number; reason: string } | undefined> = messages.map(
    () => undefined,
  );
  await Promise.all(
    chunksOf(messages).map(async (chunk) => {
      try {
        const result = await acceptor.accept({
          dataset: auditDataset,
          cluster: chunk.cluster,
          receivedAt,
          items: chunk.items.map((item, index) => ({
            index,
            raw: item.event,
            bytes: serializedSize(item.event),
          })),
        });
        const rejected = new Set<number>();
        for (const r of result.rejected.listed) {
          rejected.add(r.index);
          failures[chunk.items[r.index]!.message]!.push(r.reason);
        }
        chunk.items.forEach((item, index) => {
          if (!rejected.has(index)) accepted[item.message]! += 1;
        });
      } catch (err) {
        const retryAfterSeconds = err instanceof RetryLaterError ? err.retryAfterSeconds : 5;
        const reason = err instanceof Error ? err.message : String(err);
        for (const item of chunk.items) retry[item.message] = { retryAfterSeconds, reason };
      }
    }),
  );
  return messages.map((_, i): MessageOutcome => {
    const again = retry[i];
    if (again) return { kind: 'retry', ...again };
    if (accepted[i]! > 0) return { kind: 'accepted', events: accepted[i]! };
    return { kind: 'deadletter', reason: clip(failures[i]!.join('; ')) };
  });
}

/**
 * Dead letters in the log: the reason and the message id, never the payload, and at most `burst` lines at once,
 * one a second after that (a flood of bad messages is a count, not a flood of lines).
 */
export class DeadLetterLog {
  private readonly logger: Logger;
  private readonly source: string;
  private tokens: number;
  private readonly burst: number;
  private last = Date.now();
  private suppressed = 0;

  constructor(logger: Logger, source: string, burst = 20) {
    this.logger = logger;
    this.source = source;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Counts a dead-lettered message and logs why (rate-limited). */
  record(messageId: string | undefined, reason: string): void {
    pubsubMessages.inc({ source: this.source, outcome: 'deadlettered' });
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / 1000);
    this.last = now;
    if (this.tokens < 1) {
      this.suppressed++;
      return;
    }
    this.tokens -= 1;
    const more = this.suppressed > 0 ? { suppressed: this.suppressed } : {};
    this.suppressed = 0;
    this.logger.warn(
      { source: this.source, messageId, reason, ...more },
      'Pub/Sub message dead-lettered (acked, never processed)',
    );
  }
}
