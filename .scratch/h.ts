import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = serializeNormalized(generate(20000, { seed: 1 }));
const only = process.argv[2];
const rs = only
  ? { ...ruleset, rules: ruleset.rules.filter((r) => only.split(',').includes(r.name)) }
  : ruleset;
const gc = (globalThis as any).gc;
const ALL: Record<string, () => void> = {
  parse: () => {
    for (const s of ser) JSON.parse(s);
  },
  evaluate: () => {
    const d = new Detector(rs);
    for (const s of ser) d.evaluate(JSON.parse(s));
  },
  process: () => {
    const d = new Detector(rs);
    for (const s of ser) d.process(JSON.parse(s));
  },
};
const variants = process.env.V
  ? Object.fromEntries(Object.entries(ALL).filter(([k]) => process.env.V!.split(',').includes(k)))
  : ALL;
const res: Record<string, number[]> = {};
for (let round = 0; round < 7; round++)
  for (const [k, f] of Object.entries(variants)) {
    gc?.();
    const t = process.cpuUsage();
    f();
    const u = process.cpuUsage(t);
    if (round >= 2) (res[k] ??= []).push((u.user + u.system) / ser.length);
  }
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
const p = res.parse ? med(res.parse) : 9.3;
for (const [k, v] of Object.entries(res))
  console.log(k.padEnd(10), med(v).toFixed(2), 'µs/event', 'ratio', (p / med(v)).toFixed(3));
