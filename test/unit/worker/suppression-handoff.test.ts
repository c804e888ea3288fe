// Suppression windows handed from the detect stage to the correlate stage (klaxon detect on
// Kafka): the detect stage turns matches of suppressing rules into suppression signals and
// commits only once the correlate stage delivered them; the correlate stage keeps the windows
// and rebuilds them, like correlation windows, when a partition changes hands.
import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../../../src/bus/types.ts';
import { contextOf } from '../../../src/detect/alert.ts';
import { Detector } from '../../../src/detect/detector.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { suppressionSignal } from '../../../src/detect/suppression-signal.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { Signal } from '../../../src/schema/signal.ts';
import type { RejectedAlert, Sink } from '../../../src/sinks/sink.ts';
import type { Chunk } from '../../../src/worker/chunk.ts';
import {
  BarrierTimeoutError,
  type CommitBarrier,
  type CommitMarks,
} from '../../../src/worker/commit-barrier.ts';
import { CorrelateStage, encodeCommitMeta } from '../../../src/worker/correlate-stage.ts';
import { deadLetterTopic } from '../../../src/worker/deadletter.ts';
import { DetectStage, signalMessage } from '../../../src/worker/detect-stage.ts';
import type { OffsetHistory } from '../../../src/worker/offset-history.ts';
import { clusterAdminBinding, failedAuth, writeTestRules } from '../../integration/detect-fixtures.ts';

class RecordingSink implements Sink {
  readonly name = 'recording';
  readonly stored: Alert[] = [];
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    this.stored.push(...alerts);
    return [];
  }
  async ready() {
    return true;
  }
  async close() {}
}

function recordingBus() {
  const sent: Array<{ topic: string; messages: BusMessage[] }> = [];
  return {
    sent,
    produce: async (topic: string, messages: BusMessage[]) => void sent.push({ topic, messages }),
  };
}

/** A barrier the test opens: `reached` fails until `open`. */
class TestBarrier implements CommitBarrier {
  readonly marked: string[][] = [];
  reachedCalls = 0;
  open = false;
  async mark(keys: readonly string[]): Promise<CommitMarks> {
    this.marked.push([...keys]);
    return new Map([[0, BigInt(keys.length)]]);
  }
  async reached(): Promise<void> {
    this.reachedCalls++;
    if (!this.open) throw new BarrierTimeoutError('correlate stage has not delivered yet');
  }
  close(): void {
    this.open = false;
  }
}

function chunkOf(topic: string, values: Array<string | object>, from = 0, timestamp = Date.now()): Chunk {
  return {
    topic,
    partition: 0,
    messages: values.map((v, i) => ({
      topic,
      partition: 0,
      offset: String(from + i),
      key: null,
      value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)),
      headers: {},
      timestamp,
    })),
  };
}

const rules = writeTestRules('handoff');
const { ruleset } = loadRules([rules.dir]);
const t0 = Date.parse('2025-03-14T09:00:00.000Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

/** The same binding again, `seconds` later, as another request: its suppression window's key. */
function again(first: NormalizedEvent, seconds: number, n: number): NormalizedEvent {
  const e = structuredClone(first);
  e['@timestamp'] = at(seconds);
  e.kubernetes!.audit.auditID = `${first.kubernetes!.audit.auditID}-${n}`;
  e.event.id = `${e.kubernetes!.audit.auditID}/ResponseComplete`;
  return e;
}

describe('the detect stage handing suppression windows over', () => {
  it('sends matches of suppressing rules as suppression signals and alerts nothing itself', async () => {
    const sink = new RecordingSink();
    const bus = recordingBus();
    const barrier = new TestBarrier();
    barrier.open = true;
    const stage = new DetectStage({
      newDetector: () => new Detector(ruleset),
      sinks: [sink],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
      handoff: { barrier },
    });
    const binding = clusterAdminBinding(at(0), 'mallory');
    const plan = stage.plan(
      chunkOf('events', [
        binding,
        again(binding, 30, 1),
        failedAuth(at(1), 'a', '192.0.2.1'),
        failedAuth(at(2), 'b', '192.0.2.1'),
      ]),
    );
    await plan.deliver();
    await plan.handedOver!();
    expect(sink.stored).toEqual([]);
    const signals = bus.sent
      .filter((s) => s.topic === 'signals')
      .flatMap((s) => s.messages)
      .map((m) => ({ key: m.key, signal: Signal.parse(JSON.parse(String(m.value))) }));
    const handed = signals.filter((s) => s.signal.kind === 'suppression');
    expect(handed.map((s) => s.signal.event_id)).toEqual([
      binding.event.id,
      `${binding.event.id.split('/')[0]}-1/ResponseComplete`,
    ]);
    expect(new Set(handed.map((s) => s.key)).size).toBe(1);
    expect(handed.every((s) => s.key === s.signal.key)).toBe(true);
    expect(signals.filter((s) => s.signal.kind === undefined)).toHaveLength(2);
    expect(barrier.marked).toEqual([[handed[0]!.key, handed[1]!.key]]);
  });

  it('is committed only once the correlate stage has the signals, without producing them twice', async () => {
    const bus = recordingBus();
    const barrier = new TestBarrier();
    const stage = new DetectStage({
      newDetector: () => new Detector(ruleset),
      sinks: [new RecordingSink()],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
      handoff: { barrier },
    });
    const plan = stage.plan(chunkOf('events', [clusterAdminBinding(at(0), 'eve')]));
    await plan.deliver();
    expect(plan.handedOver).toBeDefined();
    await expect(plan.handedOver!()).rejects.toBeInstanceOf(BarrierTimeoutError);
    await expect(plan.handedOver!()).rejects.toBeInstanceOf(BarrierTimeoutError);
    barrier.open = true;
    await plan.handedOver!();
    expect(bus.sent.filter((s) => s.topic === 'signals')).toHaveLength(1);
    // Marked once, after the signals were acknowledged; only the wait is retried.
    expect(barrier.marked).toHaveLength(1);
    expect(barrier.reachedCalls).toBe(3);
    // A chunk that handed nothing over commits as soon as it is delivered.
    const quiet = stage.plan(chunkOf('events', [failedAuth(at(1), 'a', '192.0.2.9')]));
    await quiet.deliver();
    expect(quiet.handedOver).toBeUndefined();
  });

  it('keeps windows of its own without a barrier (signals that do not outlive the process)', async () => {
    const sink = new RecordingSink();
    const bus = recordingBus();
    const stage = new DetectStage({
      newDetector: () => new Detector(ruleset),
      sinks: [sink],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
    });
    const binding = clusterAdminBinding(at(0), 'trent');
    await stage.plan(chunkOf('events', [binding, again(binding, 30, 1)])).deliver();
    expect(sink.stored.map((a) => [a.rule.name, a.klaxon.revision])).toEqual([[rules.admin, 0]]);
    expect(bus.sent.flatMap((s) => s.messages)).toEqual([]);
  });
});

/** Committed history of one partition, as Kafka would tell a replica assigned to it. */
function history(committed: bigint, meta: { w: number; p: number }, from: bigint): OffsetHistory {
  return {
    committed: async () => ({ offset: committed, metadata: encodeCommitMeta(meta) }),
    offsetAt: async () => from,
  };
}

function correlateStage(sink: Sink, h: OffsetHistory): CorrelateStage {
  const bus = recordingBus();
  return new CorrelateStage({
    newDetector: () => new Detector(ruleset),
    sinks: [sink],
    history: h,
    deadLetters: deadLetterTopic(bus, 'dead'),
    maxTimespanMs: 10 * 60_000,
    latenessMs: 90_000,
  });
}

describe('the correlate stage keeping suppression windows', () => {
  const binding = clusterAdminBinding(at(0), 'mallory');
  const rule = ruleset.rules.find((r) => r.name === rules.admin)!;
  const handed = (e: NormalizedEvent) =>
    JSON.parse(String(signalMessage(suppressionSignal(rule, e, contextOf(e))).value));
  const first = handed(binding);
  const second = handed(again(binding, 60, 1));
  const third = handed(again(binding, 120, 2));
  const none: OffsetHistory = { committed: async () => undefined, offsetAt: async () => undefined };

  it('raises one alert per window and folds the rest into it', async () => {
    const sink = new RecordingSink();
    const stage = correlateStage(sink, none);
    for (const [i, s] of [first, second, third].entries())
      await (await stage.plan(chunkOf('signals', [s], i))).deliver();
    expect(sink.stored.map((a) => [a.rule.name, a.klaxon.revision])).toEqual([[rules.admin, 0]]);
    expect(stage.close().map((a) => [a.klaxon.alert_id, a.klaxon.revision, a.klaxon.count])).toEqual([
      [sink.stored[0]!.klaxon.alert_id, 1, 3],
    ]);
  });

  it('rebuilds a window from the signals topic when the partition changes hands: no second alert', async () => {
    const before = new RecordingSink();
    const old = correlateStage(before, none);
    const firstPlan = await old.plan(chunkOf('signals', [first], 0, t0));
    await firstPlan.deliver();
    expect(firstPlan.outcome).toMatchObject({ kind: 'commit' });
    const meta = { w: t0, p: t0 };
    // The replica dies after committing offset 0. The next owner starts at the committed offset 1.
    const after = new RecordingSink();
    const next = correlateStage(after, history(1n, meta, 0n));
    const start = await next.plan(chunkOf('signals', [second], 1));
    expect(start.outcome).toEqual({ kind: 'seek', offset: '0' });
    // From the rewound offset: offset 0 is replayed silently, offset 1 (the second match) is live.
    const rebuilt = await next.plan(chunkOf('signals', [first, second], 0));
    await rebuilt.deliver();
    expect(after.stored).toEqual([]);
    const closed = next.close();
    expect(closed.map((a) => [a.klaxon.alert_id, a.klaxon.revision, a.klaxon.count])).toEqual([
      [before.stored[0]!.klaxon.alert_id, 1, 2],
    ]);
  });

  it('raises the same alert, same id, when the partition changes hands between delivery and commit', async () => {
    const before = new RecordingSink();
    await (await correlateStage(before, none).plan(chunkOf('signals', [first], 0))).deliver();
    // Delivered, never committed: the next owner reads offset 0 again, live.
    const after = new RecordingSink();
    await (await correlateStage(after, none).plan(chunkOf('signals', [first, second], 0))).deliver();
    expect(after.stored.map((a) => a.klaxon.alert_id)).toEqual(before.stored.map((a) => a.klaxon.alert_id));
    expect(after.stored.map((a) => a['@timestamp'])).toEqual(before.stored.map((a) => a['@timestamp']));
  });
});
