// The detection runtime of `klaxon serve` without Kafka: events and signals on the in-memory bus,
// dead letters to the log, the same retry and metric semantics as `klaxon detect`.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { buildServeRuntime } from '../../../src/cli/serve.ts';
import { loadConfig } from '../../../src/config.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { createLogger } from '../../../src/log.ts';
import { alertsTotal, deadletters, detectEvents } from '../../../src/metrics.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { type RejectedAlert, type Sink, SinkUnavailableError } from '../../../src/sinks/sink.ts';
import type { DetectionRuntime } from '../../../src/worker/detection-runtime.ts';
import {
  auditEvent,
  clusterAdminBinding,
  failedAuth,
  writeTestRules,
} from '../../integration/detect-fixtures.ts';

/** A sink that fails while `down`, and records every batch it was asked to write. */
class SwitchSink implements Sink {
  readonly name = 'switch';
  readonly stored: Alert[] = [];
  readonly attempts: Alert[][] = [];
  down = false;
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    this.attempts.push([...alerts]);
    if (this.down) throw new SinkUnavailableError(this.name, 'down');
    this.stored.push(...alerts);
    return [];
  }
  async ready() {
    return !this.down;
  }
  async close() {}
}

async function until<T>(fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function counter(
  metric: typeof alertsTotal | typeof deadletters | typeof detectEvents,
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  const found = values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return found?.value ?? 0;
}

const run = `mem-${Date.now()}`;
const rules = writeTestRules(run);
const settings = loadConfig({ KLAXON_RULES: rules.dir });
const { ruleset } = loadRules([rules.dir]);
const EVENTS = settings.kafka.eventsTopic;
const SIGNALS = settings.kafka.signalsTopic;

let running: { runtime: DetectionRuntime; bus: MemoryBus } | undefined;
afterEach(async () => {
  await running?.runtime.stop();
  await running?.bus.stop();
  running = undefined;
});

async function start(sinks: Sink[]): Promise<{ runtime: DetectionRuntime; bus: MemoryBus; log: string[] }> {
  const log: string[] = [];
  const logger = createLogger('warn', { write: (line: string) => void log.push(line) });
  const bus = new MemoryBus();
  await bus.start();
  const runtime = buildServeRuntime(settings, { events: bus, memory: bus }, ruleset, sinks, logger);
  await runtime.start();
  running = { runtime, bus };
  return { runtime, bus, log };
}

const produce = (bus: MemoryBus, values: Array<NormalizedEvent | string>) =>
  bus.produce(
    EVENTS,
    values.map((v) => ({ key: 'test/actor', value: typeof v === 'string' ? v : JSON.stringify(v) })),
  );

describe('the detection runtime on the in-memory bus (klaxon serve without Kafka)', () => {
  it('logs each dead letter once, with its reason, counts it, and goes on with the valid events', async () => {
    const sink = new SwitchSink();
    const { bus, log } = await start([sink]);
    const before = {
      json: await counter(deadletters, { reason: 'invalid-json' }),
      event: await counter(deadletters, { reason: 'invalid-event' }),
    };
    await produce(bus, [
      '{"not json',
      JSON.stringify({ hello: 'world' }),
      clusterAdminBinding(new Date().toISOString(), 'mallory'),
    ]);
    await until(() => sink.stored.length === 1);
    const letters = log.map((l) => JSON.parse(l)).filter((l) => String(l.msg).startsWith('dead letter'));
    expect(letters.map((l) => [l.reason, l.topic, l.offset])).toEqual([
      ['invalid-json', EVENTS, '0'],
      ['invalid-event', EVENTS, '1'],
    ]);
    // The log names the message, never its bytes.
    expect(log.join('\n')).not.toContain('not json');
    expect(await counter(deadletters, { reason: 'invalid-json' })).toBe(before.json + 1);
    expect(await counter(deadletters, { reason: 'invalid-event' })).toBe(before.event + 1);
    // Nothing is left on an unconsumed dead-letter topic of the memory bus.
    expect(bus.end(settings.kafka.deadletterTopic)).toBe(0);
  });

  it('holds the chunk while a sink fails, retries it, and counts its alert and events once, at delivery', async () => {
    const sink = new SwitchSink();
    sink.down = true;
    const { bus } = await start([sink]);
    const alerts = () => counter(alertsTotal, { rule: rules.admin, cluster: 'test' });
    const events = () => counter(detectEvents, { source: 'audit' });
    const before = { alerts: await alerts(), events: await events() };

    await produce(bus, [clusterAdminBinding(new Date().toISOString(), 'held')]);
    await until(() => sink.attempts.length >= 1);
    await produce(bus, [clusterAdminBinding(new Date().toISOString(), 'queued')]);
    await until(() => sink.attempts.length >= 3, 30_000);
    // Only the held chunk is tried again; the next one waits behind it.
    expect(sink.attempts.every((a) => a.map((x) => x.user?.name).join() === 'held')).toBe(true);
    expect(sink.stored).toEqual([]);
    expect(await alerts()).toBe(before.alerts);
    expect(await events()).toBe(before.events);

    sink.down = false;
    await until(() => sink.stored.length === 2, 30_000);
    expect(sink.stored.map((a) => [a.user?.name, a.klaxon.revision])).toEqual([
      ['held', 0],
      ['queued', 0],
    ]);
    expect(await alerts()).toBe(before.alerts + 2);
    expect(await events()).toBe(before.events + 2);
  });

  it('raises a correlation through signals on the memory bus, once, and one match per audit request', async () => {
    const sink = new SwitchSink();
    const { bus, runtime } = await start([sink]);
    const ip = '203.0.113.9';
    const t0 = Date.now();
    const burst = Array.from({ length: 10 }, (_, i) =>
      failedAuth(new Date(t0 + i * 100).toISOString(), `user-${i}`, ip),
    );
    // The same refused request logged at its ResponseStarted stage too: one request, one match.
    const started = structuredClone(burst[0]!);
    started.kubernetes!.audit.stage = 'ResponseStarted';
    started.event.id = `${started.kubernetes!.audit.auditID}/ResponseStarted`;
    for (const event of [started, ...burst]) await produce(bus, [event]);

    const fired = await until(() => {
      const found = sink.stored.filter((a) => a.rule.name === rules.burst);
      return found.length > 0 && found;
    });
    expect(fired).toHaveLength(1);
    expect(fired[0]!.klaxon.count).toBe(10);
    expect(fired[0]!.klaxon.correlation?.group).toEqual({ 'source.ip': ip });
    // Ten requests, eleven audit events: ten signals.
    expect(bus.end(SIGNALS)).toBe(10);

    // Stopping judges the windows still open: no eleventh event was folded into the burst.
    await runtime.stop();
    running = undefined;
    await bus.stop();
    expect(sink.stored.filter((a) => a.rule.name === rules.burst).map((a) => a.klaxon.revision)).toEqual([0]);
  });

  it('detects what was already on the bus before stopping, and delivers the windows it closes', async () => {
    const sink = new SwitchSink();
    const { bus, runtime } = await start([sink]);
    const t = Date.now();
    // The same binding made twice by one actor: the second folds into the first's suppression window.
    const first = clusterAdminBinding(new Date(t).toISOString(), 'repeat');
    const again = structuredClone(first);
    again['@timestamp'] = new Date(t + 1000).toISOString();
    again.kubernetes!.audit.auditID = `${first.kubernetes!.audit.auditID}-again`;
    again.event.id = `${again.kubernetes!.audit.auditID}/ResponseComplete`;
    // Behind more than two chunks of events that match nothing: the stop waits for them.
    const noise = Array.from({ length: 1_200 }, (_, i) =>
      auditEvent(
        { verb: 'get', objectRef: { resource: 'pods', namespace: 'default' } },
        first['@timestamp'],
        {
          user: `reader-${i}`,
          ip: '10.0.0.1',
        },
      ),
    );
    await produce(bus, [...noise, first, again]);
    await runtime.stop({ drainMs: 10_000 });
    running = undefined;
    await bus.stop();
    expect(sink.stored.map((a) => [a.rule.name, a.klaxon.revision, a.klaxon.count])).toEqual([
      [rules.admin, 0, 1],
      [rules.admin, 1, 2],
    ]);
  });
});
