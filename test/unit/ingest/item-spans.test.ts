import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { itemSizes, itemSpans } from '../../../src/ingest/item-spans.ts';

const otherKey = fc.string().filter((k) => k !== 'items');
const sizesOf = (items: unknown[]) => items.map((i) => Buffer.byteLength(JSON.stringify(i)));

describe('itemSizes', () => {
  it('measures the elements of a top-level array and of an EventList', () => {
    const items = [{ a: 'x"y\\' }, { b: ['[', '{', '}'] }, 'str', 12, null, { c: 'é☃' }];
    expect(itemSizes(Buffer.from(JSON.stringify(items)))).toEqual(sizesOf(items));
    const list = { kind: 'EventList', metadata: { items: [1] }, items };
    expect(itemSizes(Buffer.from(JSON.stringify(list)))).toEqual(sizesOf(items));
  });

  it('follows the last "items" key, as JSON.parse does, and tolerates whitespace', () => {
    const text = '{ "items" : [1,2,3] ,\n "kind": "EventList", "items": [ {"a" : 1} , "b" ] }';
    expect(itemSizes(Buffer.from(text))).toEqual([9, 3]);
  });

  it('returns undefined for an object without items', () => {
    expect(itemSizes(Buffer.from('{"kind":"Event"}'))).toBeUndefined();
  });

  it('agrees with JSON.stringify on arbitrary JSON arrays', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), (items) => {
        expect(itemSizes(Buffer.from(JSON.stringify(items)))).toEqual(sizesOf(items));
      }),
    );
  });

  it('agrees with JSON.stringify on EventLists with arbitrary other fields around the items', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue()),
        fc.dictionary(otherKey, fc.jsonValue()),
        fc.dictionary(otherKey, fc.jsonValue()),
        (items, before, after) => {
          const text = `{${JSON.stringify(before).slice(1, -1)}${Object.keys(before).length > 0 ? ',' : ''}"items":${JSON.stringify(items)}${Object.keys(after).length > 0 ? ',' : ''}${JSON.stringify(after).slice(1, -1)}}`;
          expect(itemSizes(Buffer.from(text))).toEqual(sizesOf(items));
        },
      ),
    );
  });

  it('counts the object members of each item, duplicates included', () => {
    const members = (v: unknown): number =>
      v === null || typeof v !== 'object'
        ? 0
        : Array.isArray(v)
          ? v.reduce((n: number, x) => n + members(x), 0)
          : Object.values(v).reduce((n: number, x) => n + 1 + members(x), 0);
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), (items) => {
        const spans = itemSpans(Buffer.from(JSON.stringify(items)));
        expect(spans === undefined || typeof spans === 'symbol' ? undefined : spans.members).toEqual(
          items.map(members),
        );
      }),
    );
    const text = '{"items":[{"a":1,"a":{"b":":"}},{"c":[{"d":2}]}]}';
    const spans = itemSpans(Buffer.from(text));
    expect(typeof spans === 'object' ? spans.members : spans).toEqual([3, 2]);
  });
});
