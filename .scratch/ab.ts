// A/B in one process: before (/tmp/klaxon-before) and after (this tree), interleaved rounds, CPU time.
const A = await import('/tmp/klaxon-before/src/detect/index.ts');
const B = await import('/work/wt-perf/src/detect/index.ts');
const { serializeNormalized, withFlood } = await import('/work/wt-perf/scripts/bench/detect.ts');
const { generate } = await import('/work/wt-perf/scripts/bench/workload.ts');
const { multiplyCatalogue } = await import('/work/wt-perf/scripts/bench/catalogue.ts');
const times = Number(process.env.X ?? 1);
const dir = times > 1 ? multiplyCatalogue(['detections'], times) : 'detections';
const ra = A.loadRules([dir]).ruleset;
const rb = B.loadRules([dir]).ruleset;
let ser = serializeNormalized(generate(20000, { seed: 1 }));
if (process.env.FLOOD) ser = withFlood(ser, 5);
const gc = (globalThis as any).gc;
const v: Record<string, () => void> = {
  parse: () => {
    for (const s of ser) JSON.parse(s);
  },
  before: () => {
    const d = new A.Detector(ra);
    for (const s of ser) d.process(JSON.parse(s));
  },
  after: () => {
    const d = new B.Detector(rb);
    for (const s of ser) d.process(JSON.parse(s));
  },
};
const res: Record<string, number[]> = {};
const rounds = Number(process.env.R ?? 9);
for (let r = 0; r < rounds; r++)
  for (const [k, f] of Object.entries(v)) {
    gc();
    const t = process.cpuUsage();
    f();
    const u = process.cpuUsage(t);
    if (r >= 2) (res[k] ??= []).push((u.user + u.system) / ser.length);
  }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const p = med(res.parse!);
console.log(
  `x${times}${process.env.FLOOD ? ' flood' : ''}`,
  Object.entries(res)
    .map(([k, a]) => `${k} ${med(a).toFixed(2)}µs ratio ${(p / med(a)).toFixed(3)}`)
    .join(' | '),
);
