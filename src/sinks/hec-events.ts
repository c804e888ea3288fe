import { z } from 'zod';
import type { Alert } from '../schema/alert.ts';

/**
 * Splunk HTTP Event Collector payloads (`POST /services/collector/event`): one JSON object
 * per event, objects concatenated in one request body (HEC's batch format, not a JSON
 * array), and HEC's answers. Pure functions.
 */

export interface HecEventOptions {
  sourcetype: string;
  source: string;
  index?: string;
  /** HEC `host`; unset → the alert's cluster name (from Klaxon's credential mapping), else Klaxon's host. */
  host?: string;
  fallbackHost: string;
}

/** One event object: `time` is the event's epoch seconds (milliseconds as decimals). */
export function hecEvent(alert: Alert, opts: HecEventOptions): Record<string, unknown> {
  const t = Date.parse(alert['@timestamp']);
  const event: Record<string, unknown> = {
    time: Number.isNaN(t) ? undefined : t / 1000,
    host: opts.host ?? alert.orchestrator?.cluster?.name ?? opts.fallbackHost,
    source: opts.source,
    sourcetype: opts.sourcetype,
    index: opts.index,
    event: alert,
    // Indexed fields: searchable without extracting the JSON (`rule::k8s-...`).
    fields: {
      rule: alert.rule.name,
      severity: alert.klaxon.severity,
      alert_id: alert.klaxon.alert_id,
      ...(alert.orchestrator?.cluster?.name ? { cluster: alert.orchestrator.cluster.name } : {}),
    },
  };
  for (const key of Object.keys(event)) if (event[key] === undefined) delete event[key];
  return event;
}

/**
 * Cuts the serialized events into request bodies of at most `maxEvents` events and
 * `maxBytes` bytes (an event larger than `maxBytes` travels alone). Returns the index
 * ranges, so the caller knows which alerts each request carries.
 */
export function hecBatches(
  serialized: readonly string[],
  maxEvents: number,
  maxBytes: number,
): Array<{ from: number; to: number; body: string }> {
  const batches: Array<{ from: number; to: number; body: string }> = [];
  let from = 0;
  let size = 0;
  for (let i = 0; i < serialized.length; i++) {
    const bytes = Buffer.byteLength(serialized[i]!, 'utf8');
    if (i > from && (i - from >= maxEvents || size + bytes > maxBytes)) {
      batches.push({ from, to: i, body: serialized.slice(from, i).join('') });
      from = i;
      size = 0;
    }
    size += bytes;
  }
  if (from < serialized.length)
    batches.push({ from, to: serialized.length, body: serialized.slice(from).join('') });
  return batches;
}

/** HEC's answer to an event request: `{"text":"Success","code":0}`, plus `ackId` with acknowledgement on. */
export const HecResponse = z.object({
  text: z.string().optional(),
  code: z.number().int(),
  ackId: z.number().int().nonnegative().optional(),
  'invalid-event-number': z.number().int().nonnegative().optional(),
});
export type HecResponse = z.infer<typeof HecResponse>;

/** HEC's answer to `POST /services/collector/ack`: `{"acks":{"0":true,"1":false}}`. */
export const HecAckResponse = z.object({ acks: z.record(z.string(), z.boolean()) });

export type HecVerdict =
  /** Stored (or, with acknowledgement on, accepted with an ack id to confirm). */
  | { kind: 'ok' }
  /** Retrying cannot help: these alerts go to the dead-letter topic. */
  | { kind: 'rejected'; reason: string; invalidEvent?: number }
  /** Try again later: the collector is busy, down, or refuses the token (an operator fixes that). */
  | { kind: 'retry'; reason: string };

/**
 * What an HTTP status and HEC code mean for delivery (Splunk's HEC status codes). Token
 * problems (401/403) are retried rather than dropped: they are configuration errors an
 * operator fixes, and dropping alerts meanwhile would lose them.
 */
export function classifyHec(status: number, body: HecResponse | undefined): HecVerdict {
  const reason = `status ${status}${body ? ` code ${body.code}${body.text ? ` (${body.text})` : ''}` : ''}`;
  if (status >= 200 && status < 300 && (body === undefined || body.code === 0)) return { kind: 'ok' };
  if (status === 400 || status === 413) {
    // 10/11: the ack channel is missing or unknown to this collector (restarted, or behind another load-balanced instance).
    if (body && (body.code === 10 || body.code === 11)) return { kind: 'retry', reason };
    return { kind: 'rejected', reason, invalidEvent: body?.['invalid-event-number'] };
  }
  return { kind: 'retry', reason };
}
