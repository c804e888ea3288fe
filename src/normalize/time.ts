/** Time parsing for event timestamps: RFC 3339 strings and Falco's integer nanoseconds. */

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$/;
const MAX_EPOCH_NS = 253402300799999999999n; // 9999-12-31T23:59:59.999999999Z

/**
 * An RFC 3339 time as UTC `...Z`. A `Z` time keeps its own digits (audit
 * timestamps have microseconds, Falco's nanoseconds); an offset time is
 * converted (to millisecond precision). Anything else → undefined.
 */
export function canonicalTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 40 || !RFC3339.test(value)) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const last = value[value.length - 1];
  if (last === 'Z' || last === 'z') return `${value.slice(0, 10)}T${value.slice(11, -1)}Z`;
  return new Date(ms).toISOString();
}

/** Integer nanoseconds since the epoch (Falco's `evt.time`), or an RFC 3339 string. */
export function nanosOrTime(value: unknown): string | undefined {
  if (typeof value === 'string') return canonicalTime(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  const ns = BigInt(Math.trunc(value));
  if (ns > MAX_EPOCH_NS) return undefined;
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** Default of `NormalizeContext.maxAheadMs`: NTP-synchronised clocks are within seconds of each other. */
export const DEFAULT_MAX_AHEAD_MS = 60_000;

/**
 * `Date.parse` that remembers the last text it parsed: for times read many times in a row (a batch's receive
 * time for each of its events, an event's time for each of its matches).
 */
export function lastTimeParsed(): (text: string) => number {
  let last = '';
  let lastMs = Number.NaN;
  return (text) => {
    if (text !== last) {
      lastMs = Date.parse(text);
      last = text;
    }
    return lastMs;
  };
}

const receivedMs = lastTimeParsed();

/**
 * The time Klaxon files an event under: its own time, unless that is more than `maxAheadMs` ahead of when
 * Klaxon received it; then the receive time, with the event's claim returned beside it.
 */
export function boundedTimestamp(
  own: string,
  receivedAt: string | undefined,
  maxAheadMs: number = DEFAULT_MAX_AHEAD_MS,
): { timestamp: string; claimed?: string } {
  if (receivedAt === undefined) return { timestamp: own };
  const received = receivedMs(receivedAt);
  if (!(Date.parse(own) > received + maxAheadMs)) return { timestamp: own };
  return { timestamp: new Date(received).toISOString(), claimed: own };
}
