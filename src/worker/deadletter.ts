import type { Bus, BusMessage, ConsumedMessage } from '../bus/types.ts';
import type { Logger } from '../log.ts';
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

/** Where dead letters go. Each is counted in `klaxon_deadletter_total` by reason once it is there. */
export interface DeadLetterOutput {
  /** Resolves once every letter is kept; the chunk they came from is committed only afterwards. */
  send(letters: readonly DeadLetter[]): Promise<void>;
}

/** The dead-letter topic (`klaxon detect`): the original bytes, with the reason and source in headers. */
export function deadLetterTopic(bus: Pick<Bus, 'produce'>, topic: string): DeadLetterOutput {
  return {
    async send(letters) {
      if (letters.length === 0) return;
      await bus.produce(topic, letters.map(deadLetterMessage));
      for (const letter of letters) deadletters.inc({ reason: letter.reason });
    },
  };
}

/**
 * One log line per dead letter (`klaxon serve`): a topic nobody consumes would only fill the
 * in-memory bus. The line names the reason and where the message was read, never its bytes.
 */
export function deadLetterLog(logger: Logger): DeadLetterOutput {
  return {
    async send(letters) {
      for (const letter of letters) {
        logger.error(
          {
            reason: letter.reason,
            detail: letter.detail.slice(0, 1000),
            key: letter.key,
            bytes: Buffer.byteLength(letter.value),
            ...(letter.source ?? {}),
          },
          `dead letter: ${letter.reason}`,
        );
        deadletters.inc({ reason: letter.reason });
      }
    },
  };
}
