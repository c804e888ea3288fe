// `klaxon detect` as a process, with SIEM sinks from its settings file: alerts detected from
// Kafka reach rsyslog (CEF over TCP) and the OpenTelemetry Collector, each once, and the
// detector's /metrics counts them per sink name.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCef } from '../helpers/cef.ts';
import { clusterAdminBinding, type TestRules, writeTestRules } from './detect-fixtures.ts';
import {
  kafkaBrokers,
  kafkaClient,
  otlpCollector,
  syslogReceiver,
  uniqueTopic,
  waitFor,
} from './services.ts';
import { otlpRecords, syslogRecords } from './siem-receivers.ts';

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const bin = fileURLToPath(new URL('../../bin/klaxon.js', import.meta.url));
const eventsTopic = uniqueTopic('kxs.events');

let rules: TestRules;
let producer: Producer;
let child: ChildProcess | undefined;
let port = 0;
let stderr = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

beforeAll(async () => {
  rules = writeTestRules(`siem-${run}`);
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-detect-siem-'));
  const r = syslogReceiver();
  const c = otlpCollector();
  writeFileSync(
    join(dir, 'klaxon.yaml'),
    [
      'ingest:',
      `  spool: {dir: ${join(dir, 'spool')}}`,
      'sinks:',
      '  qradar:',
      `    {type: syslog, transport: tcp, host: ${r.host}, port: ${r.tcpPort}, format: cef, rules: ["kxt-crb-admin-*"]}`,
      '  otel:',
      `    {type: otlp, endpoint: "${c.endpoint}", encoding: protobuf, minLevel: high}`,
    ].join('\n'),
  );
  producer = kafkaClient('kxs-producer').producer();
  await producer.connect();
  port = await freePort();
  child = spawn(process.execPath, [bin, 'detect', '--port', String(port)], {
    env: {
      ...process.env,
      ELASTICSEARCH_URL: '',
      KLAXON_ALERTMANAGER_URL: '',
      KLAXON_CONFIG: join(dir, 'klaxon.yaml'),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KLAXON_EVENTS_TOPIC: eventsTopic,
      KLAXON_EVENTS_PARTITIONS: '1',
      KLAXON_SIGNALS_TOPIC: uniqueTopic('kxs.signals'),
      KLAXON_ALERTS_TOPIC: uniqueTopic('kxs.alerts'),
      KLAXON_DEADLETTER_TOPIC: uniqueTopic('kxs.deadletter'),
      KLAXON_GROUP_ID: `kxs-detect-${run}`,
      KLAXON_CORRELATE_GROUP_ID: `kxs-correlate-${run}`,
      KLAXON_RULES: rules.dir,
      KLAXON_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await producer?.disconnect();
});

describe('klaxon detect with sinks: in its settings', () => {
  it('sends each alert once to rsyslog (CEF) and to the collector, and counts them per sink', async () => {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000).catch(
      (error) => {
        throw new Error(`${error.message}\nstderr of klaxon detect:\n${stderr}`);
      },
    );
    const users = [0, 1, 2].map((i) => `siem-${run}-${i}`);
    await producer.send({
      topic: eventsTopic,
      acks: -1,
      messages: users.map((u) => ({
        value: JSON.stringify(clusterAdminBinding(new Date().toISOString(), u)),
      })),
    });
    const atSyslog = await waitFor(async () => {
      const mine = (await syslogRecords('tcp')).filter((x) =>
        users.some((u) => x.msg.includes(`suser=${u} `)),
      );
      return mine.length >= users.length ? mine : undefined;
    }, 60_000);
    const atOtel = await waitFor(async () => {
      const mine = (await otlpRecords()).filter((x) => users.includes(String(x.attributes['user.name'])));
      return mine.length >= users.length ? mine : undefined;
    }, 60_000);
    // Give a duplicate the time to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const syslogIds = (await syslogRecords('tcp'))
      .filter((x) => users.some((u) => x.msg.includes(`suser=${u} `)))
      .map((x) => parseCef(x.msg).extension.cs6);
    const otelIds = (await otlpRecords())
      .filter((x) => users.includes(String(x.attributes['user.name'])))
      .map((x) => x.alertId);
    expect(syslogIds).toHaveLength(3);
    expect(new Set(syslogIds).size).toBe(3);
    expect([...otelIds].sort()).toEqual([...syslogIds].sort());
    expect(atSyslog.every((x) => parseCef(x.msg).header[4] === rules.admin)).toBe(true);
    expect(atOtel.every((x) => x.attributes['security_rule.name'] === rules.admin)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/klaxon_sink_writes_total\{sink="qradar",outcome="spooled"\} 3/);
    expect(metrics).toMatch(/klaxon_sink_writes_total\{sink="qradar",outcome="ok"\} 3/);
    expect(metrics).toMatch(/klaxon_sink_writes_total\{sink="otel",outcome="ok"\} 3/);
    expect(metrics).toMatch(/klaxon_sink_queue_alerts\{sink="otel"\} 0/);
  });
});
