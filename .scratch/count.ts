import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = serializeNormalized(generate(20000, { seed: 1 }));
const d = new Detector(ruleset);
let matches = 0,
  gen = 0,
  alerts = 0,
  sig = 0;
const byRule = new Map<string, number>();
for (const s of ser) {
  const e = JSON.parse(s);
  const ms = d.evaluate(e);
  matches += ms.length;
  for (const m of ms) {
    byRule.set(m.rule.name, (byRule.get(m.rule.name) ?? 0) + 1);
    if (m.rule.generates) gen++;
    sig += m.rule.correlations.length;
  }
  alerts += d.process(e).length;
}
console.log({ matches, gen, alerts, sig });
console.log([...byRule].sort((a, b) => b[1] - a[1]).slice(0, 15));
