/**
 * In-process figures: `parse_eps` (the baseline: `JSON.parse` of the serialized
 * normalized events) and `detect_eps` (the same strings → `JSON.parse` →
 * `Detector.process` through the whole catalogue), measured in interleaved rounds;
 * the same with the catalogue several times over (`scales`), and on the workload
 * with one identity flooding it (`flood*`, against its own parse baseline).
 */
import { rmSync } from 'node:fs';
import { Detector, loadRules } from '../../src/detect/index.ts';
import type { RuleSet } from '../../src/detect/ruleset.ts';
import { normalizeAny, normalizeAudit } from '../../src/normalize/index.ts';
import { multiplyCatalogue } from './catalogue.ts';
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

/**
 * The workload with one identity flooding it: after every `every - 1` workload events, one request by the
 * same user from the same address, refused by the authorizer (403, `get` of the same secret), at the time of
 * the event before it. It feeds the correlations of denied requests (`value_count` of resources and request
 * paths by user, which never reach their thresholds and so keep every entry of their 10-minute windows, and
 * `event_count` by address): with 20,000 events, 4,000 entries in one window.
 */
export function withFlood(serialized: readonly string[], every: number): string[] {
  const out: string[] = [];
  serialized.forEach((s, i) => {
    out.push(s);
    if ((i + 1) % (every - 1) !== 0) return;
    const at = (JSON.parse(s) as { '@timestamp': string })['@timestamp'];
    const result = normalizeAudit(
      {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'Metadata',
        auditID: `00000000-f100-4d00-8000-${String(i).padStart(12, '0')}`,
        stage: 'ResponseComplete',
        requestURI: '/api/v1/namespaces/payments/secrets/db-credentials',
        verb: 'get',
        user: { username: 'system:serviceaccount:ci:runner', groups: ['system:serviceaccounts'] },
        sourceIPs: ['10.12.7.31'],
        userAgent: 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
        objectRef: { resource: 'secrets', namespace: 'payments', name: 'db-credentials', apiVersion: 'v1' },
        responseStatus: {
          metadata: {},
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: 'secrets "db-credentials" is forbidden',
        },
        requestReceivedTimestamp: at,
        stageTimestamp: at,
        annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      },
      { cluster: BENCH_CLUSTER },
    );
    if (!result.ok) throw new Error(`flood event does not normalize: ${result.reason}`);
    out.push(JSON.stringify(result.event));
  });
  return out;
}

async function loadCatalogue(paths: string[]): Promise<RuleSet> {
  const { ruleset, errors } = await loadRules(paths);
  if (errors.length > 0) {
    throw new Error(`rule catalogue has errors:\n${errors.map((e) => JSON.stringify(e)).join('\n')}`);
  }
  return ruleset;
}

export interface DetectOptions extends RoundsOptions {
  /** Catalogue sizes measured besides 1× (rules duplicated under new names and ids). */
  scales: number[];
  /** One event in `floodEvery` is the flooding identity's (0: no flood figures). */
  floodEvery: number;
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
  /** Per catalogue size (2×, 5×…): rules loaded and events per CPU-second. */
  scaled: { times: number; rules: number; eps: number }[];
  /** The flooded workload: its parse baseline and detection, and its alerts per pass. */
  flood?: { parse_eps: number; detect_eps: number; events: number; alerts_per_pass: number };
}

export async function benchParseDetect(
  serialized: readonly string[],
  eventListBodies: readonly string[],
  rulePaths: string[],
  options: DetectOptions,
): Promise<DetectFigures> {
  const ruleset = await loadCatalogue(rulePaths);
  const scaled: { times: number; ruleset: RuleSet }[] = [];
  for (const times of options.scales) {
    const dir = multiplyCatalogue(rulePaths, times);
    try {
      scaled.push({ times, ruleset: await loadCatalogue([dir]) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const flooded = options.floodEvery > 0 ? withFlood(serialized, options.floodEvery) : [];
  let floodAlerts = 0;
  const listEvents = eventListBodies.reduce(
    (sum, body) => sum + (JSON.parse(body) as { items: unknown[] }).items.length,
    0,
  );
  let sink = 0;
  let alertsPerPass = 0;
  const detectAll = (rules: RuleSet, events: readonly string[]) => {
    // A fresh detector per pass: the workload's event times repeat each pass.
    const detector = new Detector(rules);
    let alerts = 0;
    for (const s of events) alerts += detector.process(JSON.parse(s)).length;
    return alerts;
  };
  const extra: Record<string, () => number> = {};
  for (const { times, ruleset: rules } of scaled) {
    extra[`detect_x${times}`] = () => {
      detectAll(rules, serialized);
      return serialized.length;
    };
  }
  if (flooded.length > 0) {
    extra.parse_flood = () => {
      for (const s of flooded) sink += (JSON.parse(s) as JsonObject) === null ? 1 : 0;
      return flooded.length;
    };
    extra.detect_flood = () => {
      floodAlerts = detectAll(ruleset, flooded);
      return flooded.length;
    };
  }
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
      ...extra,
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
    scaled: scaled.map(({ times, ruleset: rules }) => ({
      times,
      rules: rules.rules.length + rules.correlations.length,
      eps: get(`detect_x${times}`).eps,
    })),
    ...(flooded.length > 0
      ? {
          flood: {
            parse_eps: get('parse_flood').eps,
            detect_eps: get('detect_flood').eps,
            events: flooded.length,
            alerts_per_pass: floodAlerts,
          },
        }
      : {}),
  };
}
