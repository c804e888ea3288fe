import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolBus, SpoolFullError, type SpoolOptions } from '../../../src/bus/spool.ts';
import { decodeSegment, encodeRecord } from '../../../src/bus/spool-record.ts';
import { spoolCorrupt, spoolDrained, spoolDropped } from '../../../src/metrics.ts';
import { FakeBus } from './fake-bus.ts';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const buses: SpoolBus[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'klaxon-spool-'));
  dirs.push(dir);
  return dir;
}

async function spool(inner: FakeBus, dir: string, extra: Partial<SpoolOptions> = {}): Promise<SpoolBus> {
  const bus = new SpoolBus(inner, {
    dir,
    maxBytes: 1024 * 1024,
    directTimeoutMs: 100,
    retryMinMs: 10,
    retryMaxMs: 40,
    logger,
    ...extra,
  });
  buses.push(bus);
  await bus.start();
  return bus;
}

const msgs = (prefix: string, n: number, key = 'cluster/alice') =>
  Array.from({ length: n }, (_, i) => ({ key, value: `${prefix}${i}` }));

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
  (await c.get()).values.reduce((sum, v) => sum + v.value, 0);

const segments = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('spool records', () => {
  it('round-trip any messages, text or binary, with headers', () => {
    const message = fc.record({
      topic: fc.string({ minLength: 1 }),
      key: fc.option(fc.string(), { nil: null }),
      value: fc.oneof(
        fc.string(),
        fc.uint8Array().map((a) => Buffer.from(a)),
      ),
      headers: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), (list) => {
        const buf = Buffer.concat(
          list.map((m) => encodeRecord(m.topic, { key: m.key, value: m.value, headers: m.headers })),
        );
        const decoded = decodeSegment(buf);
        expect(decoded.corrupt).toBe(0);
        expect(decoded.validBytes).toBe(buf.length);
        expect(
          decoded.messages.map((d) => [d.topic, d.message.key, d.message.value, d.message.headers]),
        ).toEqual(list.map((m) => [m.topic, m.key, m.value, m.headers]));
      }),
    );
  });

  it('keep exactly the intact prefix when a segment is cut or a byte flipped anywhere', () => {
    const records = msgs('e', 6).map((m) => encodeRecord('t', m));
    const buf = Buffer.concat(records);
    const ends: number[] = [];
    let end = 0;
    for (const record of records) {
      end += record.length;
      ends.push(end);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: buf.length - 1 }), fc.boolean(), (at, flip) => {
        const damaged = flip ? Buffer.from(buf) : buf.subarray(0, at);
        if (flip) damaged[at] = damaged[at]! ^ 0xff;
        const decoded = decodeSegment(damaged);
        const intact = ends.filter((end) => end <= at).length;
        expect(decoded.messages.map((m) => m.message.value)).toEqual(msgs('e', intact).map((m) => m.value));
        expect(decoded.corrupt).toBe(flip || (at > 0 && !ends.includes(at)) ? 1 : 0);
      }),
    );
  });
});

describe('SpoolBus', () => {
  it('sends straight to the bus while it is up, writing nothing to disk', async () => {
    const inner = new FakeBus();
    const dir = await tempDir();
    const bus = await spool(inner, dir);
    await bus.produce('t', msgs('a', 3));
    expect(inner.values()).toEqual(['a0', 'a1', 'a2']);
    expect(await segments(dir)).toEqual([]);
    expect((await bus.status()).degraded).toBe(false);
  });

  it('spools while the bus is down, stays ready, then drains in order and deletes the segments', async () => {
    const inner = new FakeBus();
    inner.mode = 'down';
    const dir = await tempDir();
    const bus = await spool(inner, dir);
    const drainedBefore = await counter(spoolDrained);
    const droppedBefore = await counter(spoolDropped);
    await bus.produce('t', msgs('a', 3));
    await bus.produce('t', msgs('b', 2));
    expect(inner.acked).toEqual([]);
    expect(await segments(dir)).toHaveLength(1);
    expect(await bus.ready()).toBe(true);
    expect(await bus.status()).toMatchObject({ degraded: true, kafka: false, spool: { events: 5 } });
    inner.mode = 'up';
    await until(async () => (await bus.status()).spool.events === 0);
    expect(inner.values()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
    expect(inner.acked.every((a) => a.topic === 't' && a.key === 'cluster/alice')).toBe(true);
    await until(async () => (await segments(dir)).length === 0);
    expect((await counter(spoolDrained)) - drainedBefore).toBe(5);
    expect((await counter(spoolDropped)) - droppedBefore).toBe(0);
    expect((await bus.status()).degraded).toBe(false);
  });

  it('queues new events behind the spooled ones even once the bus is back', async () => {
    const inner = new FakeBus();
    inner.mode = 'down';
    const dir = await tempDir();
    const bus = await spool(inner, dir, { retryMinMs: 200, retryMaxMs: 200 });
    await bus.produce('t', msgs('old', 3));
    inner.mode = 'up';
    await bus.produce('t', msgs('new', 2));
    await until(() => inner.acked.length === 5);
    expect(inner.values()).toEqual(['old0', 'old1', 'old2', 'new0', 'new1']);
    await bus.produce('t', msgs('direct', 1));
    expect(inner.values().at(-1)).toBe('direct0');
  });

  it('spools when the bus does not answer within the direct timeout', async () => {
    const inner = new FakeBus();
    inner.mode = 'hang';
    const dir = await tempDir();
    const bus = await spool(inner, dir);
    await bus.produce('t', msgs('slow', 2));
    expect((await bus.status()).spool.events).toBe(2);
    inner.mode = 'up';
    await until(() => inner.acked.length === 2);
    expect(inner.values()).toEqual(['slow0', 'slow1']);
  });

  it('keeps several topics and many segments in order', async () => {
    const inner = new FakeBus();
    inner.mode = 'down';
    const dir = await tempDir();
    const bus = await spool(inner, dir, { segmentBytes: 200, drainMessages: 3 });
    for (let i = 0; i < 10; i++) await bus.produce(i % 2 ? 'odd' : 'even', msgs(`m${i}-`, 2));
    expect((await segments(dir)).length).toBeGreaterThan(3);
    inner.mode = 'up';
    await until(() => inner.acked.length === 20);
    const expected = Array.from({ length: 10 }, (_, i) => [`m${i}-0`, `m${i}-1`]).flat();
    expect(inner.values()).toEqual(expected);
    expect(inner.acked.map((a) => a.topic)).toEqual(
      Array.from({ length: 10 }, (_, i) => [i % 2 ? 'odd' : 'even', i % 2 ? 'odd' : 'even']).flat(),
    );
    await until(async () => (await segments(dir)).length === 0);
  });

  it('survives a restart: a new process drains what the old one spooled', async () => {
    const dir = await tempDir();
    const first = new FakeBus();
    first.mode = 'down';
    const before = await spool(first, dir);
    await Promise.all([before.produce('t', msgs('a', 4)), before.produce('t', msgs('b', 4))]);
    await before.stop();
    const second = new FakeBus();
    const after = await spool(second, dir);
    await until(() => second.acked.length === 8);
    expect(second.values().sort()).toEqual([...msgs('a', 4), ...msgs('b', 4)].map((m) => m.value).sort());
    await until(async () => (await after.status()).spool.events === 0);
    expect(await segments(dir)).toEqual([]);
  });

  it('skips and counts a torn tail record on recovery, delivering the intact ones', async () => {
    const dir = await tempDir();
    const first = new FakeBus();
    first.mode = 'down';
    const before = await spool(first, dir);
    await before.produce('t', msgs('a', 5));
    await before.stop();
    const [name] = await segments(dir);
    const path = join(dir, name!);
    const size = (await readFile(path)).length;
    await truncate(path, size - 3); // the last record loses its end, as in a crash mid-write
    const corruptBefore = await counter(spoolCorrupt);
    const second = new FakeBus();
    const after = await spool(second, dir);
    await until(() => second.acked.length === 4);
    expect(second.values()).toEqual(['a0', 'a1', 'a2', 'a3']);
    expect((await counter(spoolCorrupt)) - corruptBefore).toBe(1);
    await until(async () => (await after.status()).spool.events === 0);
  });

  it('skips a record whose checksum does not match, and a segment of pure garbage', async () => {
    const dir = await tempDir();
    const good = Buffer.concat(msgs('g', 2).map((m) => encodeRecord('t', m)));
    const bad = encodeRecord('t', { key: null, value: 'tampered' });
    bad[bad.length - 2] = bad[bad.length - 2]! ^ 0x01;
    await writeFile(join(dir, 'spool-000000000001.seg'), Buffer.concat([good, bad]));
    await writeFile(join(dir, 'spool-000000000002.seg'), Buffer.from('not a spool segment at all'));
    await appendFile(join(dir, 'unrelated.txt'), 'left alone');
    const corruptBefore = await counter(spoolCorrupt);
    const inner = new FakeBus();
    await spool(inner, dir);
    await until(() => inner.acked.length === 2);
    expect(inner.values()).toEqual(['g0', 'g1']);
    expect((await counter(spoolCorrupt)) - corruptBefore).toBe(2);
    await until(async () => (await segments(dir)).length === 0);
    expect(await readdir(dir)).toEqual(['unrelated.txt']);
  });

  it('refuses with SpoolFullError only when full, counting exactly the refused events', async () => {
    const inner = new FakeBus();
    inner.mode = 'down';
    const dir = await tempDir();
    const record = encodeRecord('t', msgs('x0-', 1)[0]!).length;
    const bus = await spool(inner, dir, { maxBytes: record * 10 });
    const droppedBefore = await counter(spoolDropped);
    for (let i = 0; i < 5; i++) await bus.produce('t', msgs(`x${i}-`, 1));
    expect((await counter(spoolDropped)) - droppedBefore).toBe(0);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => bus.produce('t', msgs(`y${i}-`, 1))),
    );
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect((await counter(spoolDropped)) - droppedBefore).toBe(3);
    expect(await bus.ready()).toBe(false);
    inner.mode = 'up';
    await until(() => inner.acked.length === 10);
    // The bus acknowledges before the drainer deletes the segment and frees its bytes.
    await until(() => bus.ready());
    await bus.produce('t', msgs('z', 1));
    expect(inner.values()).toHaveLength(11);
  });

  it('starts offline when asked, spools, and connects once the bus can start', async () => {
    const inner = new FakeBus();
    inner.startable = false;
    const dir = await tempDir();
    const bus = await spool(inner, dir, { startOffline: true });
    await bus.produce('t', msgs('early', 3));
    expect(inner.produceCalls).toBe(0);
    inner.startable = true;
    await until(() => inner.acked.length === 3);
    expect(inner.values()).toEqual(['early0', 'early1', 'early2']);
  });

  it('fails to start when the bus cannot start and offline start is not allowed', async () => {
    const inner = new FakeBus();
    inner.startable = false;
    const bus = new SpoolBus(inner, { dir: await tempDir(), maxBytes: 1024, logger });
    await expect(bus.start()).rejects.toThrow('cannot start');
  });
});
