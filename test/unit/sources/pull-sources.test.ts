// The source contract (issue 23): the shared accept path, checkpoints in state.dir, the settings of named
// typed instances, and the first pull source on them (`type: file`), with the memory bus under it.
import { appendFileSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { loadConfig } from '../../../src/config.ts';
import { auditDataset } from '../../../src/datasets/audit.ts';
import { BusPublisher, RetryLaterError } from '../../../src/ingest/publisher.ts';
import { createLogger } from '../../../src/log.ts';
import { registry } from '../../../src/metrics.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import { Acceptor } from '../../../src/sources/accept.ts';
import { FileCheckpointStore } from '../../../src/sources/checkpoints.ts';
import { completeLines } from '../../../src/sources/file-tail.ts';
import { type RunningSources, startSources } from '../../../src/sources/runner.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';
import { FakeBus } from '../reliability/fake-bus.ts';

const logger = createLogger('silent');
const TOPIC = 'klaxon.events';
const scratch = () => mkdtempSync(join(tmpdir(), 'klaxon-sources-'));

let seq = 0;
function auditLine(user: string, at = new Date()): string {
  seq++;
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `file-source-${seq}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'list',
    user: { username: user },
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { code: 200 },
    stageTimestamp: at.toISOString(),
  });
}

function published(bus: MemoryBus): NormalizedEvent[] {
  return bus.read(TOPIC, 0, 1_000_000).map((m) => JSON.parse(m.value.toString()) as NormalizedEvent);
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe('Acceptor', () => {
  it('rejects the broken items of a batch by index, publishes the rest, and counts both', async () => {
    const bus = new MemoryBus();
    await bus.start();
    const acceptor = new Acceptor({
      publisher: new BusPublisher(bus, TOPIC),
      maxItemBytes: 1000,
      maxAheadMs: 60_000,
    });
    const before = await metric('klaxon_ingest_events_total', {
      source: 'audit',
      cluster: 'c1',
      outcome: 'rejected',
    });
    const result = await acceptor.accept({
      dataset: auditDataset,
      cluster: 'c1',
      receivedAt: new Date().toISOString(),
      items: [
        { index: 0, raw: JSON.parse(auditLine('alice')) },
        { index: 1, reason: 'json', error: 'invalid JSON: x' },
        { index: 2, raw: { verb: 'get' } },
        { index: 3, raw: JSON.parse(auditLine('bob')), bytes: 5000 },
        { index: 4, raw: JSON.parse(auditLine('carol')), bytes: Number.POSITIVE_INFINITY },
      ],
    });
    expect(result.accepted).toBe(1);
    expect(result.rejected.listed.map((r) => r.index)).toEqual([1, 2, 3, 4]);
    expect(result.rejected.byReason).toEqual({ json: 1, schema: 1, too_large: 2 });
    expect(published(bus).map((e) => [e.user?.name, e.orchestrator.cluster.name])).toEqual([['alice', 'c1']]);
    expect(
      (await metric('klaxon_ingest_events_total', { source: 'audit', cluster: 'c1', outcome: 'rejected' })) -
        before,
    ).toBe(4);
  });

  it('says "retry later" when nothing can be made durable, and counts the events it could not take', async () => {
    const bus = new FakeBus();
    bus.mode = 'down';
    const acceptor = new Acceptor({
      publisher: new BusPublisher(bus, TOPIC),
      maxItemBytes: 1000,
      maxAheadMs: 0,
    });
    const before = await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'unavailable' });
    await expect(
      acceptor.accept({
        dataset: auditDataset,
        cluster: 'c1',
        receivedAt: new Date().toISOString(),
        items: [{ index: 0, raw: JSON.parse(auditLine('alice')) }],
      }),
    ).rejects.toBeInstanceOf(RetryLaterError);
    expect(
      (await metric('klaxon_ingest_rejected_total', { source: 'audit', reason: 'unavailable' })) - before,
    ).toBe(1);
  });
});

describe('FileCheckpointStore', () => {
  it('keeps the last value saved per key across instances, in files named safely', async () => {
    const dir = scratch();
    const store = new FileCheckpointStore(dir);
    await store.save('file/a/../../etc/passwd', '{"offset":1}');
    await store.save('file/a/../../etc/passwd', '{"offset":2}');
    await store.save('other', 'x');
    expect(await new FileCheckpointStore(dir).load('file/a/../../etc/passwd')).toBe('{"offset":2}');
    expect(await new FileCheckpointStore(dir).load('other')).toBe('x');
    expect(await new FileCheckpointStore(dir).load('missing')).toBeUndefined();
    expect(readdirSync(dir).every((n) => !n.includes('/') && n.endsWith('.json'))).toBe(true);
  });
});

describe('sources settings', () => {
  it('takes named typed instances and refuses unknown types, unknown keys and bad names with their path', () => {
    const ok = SourcesSettings.safeParse({
      apiserver: { type: 'file', path: '/var/log/audit.log', dataset: 'audit', cluster: 'prod' },
    });
    expect(ok.success).toBe(true);
    for (const [sources, path] of [
      [{ x: { type: 'cloudwatchz', path: '/p' } }, 'x.type'],
      [{ x: { type: 'file', path: '/p', dataset: 'audit', cluster: 'prod', pathz: 1 } }, 'x'],
      [{ x: { type: 'file', path: '/p', dataset: 'audit', cluster: 'prod.eu' } }, 'x.cluster'],
      [{ 'Bad Name': { type: 'file', path: '/p', dataset: 'audit', cluster: 'prod' } }, 'Bad Name'],
    ] as const) {
      const parsed = SourcesSettings.safeParse(sources);
      expect(parsed.success, JSON.stringify(sources)).toBe(false);
      if (!parsed.success) expect(parsed.error.issues[0]!.path.join('.')).toBe(path);
    }
  });
});

describe('completeLines', () => {
  it('keeps a last line without its newline for the next read', () => {
    expect(completeLines(Buffer.from('a\nb\nc'))).toEqual({ lines: ['a', 'b'], consumed: 4 });
    expect(completeLines(Buffer.from('abc'))).toEqual({ lines: [], consumed: 0 });
  });
});

describe('type: file', () => {
  let running: RunningSources | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function start(
    dir: string,
    path: string,
    bus: MemoryBus,
    extra: object = {},
  ): Promise<RunningSources> {
    const settings = loadConfig({ KLAXON_STATE_DIR: join(dir, 'state') });
    const sources = SourcesSettings.parse({
      'apiserver-log': {
        type: 'file',
        path,
        dataset: 'audit',
        cluster: 'prod',
        pollMs: 50,
        startAt: 'beginning',
        ...extra,
      },
    });
    return startSources(sources, {
      accept: new Acceptor({
        publisher: new BusPublisher(bus, TOPIC),
        maxItemBytes: settings.ingest.auditEventLimit,
        maxAheadMs: 60_000,
      }),
      checkpoints: new FileCheckpointStore(settings.state.dir),
      logger,
    });
  }

  it('reads appended lines as the configured cluster, resumes after a restart without repeats, and follows rotation', async () => {
    const dir = scratch();
    const path = join(dir, 'audit.log');
    writeFileSync(path, `${auditLine('u1')}\n${auditLine('u2')}\nnot json\n${auditLine('u3')}`);
    const bus = new MemoryBus();
    await bus.start();
    running = await start(dir, path, bus);
    await until(() => published(bus).length === 2);
    // The third event has no newline yet: it waits.
    appendFileSync(path, '\n');
    await until(() => published(bus).length === 3);
    await running.stop();

    appendFileSync(path, `${auditLine('u4')}\n`);
    running = await start(dir, path, bus);
    await until(() => published(bus).length === 4);
    // Rotated: the old file moved away, a new one with new lines.
    renameSync(path, `${path}.1`);
    writeFileSync(path, `${auditLine('u5')}\n`);
    await until(() => published(bus).length === 5);
    await new Promise((r) => setTimeout(r, 300));
    const events = published(bus);
    expect(events.map((e) => e.user?.name)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(new Set(events.map((e) => e.orchestrator.cluster.name))).toEqual(new Set(['prod']));
    expect(running.problems()).toEqual([]);
  });

  it('does not move its checkpoint while the events cannot be made durable, and says so', async () => {
    const dir = scratch();
    const path = join(dir, 'audit.log');
    writeFileSync(path, `${auditLine('d1')}\n`);
    const bus = new MemoryBus({ capacity: 1, produceTimeoutMs: 50 });
    await bus.start();
    await bus.produce('klaxon.events', [{ key: null, value: 'fills the bus' }]);
    running = await start(dir, path, bus);
    await until(() => running!.problems().length > 0);
    expect(running.problems()[0]).toMatch(/apiserver-log: events cannot be made durable now/);
    expect(
      await new FileCheckpointStore(join(dir, 'state')).load(`file/apiserver-log/${path}`),
    ).toBeUndefined();
  });
});
