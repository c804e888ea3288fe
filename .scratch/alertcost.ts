import { serializeNormalized } from '/work/wt-perf/scripts/bench/detect.ts';
import { generate } from '/work/wt-perf/scripts/bench/workload.ts';
import { alertId, buildAlert, contextOf, detectionMessage } from '/work/wt-perf/src/detect/alert.ts';
import { Detector, loadRules } from '/work/wt-perf/src/detect/index.ts';

const { ruleset } = await loadRules(['detections']);
const events = serializeNormalized(generate(20000, { seed: 1 })).map((s) => JSON.parse(s));
const d = new Detector(ruleset);
const ms = events.flatMap((e) => d.evaluate(e)).filter((m) => m.rule.generates);
console.log('matches', ms.length);
const time = (name: string, f: (m: any) => unknown) => {
  for (let k = 0; k < 3; k++) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < 20; r++) for (const m of ms) f(m);
    const ns = Number(process.hrtime.bigint() - t0) / (20 * ms.length);
    if (k === 2) console.log(name.padEnd(12), ns.toFixed(0), 'ns');
  }
};
time('contextOf', (m) => contextOf(m.event));
const ctxs = new Map(ms.map((m) => [m, contextOf(m.event)]));
time('message', (m) => detectionMessage(ctxs.get(m)!, m.rule.title));
time('alertId', (m) => alertId(m.rule.id, 'abc\u0000def', m.event.event.id));
time('now', () => new Date().toISOString());
time('build', (m) =>
  buildAlert({
    rule: m.rule,
    level: m.rule.level,
    context: ctxs.get(m)!,
    alertId: 'x',
    eventIds: [m.event.event.id],
    count: 1,
    revision: 0,
    message: 'hello',
    created: 'now',
  }),
);
time('alertsFor', (m) => new Detector(ruleset).alertsFor(m));
const d2 = new Detector(ruleset);
time('alertsFor2', (m) => d2.alertsFor(m));
