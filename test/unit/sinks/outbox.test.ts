import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import { Outbox, OutboxFullError } from '../../../src/sinks/outbox.ts';
import { makeAlert } from './make-alert.ts';

const logger = createLogger('silent');
const dir = () => mkdtempSync(join(tmpdir(), 'outbox-'));
const ids = (alerts: Array<{ klaxon: { alert_id: string } }>) => alerts.map((a) => a.klaxon.alert_id);
const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => makeAlert(`${prefix}${i}`));

async function metric(name: string, sink: string): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Number(found?.values.find((v) => v.labels.sink === sink)?.value ?? 0);
}

describe('Outbox', () => {
  it('gives alerts back oldest first, the same ones until acknowledged, and deletes what is acknowledged', async () => {
    const d = dir();
    const box = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob1', logger });
    await box.open();
    const first = batch('a', 3);
    const second = batch('b', 2);
    await box.append(first);
    await box.append(second);
    expect(box.depth.alerts).toBe(5);
    expect(await metric('klaxon_sink_queue_alerts', 'ob1')).toBe(5);
    expect(ids(await box.peek(2))).toEqual(ids(first.slice(0, 2)));
    expect(ids(await box.peek(2))).toEqual(ids(first.slice(0, 2)));
    await box.ack(2);
    expect(ids(await box.peek(10))).toEqual(ids([...first.slice(2), ...second]));
    await box.ack(3);
    // The reader caught up: the next write starts a segment of its own.
    const third = batch('c', 1);
    await box.append(third);
    expect(ids(await box.peek(10))).toEqual(ids(third));
    await box.ack(1);
    expect(await box.peek(10)).toEqual([]);
    expect(box.depth).toMatchObject({ alerts: 0, bytes: 0 });
    await box.close();
    expect(readdirSync(d).filter((n) => n.endsWith('.seg'))).toEqual([]);
  });

  it('keeps unacknowledged alerts across a restart', async () => {
    const d = dir();
    const alerts = batch('r', 4);
    const before = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob2', logger });
    await before.open();
    await before.append(alerts);
    await before.close();
    const after = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob2', logger });
    await after.open();
    expect(after.depth.alerts).toBe(4);
    expect(await after.peek(10)).toEqual(alerts);
    await after.close();
  });

  it('re-sends a whole segment after a crash between acknowledgement and deletion (at least once)', async () => {
    const d = dir();
    const alerts = batch('c', 3);
    const crashed = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob3', logger });
    await crashed.open();
    await crashed.append(alerts);
    await crashed.peek(3);
    await crashed.ack(2); // the process dies here: no close, the segment is still on disk
    const next = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob3', logger });
    writeFileSync(join(d, 'LOCK'), '999999999\n'); // a pid that is gone
    await next.open();
    expect(ids(await next.peek(10))).toEqual(ids(alerts));
    await next.close();
  });

  it('refuses appends beyond its size and takes them again once drained', async () => {
    const box = new Outbox({ dir: dir(), maxBytes: 6_000, sink: 'ob4', logger });
    await box.open();
    await box.append(batch('f', 3));
    await expect(box.append(batch('g', 3))).rejects.toBeInstanceOf(OutboxFullError);
    expect(box.depth.alerts).toBe(3);
    await box.peek(3);
    await box.ack(3);
    await box.append(batch('g', 3));
    expect(box.depth.alerts).toBe(3);
    await box.close();
  });

  it('skips and counts a torn tail, keeping the records before it', async () => {
    const d = dir();
    const alerts = batch('t', 3);
    const box = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob5', logger });
    await box.open();
    await box.append(alerts);
    await box.close();
    const [segment] = readdirSync(d).filter((n) => n.endsWith('.seg'));
    const path = join(d, segment!);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const before = await metric('klaxon_sink_queue_corrupt_records_total', 'ob5');
    const reopened = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob5', logger });
    await reopened.open();
    expect(ids(await reopened.peek(10))).toEqual(ids(alerts.slice(0, 2)));
    expect(await metric('klaxon_sink_queue_corrupt_records_total', 'ob5')).toBe(before + 1);
    await reopened.close();
  });

  it('refuses a directory another live process holds', async () => {
    const d = dir();
    writeFileSync(join(d, 'LOCK'), `${process.ppid}\n`);
    const box = new Outbox({ dir: d, maxBytes: 1 << 20, sink: 'ob6', logger });
    await expect(box.open()).rejects.toThrow(/is used by process/);
  });
});
