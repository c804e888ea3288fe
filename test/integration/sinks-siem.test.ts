// The SIEM sinks against real receivers started by scripts/services: Debian's rsyslog (TCP, TLS,
// TLS with a client certificate) and an OpenTelemetry Collector (OTLP/HTTP receiver, file
// exporter). Assertions read what the receivers wrote to their files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import type { Alert } from '../../src/schema/alert.ts';
import { createNamedSink } from '../../src/sinks/named-sinks.ts';
import { SinkSettings } from '../../src/sinks/settings.ts';
import type { Sink } from '../../src/sinks/sink.ts';
import { SinkUnavailableError } from '../../src/sinks/sink.ts';
import { parseCef } from '../helpers/cef.ts';
import { startServe } from '../helpers/klaxon-process.ts';
import { auditEvent, eventList, TOKENS } from '../unit/ingest/helpers.ts';
import { otlpCollector, syslogReceiver, waitFor } from './services.ts';
import { hostileAlert, otlpRecords, syslogRecords } from './siem-receivers.ts';

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const logger = createLogger('silent');
const opened: Sink[] = [];
afterAll(async () => {
  await Promise.allSettled(opened.map((s) => s.close()));
});

function sink(name: string, settings: Record<string, unknown>): Sink {
  const s = createNamedSink(name, SinkSettings.parse(settings), {
    logger,
    spoolRoot: mkdtempSync(join(tmpdir(), 'siem-it-')),
  });
  opened.push(s);
  return s;
}

const batch = (what: string, n: number) =>
  Array.from({ length: n }, (_, i) => hostileAlert(`${run}-${what}-${i}`));
const idsOf = (alerts: Alert[]) => alerts.map((a) => a.klaxon.alert_id);

/** How many times each id appears among `seen`, for exactly the ids sent. */
function tally(sent: string[], seen: string[]): Map<string, number> {
  const counts = new Map(sent.map((id) => [id, 0]));
  for (const id of seen) if (counts.has(id)) counts.set(id, counts.get(id)! + 1);
  return counts;
}

describe('syslog sink → rsyslog', () => {
  it('TCP, JSON payload: every alert once, framing intact with newlines and UTF-8, RFC 5424 header as sent', async () => {
    const r = syslogReceiver();
    const alerts = batch('tcp-json', 30);
    const s = sink('it-syslog-tcp', {
      type: 'syslog',
      transport: 'tcp',
      host: r.host,
      port: r.tcpPort,
      format: 'json',
      batchSize: 7,
    });
    await s.write(alerts);
    const ids = idsOf(alerts);
    const records = await waitFor(async () => {
      const mine = (await syslogRecords('tcp')).filter((x) => ids.includes(x.alertId ?? ''));
      return mine.length >= ids.length ? mine : undefined;
    });
    expect(
      [
        ...tally(
          ids,
          records.map((x) => x.alertId ?? ''),
        ).values(),
      ].every((n) => n === 1),
    ).toBe(true);
    for (const record of records) {
      const payload = JSON.parse(record.msg) as Alert;
      const original = alerts.find((a) => a.klaxon.alert_id === payload.klaxon.alert_id)!;
      expect(payload).toEqual(original);
      expect(record.app).toBe('klaxon');
      expect(record.msgid).toBe('k8s-clusterrolebinding-cluster-a');
      expect(record.pri).toBe(10 * 8 + 3);
      expect(record.sd).toBe('[origin software="Klaxon" swVersion="0.1.0"]');
    }
    expect(records[0]!.msg).toContain('ünïcödé 🚨');
  });

  it('TLS with a client certificate, CEF payload: escaping of |, \\, = and newlines as rsyslog wrote it', async () => {
    const r = syslogReceiver();
    const alerts = batch('mtls-cef', 10);
    const s = sink('it-syslog-mtls', {
      type: 'syslog',
      transport: 'tls',
      host: r.host,
      port: r.mtlsPort,
      format: 'cef',
      caFile: r.caFile,
      certFile: r.clientCertFile,
      keyFile: r.clientKeyFile,
    });
    await s.write(alerts);
    const ids = idsOf(alerts);
    const records = await waitFor(async () => {
      const mine = (await syslogRecords('mtls')).filter((x) => ids.includes(x.alertId ?? ''));
      return mine.length >= ids.length ? mine : undefined;
    });
    expect(
      [
        ...tally(
          ids,
          records.map((x) => x.alertId ?? ''),
        ).values(),
      ].every((n) => n === 1),
    ).toBe(true);
    for (const record of records) {
      const { header, extension } = parseCef(record.msg);
      const original = alerts.find((a) => a.klaxon.alert_id === extension.cs6)!;
      expect(header.slice(0, 7)).toEqual([
        'CEF:0',
        'Klaxon',
        'Klaxon',
        '0.1.0',
        original.rule.name,
        'pipe | in the name \\ and = sign, new line',
        '8',
      ]);
      expect(extension.msg).toBe(original.message);
      expect(extension.suser).toBe(original.user?.name);
      expect(extension.cs3).toBe(`pods/${original.orchestrator?.resource?.name}`);
      // The raw text keeps the escapes: one escaped newline, escaped = and \, unescaped | in values.
      expect(record.msg).toContain('line one\\nline two');
      expect(record.msg).toContain('a\\=b');
      expect(record.msg).toContain('C:\\\\temp');
      expect(record.msg).toContain('x|y');
    }
  });

  it('TLS without a client certificate, JSON payload, server verified against the test CA', async () => {
    const r = syslogReceiver();
    const alerts = batch('tls-json', 5);
    const s = sink('it-syslog-tls', {
      type: 'syslog',
      transport: 'tls',
      host: r.host,
      port: r.tlsPort,
      caFile: r.caFile,
    });
    await s.write(alerts);
    const ids = idsOf(alerts);
    const records = await waitFor(async () => {
      const mine = (await syslogRecords('tls')).filter((x) => ids.includes(x.alertId ?? ''));
      return mine.length >= ids.length ? mine : undefined;
    });
    expect(records.map((x) => x.alertId).sort()).toEqual([...ids].sort());
  });

  it('refuses a receiver whose certificate it cannot verify, and a receiver refuses it without a client certificate', async () => {
    const r = syslogReceiver();
    const hold = {
      spool: false,
      retry: { attempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
      timeoutSeconds: 5,
    };
    const systemCas = sink('it-syslog-untrusted', {
      type: 'syslog',
      transport: 'tls',
      host: r.host,
      port: r.tlsPort,
      ...hold,
    });
    await expect(systemCas.write(batch('untrusted', 1))).rejects.toBeInstanceOf(SinkUnavailableError);
    const wrongName = sink('it-syslog-wrong-name', {
      type: 'syslog',
      transport: 'tls',
      host: r.host,
      port: r.tlsPort,
      caFile: r.caFile,
      serverName: 'siem.example.com',
      ...hold,
    });
    await expect(wrongName.write(batch('wrong-name', 1))).rejects.toBeInstanceOf(SinkUnavailableError);
    const noClientCert = sink('it-syslog-no-client-cert', {
      type: 'syslog',
      transport: 'tls',
      host: r.host,
      port: r.mtlsPort,
      caFile: r.caFile,
      ...hold,
    });
    const refused = batch('no-client-cert', 1);
    await expect(noClientCert.write(refused)).rejects.toBeInstanceOf(SinkUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await syslogRecords('mtls')).some((x) => x.alertId === refused[0]!.klaxon.alert_id)).toBe(false);
  });
});

describe('OTLP sink → OpenTelemetry Collector', () => {
  it.each(['protobuf', 'json'] as const)(
    '%s: every alert once, as LogRecords with semantic-convention attributes',
    async (encoding) => {
      const c = otlpCollector();
      const alerts = batch(`otlp-${encoding}`, 12);
      const s = sink(`it-otlp-${encoding}`, {
        type: 'otlp',
        endpoint: c.endpoint,
        encoding,
        compression: encoding === 'json' ? 'gzip' : 'none',
        resource: { 'deployment.environment.name': 'integration' },
        batchSize: 5,
      });
      await s.write(alerts);
      const ids = idsOf(alerts);
      const records = await waitFor(async () => {
        const mine = (await otlpRecords()).filter((x) => ids.includes(x.alertId ?? ''));
        return mine.length >= ids.length ? mine : undefined;
      });
      expect(
        [
          ...tally(
            ids,
            records.map((x) => x.alertId ?? ''),
          ).values(),
        ].every((n) => n === 1),
      ).toBe(true);
      const first = records.find((x) => x.alertId === ids[0])!;
      const original = alerts[0]!;
      expect(first.resource['service.name']).toBe('klaxon');
      expect(first.resource['deployment.environment.name']).toBe('integration');
      expect(first.record.severityNumber).toBe(17);
      expect(first.record.severityText).toBe('high');
      expect(first.record.eventName).toBe('klaxon.alert');
      expect(first.record.timeUnixNano).toBe(`${Date.parse(original['@timestamp'])}000000`);
      expect(first.attributes).toMatchObject({
        'k8s.cluster.name': 'test',
        'k8s.namespace.name': 'kube-system',
        'k8s.pod.name': original.orchestrator?.resource?.name,
        'user.name': original.user?.name,
        'source.address': '10.0.0.7',
        'security_rule.name': original.rule.name,
        'log.record.uid': original.klaxon.alert_id,
      });
      expect(first.body.message).toBe(original.message);
    },
  );
});

describe('klaxon serve with sinks from the settings file', () => {
  it('sends every alert to a syslog (CEF) and an OTLP sink next to stdout', async () => {
    const r = syslogReceiver();
    const c = otlpCollector();
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-serve-siem-'));
    writeFileSync(join(dir, 'tokens.yaml'), `prod: ${TOKENS.prod}\n`);
    writeFileSync(
      join(dir, 'klaxon.yaml'),
      [
        'ingest:',
        `  spool: {dir: ${join(dir, 'spool')}}`,
        'sinks:',
        '  qradar:',
        `    {type: syslog, transport: tcp, host: ${r.host}, port: ${r.tcpPort}, format: cef, minLevel: medium}`,
        '  otel:',
        `    {type: otlp, endpoint: "${c.endpoint}", encoding: protobuf}`,
      ].join('\n'),
    );
    const served = await startServe({
      KLAXON_TOKENS_FILE: join(dir, 'tokens.yaml'),
      KLAXON_CONFIG: join(dir, 'klaxon.yaml'),
    });
    try {
      const users = Array.from({ length: 5 }, (_, i) => `${run}-user-${i}`);
      const events = users.map((u) =>
        auditEvent({
          verb: 'create',
          user: { username: u },
          objectRef: {
            resource: 'clusterrolebindings',
            apiGroup: 'rbac.authorization.k8s.io',
            name: `crb-${u}`,
          },
          requestObject: {
            roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
            subjects: [{ kind: 'User', name: u }],
          },
          responseStatus: { code: 201 },
        }),
      );
      const res = await fetch(`${served.url}/v1/audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.prod}`, 'content-type': 'application/json' },
        body: JSON.stringify(eventList(events)),
      });
      expect(res.status).toBe(200);
      const printed = await waitFor(() => {
        const alerts = served
          .stdout()
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Alert)
          .filter((a) => users.includes(a.user?.name ?? ''));
        return alerts.length >= users.length ? alerts : undefined;
      });
      const medium = printed.filter((a) => ['medium', 'high', 'critical'].includes(a.klaxon.severity));
      expect(medium.length).toBeGreaterThan(0);
      const ids = idsOf(printed);
      const atOtel = await waitFor(async () => {
        const mine = (await otlpRecords()).filter((x) => ids.includes(x.alertId ?? ''));
        return mine.length >= ids.length ? mine : undefined;
      });
      expect(
        [
          ...tally(
            ids,
            atOtel.map((x) => x.alertId ?? ''),
          ).values(),
        ].every((n) => n === 1),
      ).toBe(true);
      const mediumIds = idsOf(medium);
      const atSyslog = await waitFor(async () => {
        const mine = (await syslogRecords('tcp')).filter((x) => ids.includes(x.alertId ?? ''));
        return mine.length >= mediumIds.length ? mine : undefined;
      });
      expect(atSyslog.map((x) => x.alertId).sort()).toEqual([...mediumIds].sort());
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });
});
