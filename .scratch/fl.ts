import { serializeNormalized, withFlood } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = withFlood(serializeNormalized(generate(20000, { seed: 1 })), 5);
for (let p = 0; p < 4; p++) {
  const d = new Detector(ruleset);
  for (const s of ser) d.process(JSON.parse(s));
}
