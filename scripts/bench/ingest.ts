/**
 * `ingest_eps`: 400-event `EventList`s POSTed over HTTP (keep-alive, several
 * connections) by a load-generator child process to the Fastify ingest app,
 * running alone in a second child process with the in-memory bus: validation →
 * normalization → serialization → bus → a consumer that counts. The figure is
 * events that reached the bus per second, sampled in the server at round
 * boundaries while the load runs without pause; the median round is reported.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadReport, LoadStart } from './load.ts';
import { median } from './stats.ts';

const SELF = fileURLToPath(import.meta.url);
const LOAD = path.join(path.dirname(SELF), 'load.ts');
const TOKEN = 'bench-token-0123456789abcdefghijklmnop';

export interface IngestFigures {
  /** Events per CPU-second of the server process (main thread, GC and libuv included): per core. */
  ingest_eps: number;
  /** Events per wall-clock second. */
  ingest_wall_eps: number;
  detail: string;
}

interface Sample {
  type: 'sample';
  events: number;
  cpuUs: number;
  atMs: number;
}

/** Sends `message` and resolves with the child's next message of type `type`. */
export function ask<T extends { type: string }>(
  child: ChildProcess,
  message: object,
  type: T['type'],
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`child exited (${code}) before answering ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

export function waitFor<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before ${type}`)));
  });
}

/** `KLAXON_BENCH_PROFILE=DIR` writes a V8 CPU profile of each server child into DIR. */
export function profileArgs(): string[] {
  const dir = process.env.KLAXON_BENCH_PROFILE;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

export async function benchIngest(
  eventListBodies: readonly string[],
  options: { seconds: number; rounds: number; connections?: number },
): Promise<IngestFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'klaxon-bench-'));
  const bodiesFile = path.join(dir, 'bodies.ndjson');
  writeFileSync(bodiesFile, `${eventListBodies.join('\n')}\n`);
  const server = fork(SELF, ['--server'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: profileArgs(),
  });
  let load: ChildProcess | undefined;
  try {
    const { port } = await waitFor<{ type: 'ready'; port: number }>(server, 'ready');
    load = fork(LOAD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const connections = options.connections ?? 8;
    const start: LoadStart = {
      type: 'start',
      url: `http://127.0.0.1:${port}/v1/audit`,
      bodiesFile,
      mode: 'closed',
      connections,
      pipelining: 1,
      headers: { authorization: `Bearer ${TOKEN}` },
    };
    await ask(load, start, 'started');
    const sample = () => ask<Sample>(server, { type: 'sample' }, 'sample');
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    let previous = await sample();
    const eps: number[] = [];
    const cpuEps: number[] = [];
    const busy: number[] = [];
    for (let i = 0; i < options.rounds; i++) {
      await new Promise((r) => setTimeout(r, options.seconds * 1000));
      const now = await sample();
      const events = now.events - previous.events;
      eps.push(events / ((now.atMs - previous.atMs) / 1000));
      cpuEps.push(events / ((now.cpuUs - previous.cpuUs) / 1e6));
      busy.push((now.cpuUs - previous.cpuUs) / 1000 / (now.atMs - previous.atMs));
      previous = now;
    }
    const report = await ask<LoadReport>(load, { type: 'stop' }, 'report');
    const exited = once(server, 'exit');
    server.send({ type: 'stop' });
    await exited;
    const ok = report.statuses['200'] ?? 0;
    if (ok === 0 || report.errors > 0 || ok !== report.requests) {
      throw new Error(
        `ingest answered ${JSON.stringify(report.statuses)} with ${report.errors} errors` +
          (report.firstError ? ` (first: ${report.firstError})` : ''),
      );
    }
    return {
      ingest_eps: median(cpuEps),
      ingest_wall_eps: median(eps),
      detail:
        `${report.requests} requests of 400 events, ${connections} connections, all 200; request latency ` +
        `p50 ${report.p50_ms.toFixed(0)} ms, p99 ${report.p99_ms.toFixed(0)} ms; server CPU busy ` +
        `${(median(busy) * 100).toFixed(0)}%; rounds ${cpuEps.map((e) => Math.round(e)).join(', ')} ev/CPU-s`,
    };
  } finally {
    load?.kill();
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The server child: the real ingest app, the in-memory bus, a counting consumer. */
async function serve(): Promise<void> {
  const { loadConfig } = await import('../../src/config.ts');
  const { MemoryBus } = await import('../../src/bus/index.ts');
  const { buildIngestApp } = await import('../../src/ingest/app.ts');
  const { TokenTable } = await import('../../src/ingest/auth.ts');
  const settings = loadConfig({});
  const bus = new MemoryBus();
  await bus.start();
  let events = 0;
  await bus.subscribe({
    groupId: 'bench-counter',
    topics: [settings.kafka.eventsTopic],
    maxBatchSize: 5000,
    handleBatch: async (batch) => {
      events += batch.messages.length;
    },
  });
  const app = await buildIngestApp({ settings, bus, auth: { tokens: new TokenTable({ bench: TOKEN }) } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('ingest app has no TCP address');
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') {
      void app
        .close()
        .then(() => bus.stop())
        .then(() => process.exit(0));
    }
    if (m.type === 'sample') {
      const cpu = process.cpuUsage();
      const answer: Sample = {
        type: 'sample',
        events,
        cpuUs: cpu.user + cpu.system,
        atMs: performance.now(),
      };
      process.send?.(answer);
    }
  });
  process.send?.({ type: 'ready', port: address.port });
}

if (process.argv[2] === '--server') {
  serve().catch((err) => {
    process.stderr.write(`ingest server failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
