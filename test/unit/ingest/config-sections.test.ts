import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.ts';

function settingsFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'klaxon-sections-')), 'klaxon.yaml');
  writeFileSync(file, text);
  return file;
}

describe('top-level sections of the settings file', () => {
  it('refuses an unknown section, naming it', () => {
    const file = settingsFile('kafka:\n  eventsPartitions: 3\nsourcez:\n  eks: {type: cloudwatch}\n');
    expect(() => loadConfig({ KLAXON_CONFIG: file })).toThrow(ConfigError);
    expect(() => loadConfig({ KLAXON_CONFIG: file })).toThrow(/Unrecognized key: "sourcez"/);
  });

  it('names every unknown section at once, and still the bad values of known ones', () => {
    const file = settingsFile('kafak:\n  brokers: k1:9092\nalertmanger: {}\ningest:\n  port: many\n');
    let message = '';
    try {
      loadConfig({ KLAXON_CONFIG: file });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('"kafak"');
    expect(message).toContain('"alertmanger"');
    expect(message).toContain('KLAXON_PORT (ingest.port)');
  });

  it('takes every known section', () => {
    const file = settingsFile(
      [
        'kafka: {eventsPartitions: 2}',
        'elasticsearch: {indexPrefix: k}',
        'alertmanager: {minLevel: high}',
        'ingest: {port: 9000}',
        'detect: {latenessSeconds: 5}',
        'log: {level: warn}',
        'sinks: {}',
        '',
      ].join('\n'),
    );
    const c = loadConfig({ KLAXON_CONFIG: file });
    expect([c.kafka.eventsPartitions, c.ingest.port, c.detect.latenessSeconds, c.log.level]).toEqual([
      2,
      9000,
      5,
      'warn',
    ]);
  });
});
