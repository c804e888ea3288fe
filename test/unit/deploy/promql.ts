import { registry } from '../../../src/metrics.ts';

/** Every series name Klaxon exports, histogram series included. */
export async function exportedSeriesNames(): Promise<Set<string>> {
  const metrics = await registry.getMetricsAsJSON();
  return new Set(
    metrics.flatMap((m) =>
      String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    ),
  );
}

/** The series of Klaxon's registry a PromQL expression reads: its own and the standard process ones. */
export function klaxonSeriesIn(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:klaxon|process|nodejs)_[a-z0-9_]+/g) ?? [])];
}

/** Where docs/operations.md is published: the runbook base of the alert rules, the dashboard and the chart. */
export const RUNBOOK_BASE = 'https://github.com/klaxon-dev/klaxon/blob/main/docs/operations.md';
