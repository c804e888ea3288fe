import { describe, expect, it } from 'vitest';
import {
  escapeParamValue,
  formatSyslog,
  frameOctetCounted,
  headerField,
  jsonPayload,
  type SyslogHeader,
} from '../../../src/sinks/syslog-format.ts';
import { makeAlert } from './make-alert.ts';

const header: SyslogHeader = {
  facility: 'authpriv',
  hostname: 'klaxon-detect-0',
  appName: 'klaxon',
  procId: '42',
  version: '1.2.3',
  bom: false,
};

describe('formatSyslog (RFC 5424)', () => {
  it('writes PRI from facility and level, version 1, the detection time, and the origin element', () => {
    const alert = makeAlert('a', { level: 'high' });
    const line = formatSyslog(alert, 'PAYLOAD', header);
    // authpriv (10) * 8 + error (3) = 83
    expect(line).toBe(
      '<83>1 2025-03-14T09:26:54.000Z klaxon-detect-0 klaxon 42 k8s-clusterrolebinding-cluster-a [origin software="Klaxon" swVersion="1.2.3"] PAYLOAD',
    );
  });

  it('maps every Sigma level to a syslog severity', () => {
    const pri = (level: 'critical' | 'high' | 'medium' | 'low' | 'informational') =>
      formatSyslog(makeAlert('a', { level }), '', { ...header, facility: 'local0' }).split('>')[0];
    expect([pri('critical'), pri('high'), pri('medium'), pri('low'), pri('informational')]).toEqual([
      '<130',
      '<131',
      '<132',
      '<133',
      '<134',
    ]);
  });

  it('starts MSG with the UTF-8 BOM only when asked', () => {
    const withBom = formatSyslog(makeAlert('a'), 'x', { ...header, bom: true });
    expect(withBom.endsWith('] \u{FEFF}x')).toBe(true);
    expect(formatSyslog(makeAlert('a'), 'x', header).endsWith('] x')).toBe(true);
  });

  it('keeps header fields printable ASCII without spaces, within their lengths, NILVALUE when empty', () => {
    expect(headerField('host name\twith ü', 255)).toBe('host_name_with__');
    expect(headerField('x'.repeat(60), 48)).toHaveLength(48);
    expect(headerField('', 32)).toBe('-');
    const line = formatSyslog(makeAlert('a'), 'm', { ...header, hostname: '' });
    expect(line.split(' ')[2]).toBe('-');
  });

  it('escapes ", \\ and ] in structured-data values', () => {
    expect(escapeParamValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    const line = formatSyslog(makeAlert('a'), 'm', { ...header, version: '1"]' });
    expect(line).toContain('swVersion="1\\"\\]"');
  });
});

describe('frameOctetCounted (RFC 6587 §3.4.1)', () => {
  it('prefixes the length in bytes, so multi-byte characters and newlines cannot break the framing', () => {
    const message = 'ünïcödé 🚨\nsecond line';
    const frame = frameOctetCounted(message);
    const bytes = Buffer.byteLength(message, 'utf8');
    expect(bytes).toBeGreaterThan(message.length);
    expect(frame.subarray(0, String(bytes).length + 1).toString('ascii')).toBe(`${bytes} `);
    expect(frame.subarray(String(bytes).length + 1).toString('utf8')).toBe(message);
  });
});

describe('jsonPayload', () => {
  it('is the whole alert when it fits', () => {
    const alert = makeAlert('a');
    expect(JSON.parse(jsonPayload(alert, 8192))).toEqual(alert);
  });

  it('leaves out the raw event and says so when the alert is too large', () => {
    const alert = makeAlert('a');
    alert.kubernetes = { audit: { verb: 'create', requestObject: { blob: 'x'.repeat(20_000) } } };
    const payload = JSON.parse(jsonPayload(alert, 8192));
    expect(payload.kubernetes).toBeUndefined();
    expect(payload.klaxon.truncated).toBe(true);
    expect(payload.klaxon.alert_id).toBe(alert.klaxon.alert_id);
    expect(payload.message).toBe(alert.message);
  });
});
