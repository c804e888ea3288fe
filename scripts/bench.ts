/**
 * `npm run bench [-- --quick] [-- --e2e|--no-e2e] [-- --seed N] [-- --only parse,ingest,rss,e2e] [-- --rules DIR,...]`
 *
 * Klaxon's benchmarks, each next to a baseline measured in the same run on the
 * same events (docs/benchmarks.md explains the method). The last line printed
 * is one JSON object with every figure measured.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { benchParseDetect, serializeNormalized } from './bench/detect.ts';
import { e2eUnavailableReason, runE2e } from './bench/e2e.ts';
import { benchIngest } from './bench/ingest.ts';
import { measureCorrelationRss } from './bench/rss.ts';
import { generate, toEventLists } from './bench/workload.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    e2e: { type: 'boolean' },
    'no-e2e': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    rules: { type: 'string', default: 'detections' },
  },
});

const quick = args.quick;
const seed = Number(args.seed);
const only = args.only ? new Set(args.only.split(',')) : undefined;
const wants = (phase: string) => !only || only.has(phase);

const PLAN = quick
  ? {
      events: 20_000,
      warmup: 2,
      rounds: 7,
      ingestSeconds: 3,
      ingestRounds: 5,
      e2eSeconds: 20,
      rssKeys: 100_000,
    }
  : {
      events: 100_000,
      warmup: 3,
      rounds: 9,
      ingestSeconds: 5,
      ingestRounds: 9,
      e2eSeconds: 60,
      rssKeys: 100_000,
    };

const RULES = args.rules.split(',');
const figures: Record<string, number> = {};
const notes: string[] = [];
const rows: Array<[string, number | undefined, string, number | undefined]> = [];

const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number) => (Number.isFinite(n) ? Math.round(n) : n);

log(`klaxon bench (${quick ? 'quick' : 'thorough'}), seed ${seed}`);
log(
  `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, Node ${process.version}`,
);

const items = generate(PLAN.events, { seed });
const lists = toEventLists(items).map((list) => JSON.stringify(list));
const auditCount = items.filter((i) => i.source === 'audit').length;
log(
  `workload: ${items.length} events (${auditCount} audit in ${lists.length} EventLists, ${items.length - auditCount} Falco)`,
);

if (wants('parse') || wants('detect')) {
  const serialized = serializeNormalized(items);
  const bytes = serialized.reduce((sum, s) => sum + s.length, 0);
  log(
    `normalized: ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${Math.round(bytes / serialized.length)} B/event`,
  );
  const d = await benchParseDetect(serialized, lists, RULES, {
    warmup: PLAN.warmup,
    rounds: PLAN.rounds,
    scales: [2, 5],
    floodEvery: 5,
  });
  Object.assign(figures, {
    parse_eps: round(d.parse_eps),
    detect_eps: round(d.detect_eps),
    detect_rules: d.detect_rules,
    detect_ratio: d.detect_eps / d.parse_eps,
    parse_list_eps: round(d.parse_list_eps),
  });
  rows.push(['parse_eps (baseline: JSON.parse of normalized events)', d.parse_eps, '', undefined]);
  rows.push([`detect_eps (${d.detect_rules} rules)`, d.detect_eps, 'parse_eps', figures.detect_ratio]);
  rows.push([
    'parse_list_eps (JSON.parse of EventList bodies)',
    d.parse_list_eps,
    'parse_eps',
    d.parse_list_eps / d.parse_eps,
  ]);
  for (const s of d.scaled) {
    const ratio = s.eps / d.parse_eps;
    figures[`detect_ratio_${s.times}x`] = ratio;
    rows.push([`detect_eps (${s.times}× catalogue: ${s.rules} rules)`, s.eps, 'parse_eps', ratio]);
  }
  if (d.flood) {
    const ratio = d.flood.detect_eps / d.flood.parse_eps;
    figures.detect_flood_ratio = ratio;
    rows.push(['parse_flood_eps (JSON.parse, one identity flooding)', d.flood.parse_eps, '', undefined]);
    rows.push([
      'detect_flood_eps (the same through detection)',
      d.flood.detect_eps,
      'parse_flood_eps',
      ratio,
    ]);
    notes.push(
      `flood: ${d.flood.events} events, one in 5 a refused request by one identity; alerts per pass: ${d.flood.alerts_per_pass}`,
    );
  }
  rows.push(['  wall clock: parse', d.wall.parse, '', undefined]);
  rows.push(['  wall clock: detect', d.wall.detect, 'parse (wall)', d.wall.detect / d.wall.parse]);
  const { detection, correlation, filters } = d.catalogue;
  notes.push(
    `catalogue: ${detection} detection + ${correlation} correlation rules, ${filters} filters; ` +
      `alerts per pass over the workload: ${d.alerts_per_pass}`,
  );
  notes.push(
    `round spread (max deviation from median): ${Object.entries(d.spreads)
      .map(([n, s]) => `${n} ${(s * 100).toFixed(1)}%`)
      .join(', ')}`,
  );
}

if (wants('ingest')) {
  const ing = await benchIngest(lists, { seconds: PLAN.ingestSeconds, rounds: PLAN.ingestRounds });
  figures.ingest_eps = round(ing.ingest_eps);
  if (figures.parse_eps) figures.ingest_ratio = ing.ingest_eps / figures.parse_eps;
  rows.push([
    'ingest_eps (HTTP → validate → normalize → memory bus)',
    ing.ingest_eps,
    'parse_eps',
    figures.ingest_ratio,
  ]);
  if (figures.parse_list_eps) {
    rows.push([
      'ingest_eps vs JSON.parse of EventList bodies',
      ing.ingest_eps,
      'parse_list_eps',
      ing.ingest_eps / figures.parse_list_eps,
    ]);
  }
  rows.push(['  wall clock: ingest (one server process)', ing.ingest_wall_eps, '', undefined]);
  notes.push(`ingest: ${ing.detail}`);
}

if (wants('rss')) {
  const rss = await measureCorrelationRss(RULES, PLAN.rssKeys, seed);
  figures.rss_mb = Math.round(rss.rss_mb * 10) / 10;
  rows.push([`rss_mb (detector, ${PLAN.rssKeys} live correlation keys)`, rss.rss_mb, '', undefined]);
  notes.push(`rss: ${rss.detail}`);
}

if (wants('e2e') && !args['no-e2e']) {
  const reason = await e2eUnavailableReason();
  if (reason && args.e2e) {
    throw new Error(`--e2e: ${reason}`);
  } else if (reason) {
    log(`e2e: skipped (${reason})`);
  } else {
    const e = await runE2e({ seconds: PLAN.e2eSeconds, rate: 5000, seed });
    Object.assign(figures, {
      e2e_eps: round(e.e2e_eps),
      e2e_p50_ms: round(e.p50_ms),
      e2e_p99_ms: round(e.p99_ms),
      e2e_es_p50_ms: round(e.es_p50_ms),
      e2e_es_p99_ms: round(e.es_p99_ms),
    });
    rows.push(['e2e_eps (sustained, offered 5,000/s)', e.e2e_eps, '', undefined]);
    rows.push(['e2e_p50_ms (attack POSTed → alert on klaxon.alerts)', e.p50_ms, '', undefined]);
    rows.push(['e2e_p99_ms', e.p99_ms, '', undefined]);
    rows.push(['e2e_es_p50_ms (… → searchable in Elasticsearch)', e.es_p50_ms, '', undefined]);
    rows.push(['e2e_es_p99_ms', e.es_p99_ms, '', undefined]);
    notes.push(`e2e: ${e.detail}`);
  }
}

log('');
log(`${'figure'.padEnd(58)} ${'value'.padStart(12)}  ${'baseline'.padEnd(15)} ${'ratio'.padStart(6)}`);
for (const [name, value, baseline, ratio] of rows) {
  const v =
    value === undefined ? '-' : value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
  log(
    `${name.padEnd(58)} ${v.padStart(12)}  ${baseline.padEnd(15)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(6)}`,
  );
}
for (const note of notes) log(`  ${note}`);
for (const key of [
  'detect_ratio',
  'detect_ratio_2x',
  'detect_ratio_5x',
  'detect_flood_ratio',
  'ingest_ratio',
]) {
  const v = figures[key];
  if (v !== undefined) figures[key] = Math.round(v * 1000) / 1000;
}
// The JSON line is the result; exit once it is written, whatever a client library still has
// scheduled (kafkajs keeps reconnecting when a broker restarted during the run).
process.stdout.write(`${JSON.stringify(figures)}\n`, () => process.exit(0));
