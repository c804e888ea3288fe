import { describe, expect, it } from 'vitest';
import { neighbourScan, quietFlowsHour } from './quiet-flows.ts';

/** The quiet-traffic fixture of issue 16: an hour of ordinary service traffic as the Hubble exporter writes it. */
describe('an hour of a healthy cluster’s Hubble flows', () => {
  const records = quietFlowsHour();
  const flows = records.map((r) => r.flow as Record<string, unknown>);

  it('is thousands of exporter records, in time order, from every node', () => {
    expect(records.length).toBeGreaterThan(10_000);
    for (const r of records) expect(Object.keys(r)).toEqual(['flow', 'node_name', 'time']);
    const times = records.map((r) => String(r.time));
    expect([...times].sort()).toEqual(times);
    expect(new Set(records.map((r) => r.node_name)).size).toBe(3);
  });

  it('is ordinary service traffic: visitors, service calls, DNS, scrapes, probes, metadata reads, API watches', () => {
    const pods = new Set(flows.map((f) => (f.source as { pod_name?: string }).pod_name).filter(Boolean));
    for (const prefix of [
      'ingress-nginx-controller',
      'web-',
      'checkout-',
      'prometheus-',
      'metrics-server-',
      'aws-load-balancer-controller-',
      'cert-manager-',
    ])
      expect(
        [...pods].some((p) => String(p).startsWith(prefix)),
        prefix,
      ).toBe(true);
    const ports = new Set(
      flows.map((f) => (f.l4 as { TCP?: { destination_port: number } }).TCP?.destination_port),
    );
    for (const port of [443, 8080, 8443, 5432, 6379, 10250, 80]) expect(ports).toContain(port);
    expect(flows.some((f) => f.Type === 'L7')).toBe(true);
    expect(flows.filter((f) => f.verdict === 'FORWARDED').length).toBeGreaterThan(records.length * 0.99);
  });

  it('is the same hour on every run', () => {
    expect(JSON.stringify(quietFlowsHour())).toBe(JSON.stringify(records));
    expect(JSON.stringify(quietFlowsHour(7))).not.toBe(JSON.stringify(records));
  });

  it('the neighbour scan: one pod, dozens of addresses, ten ports, in under a minute', () => {
    const scan = neighbourScan().map((r) => r.flow as Record<string, unknown>);
    expect(new Set(scan.map((f) => (f.source as { pod_name: string }).pod_name)).size).toBe(1);
    expect(new Set(scan.map((f) => (f.IP as { destination: string }).destination)).size).toBeGreaterThan(30);
    const times = scan.map((f) => Date.parse(String(f.time)));
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(60_000);
  });
});
