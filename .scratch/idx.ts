import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const items = generate(20000, { seed: 1 });
const ser = serializeNormalized(items);
const det = new Detector(ruleset) as any;
const visits = new Map<string, number>();
const cost = new Map<string, number>();
let total = 0;
const events = ser.map((s) => JSON.parse(s));
for (const e of events) {
  const entry = det.datasets.get(e.event.dataset);
  if (!entry || (entry.dataset.evaluable && !entry.dataset.evaluable(e))) continue;
  entry.index.candidates(e, (rules: any[]) => {
    for (const r of rules) {
      visits.set(r.name, (visits.get(r.name) ?? 0) + 1);
      total++;
    }
  });
}
// time per rule
for (const r of ruleset.rules) {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (let k = 0; k < 3; k++)
    for (const e of events) {
      if (
        (e.event.dataset === `kubernetes.audit` && r.scope === 'kubernetes.audit') ||
        e.event.dataset === r.scope
      ) {
        r.match(e);
        n++;
      }
    }
  cost.set(r.name, Number(process.hrtime.bigint() - t0) / n);
}
console.log(
  'events',
  events.length,
  'candidate visits',
  total,
  'per event',
  (total / events.length).toFixed(2),
);
const rows = [...visits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
for (const [n, v] of rows)
  console.log(
    String(v).padStart(7),
    (cost.get(n) ?? 0).toFixed(0).padStart(6),
    'ns',
    n,
    JSON.stringify(
      Object.fromEntries(
        Object.entries(ruleset.rules.find((r) => r.name === n)!.requires).map(([k, s]) => [
          k,
          s ? [...s] : s,
        ]),
      ),
    ),
  );
