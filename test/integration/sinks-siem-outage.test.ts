// Outages of the SIEM receivers while alerts stream in: each receiver is stopped mid-stream with
// scripts/services (and always started again), the other sink must keep delivering, and once
// the receiver is back every alert must be there. Duplicates are allowed only where the
// protocol cannot tell: syslog has no acknowledgement, so alerts written to a connection that
// closed within the settle time are sent again (counted as `unconfirmed`); OTLP answers every
// request, so only a request whose answer was lost can be sent twice (counted as `retry`).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { registry } from '../../src/metrics.ts';
import type { Alert } from '../../src/schema/alert.ts';
import { createNamedSink } from '../../src/sinks/named-sinks.ts';
import { SinkSettings } from '../../src/sinks/settings.ts';
import { type Sink, writeToAll } from '../../src/sinks/sink.ts';
import { otlpCollector, runServices, syslogReceiver, waitFor } from './services.ts';
import { hostileAlert, otlpRecords, syslogRecords } from './siem-receivers.ts';

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const logger = createLogger('silent');
const opened: Sink[] = [];
afterAll(async () => {
  await Promise.allSettled(opened.map((s) => s.close()));
});

const quickRetry = { retry: { attempts: 3, initialBackoffMs: 100, maxBackoffMs: 1_000 }, timeoutSeconds: 3 };

function sinks(tag: string): { syslog: Sink; otlp: Sink; names: { syslog: string; otlp: string } } {
  const r = syslogReceiver();
  const c = otlpCollector();
  const names = { syslog: `outage-syslog-${tag}`, otlp: `outage-otlp-${tag}` };
  const ctx = { logger, spoolRoot: mkdtempSync(join(tmpdir(), 'siem-outage-')) };
  const syslog = createNamedSink(
    names.syslog,
    SinkSettings.parse({
      type: 'syslog',
      transport: 'tcp',
      host: r.host,
      port: r.tcpPort,
      format: 'json',
      ...quickRetry,
    }),
    ctx,
  );
  const otlp = createNamedSink(
    names.otlp,
    SinkSettings.parse({ type: 'otlp', endpoint: c.endpoint, ...quickRetry }),
    ctx,
  );
  opened.push(syslog, otlp);
  return { syslog, otlp, names };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = found?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return Number(value?.value ?? 0);
}

/** Writes the alerts one chunk at a time to both sinks, as the detector does; calls `midway` after `at` chunks. */
async function stream(all: Sink[], alerts: Alert[], at: number, midway: () => Promise<void>): Promise<void> {
  for (const [i, alert] of alerts.entries()) {
    if (i === at) await midway();
    await writeToAll(all, [alert]);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function counts(ids: string[], seen: Array<string | undefined>): { missing: number; duplicates: number } {
  const tally = new Map(ids.map((id) => [id, 0]));
  for (const id of seen) if (id && tally.has(id)) tally.set(id, tally.get(id)! + 1);
  const values = [...tally.values()];
  return {
    missing: values.filter((n) => n === 0).length,
    duplicates: values.reduce((sum, n) => sum + Math.max(0, n - 1), 0),
  };
}

describe('a SIEM receiver stopped mid-stream', () => {
  it('rsyslog: alerts wait in the syslog sink buffer, OTLP keeps delivering, then every alert reaches rsyslog', async () => {
    const { syslog, otlp, names } = sinks('rsyslog');
    const alerts = Array.from({ length: 60 }, (_, i) => hostileAlert(`${run}-rsyslog-${i}`));
    const ids = alerts.map((a) => a.klaxon.alert_id);
    const unconfirmedBefore = await metric('klaxon_sink_writes_total', {
      sink: names.syslog,
      outcome: 'unconfirmed',
    });
    try {
      await stream([syslog, otlp], alerts, 20, async () => {
        await runServices('stop', 'rsyslog');
      });
      // Every write was acknowledged (the sink buffer took it); the collector has all of them now.
      const atOtel = await waitFor(async () => {
        const c = counts(
          ids,
          (await otlpRecords()).map((r) => r.alertId),
        );
        return c.missing === 0 ? c : undefined;
      });
      expect(atOtel.duplicates).toBe(0);
      expect(await metric('klaxon_sink_queue_alerts', { sink: names.syslog })).toBeGreaterThanOrEqual(30);
      const delivered = counts(
        ids,
        (await syslogRecords('tcp')).map((r) => r.alertId),
      );
      expect(delivered.missing).toBeGreaterThanOrEqual(30);
    } finally {
      await runServices('start', 'rsyslog');
    }
    const final = await waitFor(async () => {
      const c = counts(
        ids,
        (await syslogRecords('tcp')).map((r) => r.alertId),
      );
      return c.missing === 0 ? c : undefined;
    }, 60_000);
    const unconfirmed =
      (await metric('klaxon_sink_writes_total', { sink: names.syslog, outcome: 'unconfirmed' })) -
      unconfirmedBefore;
    expect(final.duplicates).toBeLessThanOrEqual(unconfirmed);
    await waitFor(async () => (await metric('klaxon_sink_queue_alerts', { sink: names.syslog })) === 0);
  });

  it('the OpenTelemetry Collector: alerts wait in the OTLP sink buffer, syslog keeps delivering, then every alert reaches the collector', async () => {
    const { syslog, otlp, names } = sinks('otelcol');
    const alerts = Array.from({ length: 60 }, (_, i) => hostileAlert(`${run}-otelcol-${i}`));
    const ids = alerts.map((a) => a.klaxon.alert_id);
    const retriedBefore = await metric('klaxon_sink_writes_total', { sink: names.otlp, outcome: 'retry' });
    try {
      await stream([syslog, otlp], alerts, 20, async () => {
        await runServices('stop', 'otelcol');
      });
      const atSyslog = await waitFor(async () => {
        const c = counts(
          ids,
          (await syslogRecords('tcp')).map((r) => r.alertId),
        );
        return c.missing === 0 ? c : undefined;
      });
      expect(atSyslog.duplicates).toBe(0);
      expect(await metric('klaxon_sink_queue_alerts', { sink: names.otlp })).toBeGreaterThanOrEqual(30);
      const delivered = counts(
        ids,
        (await otlpRecords()).map((r) => r.alertId),
      );
      expect(delivered.missing).toBeGreaterThanOrEqual(30);
    } finally {
      await runServices('start', 'otelcol');
    }
    const final = await waitFor(async () => {
      const c = counts(
        ids,
        (await otlpRecords()).map((r) => r.alertId),
      );
      return c.missing === 0 ? c : undefined;
    }, 60_000);
    const retried =
      (await metric('klaxon_sink_writes_total', { sink: names.otlp, outcome: 'retry' })) - retriedBefore;
    expect(final.duplicates).toBeLessThanOrEqual(retried);
    await waitFor(async () => (await metric('klaxon_sink_queue_alerts', { sink: names.otlp })) === 0);
  });
});
