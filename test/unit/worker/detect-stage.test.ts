import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../../../src/bus/types.ts';
import { Detector } from '../../../src/detect/detector.ts';
import { loadRules } from '../../../src/detect/load.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { Signal } from '../../../src/schema/signal.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from '../../../src/sinks/sink.ts';
import type { Chunk } from '../../../src/worker/chunk.ts';
import { deadLetterTopic } from '../../../src/worker/deadletter.ts';
import { DetectStage } from '../../../src/worker/detect-stage.ts';
import { clusterAdminBinding, failedAuth, writeTestRules } from '../../integration/detect-fixtures.ts';

/** A sink that is down for the first `failures` writes. */
class FlakySink implements Sink {
  readonly name = 'flaky';
  readonly stored: Alert[] = [];
  private failures: number;
  constructor(failures: number) {
    this.failures = failures;
  }
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    if (this.failures-- > 0) throw new SinkUnavailableError(this.name, 'down');
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

function chunkOf(values: Array<string | object>): Chunk {
  return {
    topic: 'events',
    partition: 0,
    messages: values.map((v, i) => ({
      topic: 'events',
      partition: 0,
      offset: String(i),
      key: null,
      value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)),
      headers: {},
      timestamp: 0,
    })),
  };
}

describe('DetectStage', () => {
  const rules = writeTestRules('unit');
  const { ruleset } = loadRules([rules.dir]);
  const t = '2025-03-14T09:00:00.000Z';

  it('re-keys correlation matches to signals by group key, alerts detection rules, dead-letters junk', async () => {
    const sink = new FlakySink(0);
    const bus = recordingBus();
    const stage = new DetectStage({
      newDetector: () => new Detector(ruleset),
      sinks: [sink],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
    });
    const plan = stage.plan(
      chunkOf([
        clusterAdminBinding(t, 'mallory'),
        failedAuth(t, 'a', '192.0.2.1'),
        failedAuth(t, 'b', '192.0.2.1'),
        '{',
      ]),
    );
    await plan.deliver();
    expect(plan.outcome).toEqual({ kind: 'commit' });
    expect(sink.stored.map((a) => a.rule.name)).toEqual([rules.admin]);
    const signals = bus.sent.filter((s) => s.topic === 'signals').flatMap((s) => s.messages);
    expect(signals).toHaveLength(2);
    expect(new Set(signals.map((m) => m.key)).size).toBe(1);
    const signal = Signal.parse(JSON.parse(String(signals[0]!.value)));
    expect(signals[0]!.key).toBe(signal.key);
    expect(signal.group).toEqual({ 'source.ip': '192.0.2.1' });
    expect(bus.sent.filter((s) => s.topic === 'dead').flatMap((s) => s.messages)).toHaveLength(1);
  });

  it('delivers the same alerts again when a sink failed, without evaluating twice', async () => {
    const sink = new FlakySink(1);
    const bus = recordingBus();
    const stage = new DetectStage({
      newDetector: () => new Detector(ruleset),
      sinks: [sink],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
    });
    const plan = stage.plan(chunkOf([clusterAdminBinding(t, 'mallory')]));
    await expect(plan.deliver()).rejects.toBeInstanceOf(SinkUnavailableError);
    await plan.deliver();
    expect(sink.stored.map((a) => [a.rule.name, a.klaxon.revision])).toEqual([[rules.admin, 0]]);
  });

  it('turns an event the rules cannot be evaluated on into a dead letter and goes on with the others', async () => {
    const sink = new FlakySink(0);
    const bus = recordingBus();
    const poison = clusterAdminBinding(t, 'poison');
    const stage = new DetectStage({
      newDetector: () => {
        const detector = new Detector(ruleset);
        const evaluate = detector.evaluate.bind(detector);
        detector.evaluate = (event) => {
          if (event.user?.name === 'poison') throw new Error('rule engine defect');
          return evaluate(event);
        };
        return detector;
      },
      sinks: [sink],
      bus,
      signalsTopic: 'signals',
      deadLetters: deadLetterTopic(bus, 'dead'),
    });
    const plan = stage.plan(chunkOf([poison, clusterAdminBinding(t, 'mallory')]));
    await plan.deliver();
    expect(sink.stored.map((a) => a.user?.name)).toEqual(['mallory']);
    const letters = bus.sent.filter((s) => s.topic === 'dead').flatMap((s) => s.messages);
    expect(
      letters.map((l) => [l.headers?.['klaxon-deadletter-reason'], l.headers?.['klaxon-source-offset']]),
    ).toEqual([['evaluation-failed', '0']]);
  });
});
