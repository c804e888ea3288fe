import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { FlowIntake } from '../../../src/sources/flow-intake.ts';
import { FlowsSettings } from '../../../src/sources/flow-settings.ts';
import { atLeast, replay } from '../catalogue/replay.ts';
import { FLOW_T0, type Json } from './hubble.ts';
import { writeJsonl } from './k8s.ts';
import { neighbourScan, quietFlowsHour, SCAN_PORTS } from './quiet-flows.ts';

const byTime = (records: Json[]) => [...records].sort((a, b) => String(a.time).localeCompare(String(b.time)));
const loud = (alerts: Alert[]) =>
  alerts
    .filter((a) => atLeast(a.klaxon.severity, 'medium'))
    .map((a) => `${a.klaxon.severity} ${a.rule.name}: ${a.message}`);

/** What `POST /v1/flows` publishes of a batch with the default `ingest.flows` settings. */
function publishedBy(records: Json[]): Json[] {
  const intake = new FlowIntake(FlowsSettings.parse({}));
  const sorting = intake.sort(records.map((raw, index) => ({ index, raw })));
  return sorting.items.map((item) => ('raw' in item ? (item.raw as Json) : {}));
}

/**
 * Issue 16's scenarios through the whole catalogue: the quiet-traffic hour (thousands of allowed flows of ordinary
 * service traffic) raises nothing above low, and a pod scanning its neighbours in a default-deny namespace raises
 * one alert, not thousands — on the raw exporter output (`klaxon replay`) and on what ingest publishes.
 */
describe('Hubble flows through the catalogue', { timeout: 180_000 }, () => {
  const hour = quietFlowsHour();

  it('the quiet hour raises nothing above low, raw or through the volume filter', async () => {
    const raw = await replay([writeJsonl('quiet-flows.jsonl', hour)]);
    expect(raw.code).toBe(0);
    expect(raw.stderr).toContain(`${hour.length} event(s), 0 bad;`);
    expect(loud(raw.alerts)).toEqual([]);
    const filtered = publishedBy(hour);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.length).toBeLessThan(hour.length / 20);
    const published = await replay([writeJsonl('quiet-flows-published.jsonl', filtered)]);
    expect(loud(published.alerts)).toEqual([]);
  });

  it('a pod scanning its default-deny namespace in the middle of the hour raises exactly one alert', async () => {
    const scan = neighbourScan();
    expect(scan.length).toBeGreaterThan(1000);
    for (const records of [byTime([...hour, ...scan]), publishedBy(byTime([...hour, ...scan]))]) {
      const { alerts } = await replay([writeJsonl('quiet-flows-scan.jsonl', records)]);
      expect(alerts.map((a) => `${a.klaxon.severity} ${a.rule.name}`)).toEqual(['high hubble-address-sweep']);
      const [sweep] = alerts;
      expect(sweep!.source?.ip).toBe('10.0.21.77');
      expect(sweep!.orchestrator?.namespace).toBe('shop');
      // Every drop of the scan folds into the one alert.
      expect(sweep!.klaxon.count).toBe(scan.length);
    }
  });

  it('a Kubernetes-aware scan (kubelet and etcd ports too) adds one kubelet/etcd alert, not one per port', async () => {
    const scan = neighbourScan(FLOW_T0 + 1_800_000, [...SCAN_PORTS, 10250, 10255, 2379, 2380]);
    const { alerts } = await replay([writeJsonl('quiet-flows-k8s-scan.jsonl', byTime([...hour, ...scan]))]);
    expect(alerts.map((a) => `${a.klaxon.severity} ${a.rule.name}`).sort()).toEqual([
      'high hubble-address-sweep',
      'high hubble-kubelet-or-etcd-access',
    ]);
  });
});
