/**
 * Decoding layers of cloud log deliveries (base64, gzip, JSON), each bounded so
 * that hostile input costs little: a small gzip that inflates to gigabytes stops
 * at the budget, a base64 string with stray characters is refused rather than
 * silently skipped, and nothing throws.
 */
import { gunzipSync } from 'node:zlib';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * What inflating may still cost across one delivery (a Firehose request, a
 * Pub/Sub message): every gunzip draws from it, so many small bombs in one
 * request cannot add up either.
 */
export interface InflateBudget {
  remaining: number;
}

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Strict base64 (RFC 4648 §4; `urlSafe` also accepts §5, as Pub/Sub's JSON may
 * use either): Node's decoder skips characters it does not know, which would let
 * a corrupted record decode into something else.
 */
export function decodeBase64(text: unknown, maxBytes: number, urlSafe = false): Decoded<Buffer> {
  if (typeof text !== 'string') return { ok: false, reason: 'expected a base64 string' };
  const padded = text.endsWith('=');
  if (text.length % 4 === 1 || (padded && text.length % 4 !== 0)) {
    return { ok: false, reason: 'invalid base64: wrong length' };
  }
  if (!STANDARD.test(text) && !(urlSafe && URL_SAFE.test(text))) {
    return { ok: false, reason: 'invalid base64: unexpected character' };
  }
  if (Math.floor((text.length * 3) / 4) > maxBytes + 2) {
    return { ok: false, reason: `decoded data larger than ${maxBytes} bytes` };
  }
  return { ok: true, value: Buffer.from(text, urlSafe ? 'base64url' : 'base64') };
}

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/** Inflates gzip data, stopping as soon as the output would exceed the budget. */
export function gunzipBounded(data: Uint8Array, budget: InflateBudget): Decoded<Buffer> {
  if (budget.remaining <= 0) return { ok: false, reason: 'decompressed size over the limit' };
  try {
    const out = gunzipSync(data, { maxOutputLength: budget.remaining });
    budget.remaining -= out.length;
    return { ok: true, value: out };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, reason: 'decompressed size over the limit' };
    }
    return { ok: false, reason: `invalid gzip: ${message(err)}` };
  }
}

/** JSON text to a value; a parse failure is a reason, never a throw. */
export function parseJson(text: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${message(err)}` };
  }
}

/**
 * Splits text made of JSON values written back to back (`{...}{...}`, as
 * Firehose concatenates CloudWatch Logs payloads when it batches them) into the
 * source of each top-level object or array. Undefined when the text is not such
 * a sequence; one value gives one element.
 */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 0) return undefined;
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      return undefined;
    }
  }
  return depth === 0 && !inString ? out : undefined;
}

/**
 * Bytes that hold JSON, gzip'd or not (told apart by the gzip magic), to the
 * values they contain: one document, or several written back to back.
 */
export function decodeJsonData(data: Uint8Array, budget: InflateBudget): Decoded<unknown[]> {
  let bytes: Uint8Array = data;
  if (isGzip(data)) {
    const inflated = gunzipBounded(data, budget);
    if (!inflated.ok) return inflated;
    bytes = inflated.value;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: 'invalid UTF-8' };
  }
  const whole = parseJson(text);
  if (whole.ok) return { ok: true, value: [whole.value] };
  const parts = splitConcatenatedJson(text);
  if (!parts || parts.length < 2) return whole;
  const values: unknown[] = [];
  for (const part of parts) {
    const parsed = parseJson(part);
    if (!parsed.ok) return parsed;
    values.push(parsed.value);
  }
  return { ok: true, value: values };
}
