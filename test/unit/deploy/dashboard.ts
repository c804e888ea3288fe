import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Target = { refId: string; expr: string; legendFormat?: string };
export type Panel = {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  datasource?: { uid: string };
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[];
  };
};
export type Dashboard = {
  uid: string;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; allValue?: string; query?: unknown; current?: { value: unknown } }[];
  };
  links?: { title: string; url: string }[];
};

export const dashboardPath = join(import.meta.dirname, '../../../deploy/grafana/dashboards/klaxon.json');

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
}

/** Every query of the dashboard, with Grafana's variables replaced as Prometheus would receive them. */
export function dashboardQueries(dashboard: Dashboard): { panel: string; expr: string }[] {
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: `${p.title} ${t.refId}`,
      expr: t.expr
        .replaceAll('$cluster', '.*')
        .replaceAll('$job', '.*')
        .replaceAll('$instance', '.*')
        .replaceAll('$__rate_interval', '1m'),
    })),
  );
}
