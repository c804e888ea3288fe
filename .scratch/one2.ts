import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const events = serializeNormalized(generate(20000, { seed: 1 })).map((s) => JSON.parse(s));
const r = ruleset.rules.find((x) => x.name === process.argv[2])!;
const t0 = process.hrtime.bigint();
let n = 0;
for (let k = 0; k < 30; k++)
  for (const e of events)
    if (e.event.dataset === r.scope) {
      r.match(e);
      n++;
    }
console.log((Number(process.hrtime.bigint() - t0) / n).toFixed(0), 'ns');
