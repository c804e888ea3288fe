import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const ser = serializeNormalized(generate(20000, { seed: 1 }));
for (let round = 0; round < 5; round++) {
  const d = new Detector(ruleset);
  const orig = d.alertsFor.bind(d);
  let t = 0n,
    n = 0;
  d.alertsFor = (m) => {
    const t0 = process.hrtime.bigint();
    const r = orig(m);
    t += process.hrtime.bigint() - t0;
    n++;
    return r;
  };
  const origS = d.correlate.bind(d);
  let ts = 0n,
    ns = 0;
  d.correlate = (m) => {
    const t0 = process.hrtime.bigint();
    const r = origS(m);
    ts += process.hrtime.bigint() - t0;
    ns++;
    return r;
  };
  const origE = d.evaluate.bind(d);
  let te = 0n;
  d.evaluate = (m) => {
    const t0 = process.hrtime.bigint();
    const r = origE(m);
    te += process.hrtime.bigint() - t0;
    return r;
  };
  const t00 = process.hrtime.bigint();
  for (const s of ser) d.process(JSON.parse(s));
  console.log(
    'total',
    Number(process.hrtime.bigint() - t00) / 1e6,
    'ms; alertsFor',
    n,
    Number(t) / 1e6,
    'ms',
    'correlate',
    ns,
    Number(ts) / 1e6,
    'ms',
    'evaluate',
    Number(te) / 1e6,
  );
}
