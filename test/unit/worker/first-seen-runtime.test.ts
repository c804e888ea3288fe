// First-seen state through `klaxon serve` without Kafka: kept in state.dir across a restart, and warmed by
// `klaxon replay --warm-first-seen`.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/bus/memory.ts';
import { runReplay } from '../../../src/cli/replay.ts';
import { buildServeRuntime } from '../../../src/cli/serve.ts';
import { loadConfig } from '../../../src/config.ts';
import { loadRules } from '../../../src/detect/load.ts';
import { createLogger } from '../../../src/log.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../../src/schema/event.ts';
import type { RejectedAlert, Sink } from '../../../src/sinks/sink.ts';
import type { DetectionRuntime } from '../../../src/worker/detection-runtime.ts';
import { FileFirstSeenLog } from '../../../src/worker/first-seen-log.ts';
import { serviceAccountRequest, writeFirstSeenRules } from '../../integration/detect-fixtures.ts';

class MemorySink implements Sink {
  readonly name = 'memory';
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

async function until<T>(fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rules = writeFirstSeenRules(`mem-${Date.now()}`);
const { ruleset } = loadRules([rules.dir]);
const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T09:00:00Z');
const at = (days: number, seconds = 0) => new Date(T0 + days * DAY + seconds * 1000).toISOString();
const APP = 'cart/v2.4.1 (linux/amd64) kubernetes/$Format';
const LAPTOP = 'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350';

let running: { runtime: DetectionRuntime; bus: MemoryBus } | undefined;
afterEach(async () => {
  await running?.runtime.stop();
  await running?.bus.stop();
  running = undefined;
});

async function serve(stateDir: string, sink: Sink): Promise<MemoryBus> {
  const settings = loadConfig({ KLAXON_RULES: rules.dir, KLAXON_STATE_DIR: stateDir });
  const bus = new MemoryBus();
  await bus.start();
  const runtime = buildServeRuntime(
    settings,
    { events: bus, memory: bus },
    ruleset,
    [sink],
    createLogger('warn'),
  );
  await runtime.start();
  running = { runtime, bus };
  return bus;
}

async function stop(): Promise<void> {
  await running!.runtime.stop({ drainMs: 10_000 });
  await running!.bus.stop();
  running = undefined;
}

const produce = (bus: MemoryBus, events: NormalizedEvent[]) =>
  bus.produce(
    'klaxon.events',
    events.map((e) => ({ key: `test/${e.user?.name}`, value: JSON.stringify(e) })),
  );

const mine = (sink: MemorySink) => sink.stored.filter((a) => a.rule.name === rules.client);

describe('first-seen state of klaxon serve without Kafka', () => {
  it('survives a restart in state.dir: a week of one client, then a new one alerts once, a known one never', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-state-'));
    const first = new MemorySink();
    let bus = await serve(dir, first);
    await produce(bus, [
      serviceAccountRequest(at(0), 'cart', APP),
      serviceAccountRequest(at(3), 'cart', 'cart/v2.4.2 (linux/amd64) kubernetes/$Format'),
      serviceAccountRequest(at(6), 'cart', APP),
    ]);
    await stop();
    expect(mine(first)).toEqual([]);
    expect(readFileSync(join(dir, 'first-seen.jsonl'), 'utf8')).toContain('cart (linux/amd64)');

    const second = new MemorySink();
    bus = await serve(dir, second);
    await produce(bus, [
      serviceAccountRequest(at(7), 'cart', APP),
      serviceAccountRequest(at(7, 1), 'cart', LAPTOP),
      serviceAccountRequest(at(7, 2), 'cart', LAPTOP),
      serviceAccountRequest(at(7, 3), 'web', LAPTOP),
    ]);
    const alerts = await until(() => mine(second).length > 0 && mine(second));
    await stop();
    expect(mine(second)).toHaveLength(1);
    expect(alerts[0]!.message).toContain('first userAgent|family "kubectl (darwin/arm64)"');
    expect(alerts[0]!.message).toContain('known: "cart (linux/amd64)"');
    expect(alerts[0]!.user?.name).toBe('system:serviceaccount:shop:cart');
  });

  it('without the stored state the same traffic is learned, not alerted on', async () => {
    const sink = new MemorySink();
    const bus = await serve(mkdtempSync(join(tmpdir(), 'klaxon-state-')), sink);
    await produce(bus, [
      serviceAccountRequest(at(7), 'cart', APP),
      serviceAccountRequest(at(7, 1), 'cart', LAPTOP),
    ]);
    await stop();
    expect(mine(sink)).toEqual([]);
  });
});

describe('klaxon replay --warm-first-seen', () => {
  /** A raw audit event as the API server's log backend writes it. */
  const raw = (time: string, account: string, ua: string, n: number) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/shop/configmaps/config',
    verb: 'get',
    user: { username: `system:serviceaccount:shop:${account}`, groups: ['system:serviceaccounts'] },
    sourceIPs: ['10.0.12.87'],
    userAgent: ua,
    objectRef: { resource: 'configmaps', namespace: 'shop', name: 'config', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: time,
    stageTimestamp: time,
  });

  it('learns history into state.dir without printing an alert; serve then alerts at once on a new client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-warm-'));
    const history = join(dir, 'history.jsonl');
    const lines = [];
    for (let d = 0; d < 10; d++) {
      lines.push(raw(at(d), 'cart', APP, d));
      // A client used once, nine days ago: known for the next 30.
      if (d === 1) lines.push(raw(at(d, 5), 'cart', 'curl/8.5.0', 100));
      if (d === 9) lines.push(raw(at(d, 5), 'cart', LAPTOP, 101));
    }
    writeFileSync(history, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    err.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const stateDir = join(dir, 'state');
    const code = await runReplay(
      [history],
      {
        rules: [rules.dir],
        cluster: 'test',
        minLevel: 'informational',
        stream: false,
        warm: { log: new FileFirstSeenLog(stateDir), where: stateDir },
      },
      out,
      err,
    );
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      '12 event(s), 0 bad; first-seen state of 1 rule(s): 1 key(s) learned, 1 record(s) written',
    );
    expect(existsSync(join(stateDir, 'first-seen.jsonl'))).toBe(true);

    const sink = new MemorySink();
    const bus = await serve(stateDir, sink);
    await produce(bus, [
      serviceAccountRequest(at(10), 'cart', 'curl/8.6.0'),
      serviceAccountRequest(at(10, 1), 'cart', 'python-requests/2.31.0'),
    ]);
    const alerts = await until(() => mine(sink).length > 0 && mine(sink));
    await stop();
    expect(alerts.map((a) => a.message.match(/"[^"]+"/)?.[0])).toEqual(['"python-requests"']);
  });
});
