import path from 'node:path';
import { Correlator, type CorrelatorOptions } from '../../src/detect/correlate.ts';
import { loadRules } from '../../src/detect/index.ts';
import type { CorrelationRule } from '../../src/detect/ruleset.ts';
import type { Alert } from '../../src/schema/alert.ts';
import type { Signal } from '../../src/schema/signal.ts';
import { type AgainstOptions, importAt, runAgainstFromCommandLine } from './at-revision.ts';
import { interleavedRounds, spread } from './stats.ts';

const LIVE = 100_000;
const LATENESS_MS = 30_000;
const T0 = Date.UTC(2026, 0, 1);

/** What the workloads need of a correlator. */
interface Groups {
  correlate(signal: Signal): Alert[];
  readonly size: number;
}
type GroupsClass = new (correlations: CorrelationRule[], opts: CorrelatorOptions) => Groups;

function burstCorrelation(): CorrelationRule {
  const { ruleset, errors } = loadRules([path.resolve(import.meta.dirname, '../../detections')]);
  if (errors.length > 0) throw new Error(`rule errors: ${JSON.stringify(errors)}`);
  const c = ruleset.correlations.find((r) => r.type === 'event_count' && r.strategy.immediate(r));
  if (!c) throw new Error('the catalogue has no event_count correlation judged at once');
  return c;
}

function signal(c: CorrelationRule, i: number, time: number): Signal {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    correlation: c.id,
    rule: c.rules[0]!.id,
    key: JSON.stringify([c.id, 'bench', ip]),
    group: { 'source.ip': ip },
    time,
    event_id: `bench-${i}`,
    context: {
      '@timestamp': new Date(time).toISOString(),
      dataset: 'kubernetes.audit',
      source: { ip },
      orchestrator: { cluster: { name: 'bench' } },
    },
  };
}

/** A correlator kept across rounds: `step` ms of event time per signal (0: time stands still). */
function churn(Impl: GroupsClass, c: CorrelationRule, opts: { maxKeys: number; stepMs: number }) {
  const groups = new Impl([c], { latenessMs: LATENESS_MS, maxKeys: opts.maxKeys, now: () => new Date(T0) });
  let n = 0;
  let sink = 0;
  const next = () => {
    const i = n++;
    const key = i % 10 === 9 ? i - 1 : i;
    sink += groups.correlate(signal(c, key, T0 + i * opts.stepMs)).length;
  };
  // Enough new keys to reach the cap (one signal in ten opens none).
  for (let i = 0; i < Math.ceil(LIVE / 0.9) + 1_000; i++) next();
  return {
    groups,
    run: (count: number) => {
      for (let i = 0; i < count; i++) next();
      return count;
    },
    alerts: () => sink,
  };
}

/** `src/detect/correlate.ts` at git revision `rev`. */
async function correlatorAt(rev: string): Promise<GroupsClass> {
  return (await importAt<{ Correlator: GroupsClass }>(rev, 'src/detect/correlate.ts')).Correlator;
}

/** Heap per live group: a correlator filled with LIVE one-entry groups, after full GCs. */
function bytesPerGroup(Impl: GroupsClass, c: CorrelationRule): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
  };
  settle();
  const before = process.memoryUsage().heapUsed;
  // Past the cap by half as many again: evicted groups' queue entries are part of what a churning correlator holds.
  const held = churn(Impl, c, { maxKeys: LIVE, stepMs: 0 });
  held.run(LIVE / 2);
  settle();
  const bytes = (process.memoryUsage().heapUsed - before) / held.groups.size;
  if (held.groups.size !== LIVE) throw new Error(`expected ${LIVE} live groups, got ${held.groups.size}`);
  return bytes;
}

export interface CorrelateFigures {
  corr_cap_us_per_signal: number;
  corr_small_cap_us_per_signal: number;
  corr_expiry_us_per_signal: number;
  corr_bytes_per_group?: number;
  against?: {
    rev: string;
    corr_cap_us_per_signal: number;
    corr_small_cap_us_per_signal: number;
    corr_expiry_us_per_signal: number;
    corr_bytes_per_group?: number;
  };
  detail: string[];
}

export async function benchCorrelate(options: AgainstOptions): Promise<CorrelateFigures> {
  const c = burstCorrelation();
  const impls: Array<[string, GroupsClass]> = [['', Correlator]];
  if (options.against) impls.push([`${options.against}:`, await correlatorAt(options.against)]);
  const bytes: Record<string, number | undefined> = {};
  for (const [prefix, Impl] of impls) bytes[prefix] = bytesPerGroup(Impl, c);
  const perRound = options.quick ? 20_000 : 50_000;
  const expiryStep = (c.timespanMs + LATENESS_MS) / LIVE;
  const workloads: Record<string, () => number> = {};
  for (const [prefix, Impl] of impls) {
    const cap = churn(Impl, c, { maxKeys: LIVE, stepMs: 0 });
    const small = churn(Impl, c, { maxKeys: 1_000, stepMs: 0 });
    const expiry = churn(Impl, c, { maxKeys: 2 * LIVE, stepMs: expiryStep });
    // The workloads hold what they say: groups at each cap, and about as many live while they expire.
    if (cap.groups.size !== LIVE || small.groups.size !== 1_000)
      throw new Error(`${prefix}groups at the caps: ${cap.groups.size}, ${small.groups.size}`);
    if (Math.abs(expiry.groups.size - LIVE) > LIVE / 5)
      throw new Error(`${prefix}groups live while expiring: ${expiry.groups.size}`);
    workloads[`${prefix}cap`] = () => cap.run(perRound);
    workloads[`${prefix}small`] = () => small.run(perRound);
    workloads[`${prefix}expiry`] = () => expiry.run(perRound);
  }
  const r = interleavedRounds(workloads, { warmup: 1, rounds: options.quick ? 5 : 9 });
  const us = (name: string) => 1e6 / r[name]!.eps;
  const detail = Object.entries(r).map(
    ([name, x]) =>
      `${name}: ${(1e6 / x.eps).toFixed(3)} µs/signal (spread ${(spread(x.rounds) * 100).toFixed(0)}%)`,
  );
  for (const [prefix] of impls)
    if (bytes[prefix] !== undefined) detail.push(`${prefix}heap: ${bytes[prefix].toFixed(0)} B/live group`);
  const figuresOf = (prefix: string) => ({
    corr_cap_us_per_signal: us(`${prefix}cap`),
    corr_small_cap_us_per_signal: us(`${prefix}small`),
    corr_expiry_us_per_signal: us(`${prefix}expiry`),
    ...(bytes[prefix] !== undefined ? { corr_bytes_per_group: Math.round(bytes[prefix]) } : {}),
  });
  return {
    ...figuresOf(''),
    ...(options.against ? { against: { rev: options.against, ...figuresOf(`${options.against}:`) } } : {}),
    detail,
  };
}

if (process.argv[1] === import.meta.filename) await runAgainstFromCommandLine(benchCorrelate);
