import { describe, expect, it } from 'vitest';
import { type Connectable, LazyProducer } from '../../../src/bus/lazy-producer.ts';

/** A producer that records what was asked of it; `connect` fails while `failing` says so. */
function producers(failing: () => boolean) {
  const made: Array<Connectable & { connects: number; disconnects: number }> = [];
  const make = () => {
    const p = {
      connects: 0,
      disconnects: 0,
      connect: async () => {
        p.connects++;
        await new Promise((r) => setTimeout(r, 5));
        if (failing()) throw new Error('broker down');
      },
      disconnect: async () => {
        p.disconnects++;
      },
    };
    made.push(p);
    return p;
  };
  return { made, make };
}

describe('LazyProducer', () => {
  it('makes and connects one producer however many callers ask while it connects', async () => {
    const { made, make } = producers(() => false);
    const lazy = new LazyProducer(make);
    const got = await Promise.all(Array.from({ length: 8 }, () => lazy.get()));
    expect(made).toHaveLength(1);
    expect(new Set(got).size).toBe(1);
    expect(made[0]!.connects).toBe(1);
    await lazy.close();
    expect(made[0]!.disconnects).toBe(1);
  });

  it('forgets a failed connect (disconnecting that producer) and tries again on the next call', async () => {
    let down = true;
    const { made, make } = producers(() => down);
    const lazy = new LazyProducer(make);
    const failed = await Promise.allSettled([lazy.get(), lazy.get()]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(made).toHaveLength(1);
    expect(made[0]!.disconnects).toBe(1);
    down = false;
    await lazy.get();
    expect(made).toHaveLength(2);
    await lazy.close();
    expect(made[1]!.disconnects).toBe(1);
  });

  it('closes a producer still connecting, and a later call connects a new one', async () => {
    const { made, make } = producers(() => false);
    const lazy = new LazyProducer(make);
    const first = lazy.get();
    await lazy.close();
    expect(await first).toBe(made[0]);
    expect(made[0]!.disconnects).toBe(1);
    await lazy.get();
    expect(made).toHaveLength(2);
    expect(made[1]!.disconnects).toBe(0);
  });
});
