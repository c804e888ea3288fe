import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/schema/alert.ts';
import { AlertmanagerSink } from '../../src/sinks/alertmanager.ts';
import { SinkUnavailableError } from '../../src/sinks/sink.ts';
import { makeAlert } from '../unit/sinks/make-alert.ts';
import { alertmanagerUrl } from './services.ts';

const url = alertmanagerUrl();

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

async function listed(alertname: string): Promise<GettableAlert[]> {
  const filter = encodeURIComponent(`alertname="${alertname}"`);
  const response = await fetch(`${url}/api/v2/alerts?filter=${filter}`);
  expect(response.status).toBe(200);
  return (await response.json()) as GettableAlert[];
}

function uniqueRule(alert: Alert, name: string): Alert {
  alert.rule.name = name;
  return alert;
}

describe('AlertmanagerSink against a real Alertmanager', () => {
  const sink = new AlertmanagerSink({
    url,
    filter: { minLevel: 'medium', rules: [], excludeRules: [], tags: [] },
    resolveAfterMs: 600_000,
  });

  beforeAll(async () => {
    expect(await sink.ready(), `Alertmanager at ${url} is not ready`).toBe(true);
  });

  it('posts alerts that Alertmanager lists by alertname, once even when posted twice', async () => {
    const name = `klaxon-test-${randomUUID().slice(0, 8)}`;
    const alert = uniqueRule(makeAlert(name), name);
    expect(await sink.write([alert])).toEqual([]);
    expect(await sink.write([alert])).toEqual([]);
    const alerts = await listed(name);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.labels).toMatchObject({
      alertname: name,
      severity: 'high',
      cluster: 'test',
      namespace: 'kube-system',
      rule_id: alert.rule.id,
      alert_id: alert.klaxon.alert_id,
    });
    expect(alerts[0]!.annotations.summary).toBe(alert.message);
    expect(Date.parse(alerts[0]!.endsAt)).toBeGreaterThan(Date.now());
  });

  it('does not page for alerts below the minimum level', async () => {
    const name = `klaxon-test-${randomUUID().slice(0, 8)}`;
    await sink.write([uniqueRule(makeAlert(name, { level: 'low' }), name)]);
    expect(await listed(name)).toEqual([]);
  });

  it('fails the write after bounded retries when Alertmanager is down', async () => {
    const down = new AlertmanagerSink({
      url: 'http://127.0.0.1:9',
      retry: { attempts: 2, baseMs: 10, maxMs: 20 },
    });
    await expect(down.write([makeAlert('down')])).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(await down.ready()).toBe(false);
  });
});
