import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { ForwardingSink, type ForwardingSinkOptions, type Transport } from '../../../src/sinks/forwarder.ts';
import { type RejectedAlert, SinkUnavailableError } from '../../../src/sinks/sink.ts';
import { makeAlert } from './make-alert.ts';

/** A receiver whose availability the test switches; it records what it took. */
class FakeReceiver implements Transport {
  up = true;
  received: Alert[] = [];
  refuse = new Set<string>();
  calls = 0;
  async send(alerts: readonly Alert[]) {
    this.calls++;
    if (!this.up) throw new Error('connection refused');
    const refused = alerts
      .filter((a) => this.refuse.has(a.klaxon.alert_id))
      .map((alert) => ({ alert, reason: 'bad' }));
    this.received.push(...alerts.filter((a) => !this.refuse.has(a.klaxon.alert_id)));
    return refused;
  }
  async ready() {
    return this.up;
  }
  async close() {}
}

const logger = createLogger('silent');
const fast = { attempts: 3, baseMs: 5, maxMs: 20 };
const none = { minLevel: 'informational' as const, rules: [], excludeRules: [], tags: [] };
const ids = (alerts: readonly Alert[]) => alerts.map((a) => a.klaxon.alert_id);

function sink(receiver: FakeReceiver, over: Partial<ForwardingSinkOptions> = {}): ForwardingSink {
  return new ForwardingSink({
    name: over.name ?? 'fwd',
    filter: none,
    transport: receiver,
    retry: fast,
    batchSize: 2,
    delivery: { mode: 'hold' },
    logger,
    ...over,
  });
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function count(sinkName: string, outcome: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'klaxon_sink_writes_total');
  return Number(
    m?.values.find((v) => v.labels.sink === sinkName && v.labels.outcome === outcome)?.value ?? 0,
  );
}

describe('ForwardingSink, hold mode', () => {
  it('delivers in batches and counts what it sent', async () => {
    const receiver = new FakeReceiver();
    const s = sink(receiver, { name: 'hold-ok' });
    const alerts = [makeAlert('a'), makeAlert('b'), makeAlert('c')];
    expect(await s.write(alerts)).toEqual([]);
    expect(ids(receiver.received)).toEqual(ids(alerts));
    expect(receiver.calls).toBe(2);
    expect(await count('hold-ok', 'ok')).toBe(3);
  });

  it('sends only what its filter accepts', async () => {
    const receiver = new FakeReceiver();
    const s = sink(receiver, { filter: { ...none, minLevel: 'high' } });
    await s.write([makeAlert('a', { level: 'low' }), makeAlert('b', { level: 'critical' })]);
    expect(receiver.received.map((a) => a.klaxon.severity)).toEqual(['critical']);
  });

  it('does not send again what it delivered when the detector retries the chunk', async () => {
    const receiver = new FakeReceiver();
    const s = sink(receiver, { name: 'hold-dup' });
    const alerts = [makeAlert('a'), makeAlert('b')];
    await s.write(alerts);
    await s.write(alerts);
    expect(receiver.received).toHaveLength(2);
    expect(await count('hold-dup', 'duplicate')).toBe(2);
    await s.write([makeAlert('a', { revision: 1 })]);
    expect(receiver.received).toHaveLength(3);
  });

  it('retries a bounded number of times, then reports itself unavailable (the detector holds its commit)', async () => {
    const receiver = new FakeReceiver();
    receiver.up = false;
    const s = sink(receiver, { name: 'hold-down' });
    await expect(s.write([makeAlert('a')])).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(receiver.calls).toBe(3);
    expect(await count('hold-down', 'retry')).toBe(3);
    expect(await count('hold-down', 'error')).toBe(1);
    expect(await s.ready()).toBe(false);
  });

  it('returns alerts the receiver refused for good, named by sink, for the dead-letter topic', async () => {
    const receiver = new FakeReceiver();
    const bad = makeAlert('bad');
    receiver.refuse.add(bad.klaxon.alert_id);
    const s = sink(receiver, { name: 'hold-ref' });
    const refused = await s.write([makeAlert('ok'), bad]);
    expect(refused).toEqual([{ alert: bad, sink: 'hold-ref', reason: 'bad' }]);
    // A retried chunk (the dead letter failed) refuses it again rather than skipping it.
    expect(await s.write([makeAlert('ok'), bad])).toEqual([{ alert: bad, sink: 'hold-ref', reason: 'bad' }]);
    expect(receiver.received).toHaveLength(1);
  });
});

describe('ForwardingSink, spool mode', () => {
  const spool = () => ({
    mode: 'spool' as const,
    dir: mkdtempSync(join(tmpdir(), 'fwd-')),
    maxBytes: 1 << 20,
  });

  it('acknowledges once the alerts are on disk and delivers them in the background', async () => {
    const receiver = new FakeReceiver();
    const s = sink(receiver, { name: 'sp-ok', delivery: spool() });
    const alerts = [makeAlert('a'), makeAlert('b'), makeAlert('c')];
    expect(await s.write(alerts)).toEqual([]);
    await until(() => receiver.received.length === 3);
    expect(ids(receiver.received)).toEqual(ids(alerts));
    expect(await count('sp-ok', 'spooled')).toBe(3);
    await s.close();
  });

  it('takes writes while the receiver is down and delivers every alert once it is back, in order', async () => {
    const receiver = new FakeReceiver();
    receiver.up = false;
    const s = sink(receiver, { name: 'sp-down', delivery: spool() });
    const alerts = Array.from({ length: 7 }, (_, i) => makeAlert(`o${i}`));
    for (const alert of alerts) await s.write([alert]);
    expect(await s.ready()).toBe(true);
    await until(() => receiver.calls >= 3);
    expect(receiver.received).toEqual([]);
    receiver.up = true;
    await until(() => receiver.received.length === 7, 10_000);
    expect(ids(receiver.received)).toEqual(ids(alerts));
    await s.close();
  });

  it('keeps undelivered alerts on disk across a restart', async () => {
    const delivery = spool();
    const down = new FakeReceiver();
    down.up = false;
    const first = sink(down, { delivery });
    const alerts = [makeAlert('x'), makeAlert('y')];
    await first.write(alerts);
    await first.close();
    const receiver = new FakeReceiver();
    const second = sink(receiver, { delivery });
    await until(() => receiver.received.length === 2);
    expect(ids(receiver.received)).toEqual(ids(alerts));
    await second.close();
  });

  it('refuses writes when its buffer is full, so the detector holds its commit', async () => {
    const receiver = new FakeReceiver();
    receiver.up = false;
    const s = sink(receiver, { name: 'sp-full', delivery: { ...spool(), maxBytes: 4_000 } });
    await s.write([makeAlert('1'), makeAlert('2')]);
    await expect(s.write([makeAlert('3'), makeAlert('4')])).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(await s.ready()).toBe(false);
    await s.close();
  });

  it('hands alerts refused after the commit to onRejected and still delivers the rest', async () => {
    const receiver = new FakeReceiver();
    const bad = makeAlert('bad');
    receiver.refuse.add(bad.klaxon.alert_id);
    const rejected: RejectedAlert[] = [];
    const s = sink(receiver, {
      name: 'sp-rej',
      delivery: spool(),
      onRejected: async (r) => {
        rejected.push(...r);
      },
    });
    await s.write([makeAlert('good'), bad]);
    await until(() => rejected.length === 1);
    expect(rejected[0]).toMatchObject({ sink: 'sp-rej', reason: 'bad' });
    expect(rejected[0]!.alert.klaxon.alert_id).toBe(bad.klaxon.alert_id);
    expect(receiver.received).toHaveLength(1);
    await s.close();
  });

  it('reports a directory another process holds as unavailable rather than sharing it', async () => {
    const delivery = spool();
    const first = sink(new FakeReceiver(), { delivery });
    await first.ready();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(delivery.dir, 'LOCK'), `${process.ppid}\n`);
    const second = sink(new FakeReceiver(), { name: 'sp-lock', delivery });
    await expect(second.write([makeAlert('a')])).rejects.toThrow(/is used by process/);
    expect(await second.ready()).toBe(false);
    await first.close();
  });
});
