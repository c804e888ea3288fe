import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { dashboardQueries, loadDashboard } from './dashboard.ts';
import { exportedSeriesNames, klaxonSeriesIn, RUNBOOK_BASE } from './promql.ts';

const root = join(import.meta.dirname, '../../..');
const dashboard = loadDashboard();
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const queries = dashboardQueries(dashboard);
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-grafana-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy/grafana/dashboards/klaxon.json', () => {
  it('has at least 8 panels, each with a query, and unique ids', () => {
    expect(panels.length).toBeGreaterThanOrEqual(8);
    for (const p of panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has a multi-select cluster variable whose All matches every cluster', () => {
    const cluster = dashboard.templating.list.find((v) => v.name === 'cluster');
    expect(cluster?.type).toBe('query');
    expect(cluster?.allValue).toBe('.*');
  });

  it('queries only metrics Klaxon exports', async () => {
    const exported = await exportedSeriesNames();
    for (const q of queries) {
      const used = klaxonSeriesIn(q.expr);
      expect(used.length, q.panel).toBeGreaterThan(0);
      for (const series of used) expect(exported, `${q.panel}: ${series}`).toContain(series);
    }
  });

  it('covers the pipeline and every security signal', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const series of [
      'klaxon_ingest_events_total',
      'klaxon_ingest_rejected_total',
      'klaxon_bus_produce_seconds_bucket',
      'klaxon_detect_lag_seconds_bucket',
      'klaxon_alerts_total',
      'klaxon_sink_writes_total',
      'klaxon_deadletter_total',
      'klaxon_spool_events',
      'klaxon_consumer_lag_messages',
      'klaxon_k8s_auth_failures_total',
      'klaxon_k8s_rbac_changes_total',
      'klaxon_k8s_privileged_pods_total',
      'klaxon_k8s_secret_reads_total',
      'klaxon_k8s_pod_exec_total',
      'klaxon_k8s_networkpolicy_changes_total',
      'klaxon_k8s_quota_exceeded_total',
      'klaxon_k8s_image_pull_failures_total',
      'klaxon_falco_alerts_total',
      'klaxon_network_policy_drops_total',
      'klaxon_ingest_flows_total',
      'klaxon_hubble_lost_events_total',
    ]) {
      expect(all, series).toContain(series);
    }
    expect(all).toMatch(/sum by \(severity\) \(rate\(klaxon_alerts_total/);
    expect(all).toMatch(/by \(rule/);
  });

  it('filters every per-cluster metric by the cluster variable', () => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (
          /klaxon_(ingest_events|alerts|k8s_\w+|falco_alerts|network_policy_drops|ingest_flows|hubble_\w+|ingest_hubble_records)_total/.test(
            t.expr,
          )
        ) {
          expect(t.expr, p.title).toContain('cluster=~"$cluster"');
        }
      }
    }
  });

  it('has job and instance variables, and every query follows them', () => {
    for (const name of ['job', 'instance']) {
      expect(dashboard.templating.list.find((v) => v.name === name)?.type, name).toBe('query');
    }
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        for (const series of t.expr.match(/\b(?:klaxon|process|nodejs)_[a-z0-9_]+(?:\{[^}]*\})?/g) ?? []) {
          expect(series, p.title).toContain('job=~"$job"');
          expect(series, p.title).toContain('instance=~"$instance"');
        }
      }
    }
  });

  it('draws bars whose height does not depend on the zoom (no increase over the interval)', () => {
    for (const q of dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ p, expr: t.expr })))) {
      expect(q.expr, q.p.title).not.toMatch(/increase\([^)]*\[\$__(rate_)?interval\]/);
    }
  });

  it('gives a panel that mixes a level and a rate a second axis with its own unit', () => {
    for (const p of panels) {
      const kinds = new Set((p.targets ?? []).map((t) => /\brate\(/.test(t.expr)));
      if (kinds.size < 2) continue;
      const rateRefs = (p.targets ?? []).filter((t) => /\brate\(/.test(t.expr)).map((t) => t.refId);
      for (const ref of rateRefs) {
        const override = p.fieldConfig?.overrides?.find((o) => o.matcher.options === ref);
        const props = Object.fromEntries((override?.properties ?? []).map((x) => [x.id, x.value]));
        expect(props.unit, `${p.title} ${ref}`).toBeDefined();
        expect(props.unit, `${p.title} ${ref}`).not.toBe(p.fieldConfig?.defaults?.unit);
        expect(props['custom.axisPlacement'], `${p.title} ${ref}`).toBe('right');
      }
    }
  });

  it('shows the processes with the standard Node and process metrics', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const series of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(all, series).toContain(series);
    }
    expect(all).not.toContain('klaxon_process_');
  });

  it('has the "Network policy violations" row: drops by bounded namespace and direction, the network alerts', () => {
    const rowAt = dashboard.panels.findIndex(
      (p) => p.type === 'row' && p.title === 'Network policy violations',
    );
    expect(rowAt).toBeGreaterThan(0);
    const next = dashboard.panels.findIndex((p, i) => i > rowAt && p.type === 'row');
    const row = dashboard.panels.slice(rowAt + 1, next < 0 ? undefined : next);
    const exprs = row.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(
      exprs.some((e) => /sum by \(cluster, namespace\) \(rate\(klaxon_network_policy_drops_total/.test(e)),
    ).toBe(true);
    expect(
      exprs.some((e) => /sum by \(cluster, direction\) \(rate\(klaxon_network_policy_drops_total/.test(e)),
    ).toBe(true);
    expect(exprs.some((e) => e.includes('rule=~"hubble-.*"'))).toBe(true);
    // No panel lays over another: each row's panels sit below it and above the next row.
    const cells = new Set<string>();
    for (const p of dashboard.panels)
      for (let dy = 0; dy < p.gridPos.h; dy++)
        for (let dx = 0; dx < p.gridPos.w; dx++) {
          const cell = `${p.gridPos.x + dx},${p.gridPos.y + dy}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
  });

  it('links the runbook through the runbook_base constant, the base of the alert rules', () => {
    const base = dashboard.templating.list.find((v) => v.name === 'runbook_base');
    expect(base?.type).toBe('constant');
    expect(base?.query).toBe(RUNBOOK_BASE);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax
    expect(dashboard.links?.map((l) => l.url)).toEqual(['${runbook_base}#runbook']);
  });

  it('has PromQL that Prometheus parses (checked by promtool as recording rules)', () => {
    const file = join(scratch, 'dashboard-rules.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          { name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:q${i}`, expr: q.expr })) },
        ],
      }),
    );
    const run = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    if (run.error) {
      throw new Error(`promtool is not installed (${run.error.message}); apt-get install -y prometheus`);
    }
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

describe('deploy/grafana/provisioning', () => {
  it('provides the datasource the dashboard defaults to, and loads the dashboard folder docker-compose mounts', () => {
    const ds = parse(
      readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    );
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(ds.datasources[0].uid).toBe(variable?.current?.value);
    const provider = parse(
      readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/klaxon.yml'), 'utf8'),
    );
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`./deploy/grafana/dashboards:${provider.providers[0].options.path}:ro`);
  });
});
