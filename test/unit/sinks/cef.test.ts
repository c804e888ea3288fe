import { describe, expect, it } from 'vitest';
import {
  CEF_SEVERITY,
  cefExtension,
  escapeExtension,
  escapeHeader,
  formatCef,
} from '../../../src/sinks/cef.ts';
import { parseCef } from '../../helpers/cef.ts';
import { makeAlert } from './make-alert.ts';

describe('CEF escaping', () => {
  it('escapes \\ and | in the header, and turns line breaks into spaces there', () => {
    expect(escapeHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(escapeHeader('one\ntwo\r\nthree')).toBe('one two three');
    expect(escapeHeader('a=b')).toBe('a=b');
  });

  it('escapes \\, = and line breaks in extension values, but not |', () => {
    expect(escapeExtension('a=b\\c|d')).toBe('a\\=b\\\\c|d');
    expect(escapeExtension('one\ntwo\rthree')).toBe('one\\ntwo\\rthree');
  });
});

describe('formatCef', () => {
  it('writes the header with the rule as signature and the severity on 0-10', () => {
    const record = formatCef(makeAlert('a', { level: 'critical' }), { version: '1.2.3', hostname: 'det-0' });
    expect(
      record.startsWith(
        'CEF:0|Klaxon|Klaxon|1.2.3|k8s-clusterrolebinding-cluster-admin|A ClusterRoleBinding grants cluster-admin.|10|',
      ),
    ).toBe(true);
    expect(Object.values(CEF_SEVERITY).every((s) => s >= 0 && s <= 10)).toBe(true);
  });

  it('round-trips hostile values through a CEF parser: pipes, backslashes, equals signs, newlines, UTF-8', () => {
    const alert = makeAlert('evil');
    alert.rule.description = 'pipe | back \\ eq = new\nline';
    alert.message = 'mallory ü 🚨 ran `sh -c "a=1 | b\\\\c"`\nsecond line';
    alert.user = { name: 'mallory=admin|root\\x' };
    alert.orchestrator = {
      cluster: { name: 'prod' },
      namespace: 'ns',
      resource: { type: 'pods', name: 'p=1|2' },
    };
    const { header, extension } = parseCef(formatCef(alert, { version: '1', hostname: 'h' }));
    expect(header[5]).toBe('pipe | back \\ eq = new line');
    expect(extension.msg).toBe(alert.message);
    expect(extension.suser).toBe('mallory=admin|root\\x');
    expect(extension.cs3Label).toBe('resource');
    expect(extension.cs3).toBe('pods/p=1|2');
    expect(extension.cs1).toBe('prod');
  });

  it('uses the standard CEF keys for the alert context', () => {
    const alert = makeAlert('ctx');
    const ext = Object.fromEntries(cefExtension(alert, 'det-0'));
    expect(ext).toMatchObject({
      rt: String(Date.parse(alert['@timestamp'])),
      msg: alert.message,
      suser: 'alice',
      src: '10.0.0.7',
      requestClientApplication: alert.user_agent?.original,
      act: 'create',
      cat: 'Privilege Escalation',
      cnt: '1',
      dvchost: 'det-0',
      cs1Label: 'cluster',
      cs1: 'test',
      cs2Label: 'namespace',
      cs2: 'kube-system',
      cs4Label: 'mitreTechniques',
      cs4: 'T1098',
      cs6Label: 'alertId',
      cs6: alert.klaxon.alert_id,
      flexString1Label: 'ruleId',
      flexString1: alert.rule.id,
    });
    expect(ext).not.toHaveProperty('externalId');
  });

  it('carries the whole 64-character alert id, which CEF externalId (40) could not', () => {
    const alert = makeAlert('id');
    alert.klaxon.alert_id = 'ab'.repeat(32);
    const record = formatCef(alert, { version: '1', hostname: 'h' });
    expect(parseCef(record).extension.cs6).toBe('ab'.repeat(32));
  });

  it('puts an IPv6 source in c6a2, never in src', () => {
    const alert = makeAlert('v6');
    alert.source = { ip: '2001:db8::7' };
    const ext = Object.fromEntries(cefExtension(alert, 'h'));
    expect(ext.src).toBeUndefined();
    expect(ext.c6a2).toBe('2001:db8::7');
  });

  it('uses the Falco rule as the action of a Falco alert', () => {
    const alert = makeAlert('falco');
    delete alert.kubernetes;
    alert.falco = { rule: 'Terminal shell in container', priority: 'Notice' };
    expect(Object.fromEntries(cefExtension(alert, 'h')).act).toBe('Terminal shell in container');
  });

  it('cuts values to the CEF field lengths', () => {
    const alert = makeAlert('long');
    alert.message = 'm'.repeat(5000);
    expect(Object.fromEntries(cefExtension(alert, 'h')).msg).toHaveLength(1023);
  });
});
