import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHubbleText } from '../../../src/sources/hubble.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const read = (file: string) => readFileSync(join(FIXTURES, file), 'utf8');

function raws(text: string): unknown[] {
  const parsed = parseHubbleText(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.items.map((item) => ('raw' in item ? item.raw : item.error));
}

describe('parseHubbleText: exporter files, hubble observe output, shipper batches', () => {
  const lines = read('drop-networkpolicy.jsonl');
  const expected = lines
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

  it('reads the exporter file and hubble observe -o jsonpb output: one record a line', () => {
    expect(raws(lines)).toEqual(expected);
    expect(raws(read('observe-ipv6.jsonl'))).toHaveLength(3);
    expect(raws(lines.replaceAll('\n', '\r\n'))).toEqual(expected);
  });

  it('reads a JSON array (a log shipper’s batch) and a single record', () => {
    expect(raws(JSON.stringify(expected))).toEqual(expected);
    expect(raws(JSON.stringify(expected[0]))).toEqual([expected[0]]);
  });

  it('reads pretty-printed records one after another (hubble observe -o jsonpb | jq .)', () => {
    expect(raws(read('observe-jq-pretty.json'))).toEqual(expected);
  });

  it('a torn line (the agent restarted mid-write) is an error item; the other lines go through', () => {
    const [first, second, third] = lines.split('\n');
    const parsed = parseHubbleText(`${first}\n${second!.slice(0, 200)}\n\n${third}\n`);
    if ('error' in parsed) throw new Error(parsed.error);
    expect(parsed.items).toHaveLength(3);
    expect(parsed.items[0]).toEqual({ index: 0, raw: expected[0] });
    expect(parsed.items[1]).toMatchObject({ index: 1, error: expect.stringMatching(/^invalid JSON: /) });
    expect(parsed.items[2]).toEqual({ index: 2, raw: expected[2] });
  });

  it('refuses a body with nothing in it, or no JSON at all', () => {
    expect(parseHubbleText('')).toEqual({ error: 'empty body' });
    expect(parseHubbleText(' \n\t')).toEqual({ error: 'empty body' });
    expect(parseHubbleText('not json\nat all')).toMatchObject({
      error: expect.stringMatching(/^invalid JSON: /),
    });
    expect(parseHubbleText('{"flow": {')).toMatchObject({ error: expect.stringMatching(/^invalid JSON: /) });
  });

  it('skips a byte-order mark', () => {
    expect(raws(`\ufeff${lines}`)).toEqual(expected);
  });
});
