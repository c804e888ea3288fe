import { describe, expect, it } from 'vitest';
import { type Linked, LinkedList } from '../../../src/detect/linked-list.ts';

interface Item extends Linked<Item> {
  id: number;
}
const item = (id: number): Item => ({ id, older: undefined, newer: undefined });

function ids(list: LinkedList<Item>): number[] {
  const forward: number[] = [];
  for (let i = list.oldest; i; i = i.newer) forward.push(i.id);
  const backward: number[] = [];
  for (let i = list.newest; i; i = i.older) backward.push(i.id);
  expect(backward.reverse()).toEqual(forward);
  return forward;
}

describe('LinkedList', () => {
  it('appends, inserts after an item or first, and removes from either end or the middle', () => {
    const list = new LinkedList<Item>();
    const [a, b, c, d, e] = [1, 2, 3, 4, 5].map(item) as [Item, Item, Item, Item, Item];
    list.append(a);
    list.append(b);
    list.insertAfter(a, c);
    list.insertAfter(undefined, d);
    list.insertAfter(b, e);
    expect(ids(list)).toEqual([4, 1, 3, 2, 5]);
    list.remove(d);
    list.remove(e);
    list.remove(c);
    expect(ids(list)).toEqual([1, 2]);
    expect(c.older).toBeUndefined();
    expect(c.newer).toBeUndefined();
    list.remove(a);
    list.remove(b);
    expect(ids(list)).toEqual([]);
    list.append(c);
    expect(ids(list)).toEqual([3]);
    list.clear();
    expect(ids(list)).toEqual([]);
  });
});
