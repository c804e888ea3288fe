import type { Alert } from '../schema/alert.ts';

/** An alert a sink refused for good (e.g. a mapping error): it goes to the dead-letter topic. */
export interface RejectedAlert {
  alert: Alert;
  sink: string;
  reason: string;
}

/**
 * Where alerts go. Every sink is idempotent by `klaxon.alert_id` (and `revision`), so the
 * worker may write the same batch again after a failure without duplicating anything.
 */
export interface Sink {
  readonly name: string;
  /**
   * Stores every alert or rejects it for good. Rejects (throws) when the sink is unreachable
   * after its bounded retries: the caller must then not commit, and try again later.
   */
  write(alerts: readonly Alert[]): Promise<RejectedAlert[]>;
  /** Reachable right now (for `/readyz`). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** The sink could not be reached or kept failing transiently; nothing may be committed. */
export class SinkUnavailableError extends Error {
  readonly sink: string;
  constructor(sink: string, message: string, options?: { cause?: unknown }) {
    super(`${sink}: ${message}`, options);
    this.name = 'SinkUnavailableError';
    this.sink = sink;
  }
}

/**
 * Writes the alerts to every sink at once and waits for all of them, so a failing sink
 * does not leave another's write dangling. Throws the first failure; returns every
 * rejection otherwise.
 */
export async function writeToAll(sinks: readonly Sink[], alerts: readonly Alert[]): Promise<RejectedAlert[]> {
  if (alerts.length === 0) return [];
  const results = await Promise.allSettled(sinks.map((s) => s.write(alerts)));
  const rejected: RejectedAlert[] = [];
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
    rejected.push(...result.value);
  }
  return rejected;
}

/** Every sink answers; used by `/readyz`. */
export async function allReady(sinks: readonly Sink[]): Promise<boolean> {
  const states = await Promise.all(sinks.map((s) => s.ready().catch(() => false)));
  return states.every(Boolean);
}
