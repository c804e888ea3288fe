/**
 * The load generator: a child process (forked by the benchmark, so the server
 * under test shares no event loop with its client) that POSTs pre-serialized
 * bodies with undici.
 *
 * - `closed` mode: keeps `connections × pipelining` requests in flight, as fast
 *   as the server answers, until told to stop.
 * - `open` mode: sends one body every `intervalMs` (a steady offered rate, as an
 *   API server's batch webhook does), whatever the server's pace; records the
 *   send and answer times of marked bodies so the e2e driver can measure alert latency and split it at the
 *   answer (ingest's share, then detection's).
 *
 * Protocol (IPC): parent sends `LoadStart`; child answers `{type:'started'}`,
 * sends `{type:'sent', marker, at}` for each marked body in open mode, `{type:'answered', marker, at}` once
 * its request is answered 200, and on
 * `{type:'stop'}` answers a `LoadReport` and exits.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface LoadStart {
  type: 'start';
  url: string;
  /** NDJSON file: one body per line. */
  bodiesFile: string;
  /** Optional file with one marker (or empty) per body line, open mode only. */
  markersFile?: string;
  mode: 'closed' | 'open';
  connections: number;
  pipelining: number;
  intervalMs?: number;
  headers?: Record<string, string>;
  /** A request unanswered after this long fails (counted in `errors`), so a stop never waits on a stalled server. */
  timeoutMs?: number;
}

export interface LoadReport {
  type: 'report';
  requests: number;
  statuses: Record<string, number>;
  errors: number;
  firstError?: string;
  bytesSent: number;
  /** Request latencies (ms): median and 99th percentile. */
  p50_ms: number;
  p99_ms: number;
}

type Incoming = LoadStart | { type: 'stop' };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] as number;
}

async function run(start: LoadStart): Promise<void> {
  const bodies = readFileSync(start.bodiesFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  const markers = start.markersFile ? readFileSync(start.markersFile, 'utf8').split('\n') : [];
  const target = new URL(start.url);
  const pool = new Pool(target.origin, {
    connections: start.connections,
    pipelining: start.pipelining,
    keepAliveTimeout: 60_000,
    ...(start.timeoutMs ? { headersTimeout: start.timeoutMs, bodyTimeout: start.timeoutMs } : {}),
  });
  const headers = { 'content-type': 'application/json', ...start.headers };
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  let bytesSent = 0;
  let stopping = false;
  let next = 0;

  const send = async (index: number, marker?: string): Promise<void> => {
    const body = bodies[index % bodies.length] as string;
    const t0 = performance.now();
    try {
      const res = await pool.request({ method: 'POST', path: target.pathname, headers, body });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (marker && res.statusCode === 200) process.send?.({ type: 'answered', marker, at: Date.now() });
    } catch (err) {
      errors++;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
    latencies.push(performance.now() - t0);
    requests++;
    bytesSent += body.length;
  };

  const inflight = new Set<Promise<void>>();
  const loop = async () => {
    if (start.mode === 'closed') {
      const lanes = start.connections * start.pipelining;
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (!stopping) await send(next++);
        }),
      );
      return;
    }
    const interval = start.intervalMs ?? 100;
    const t0 = performance.now();
    while (!stopping) {
      const index = next++;
      const marker = markers[index % Math.max(1, markers.length)];
      if (marker) process.send?.({ type: 'sent', marker, at: Date.now() });
      const p = send(index, marker).finally(() => inflight.delete(p));
      inflight.add(p);
      const due = t0 + (index + 1) * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);
  };

  const done = loop();
  process.send?.({ type: 'started' });
  await new Promise<void>((resolve) =>
    process.on('message', (m: Incoming) => {
      if (m.type === 'stop') resolve();
    }),
  );
  stopping = true;
  await done;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const report: LoadReport = {
    type: 'report',
    requests,
    statuses,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    bytesSent,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
  };
  process.send?.(report, () => process.exit(0));
}

process.once('message', (m: Incoming) => {
  if (m.type !== 'start') return;
  run(m).catch((err) => {
    process.stderr.write(`load generator failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
