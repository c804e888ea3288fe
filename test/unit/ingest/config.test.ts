import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARS, loadConfig } from '../../../src/config.ts';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.kafka.brokers).toBeUndefined();
    expect(c.kafka.eventsTopic).toBe('klaxon.events');
    expect(c.kafka.eventsPartitions).toBe(6);
    expect(c.ingest.auditBodyLimit).toBe(32 * 1024 * 1024);
    expect(c.ingest.falcoBodyLimit).toBe(1024 * 1024);
    expect(c.ingest.auditEventLimit).toBe(256 * 1024);
    expect(c.ingest.port).toBe(8080);
    expect(c.detect.rules).toEqual([join(import.meta.dirname, '../../../detections')]);
  });

  it('reads lists, sizes and subject maps from the environment', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      KLAXON_AUDIT_BODY_LIMIT: '12MiB',
      KLAXON_TLS_CLIENTS: 'apiserver-prod=prod,apiserver-dev=dev',
      KLAXON_RULES: 'detections,extra/rules',
    });
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.ingest.auditBodyLimit).toBe(12 * 1024 * 1024);
    expect(c.ingest.tls.clients).toEqual({ 'apiserver-prod': 'prod', 'apiserver-dev': 'dev' });
    expect(c.detect.rules).toEqual(['detections', 'extra/rules']);
  });

  it('fails naming the bad variable', () => {
    expect(() => loadConfig({ KLAXON_EVENTS_PARTITIONS: 'six' })).toThrow(ConfigError);
    expect(() => loadConfig({ KLAXON_EVENTS_PARTITIONS: 'six' })).toThrow(/KLAXON_EVENTS_PARTITIONS/);
    expect(() => loadConfig({ ELASTICSEARCH_URL: 'not a url' })).toThrow(/ELASTICSEARCH_URL/);
    expect(() => loadConfig({ KLAXON_LOG_LEVEL: 'loud' })).toThrow(/KLAXON_LOG_LEVEL/);
  });

  it('reads a YAML file that the environment and flags override', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-config-'));
    const file = join(dir, 'klaxon.yaml');
    writeFileSync(file, 'kafka:\n  eventsPartitions: 3\n  eventsTopic: from-file\ningest:\n  port: 9000\n');
    const c = loadConfig({ KLAXON_CONFIG: file, KLAXON_EVENTS_TOPIC: 'from-env' }, { 'ingest.port': 9100 });
    expect(c.kafka.eventsPartitions).toBe(3);
    expect(c.kafka.eventsTopic).toBe('from-env');
    expect(c.ingest.port).toBe(9100);
    writeFileSync(file, 'kafka:\n  evntsTopic: typo\n');
    expect(() => loadConfig({ KLAXON_CONFIG: file })).toThrow(/evntsTopic/);
  });
});

describe('README', () => {
  it('documents every environment variable', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'));
    for (const name of Object.keys(ENV_VARS)) expect(section).toContain(`| \`${name}\` |`);
  });
});
