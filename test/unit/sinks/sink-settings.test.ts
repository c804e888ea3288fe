import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import { sinksFromSettings } from '../../../src/sinks/from-settings.ts';

function withFile(yaml: string): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-sinks-'));
  writeFileSync(join(dir, 'klaxon.yaml'), yaml);
  return { dir, env: { KLAXON_CONFIG: join(dir, 'klaxon.yaml') } };
}

const logger = createLogger('silent');

describe('sinks: in the settings file', () => {
  it('reads named instances of each type with their defaults', () => {
    const { env } = withFile(`
sinks:
  corp-splunk: {type: splunk-hec, url: "https://splunk.example:8088", tokenFile: /run/secrets/hec, minLevel: medium, rules: ["k8s-*"], tags: [attack.t1611]}
  qradar: {type: syslog, transport: tls, host: qradar.example, port: 6514, format: cef, caFile: /etc/klaxon/qradar-ca.pem}
  otel: {type: otlp, endpoint: "http://otel-collector:4318", encoding: protobuf}
  oncall-eu: {type: alertmanager, url: "http://am-eu:9093", minLevel: high}
`);
    const { sinks } = loadConfig(env);
    expect(Object.keys(sinks)).toEqual(['corp-splunk', 'qradar', 'otel', 'oncall-eu']);
    expect(sinks['corp-splunk']).toMatchObject({
      type: 'splunk-hec',
      sourcetype: 'klaxon:alert',
      ack: false,
      minLevel: 'medium',
      rules: ['k8s-*'],
      tags: ['attack.t1611'],
      spool: { maxBytes: 256 * 1024 * 1024 },
    });
    expect(sinks.qradar).toMatchObject({
      type: 'syslog',
      facility: 'authpriv',
      bom: false,
      settleMs: 250,
      minLevel: 'informational',
    });
    expect(sinks.otel).toMatchObject({ type: 'otlp', logsPath: '/v1/logs', body: 'alert', batchSize: 100 });
    expect(sinks['oncall-eu']).toMatchObject({
      type: 'alertmanager',
      minLevel: 'high',
      resolveAfterSeconds: 3600,
    });
  });

  it('has none by default', () => {
    expect(loadConfig({}).sinks).toEqual({});
  });

  it('refuses an unknown key with its path', () => {
    const { env } = withFile('sinks:\n  qradar: {type: syslog, host: q, prot: 514}\n');
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/sinks\.qradar.*prot/);
  });

  it('refuses an unknown type, a bad name, a built-in name and options of another transport', () => {
    expect(() => loadConfig(withFile('sinks:\n  x: {type: kinesis}\n').env)).toThrow(/sinks\.x\.type/);
    expect(() => loadConfig(withFile('sinks:\n  "../etc": {type: syslog, host: q}\n').env)).toThrow(/sinks/);
    expect(() =>
      loadConfig(withFile('sinks:\n  elasticsearch: {type: otlp, endpoint: "http://c:4318"}\n').env),
    ).toThrow(/name the sinks of their own sections/);
    expect(() => loadConfig(withFile('sinks:\n  s: {type: syslog, host: q, caFile: /ca.pem}\n').env)).toThrow(
      /need transport: tls/,
    );
  });

  it('takes secrets only from files: a token in the settings or credentials in a URL are refused', () => {
    expect(() =>
      loadConfig(
        withFile('sinks:\n  s: {type: splunk-hec, url: "https://s:8088", token: abc, tokenFile: /t}\n').env,
      ),
    ).toThrow(/token/);
    expect(() =>
      loadConfig(withFile('sinks:\n  o: {type: otlp, endpoint: "http://user:pw@c:4318"}\n').env),
    ).toThrow(/no credentials in the URL: use headersFile/);
    expect(() =>
      loadConfig(withFile('sinks:\n  s: {type: splunk-hec, url: "https://u:p@s:8088", tokenFile: /t}\n').env),
    ).toThrow(/no credentials in the URL: use tokenFile/);
  });

  it('wants a client certificate and its key together (HTTPS sinks)', () => {
    for (const sink of [
      '{type: otlp, endpoint: "https://c:4318"',
      '{type: splunk-hec, url: "https://s:8088", tokenFile: /t',
    ]) {
      expect(() => loadConfig(withFile(`sinks:\n  s: ${sink}, certFile: /c.pem}\n`).env), sink).toThrow(
        /certFile and keyFile go together/,
      );
      expect(() => loadConfig(withFile(`sinks:\n  s: ${sink}, keyFile: /k.pem}\n`).env), sink).toThrow(
        /certFile and keyFile go together/,
      );
      const ok = loadConfig(
        withFile(`sinks:\n  s: ${sink}, caFile: /ca.pem, certFile: /c.pem, keyFile: /k.pem}\n`).env,
      );
      expect(ok.sinks.s, sink).toMatchObject({ caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' });
    }
  });

  it('becomes sinks named after their instances; a missing token file stops the start with the sink named', async () => {
    const { dir, env } = withFile('');
    writeFileSync(join(dir, 'hec-token'), 'secret-token-value\n');
    const good = withFile(`
ingest: {spool: {dir: ${join(dir, 'spool')}}}
sinks:
  splunk: {type: splunk-hec, url: "http://127.0.0.1:1", tokenFile: ${join(dir, 'hec-token')}}
  otel: {type: otlp, endpoint: "http://127.0.0.1:1", spool: false}
`);
    const { sinks } = sinksFromSettings(loadConfig(good.env), { indexEvents: false, logger });
    expect(sinks.map((s) => s.name)).toEqual(['splunk', 'otel']);
    await Promise.all(sinks.map((s) => s.close()));

    const missing = withFile(
      `sinks:\n  splunk: {type: splunk-hec, url: "http://127.0.0.1:1", tokenFile: ${join(dir, 'nope')}}\n`,
    );
    expect(() =>
      sinksFromSettings(loadConfig({ ...env, ...missing.env }), { indexEvents: false, logger }),
    ).toThrow(/sinks\.splunk: .*nope/);
  });

  it('gives the Alertmanager section the same rule and tag filter', () => {
    const { env } = withFile(
      'alertmanager: {url: "http://am:9093", tags: [attack.t1611], excludeRules: [k8s-exec-*]}\n',
    );
    expect(loadConfig({ ...env, KLAXON_ALERTMANAGER_MIN_LEVEL: 'high' }).alertmanager).toMatchObject({
      minLevel: 'high',
      tags: ['attack.t1611'],
      excludeRules: ['k8s-exec-*'],
      rules: [],
    });
  });
});
