import type { Opening } from '../../src/detect/suppress.ts';
import { Suppressor } from '../../src/detect/suppress.ts';
import type { Alert } from '../../src/schema/alert.ts';
import { type AgainstOptions, importAt, runAgainstFromCommandLine } from './at-revision.ts';
import { interleavedRounds, spread } from './stats.ts';

const LIVE = 100_000;

interface Match {
  id: string;
}

/** What the workloads need of a suppressor: the calls `Detector.window` and `advanceState` make. */
interface Windows {
  fold(key: string, time: number, event: Match, ruleName: string): boolean;
  open(o: Opening<Match>): Alert[];
  expire(watermark: number): Alert[];
}
type WindowsClass = new (maxKeys: number, idOf: (m: Match) => string) => Windows;

function alert(id: string, last: Match, revision: number): Alert {
  return {
    '@timestamp': '2026-01-01T00:00:00.000Z',
    event: { kind: 'alert', created: '2026-01-01T00:00:00.000Z', severity: 47 },
    message: `last ${last.id}`,
    rule: { name: 'bench', id: 'bench', ruleset: 'klaxon' },
    klaxon: { severity: 'medium', alert_id: id, event_ids: [last.id], count: 1, revision },
  };
}

/**
 * A suppressor kept across rounds, driven like the detector: fold, else open; then expire at the watermark.
 * `step` new keys per call; each tenth match repeats a key opened just before (a fold).
 */
function churn(Impl: WindowsClass, opts: { maxKeys: number; windowMs: number; expire: boolean }) {
  const windows = new Impl(opts.maxKeys, (m) => m.id);
  let n = 0;
  let sink = 0;
  const match = () => {
    const i = n++;
    const key = i % 10 === 9 ? `k${i - 1}` : `k${i}`;
    const event = { id: `e${i}` };
    if (!windows.fold(key, i, event, 'bench')) {
      sink += windows.open({
        key,
        time: i,
        windowMs: opts.windowMs,
        event,
        alert: alert(key, event, 0),
        rebuild: (last) => alert(key, last, 1),
      }).length;
    }
    if (opts.expire) sink += windows.expire(i).length;
  };
  for (let i = 0; i < LIVE; i++) match();
  return {
    run: (count: number) => {
      for (let i = 0; i < count; i++) match();
      return count;
    },
    alerts: () => sink,
  };
}

/** `src/detect/suppress.ts` at git revision `rev`. */
async function suppressorAt(rev: string): Promise<WindowsClass> {
  return (await importAt<{ Suppressor: WindowsClass }>(rev, 'src/detect/suppress.ts')).Suppressor;
}

export interface SuppressFigures {
  suppress_cap_us_per_open: number;
  suppress_expiry_us_per_open: number;
  against?: { rev: string; suppress_cap_us_per_open: number; suppress_expiry_us_per_open: number };
  detail: string[];
}

export async function benchSuppress(options: AgainstOptions): Promise<SuppressFigures> {
  const impls: Array<[string, WindowsClass]> = [['', Suppressor]];
  if (options.against) impls.push([`${options.against}:`, await suppressorAt(options.against)]);
  const perRound = options.quick ? 20_000 : 50_000;
  const workloads: Record<string, () => number> = {};
  const alerts: Array<() => number> = [];
  for (const [prefix, Impl] of impls) {
    const cap = churn(Impl, { maxKeys: LIVE, windowMs: 1e12, expire: false });
    const expiry = churn(Impl, { maxKeys: 2 * LIVE, windowMs: LIVE, expire: true });
    // The old expiry scans every window per match: fewer matches per round keep its rounds short.
    const expiryPerRound = prefix ? Math.max(200, perRound / 100) : perRound;
    workloads[`${prefix}cap`] = () => cap.run(perRound);
    workloads[`${prefix}expiry`] = () => expiry.run(expiryPerRound);
    alerts.push(cap.alerts, expiry.alerts);
  }
  const r = interleavedRounds(workloads, { warmup: 1, rounds: options.quick ? 5 : 9 });
  const us = (name: string) => 1e6 / r[name]!.eps;
  const detail = Object.entries(r).map(
    ([name, x]) =>
      `${name}: ${(1e6 / x.eps).toFixed(3)} µs/open (spread ${(spread(x.rounds) * 100).toFixed(0)}%)`,
  );
  if (alerts.every((a) => a() === 0)) throw new Error('the workloads emitted no alerts');
  return {
    suppress_cap_us_per_open: us('cap'),
    suppress_expiry_us_per_open: us('expiry'),
    ...(options.against
      ? {
          against: {
            rev: options.against,
            suppress_cap_us_per_open: us(`${options.against}:cap`),
            suppress_expiry_us_per_open: us(`${options.against}:expiry`),
          },
        }
      : {}),
    detail,
  };
}

if (process.argv[1] === import.meta.filename) await runAgainstFromCommandLine(benchSuppress);
