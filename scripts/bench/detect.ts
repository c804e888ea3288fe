/**
 * In-process figures: `parse_eps` (the baseline: `JSON.parse` of the serialized
 * normalized events) and `detect_eps` (the same strings → `JSON.parse` →
 * `Detector.process` through the whole catalogue), measured in interleaved rounds.
 */
import { Detector, loadRules } from '../../src/detect/index.ts';
import { normalizeAny } from '../../src/normalize/index.ts';
import { interleavedRounds, type RoundsOptions, spread } from './stats.ts';
import type { JsonObject, WorkloadItem } from './workload.ts';

export const BENCH_CLUSTER = 'bench';

/** Normalizes the workload once and serializes it as it travels on `klaxon.events`. */
export function serializeNormalized(items: readonly WorkloadItem[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    const result = normalizeAny(item.raw, { cluster: BENCH_CLUSTER });
    if (!result.ok) throw new Error(`workload event (${item.category}) does not normalize: ${result.reason}`);
    out.push(JSON.stringify(result.event));
  }
  return out;
}

export interface DetectFigures {
  parse_eps: number;
  detect_eps: number;
  detect_rules: number;
  /** How `detect_rules` splits, and the filters loaded besides. */
  catalogue: { detection: number; correlation: number; filters: number };
  /** Alerts per pass over the workload (a sanity check that rules fire). */
  alerts_per_pass: number;
  /** JSON.parse of the 400-event EventList bodies, in events per second (ingest's own baseline). */
  parse_list_eps: number;
  /** The same three per wall-clock second. */
  wall: { parse: number; detect: number; parse_list: number };
  spreads: Record<string, number>;
}

export async function benchParseDetect(
  serialized: readonly string[],
  eventListBodies: readonly string[],
  rulePaths: string[],
  options: RoundsOptions,
): Promise<DetectFigures> {
  const { ruleset, errors } = await loadRules(rulePaths);
  if (errors.length > 0) {
    throw new Error(`rule catalogue has errors:\n${errors.map((e) => JSON.stringify(e)).join('\n')}`);
  }
  const listEvents = eventListBodies.reduce(
    (sum, body) => sum + (JSON.parse(body) as { items: unknown[] }).items.length,
    0,
  );
  let sink = 0;
  let alertsPerPass = 0;
  const results = interleavedRounds(
    {
      parse: () => {
        for (const s of serialized) sink += (JSON.parse(s) as JsonObject) === null ? 1 : 0;
        return serialized.length;
      },
      detect: () => {
        // A fresh detector per pass: the workload's event times repeat each pass.
        const detector = new Detector(ruleset);
        let alerts = 0;
        for (const s of serialized) alerts += detector.process(JSON.parse(s)).length;
        alertsPerPass = alerts;
        return serialized.length;
      },
      parse_list: () => {
        for (const body of eventListBodies) sink += (JSON.parse(body) as JsonObject) === null ? 1 : 0;
        return listEvents;
      },
    },
    options,
  );
  if (sink < 0) console.log(sink);
  const get = (name: string) => results[name] ?? { eps: Number.NaN, wallEps: Number.NaN, rounds: [] };
  return {
    parse_eps: get('parse').eps,
    detect_eps: get('detect').eps,
    detect_rules: ruleset.rules.length + ruleset.correlations.length,
    catalogue: {
      detection: ruleset.rules.length,
      correlation: ruleset.correlations.length,
      filters: ruleset.filters.length,
    },
    alerts_per_pass: alertsPerPass,
    parse_list_eps: get('parse_list').eps,
    wall: {
      parse: get('parse').wallEps,
      detect: get('detect').wallEps,
      parse_list: get('parse_list').wallEps,
    },
    spreads: Object.fromEntries(Object.entries(results).map(([n, r]) => [n, spread(r.rounds)])),
  };
}
