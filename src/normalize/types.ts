import type { NormalizedEvent } from '../schema/event.ts';

/** What the normalizer needs besides the raw payload. */
export interface NormalizeContext {
  /** From the credential that sent the event, never from the payload. */
  cluster: string;
  /** ISO time the event reached Klaxon (for `event.ingested`, and `@timestamp` when the event has none). */
  receivedAt?: string;
  /**
   * How far (ms) an event's own time may be ahead of `receivedAt` (clock skew between its sender and Klaxon).
   * Beyond it, `@timestamp` is the receive time and the claimed time is kept in `klaxon.claimed_timestamp`:
   * a sender must not be able to date events into the future, where they would move clocks and windows.
   */
  maxAheadMs?: number;
}

export type NormalizeResult =
  | { ok: true; event: NormalizedEvent }
  /**
   * `skip`: a well-formed record of the stream that holds no event (a Hubble lost-events notice, an agent
   * event): not bad input, so readers count it apart from what they reject.
   */
  | { ok: false; reason: string; skip?: true };
