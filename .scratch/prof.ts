import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = serializeNormalized(generate(20000, { seed: 1 }));
const passes = Number(process.argv[2] ?? 6);
let a = 0;
const t0 = process.cpuUsage();
for (let p = 0; p < passes; p++) {
  const d = new Detector(ruleset);
  for (const s of ser) a += d.process(JSON.parse(s)).length;
}
const u = process.cpuUsage(t0);
console.log('alerts', a, 'eps', Math.round((passes * ser.length) / ((u.user + u.system) / 1e6)));
