import { isRecord } from '../normalize/redact.ts';

/**
 * Completes a Hubble test event of a rule's `tests:` the way the exporter
 * would have written it: the time (the test's base time + `at`, with
 * nanoseconds) on the flow, bare or inside its `{"flow": …}` record. What the
 * test gives is kept.
 */
export function fillFlowTestEvent(event: Record<string, unknown>, ms: number): Record<string, unknown> {
  const time = new Date(ms).toISOString().replace(/Z$/, '000000Z');
  if (isRecord(event.flow)) return { time, ...event, flow: { time, ...event.flow } };
  return { time, ...event };
}
