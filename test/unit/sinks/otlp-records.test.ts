import { SeverityNumber } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { classifyOtlp, OtlpTransport } from '../../../src/sinks/otlp.ts';
import {
  alertAttributes,
  OTEL_SEVERITY,
  recordContext,
  toLogRecord,
} from '../../../src/sinks/otlp-records.ts';
import { OtlpSinkSettings } from '../../../src/sinks/otlp-settings.ts';
import { makeAlert } from './make-alert.ts';

const instance = {
  hostname: 'det-0',
  version: '1.2.3',
  instanceId: 'i-1',
  extra: { 'deployment.environment.name': 'prod' },
};

describe('alertAttributes', () => {
  it('names the alert context with OpenTelemetry semantic conventions', () => {
    const alert = makeAlert('a');
    alert.orchestrator = {
      cluster: { name: 'prod-eu-1' },
      namespace: 'payments',
      resource: { type: 'pods', name: 'api-7f' },
    };
    alert.container = { image: { name: 'ghcr.io/acme/api' } };
    expect(alertAttributes(alert)).toMatchObject({
      'k8s.cluster.name': 'prod-eu-1',
      'k8s.namespace.name': 'payments',
      'k8s.pod.name': 'api-7f',
      'user.name': 'alice',
      'source.address': '10.0.0.7',
      'user_agent.original': alert.user_agent?.original,
      'container.image.name': 'ghcr.io/acme/api',
      'security_rule.name': 'k8s-clusterrolebinding-cluster-admin',
      'security_rule.uuid': alert.rule.id,
      'security_rule.ruleset.name': 'klaxon',
      'log.record.uid': alert.klaxon.alert_id,
      'klaxon.severity': 'high',
      'klaxon.count': 1,
      'klaxon.revision': 0,
      'threat.technique.id': ['T1098'],
    });
  });

  it('leaves absent values out instead of sending them empty', () => {
    const alert = makeAlert('b');
    delete alert.user;
    delete alert.source;
    delete alert.orchestrator;
    const attributes = alertAttributes(alert);
    expect(attributes).not.toHaveProperty('user.name');
    expect(attributes).not.toHaveProperty('source.address');
    expect(attributes).not.toHaveProperty('k8s.cluster.name');
    expect(Object.values(attributes).every((v) => v !== '' && v !== undefined)).toBe(true);
  });

  it('names the workload by its kind only for kinds the conventions know', () => {
    const alert = makeAlert('c');
    alert.orchestrator = { cluster: { name: 'x' }, resource: { type: 'clusterrolebindings', name: 'crb' } };
    const attributes = alertAttributes(alert);
    expect(Object.keys(attributes).filter((k) => k.startsWith('k8s.') && k.endsWith('.name'))).toEqual([
      'k8s.cluster.name',
    ]);
    expect(attributes['klaxon.resource.name']).toBe('crb');
  });
});

describe('toLogRecord', () => {
  it('carries event time, detection time, severity and the alert as body', () => {
    const alert = makeAlert('d', { level: 'critical' });
    const record = toLogRecord(alert, recordContext(instance, 'alert'));
    expect(record.hrTime).toEqual([Date.parse(alert['@timestamp']) / 1000, 0]);
    expect(record.hrTimeObserved).toEqual([Date.parse(alert.event.created) / 1000, 0]);
    expect(record.severityNumber).toBe(SeverityNumber.FATAL);
    expect(record.severityText).toBe('critical');
    expect(record.eventName).toBe('klaxon.alert');
    expect(record.body).toEqual(JSON.parse(JSON.stringify(alert)));
    expect(record.resource.attributes).toMatchObject({
      'service.name': 'klaxon',
      'service.version': '1.2.3',
      'service.instance.id': 'i-1',
      'host.name': 'det-0',
      'deployment.environment.name': 'prod',
    });
  });

  it('sends only the message as body when asked', () => {
    const alert = makeAlert('e');
    expect(toLogRecord(alert, recordContext(instance, 'message')).body).toBe(alert.message);
  });

  it('orders severity numbers as Sigma orders levels', () => {
    const order = ['informational', 'low', 'medium', 'high', 'critical'] as const;
    const numbers = order.map((l) => OTEL_SEVERITY[l]);
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
  });
});

describe('OTLP/JSON request', () => {
  it('is an ExportLogsServiceRequest grouped by resource and scope, as the collector reads it', () => {
    const settings = OtlpSinkSettings.parse({
      type: 'otlp',
      endpoint: 'http://127.0.0.1:1',
      encoding: 'json',
    });
    const transport = new OtlpTransport('otel', settings);
    const alerts = [makeAlert('f'), makeAlert('g', { level: 'low' })];
    const request = JSON.parse(Buffer.from(transport.encode(alerts)).toString('utf8'));
    expect(request.resourceLogs).toHaveLength(1);
    const [resourceLogs] = request.resourceLogs;
    const serviceName = resourceLogs.resource.attributes.find(
      (a: { key: string }) => a.key === 'service.name',
    );
    expect(serviceName.value.stringValue).toBe('klaxon');
    expect(resourceLogs.scopeLogs).toHaveLength(1);
    const records = resourceLogs.scopeLogs[0].logRecords;
    expect(records).toHaveLength(2);
    expect(records[0].severityNumber).toBe(SeverityNumber.ERROR);
    expect(records[1].severityNumber).toBe(SeverityNumber.INFO4);
    expect(records[0].eventName).toBe('klaxon.alert');
    const uid = records[0].attributes.find((a: { key: string }) => a.key === 'log.record.uid');
    expect(uid.value.stringValue).toBe(alerts[0]!.klaxon.alert_id);
    expect(String(records[0].timeUnixNano)).toBe(`${Date.parse(alerts[0]!['@timestamp'])}000000`);
  });

  it('is smaller as protobuf than as JSON, and gzip is a valid gzip stream', async () => {
    const alerts = [makeAlert('h')];
    const encode = (encoding: 'json' | 'protobuf', compression: 'none' | 'gzip' = 'none') =>
      new OtlpTransport(
        'otel',
        OtlpSinkSettings.parse({ type: 'otlp', endpoint: 'http://127.0.0.1:1', encoding, compression }),
      ).encode(alerts);
    expect(encode('protobuf').length).toBeLessThan(encode('json').length);
    const { gunzipSync } = await import('node:zlib');
    const unzipped = gunzipSync(encode('protobuf', 'gzip'));
    // Same request but for the random service.instance.id of each transport.
    expect(unzipped.length).toBe(encode('protobuf').length);
    expect(unzipped.includes(Buffer.from(alerts[0]!.klaxon.alert_id))).toBe(true);
  });
});

describe('classifyOtlp', () => {
  it('follows OTLP/HTTP: 2xx done, 400/413 never, the rest later', () => {
    expect(classifyOtlp(200)).toEqual({ kind: 'ok', rejectedRecords: 0 });
    expect(classifyOtlp(200, { rejectedRecords: 2, message: 'bad' })).toEqual({
      kind: 'ok',
      rejectedRecords: 2,
      message: 'bad',
    });
    expect(classifyOtlp(400).kind).toBe('rejected');
    expect(classifyOtlp(413).kind).toBe('rejected');
    for (const status of [429, 502, 503, 504, 401, 404, 500]) expect(classifyOtlp(status).kind).toBe('retry');
  });
});
