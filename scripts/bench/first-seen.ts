/**
 * First-seen rules (issue 20): what they cost per event and per key, each figure beside a baseline measured
 * in the same run (interleaved rounds, medians, per CPU-second, as the other in-process figures).
 *
 * - `first_seen_catalogue_eps`: the bench workload through the whole catalogue, against the same catalogue
 *   without `detections/first-seen/` (`catalogue_without_first_seen_eps`): what the shipped first-seen rules
 *   add to every event.
 * - `first_seen_100k_eps`: service-account requests through the first-seen rules alone while they hold
 *   100,000 keys (one service account each), every request a known key's known value sent again (the state's
 *   lookup and update: what each key costs once an hour), against the same requests through their base rules
 *   alone (`first_seen_base_eps`); `first_seen_us_per_event` is the difference per event. The same within the
 *   hour (`first_seen_repeat_eps`): stage 1 sends nothing, having sent the value less than an hour before.
 * - `first_seen_churn_cap_eps` and `first_seen_churn_expiry_eps`: 100,000 keys that churn, every request by a
 *   service account never seen before, so each signal adds a key and forgets one: past the max-keys cap (all
 *   requests within the timespan), or by expiry (requests spread so the oldest key's timespan ends as each new
 *   one arrives), against the same new requests through the base rules alone (`first_seen_churn_base_eps`).
 * - `first_seen_bytes_per_key`: heap per key of the state alone (FirstSeenState fed 100,000 keys with two
 *   values each), and of a whole detector (state and what stage 1 remembers sending).
 *
 *   node scripts/bench/first-seen.ts [--quick]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { FirstSeenState } from '../../src/detect/first-seen/state.ts';
import { Detector, loadRules } from '../../src/detect/index.ts';
import type { RuleSet } from '../../src/detect/ruleset.ts';
import type { NormalizedEvent } from '../../src/schema/event.ts';
import type { Signal } from '../../src/schema/signal.ts';
import { BENCH_CLUSTER } from './detect.ts';
import { interleavedRounds, type RoundsOptions, spread } from './stats.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export const FIRST_SEEN_DIR = 'first-seen';
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1);

export interface FirstSeenFigures {
  first_seen_catalogue_eps: number;
  catalogue_without_first_seen_eps: number;
  first_seen_100k_eps: number;
  first_seen_base_eps: number;
  first_seen_repeat_eps: number;
  first_seen_us_per_event: number;
  first_seen_churn_cap_eps: number;
  first_seen_churn_expiry_eps: number;
  first_seen_churn_base_eps: number;
  first_seen_churn_cap_us_per_event: number;
  first_seen_churn_expiry_us_per_event: number;
  first_seen_bytes_per_key: number;
  first_seen_detector_bytes_per_key: number;
  keys: number;
  detail: string[];
}

function load(paths: string[]): RuleSet {
  const { ruleset, errors } = loadRules(paths);
  if (errors.length > 0) throw new Error(`rule errors: ${JSON.stringify(errors)}`);
  return ruleset;
}

/** The catalogue's folders and files other than the first-seen rules. */
function withoutFirstSeen(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n !== FIRST_SEEN_DIR && !n.startsWith('.') && !n.endsWith('.md'))
    .map((n) => join(dir, n));
}

/** A normalized request by service account `i` (its own client, its pod's address), at `time`. */
function request(i: number, time: number): NormalizedEvent {
  const ns = `team-${i % 200}`;
  const name = `app-${i}`;
  const at = new Date(time).toISOString();
  const auditID = `fs-${i}-0`;
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const ua = `app-${i % 50}/v1.${i % 7}.0 (linux/amd64) kubernetes/$Format`;
  return {
    '@timestamp': at,
    event: {
      kind: 'event',
      dataset: 'kubernetes.audit',
      action: 'get',
      outcome: 'success',
      id: `${auditID}/ResponseComplete`,
    },
    user: { name: `system:serviceaccount:${ns}:${name}` },
    source: { ip },
    user_agent: { original: ua },
    orchestrator: {
      type: 'kubernetes',
      cluster: { name: BENCH_CLUSTER },
      namespace: ns,
      resource: { type: 'configmaps', name: `${name}-config` },
    },
    kubernetes: {
      audit: {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'Metadata',
        auditID,
        stage: 'ResponseComplete',
        requestURI: `/api/v1/namespaces/${ns}/configmaps/${name}-config`,
        verb: 'get',
        user: {
          username: `system:serviceaccount:${ns}:${name}`,
          groups: ['system:serviceaccounts', 'system:authenticated'],
        },
        sourceIPs: [ip],
        userAgent: ua,
        objectRef: { resource: 'configmaps', namespace: ns, name: `${name}-config`, apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
        requestReceivedTimestamp: at,
        stageTimestamp: at,
      },
    },
  };
}

let pass = 0;

/**
 * Makes every event a new request at `time` (a request already matched is skipped, one alert per rule per
 * request), so a round two hours after the last sends each key's value again.
 */
function retime(events: NormalizedEvent[], time: number): void {
  const at = new Date(time).toISOString();
  const suffix = `-${++pass}`;
  for (const e of events) {
    const audit = e.kubernetes!.audit as { auditID: string };
    e['@timestamp'] = at;
    audit.auditID = audit.auditID.replace(/-[0-9]+$/, suffix);
    e.event.id = `${audit.auditID}/ResponseComplete`;
  }
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

export function benchFirstSeen(
  serialized: readonly string[],
  catalogueDir: string,
  keys: number,
  options: RoundsOptions,
): FirstSeenFigures {
  const detail: string[] = [];
  // 1. The whole catalogue, with and without the first-seen rules, on the bench workload.
  const full = load([catalogueDir]);
  const without = load(withoutFirstSeen(catalogueDir));
  const parsed = serialized.map((s) => JSON.parse(s) as NormalizedEvent);
  const catalogue = interleavedRounds(
    {
      with: () => {
        const d = new Detector(full);
        for (const e of parsed) d.process(e);
        return parsed.length;
      },
      without: () => {
        const d = new Detector(without);
        for (const e of parsed) d.process(e);
        return parsed.length;
      },
    },
    options,
  );
  detail.push(
    `catalogue: ${full.firstSeen.length} first-seen rules; spread with ${(spread(catalogue.with!.rounds) * 100).toFixed(1)}%, without ${(spread(catalogue.without!.rounds) * 100).toFixed(1)}%`,
  );

  // 2. 100,000 keys: the first-seen rules alone against their base rules alone.
  // The first-seen rules with the detection rules they build on (some of those live in other folders).
  const firstSeen: RuleSet = {
    ...full,
    correlations: [],
    rules: full.rules.filter((r) => r.firstSeen.length > 0).map((r) => ({ ...r, correlations: [] })),
  };
  const baseOnly: RuleSet = {
    ...firstSeen,
    firstSeen: [],
    rules: firstSeen.rules.map((r) => ({ ...r, firstSeen: [], generates: false })),
  };
  const events = Array.from({ length: keys }, (_, i) => request(i, START));
  const warm = new Detector(firstSeen);
  for (const e of events) warm.process(e);
  const base = new Detector(baseOnly);
  let hour = 1;
  const state = interleavedRounds(
    {
      fresh: () => {
        retime(events, START + hour++ * 2 * HOUR);
        for (const e of events) warm.process(e);
        return events.length;
      },
      repeat: () => {
        retime(events, START + (hour - 1) * 2 * HOUR + 60_000);
        for (const e of events) warm.process(e);
        return events.length;
      },
      base: () => {
        retime(events, START + hour * 2 * HOUR);
        for (const e of events) base.process(e);
        return events.length;
      },
    },
    options,
  );
  detail.push(
    `100k keys: ${warm.firstSeenKeys} live keys in ${firstSeen.firstSeen.length} rules; spread fresh ${(spread(state.fresh!.rounds) * 100).toFixed(1)}%, repeat ${(spread(state.repeat!.rounds) * 100).toFixed(1)}%, base ${(spread(state.base!.rounds) * 100).toFixed(1)}%`,
  );

  // 3. 100,000 keys that churn: each round's requests come from service accounts never seen before.
  const timespan = Math.min(...firstSeen.firstSeen.map((r) => r.timespanMs));
  const maxKeys = Math.min(...firstSeen.firstSeen.map((r) => r.maxKeys));
  if (maxKeys > keys)
    throw new Error(`max-keys ${maxKeys} is above the ${keys} keys: the cap would never churn`);
  const perRound = Math.ceil(keys / 5);
  // Past the cap: full, and every new request within the timespan of the first.
  const capped = new Detector(firstSeen);
  for (const e of events) capped.process(e);
  let nextCapped = keys;
  // By expiry: a request every timespan/(90% of the keys), so about 90% of the cap is live and each request
  // ends the timespan of the oldest key.
  const step = timespan / Math.floor(keys * 0.9);
  const expiring = new Detector(firstSeen);
  let nextExpiring = 0;
  for (; nextExpiring < keys; nextExpiring++)
    expiring.process(request(nextExpiring, START + nextExpiring * step));
  let nextBase = 10 * keys;
  const churn = interleavedRounds(
    {
      cap: () => {
        for (let n = 0; n < perRound; n++, nextCapped++) capped.process(request(nextCapped, START + HOUR));
        return perRound;
      },
      expiry: () => {
        for (let n = 0; n < perRound; n++, nextExpiring++)
          expiring.process(request(nextExpiring, START + nextExpiring * step));
        return perRound;
      },
      base: () => {
        for (let n = 0; n < perRound; n++, nextBase++) base.process(request(nextBase, START + HOUR));
        return perRound;
      },
    },
    options,
  );
  detail.push(
    `churn: ${capped.firstSeenKeys} live keys past the cap, ${expiring.firstSeenKeys} expiring (one request every ${Math.round(step / 1000)} s of a ${timespan / 86_400_000}d timespan), ${perRound} new requests a round; spread cap ${(spread(churn.cap!.rounds) * 100).toFixed(1)}%, expiry ${(spread(churn.expiry!.rounds) * 100).toFixed(1)}%, base ${(spread(churn.base!.rounds) * 100).toFixed(1)}%`,
  );

  // 4. Memory per key: the state alone, then a whole detector.
  const rule =
    firstSeen.firstSeen.find((r) => r.name === 'k8s-workload-identity-new-client') ?? firstSeen.firstSeen[0]!;
  const before = heapUsed();
  const st = new FirstSeenState([rule], { cluster: BENCH_CLUSTER, now: () => new Date(START) });
  for (let i = 0; i < keys; i++) {
    const user = `system:serviceaccount:team-${i % 200}:app-${i}`;
    const signal: Signal = {
      correlation: rule.id,
      rule: rule.rules[0]!.id,
      key: JSON.stringify([rule.id, BENCH_CLUSTER, user]),
      group: { 'user.username': user },
      time: START,
      event_id: `e-${i}`,
      value: `app-${i % 50} (linux/amd64)`,
      context: { '@timestamp': new Date(START).toISOString(), dataset: 'kubernetes.audit' },
    };
    st.observe(signal);
    st.observe({ ...signal, time: START + HOUR, value: 'kubectl (linux/amd64)' });
  }
  st.changes();
  const stateBytes = (heapUsed() - before) / st.size;
  const before2 = heapUsed();
  const fresh = new Detector(firstSeen);
  for (const e of events) fresh.process(e);
  const detectorBytes = (heapUsed() - before2) / fresh.firstSeenKeys;
  detail.push(
    `memory: state alone ${Math.round(stateBytes)} B/key (${st.size} keys, 2 values each); detector ${Math.round(detectorBytes)} B/key (${fresh.firstSeenKeys} keys in ${firstSeen.firstSeen.length} rules, with what stage 1 remembers sending)`,
  );
  // Held until measured: the collector must not take them earlier.
  if (st.size + fresh.firstSeenKeys + warm.firstSeenKeys + capped.firstSeenKeys + expiring.firstSeenKeys < 0)
    console.log(st, fresh, warm, capped, expiring);

  const churnBase = churn.base!.eps;

  const fs = state.fresh!.eps;
  const b = state.base!.eps;
  return {
    first_seen_catalogue_eps: catalogue.with!.eps,
    catalogue_without_first_seen_eps: catalogue.without!.eps,
    first_seen_100k_eps: fs,
    first_seen_base_eps: b,
    first_seen_repeat_eps: state.repeat!.eps,
    first_seen_us_per_event: (1 / fs - 1 / b) * 1e6,
    first_seen_churn_cap_eps: churn.cap!.eps,
    first_seen_churn_expiry_eps: churn.expiry!.eps,
    first_seen_churn_base_eps: churnBase,
    first_seen_churn_cap_us_per_event: (1 / churn.cap!.eps - 1 / churnBase) * 1e6,
    first_seen_churn_expiry_us_per_event: (1 / churn.expiry!.eps - 1 / churnBase) * 1e6,
    first_seen_bytes_per_key: stateBytes,
    first_seen_detector_bytes_per_key: detectorBytes,
    keys,
    detail,
  };
}

if (process.argv[1] === import.meta.filename) {
  const { generate } = await import('./workload.ts');
  const { serializeNormalized } = await import('./detect.ts');
  const quick = process.argv.includes('--quick');
  const items = generate(quick ? 20_000 : 100_000, { seed: 1 });
  const f = benchFirstSeen(
    serializeNormalized(items),
    join(import.meta.dirname, '../../detections'),
    100_000,
    {
      warmup: 1,
      rounds: quick ? 3 : 9,
    },
  );
  for (const line of f.detail) process.stderr.write(`${line}\n`);
  const { detail: _detail, ...figures } = f;
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
