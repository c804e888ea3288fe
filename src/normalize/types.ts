import type { NormalizedEvent } from '../schema/event.ts';

/** What the normalizer needs besides the raw payload. */
export interface NormalizeContext {
  /** From the credential that sent the event, never from the payload. */
  cluster: string;
  /** ISO time the event reached Klaxon (for `event.ingested`, and `@timestamp` when the event has none). */
  receivedAt?: string;
}

export type NormalizeResult = { ok: true; event: NormalizedEvent } | { ok: false; reason: string };
