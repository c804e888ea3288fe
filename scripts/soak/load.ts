/**
 * The soak's load generator, a child process (so the driver's polling never slows it): every
 * `batch / rate` seconds it POSTs one `EventList` of fresh workload events (event times follow
 * the wall clock) to `/v1/audit`, and the Falco alerts drawn meanwhile as NDJSON to `/v1/falco`.
 * Every `markerEvery`-th list carries a marker attack (one alert each, never folded).
 *
 * Requests are retried like the API server's batch webhook (any non-2xx or network error:
 * after 2, 4, 8, 16 and 32 s, then the batch is dropped), without holding up the steady rate.
 *
 * Protocol (IPC): parent sends `SoakLoadStart`, child answers `{type:'started'}`; on
 * `{type:'stop'}` it stops drawing, waits for its retries to end, and answers a `SoakLoadReport`.
 */
import { Pool } from 'undici';
import { markerEvent } from '../bench/e2e.ts';
import { type JsonObject, Workload } from '../bench/workload.ts';

export interface SoakLoadStart {
  type: 'start';
  url: string;
  token: string;
  rate: number;
  seed: number;
  runId: string;
  markerEvery: number;
  batch: number;
}

export interface SoakLoadReport {
  type: 'report';
  batches: number;
  sentEvents: number;
  acceptedEvents: number;
  rejectedItems: number;
  /** Marker names whose request was answered 200, with the time it was first sent. */
  markers: Array<{ name: string; sentAt: number }>;
  markersDropped: number;
  /** Answers by status code, every attempt counted (0: no answer). */
  statuses: Record<string, number>;
  retries: number;
  droppedBatches: number;
  droppedEvents: number;
  retryAfter: string[];
  /** Ticks the generator could not keep (it fell behind the offered rate). */
  lateTicks: number;
}

const DELAYS_MS = [2_000, 4_000, 8_000, 16_000, 32_000];
/** Requests in flight (retries included) beyond which a tick is skipped rather than queued without bound. */
const MAX_IN_FLIGHT = 256;

async function run(start: SoakLoadStart): Promise<void> {
  const target = new URL(start.url);
  const pool = new Pool(target.origin, { connections: 8, keepAliveTimeout: 60_000 });
  const workload = new Workload({ seed: start.seed, startMs: Date.now(), rate: start.rate });
  const report: SoakLoadReport = {
    type: 'report',
    batches: 0,
    sentEvents: 0,
    acceptedEvents: 0,
    rejectedItems: 0,
    markers: [],
    markersDropped: 0,
    statuses: {},
    retries: 0,
    droppedBatches: 0,
    droppedEvents: 0,
    retryAfter: [],
    lateTicks: 0,
  };
  const inflight = new Set<Promise<void>>();

  const post = async (path: string, body: string, contentType: string, events: number, marker?: string) => {
    const sentAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { authorization: `Bearer ${start.token}`, 'content-type': contentType },
          body,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        status = res.statusCode;
        const retryAfter = res.headers['retry-after'];
        if (typeof retryAfter === 'string' && !report.retryAfter.includes(retryAfter))
          report.retryAfter.push(retryAfter);
        const text = await res.body.text();
        if (status === 200) {
          const answer = JSON.parse(text) as { accepted: number; rejected: unknown[] };
          report.acceptedEvents += answer.accepted;
          report.rejectedItems += answer.rejected.length;
          if (marker) report.markers.push({ name: marker, sentAt });
        }
      } catch {
        status = 0;
      }
      report.statuses[status] = (report.statuses[status] ?? 0) + 1;
      if (status === 200) return;
      const delay = DELAYS_MS[attempt];
      if (delay === undefined) {
        report.droppedBatches++;
        report.droppedEvents += events;
        if (marker) report.markersDropped++;
        return;
      }
      report.retries++;
      await new Promise((r) => setTimeout(r, delay));
    }
  };

  const send = (path: string, body: string, contentType: string, events: number, marker?: string) => {
    const p = post(path, body, contentType, events, marker).finally(() => inflight.delete(p));
    inflight.add(p);
  };

  let stopping = false;
  const intervalMs = (start.batch / start.rate) * 1000;
  const loop = (async () => {
    const t0 = performance.now();
    for (let tick = 0; !stopping; tick++) {
      if (inflight.size < MAX_IN_FLIGHT) {
        const audit: JsonObject[] = [];
        const falco: JsonObject[] = [];
        for (let i = 0; i < start.batch; i++) {
          const item = workload.next();
          (item.source === 'falco' ? falco : audit).push(item.raw);
        }
        let marker: string | undefined;
        if (tick % start.markerEvery === 0) {
          const event = markerEvent(tick, start.runId, Date.now());
          marker = (event.objectRef as { name: string }).name;
          audit.push(event);
        }
        const list = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: audit };
        send('/v1/audit', JSON.stringify(list), 'application/json', audit.length, marker);
        if (falco.length > 0)
          send(
            '/v1/falco',
            falco.map((f) => JSON.stringify(f)).join('\n'),
            'application/x-ndjson',
            falco.length,
          );
        report.batches++;
        report.sentEvents += audit.length + falco.length;
      } else report.lateTicks++;
      const wait = t0 + (tick + 1) * intervalMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else report.lateTicks++;
    }
  })();

  process.send?.({ type: 'started' });
  await new Promise<void>((resolve) => {
    process.on('message', (m: { type: string }) => {
      if (m.type === 'stop') resolve();
    });
  });
  stopping = true;
  await loop;
  while (inflight.size > 0) await Promise.all(inflight);
  await pool.close();
  process.send?.(report, () => process.exit(0));
}

process.once('message', (m: SoakLoadStart) => {
  if (m.type !== 'start') return;
  run(m).catch((err) => {
    process.stderr.write(`soak load generator failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
