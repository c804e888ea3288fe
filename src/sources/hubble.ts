/**
 * Hubble flows as text: the exporter's file and `hubble observe -o jsonpb`
 * (one JSON record a line), a JSON array of records or flows (a log shipper's
 * batch), one JSON object, or pretty-printed records one after the other
 * (`hubble observe -o jsonpb | jq .`). Items are not validated here: the
 * normalizer says why one is not a flow.
 */

import { concatenatedValues } from './json-sequence.ts';

export type HubbleTextItem = { index: number; raw: unknown } | { index: number; error: string };
export type ParsedHubbleText = { items: HubbleTextItem[] } | { error: string };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function parseLine(line: string, index: number): HubbleTextItem {
  try {
    return { index, raw: JSON.parse(line) as unknown };
  } catch (err) {
    return { index, error: `invalid JSON: ${message(err)}` };
  }
}

/** A line that holds a record (an object, or an array of them), not a scalar or a fragment of a pretty-printed one. */
function isRecordItem(item: HubbleTextItem): boolean {
  return 'raw' in item && item.raw !== null && typeof item.raw === 'object';
}

/**
 * Splits a body or file of Hubble records into items. A whole-text array
 * gives its elements; JSON lines give one item per non-blank line (`index`
 * counts them, and a line that is not JSON is an error item, so one torn
 * line at a file rotation loses nothing else). The text as a whole is refused
 * only when no record (JSON object or array) is in it.
 */
export function parseHubbleText(text: string): ParsedHubbleText {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const trimmed = body.trim();
  if (trimmed === '') return { error: 'empty body' };
  let wholeError: string;
  try {
    const whole: unknown = JSON.parse(trimmed);
    if (Array.isArray(whole)) return { items: whole.map((raw, index) => ({ index, raw })) };
    return { items: [{ index: 0, raw: whole }] };
  } catch (err) {
    wholeError = message(err);
  }
  const lines = trimmed.split('\n').filter((line) => line.trim() !== '');
  const items = lines.map(parseLine);
  // jq's pretty output starts with a line that is no record on its own (`{`).
  if (!isRecordItem(items[0]!)) {
    const values = concatenatedValues(trimmed);
    if (values) return { items: values.map(({ value }, index) => ({ index, raw: value })) };
  }
  if (items.some(isRecordItem)) return { items };
  return { error: `invalid JSON: ${wholeError}` };
}
