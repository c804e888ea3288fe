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

/** The Klaxon series a PromQL expression reads. */
export function klaxonSeriesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bklaxon_[a-z0-9_]+/g) ?? [])];
}
