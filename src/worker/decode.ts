import type { z } from 'zod';
import { compiledCheck } from '../schema/compiled-check.ts';
import { NormalizedEvent } from '../schema/event.ts';
import { Signal } from '../schema/signal.ts';

const isNormalizedEvent = compiledCheck(NormalizedEvent);
const isSignal = compiledCheck(Signal);

/** Why a message went to the dead-letter topic: a small fixed set (it is a metric label). */
export type DeadLetterReason =
  | 'invalid-json'
  | 'invalid-event'
  | 'invalid-signal'
  | 'sink-rejected'
  /** A valid event the rules could not be evaluated on (a defect in a rule or the engine). */
  | 'evaluation-failed';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: DeadLetterReason; detail: string };

function parseJson(bytes: Buffer): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) };
  } catch (error) {
    return {
      ok: false,
      reason: 'invalid-json',
      detail: error instanceof Error ? error.message : String(error),
    };
  }
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * The message as `schema` reads it. The compiled check passes nearly every message without zod's copy of it
 * (each event consumed paid for a deep copy); zod decides the rest, and gives the reason.
 */
function decodeAs<T>(
  schema: z.ZodType<T>,
  exact: (value: unknown) => value is T,
  invalid: DeadLetterReason,
  bytes: Buffer,
): Decoded<T> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  if (exact(json.value)) return { ok: true, value: json.value };
  const parsed = schema.safeParse(json.value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, reason: invalid, detail: describeIssues(parsed.error.issues) };
}

/** A `klaxon.events` message → the normalized event, or why not. */
export function decodeEvent(bytes: Buffer): Decoded<NormalizedEvent> {
  return decodeAs(NormalizedEvent, isNormalizedEvent, 'invalid-event', bytes);
}

/** A `klaxon.signals` message → the signal, or why not. */
export function decodeSignal(bytes: Buffer): Decoded<Signal> {
  return decodeAs(Signal, isSignal, 'invalid-signal', bytes);
}
