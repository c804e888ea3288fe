import fc from 'fast-check';
import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rememberingPartitioner } from '../../../src/bus/partitioner.ts';

const metadata = (n: number): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
  }));

const args = (
  topic: string,
  partitions: number,
  key: string | null,
  partition?: number,
): PartitionerArgs => ({
  topic,
  partitionMetadata: metadata(partitions),
  message: { key, value: null, ...(partition === undefined ? {} : { partition }) },
});

describe('rememberingPartitioner', () => {
  it("gives every string key the default partitioner's partition, asked once or again", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string(), fc.integer({ min: 1, max: 64 }), fc.constantFrom('a', 'b')), {
          maxLength: 200,
        }),
        (asks) => {
          const remembering = rememberingPartitioner();
          const reference = Partitioners.DefaultPartitioner();
          for (const ask of [...asks, ...asks]) {
            const [key, partitions, topic] = ask;
            expect(remembering(args(topic, partitions, key))).toBe(reference(args(topic, partitions, key)));
          }
        },
      ),
    );
  });

  it('follows a change in the partition count instead of remembering the old partition', () => {
    const remembering = rememberingPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 50 }, (_, i) => `prod/system:serviceaccount:ci:runner-${i}`);
    for (const key of keys) remembering(args('klaxon.events', 6, key));
    const moved = keys.filter(
      (key) => reference(args('klaxon.events', 12, key)) !== reference(args('klaxon.events', 6, key)),
    );
    expect(moved.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(remembering(args('klaxon.events', 12, key))).toBe(reference(args('klaxon.events', 12, key)));
    }
  });

  it('keeps an explicit partition and spreads keyless messages', () => {
    const remembering = rememberingPartitioner();
    expect(remembering(args('t', 6, 'k', 4))).toBe(4);
    expect(remembering(args('t', 6, 'k'))).toBe(Partitioners.DefaultPartitioner()(args('t', 6, 'k')));
    const spread = new Set(Array.from({ length: 12 }, () => remembering(args('t', 6, null))));
    expect(spread.size).toBe(6);
  });

  it('stays right past the number of keys it remembers', () => {
    const remembering = rememberingPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    for (let i = 0; i < 25_000; i++) {
      const key = `c/user-${i % 12_000}`;
      expect(remembering(args('t', 7, key))).toBe(reference(args('t', 7, key)));
    }
  });
});
