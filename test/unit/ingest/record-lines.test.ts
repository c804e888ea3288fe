import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { moreRecordLinesThan } from '../../../src/ingest/record-lines.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const buf = (text: string) => Buffer.from(text);

describe('moreRecordLinesThan', () => {
  it('counts one per JSON line and one per pretty-printed record', () => {
    const lines = readFileSync(join(FIXTURES, 'drop-networkpolicy.jsonl'));
    expect(moreRecordLinesThan(lines, 4)).toBe(false);
    expect(moreRecordLinesThan(lines, 3)).toBe(true);
    const pretty = readFileSync(join(FIXTURES, 'observe-jq-pretty.json'), 'utf8');
    const records = (pretty.match(/^\{/gm) ?? []).length;
    expect(records).toBeGreaterThan(1);
    expect(pretty.split('\n').length).toBeGreaterThan(records * 10);
    expect(moreRecordLinesThan(buf(pretty), records)).toBe(false);
    expect(moreRecordLinesThan(buf(pretty), records - 1)).toBe(true);
  });

  it('skips a byte-order mark and leading blanks, and counts arrays as records', () => {
    expect(moreRecordLinesThan(buf('\ufeff\n  {"a":1}\n{"b":2}\n'), 1)).toBe(true);
    expect(moreRecordLinesThan(buf('\ufeff\n  {"a":1}\n{"b":2}\n'), 2)).toBe(false);
    expect(moreRecordLinesThan(buf('[]\n[]\n[]'), 2)).toBe(true);
    expect(moreRecordLinesThan(buf(''), 0)).toBe(false);
    expect(moreRecordLinesThan(buf('not json\nat all'), 0)).toBe(false);
  });

  it('stops early on a body of millions of tiny records', () => {
    expect(moreRecordLinesThan(buf('{}\n'.repeat(2_000_000)), 50_000)).toBe(true);
  });
});
