import { serializeNormalized, withFlood } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = withFlood(serializeNormalized(generate(20000, { seed: 1 })), 5);
const d = new Detector(ruleset);
const byRule = new Map<string, number>();
let alerts = 0;
const ts: number[] = [];
for (const s of ser) {
  const e = JSON.parse(s);
  ts.push(Date.parse(e['@timestamp']));
  if (e.user?.name === 'system:serviceaccount:ci:runner')
    for (const m of d.evaluate(e))
      byRule.set(
        m.rule.name +
          ' gen=' +
          m.rule.generates +
          ' win=' +
          m.rule.suppress.windowMs +
          ' by=' +
          m.rule.suppress.byNames,
        (byRule.get(m.rule.name) ?? 0) + 1,
      );
  alerts += d.process(e).length;
}
console.log(byRule, alerts);
let back = 0;
for (let i = 1; i < ts.length; i++) if (ts[i]! < ts[i - 1]!) back++;
console.log('out of order', back, 'of', ts.length, 'span s', (Math.max(...ts) - Math.min(...ts)) / 1000);
