import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import type { ConsumedBatch } from '../../../src/bus/types.ts';
import { BusUnavailableError } from '../../../src/bus/types.ts';

const msgs = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m${from + i}` }));

function collector() {
  const seen: string[] = [];
  let wake: () => void = () => {};
  return {
    seen,
    until: (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => seen.length >= n && resolve();
        wake();
      }),
    handle: async (batch: ConsumedBatch) => {
      for (const m of batch.messages) seen.push(m.value.toString());
      wake();
    },
  };
}

describe('MemoryBus', () => {
  it('delivers in order to each group, from the beginning when asked', async () => {
    const bus = new MemoryBus();
    await bus.start();
    await bus.produce('t', msgs(3));
    const a = collector();
    const b = collector();
    await bus.subscribe({ groupId: 'a', topics: ['t'], fromBeginning: true, handleBatch: a.handle });
    await bus.subscribe({ groupId: 'b', topics: ['t'], handleBatch: b.handle });
    await bus.produce('t', msgs(2, 3));
    await a.until(5);
    await b.until(2);
    expect(a.seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(b.seen).toEqual(['m3', 'm4']);
    await bus.stop();
  });

  it('redelivers a batch whose handler failed (at-least-once)', async () => {
    const bus = new MemoryBus();
    await bus.start();
    const seen: string[] = [];
    let failures = 1;
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value.toString()));
        if (failures-- > 0) throw new Error('sink down');
        done();
      },
    });
    await bus.produce('t', msgs(2));
    await finished;
    expect(seen).toEqual(['m0', 'm1', 'm0', 'm1']);
    await bus.stop();
  });

  it('applies backpressure: produce waits while the topic is full, then fails after its timeout', async () => {
    const bus = new MemoryBus({ capacity: 4, produceTimeoutMs: 50 });
    await bus.start();
    await bus.produce('t', msgs(4));
    await expect(bus.produce('t', msgs(1))).rejects.toBeInstanceOf(BusUnavailableError);
    const c = collector();
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: c.handle,
    });
    await c.until(4);
    await bus.produce('t', msgs(1, 4));
    await c.until(5);
    expect(c.seen).toHaveLength(5);
    sub.pause();
    await bus.produce('t', msgs(1, 5));
    await new Promise((r) => setTimeout(r, 20));
    expect(c.seen).toHaveLength(5);
    sub.resume();
    await c.until(6);
    await bus.stop();
    expect(await bus.ready()).toBe(false);
  });
});
