/**
 * `npm run bench [-- --quick] [-- --e2e|--no-e2e] [-- --seed N] [-- --only parse,ingest,rss,e2e] [-- --rules DIR,...]
 *   [-- --rate N] [-- --sweep] [-- --rates N,N,...] [-- --chart FILE.svg]`
 *
 * Klaxon's benchmarks, each next to a baseline measured in the same run on the
 * same events (docs/benchmarks.md explains the method). The last line printed
 * is one JSON object with every figure measured.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sweepChart } from './bench/chart.ts';
import { benchParseDetect, serializeNormalized } from './bench/detect.ts';
import { type E2eStep, e2eUnavailableReason, runE2e } from './bench/e2e.ts';
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
    /** Offered rate of the end-to-end run, audit events per second. */
    rate: { type: 'string', default: '5000' },
    /** End to end at each of these rates in turn (same processes), with a chart. */
    sweep: { type: 'boolean', default: false },
    rates: { type: 'string' },
    chart: { type: 'string', default: 'var/bench/e2e-sweep.svg' },
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
      sweepSeconds: 8,
      rssKeys: 100_000,
    }
  : {
      events: 100_000,
      warmup: 3,
      rounds: 9,
      ingestSeconds: 5,
      ingestRounds: 9,
      e2eSeconds: 60,
      sweepSeconds: 20,
      rssKeys: 100_000,
    };
/** The sweep's rates when `--sweep` names none: up to four busy API servers' worth. */
const SWEEP_RATES = [2_000, 5_000, 10_000, 15_000, 20_000];
const rateList = (text: string) =>
  text.split(',').map((r) => {
    const n = Number(r);
    if (!Number.isInteger(n) || n < 100 || n > 200_000)
      throw new Error(`--rate(s): ${r} is not a rate in 100..200000`);
    return n;
  });
const sweepRates = args.rates ? rateList(args.rates) : args.sweep ? SWEEP_RATES : undefined;

const RULES = args.rules.split(',');
const figures: Record<string, number> = {};
/** Each end-to-end step of a sweep, in the JSON line beside the figures. */
let sweepFigures: object[] | undefined;
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
  rows.push([`rss_mb (whole detector, ${PLAN.rssKeys} live correlation groups)`, rss.rss_mb, '', undefined]);
  notes.push(`rss: ${rss.detail}`);
}

if (wants('e2e') && !args['no-e2e']) {
  const reason = await e2eUnavailableReason();
  if (reason && args.e2e) {
    throw new Error(`--e2e: ${reason}`);
  } else if (reason) {
    log(`e2e: skipped (${reason})`);
  } else {
    const rates = sweepRates ?? rateList(args.rate);
    const sweeping = sweepRates !== undefined;
    const e = await runE2e({
      rates,
      seconds: sweeping ? PLAN.sweepSeconds : PLAN.e2eSeconds,
      warmupSeconds: 5,
      seed,
      onStep: (step) => log(`e2e: ${stepLine(step)}`),
    });
    // The headline figures: the step at the rate asked for (5,000/s unless --rate), else the sweep's first.
    const main = e.steps.find((s) => s.rate === Number(args.rate)) ?? e.steps[0];
    if (main) {
      Object.assign(figures, {
        e2e_rate: main.rate,
        e2e_eps: round(main.eps),
        e2e_p50_ms: round(main.p50_ms),
        e2e_p99_ms: round(main.p99_ms),
        e2e_es_p50_ms: round(main.es_p50_ms),
        e2e_es_p99_ms: round(main.es_p99_ms),
        e2e_answer_p99_ms: round(main.answer_p99_ms),
        e2e_after_answer_p99_ms: round(main.after_answer_p99_ms),
      });
      const at = main.rate.toLocaleString('en-US');
      rows.push([`e2e_eps (sustained, offered ${at}/s)`, main.eps, '', undefined]);
      rows.push(['e2e_p50_ms (attack POSTed → alert on klaxon.alerts)', main.p50_ms, '', undefined]);
      rows.push(['e2e_p99_ms', main.p99_ms, '', undefined]);
      rows.push(['  POST → answered, p99', main.answer_p99_ms, '', undefined]);
      rows.push(['  answered → alert, p99', main.after_answer_p99_ms, '', undefined]);
      rows.push(['e2e_es_p50_ms (… → searchable in Elasticsearch)', main.es_p50_ms, '', undefined]);
      rows.push(['e2e_es_p99_ms', main.es_p99_ms, '', undefined]);
    }
    if (sweeping) {
      sweepFigures = e.steps.map((s) => ({
        rate: s.rate,
        eps: round(s.eps),
        p50_ms: round(s.p50_ms),
        p90_ms: round(s.p90_ms),
        p99_ms: round(s.p99_ms),
        max_ms: round(s.max_ms),
        es_p99_ms: round(s.es_p99_ms),
        answer_p99_ms: round(s.answer_p99_ms),
        after_answer_p99_ms: round(s.after_answer_p99_ms),
        caught_up_s: s.caught_up_s === undefined ? null : Math.round(s.caught_up_s * 10) / 10,
        failed: s.failed,
        lag: s.lag,
        cpu: Object.fromEntries(Object.entries(s.cpu).map(([k, v]) => [k, Math.round(v * 100) / 100])),
      }));
      const chartFile = path.resolve(args.chart);
      mkdirSync(path.dirname(chartFile), { recursive: true });
      writeFileSync(
        chartFile,
        sweepChart(e.steps, {
          title: 'Klaxon end to end: attack → alert latency and CPU against offered rate',
          subtitle: `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, commit ${commit()}, ${PLAN.sweepSeconds} s per rate`,
          targets: [
            { rate: 5_000, ms: 250 },
            { rate: 20_000, ms: 1_000 },
          ],
        }),
      );
      notes.push(`e2e sweep chart: ${path.relative(process.cwd(), chartFile)}`);
    }
    for (const step of e.steps) notes.push(`e2e: ${stepLine(step)}`);
    if (e.stopped) notes.push(`e2e: sweep stopped: ${e.stopped}`);
  }
}

/** One line per end-to-end step: the rate, what was sustained, latency, catch-up and CPU. */
function stepLine(s: E2eStep): string {
  const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : '∞');
  const cpu = ['ingest', 'detect', 'kafka', 'elasticsearch', 'load', 'machine']
    .filter((k) => s.cpu[k] !== undefined)
    .map((k) => `${k} ${(s.cpu[k] ?? 0).toFixed(2)}`)
    .join(', ');
  const waits = ['ingest', 'detect', 'kafka', 'elasticsearch']
    .filter((k) => s.cpu[`${k}_wait`] !== undefined)
    .map((k) => `${k} ${(s.cpu[`${k}_wait`] ?? 0).toFixed(2)}`)
    .join(', ');
  return (
    `${s.rate}/s offered for ${s.seconds} s: sustained ${Math.round(s.eps)}/s; alerts p50/p90/p99/max ` +
    `${ms(s.p50_ms)}/${ms(s.p90_ms)}/${ms(s.p99_ms)}/${ms(s.max_ms)} ms (markers ${s.markers_seen}/${s.markers}): ` +
    `POST → answered p50/p99 ${ms(s.answer_p50_ms)}/${ms(s.answer_p99_ms)} ms, answered → alert ` +
    `${ms(s.after_answer_p50_ms)}/${ms(s.after_answer_p99_ms)} ms; ` +
    `Elasticsearch p99 ${ms(s.es_p99_ms)} ms; ` +
    (s.caught_up_s === undefined
      ? `detector ${s.lag} events behind at the deadline; `
      : `lag 0 ${s.caught_up_s.toFixed(1)} s after the last answer; `) +
    `ingest request p50/p99 ${ms(s.ingest_p50_ms)}/${ms(s.ingest_p99_ms)} ms` +
    (s.failed > 0 ? `, ${s.failed} of ${s.requests} failed (${s.failure})` : '') +
    `; cores: ${cpu} of ${s.cpu.cores?.toFixed(0) ?? '?'}; waiting for a CPU: ${waits || 'not measured'}`
  );
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
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
process.stdout.write(
  `${JSON.stringify(sweepFigures ? { ...figures, e2e_sweep: sweepFigures } : figures)}\n`,
  () => process.exit(0),
);
