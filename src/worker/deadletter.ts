import type { Bus, BusMessage, ConsumedMessage } from '../bus/types.ts';
import { deadletters } from '../metrics.ts';
import type { DeadLetterReason, Decoded } from './decode.ts';

/** Header names on dead letters: the reason, and where the message came from. */
export const DEADLETTER_HEADERS = {
  reason: 'klaxon-deadletter-reason',
  detail: 'klaxon-deadletter-detail',
  topic: 'klaxon-source-topic',
  partition: 'klaxon-source-partition',
  offset: 'klaxon-source-offset',
} as const;

export interface DeadLetter {
  reason: DeadLetterReason;
  /** Human-readable; truncated, and never holds more of the payload than the message itself. */
  detail: string;
  key: string | null;
  value: Buffer | string;
  source?: { topic: string; partition: number; offset: string };
}

/** A consumed message that could not be decoded, as a dead letter naming where it was read. */
export function undecodableLetter(
  m: ConsumedMessage,
  failure: Extract<Decoded<unknown>, { ok: false }>,
): DeadLetter {
  return {
    reason: failure.reason,
    detail: failure.detail,
    key: m.key,
    value: m.value,
    source: { topic: m.topic, partition: m.partition, offset: m.offset },
  };
}

export function deadLetterMessage(letter: DeadLetter): BusMessage {
  const headers: Record<string, string> = {
    [DEADLETTER_HEADERS.reason]: letter.reason,
    [DEADLETTER_HEADERS.detail]: letter.detail.slice(0, 1000),
  };
  if (letter.source) {
    headers[DEADLETTER_HEADERS.topic] = letter.source.topic;
    headers[DEADLETTER_HEADERS.partition] = String(letter.source.partition);
    headers[DEADLETTER_HEADERS.offset] = letter.source.offset;
  }
  return { key: letter.key, value: letter.value, headers };
}

/**
 * Sends dead letters and waits for Kafka's acknowledgement (the offsets of the batch they
 * came from are committed only afterwards); counts them by reason once acknowledged.
 */
export async function sendDeadLetters(
  bus: Pick<Bus, 'produce'>,
  topic: string,
  letters: readonly DeadLetter[],
): Promise<void> {
  if (letters.length === 0) return;
  await bus.produce(topic, letters.map(deadLetterMessage));
  for (const letter of letters) deadletters.inc({ reason: letter.reason });
}
