/**
 * Micro-benchmark of placeholder address lookups (`field|expand|cidr: '%name%'`): lookups per CPU-second for
 * lists of 100, 10,000 and 100,000 entries (a quarter of them networks of /16–/32, the rest addresses), in
 * interleaved rounds like the other in-process figures. Flat figures across the sizes are the point: a lookup
 * costs one mask and one hash probe per distinct prefix length, never one comparison per entry.
 *
 *   node --expose-gc scripts/bench/placeholders.ts
 */
import { IpSet } from '../../src/detect/placeholders.ts';
import { interleavedRounds, spread } from './stats.ts';
import { mulberry32 } from './workload.ts';

const rnd = mulberry32(7);
const ip = () => [0, 0, 0, 0].map(() => Math.floor(rnd() * 256)).join('.');
const PROBES = Array.from({ length: 200_000 }, ip);

function list(size: number): IpSet {
  const entries: string[] = [];
  for (let i = 0; i < size; i++) entries.push(i % 4 === 0 ? `${ip()}/${16 + Math.floor(rnd() * 17)}` : ip());
  return new IpSet(entries);
}

const sets = { '100': list(100), '10k': list(10_000), '100k': list(100_000) };
let sink = 0;
const workloads = Object.fromEntries(
  Object.entries(sets).map(([name, set]) => [
    name,
    () => {
      for (const p of PROBES) if (set.has(p)) sink++;
      return PROBES.length;
    },
  ]),
);
const results = interleavedRounds(workloads, { warmup: 2, rounds: 7 });
const figures: Record<string, number> = {};
for (const [name, r] of Object.entries(results)) {
  figures[`lookups_per_cpu_s_${name}`] = Math.round(r.eps);
  process.stderr.write(
    `${name.padStart(5)} entries: ${Math.round(r.eps).toLocaleString('en')} lookups/CPU-s (spread ${(spread(r.rounds) * 100).toFixed(1)}%)\n`,
  );
}
process.stdout.write(`${JSON.stringify({ ...figures, hits: sink })}\n`);
